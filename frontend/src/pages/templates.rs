//! License templates: search, page through; create, edit and delete (admins).

use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::ErrorBanner;
use crate::components::license_terms::features_badges;
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::components::search_toolbar::SearchToolbar;
use crate::hooks::{use_app, use_confirm};
use crate::route::Route;
use crate::services::license_templates::{self, LicenseTemplate};
use crate::services::{ApiError, Connection, Page};

/// The templates whose name contains the text (all when it is empty).
#[derive(Clone, Debug, Default, PartialEq)]
struct TemplateSearch(String);

impl ListQuery for TemplateSearch {
    type Item = LicenseTemplate;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<LicenseTemplate>, ApiError>> {
        async move { license_templates::license_templates(&self.0, &page).await }.boxed_local()
    }
}

#[function_component]
pub fn TemplatesPage() -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let search = use_state(TemplateSearch::default);
    let reload = use_state(|| 0_u32);
    let deleting = use_confirm(
        |template: LicenseTemplate| async move {
            license_templates::delete_license_template(&template.id).await.map(|_| ())
        },
        {
            let reload = reload.clone();
            Callback::from(move |()| reload.set(reload.wrapping_add(1)))
        },
    );

    let on_search = {
        let search = search.clone();
        Callback::from(move |text: String| search.set(TemplateSearch(text)))
    };
    let new_template = {
        let navigator = navigator.clone();
        Callback::from(move |_: MouseEvent| navigator.push(&Route::NewTemplate))
    };
    let row = {
        let (app, deleting) = (app.clone(), deleting.clone());
        Callback::from(move |template: LicenseTemplate| {
            let ask = deleting.ask::<MouseEvent>(template.clone());
            let lang = app.lang;
            html! {
                <tr key={template.id.clone()}>
                    <td class="strong">{ template.name.clone() }</td>
                    <td>{ lang.license_type(template.license_type) }</td>
                    <td class="num">{ template.device_limit }</td>
                    <td class="num">{ template.concurrent_sessions_limit }</td>
                    <td>{ template.duration_days.map(|d| format!("{d} {}", lang.t("unit.days"))).unwrap_or_else(|| lang.t("template.open_ended").to_owned()) }</td>
                    <td>{ features_badges(lang, &template.features) }</td>
                    <td>{ lang.offline_grace(template.offline_grace_seconds) }</td>
                    <td class="num">{ template.max_device_releases }</td>
                    if app.is_admin() {
                        <td class="actions">
                            <div class="row end">
                                <Link<Route> to={Route::EditTemplate { id: template.id.clone() }} classes="btn btn-small">{ app.t("edit") }</Link<Route>>
                                <button class="btn btn-small btn-danger-outline" onclick={ask}>{ app.t("template.delete") }</button>
                            </div>
                        </td>
                    }
                </tr>
            }
        })
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("templates.title") }</h1>
                    <p class="muted">{ app.t("templates.subtitle") }</p>
                </div>
                if app.is_admin() {
                    <button class="btn btn-primary" onclick={new_template}>{ "+ " }{ app.t("templates.new") }</button>
                }
            </div>
            if let Some(err) = &deleting.error { <ErrorBanner error={err.clone()} /> }
            <SearchToolbar label={app.t("templates.search")} {on_search} />
            <PagedTable<TemplateSearch> query={(*search).clone()} reload={*reload} empty={app.t("templates.empty")}
                testid="templates" {row}
                head={html! { <>
                    <th>{ app.t("template.name") }</th>
                    <th>{ app.t("license.type") }</th>
                    <th class="num">{ app.t("license.devices") }</th>
                    <th class="num">{ app.t("license.sessions") }</th>
                    <th>{ app.t("template.duration") }</th>
                    <th>{ app.t("terms.features") }</th>
                    <th>{ app.t("terms.offline_grace") }</th>
                    <th class="num">{ app.t("terms.releases") }</th>
                    if app.is_admin() { <th class="actions"></th> }
                </> }} />
            if let Some(template) = &*deleting.pending {
                <ConfirmDialog title={app.t("template.delete_title")}
                    message={format!("{} {}", app.t("template.delete_message"), template.name)}
                    confirm_label={app.t("template.delete")} busy={deleting.busy}
                    on_confirm={deleting.on_confirm.clone()} on_cancel={deleting.on_cancel.clone()} />
            }
        </section>
    }
}
