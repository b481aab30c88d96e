//! Licenses: search, filter by status, page through; create (admins).

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::{Empty, ErrorBanner, Loading};
use crate::components::field::{bind, input_value};
use crate::components::license_status::status_badge;
use crate::components::pager::Pager;
use crate::hooks::{use_app, use_load, Load};
use crate::route::Route;
use crate::services::licenses::{self, LicenseFilter};
use crate::services::Page;

#[function_component]
pub fn LicensesPage() -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let search = use_state(String::new);
    let filter = use_state(LicenseFilter::default);
    let page = use_state(Page::default);
    let (licenses, _) = use_load(((*filter).clone(), (*page).clone()), |(filter, page)| async move {
        licenses::licenses(&filter, &page).await
    });

    let on_search = {
        let (search, filter, page) = (search.clone(), filter.clone(), page.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            filter.set(LicenseFilter { search: (*search).clone(), ..(*filter).clone() });
            page.set(Page::default());
        })
    };
    let on_status = {
        let (filter, page) = (filter.clone(), page.clone());
        Callback::from(move |event: Event| {
            let active = match input_value(&event).as_str() {
                "active" => Some(true),
                "inactive" => Some(false),
                _ => None,
            };
            filter.set(LicenseFilter { active, ..(*filter).clone() });
            page.set(Page::default());
        })
    };
    let new_license = Callback::from(move |_: MouseEvent| navigator.push(&Route::NewLicense));

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("licenses.title") }</h1>
                    <p class="muted">{ app.t("licenses.subtitle") }</p>
                </div>
                if app.is_admin() {
                    <button class="btn btn-primary" onclick={new_license}>{ "+ " }{ app.t("licenses.new") }</button>
                }
            </div>
            <form class="toolbar" onsubmit={on_search}>
                <input class="grow" type="search" placeholder={app.t("licenses.search")} aria-label={app.t("licenses.search")}
                       value={(*search).clone()} oninput={bind(&search)} />
                <select aria-label={app.t("licenses.status")} onchange={on_status}>
                    <option value="all" selected={filter.active.is_none()}>{ app.t("licenses.all") }</option>
                    <option value="active" selected={filter.active == Some(true)}>{ app.t("license.active") }</option>
                    <option value="inactive" selected={filter.active == Some(false)}>{ app.t("license.inactive") }</option>
                </select>
                <button class="btn" type="submit">{ app.t("search") }</button>
            </form>
            { match &*licenses {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(connection) if connection.nodes.is_empty() => html! { <Empty message={app.t("licenses.empty")} /> },
                Load::Loaded(connection) => html! {
                    <>
                        <div class="table-wrap">
                        <table class="table" data-testid="licenses">
                            <thead><tr>
                                <th>{ app.t("license.key") }</th>
                                <th>{ app.t("license.customer") }</th>
                                <th>{ app.t("license.type") }</th>
                                <th class="num">{ app.t("license.devices") }</th>
                                <th class="num">{ app.t("license.sessions") }</th>
                                <th>{ app.t("license.valid_until") }</th>
                                <th>{ app.t("license.status") }</th>
                            </tr></thead>
                            <tbody>
                            { for connection.nodes.iter().map(|license| html! {
                                <tr key={license.id.clone()}>
                                    <td class="mono"><Link<Route> to={Route::License { id: license.id.clone() }}>{ license.license_key.clone() }</Link<Route>></td>
                                    <td>{ license.customer.as_ref().map(|c| c.name.clone()).unwrap_or_default() }</td>
                                    <td>{ app.lang.license_type(license.license_type) }</td>
                                    <td class="num">{ license.device_limit }</td>
                                    <td class="num">{ license.concurrent_sessions_limit }</td>
                                    <td>{ license.valid_until.map(|d| app.lang.date(&d)).unwrap_or_else(|| app.t("license.unlimited").to_owned()) }</td>
                                    <td>{ status_badge(&app, license) }</td>
                                </tr>
                            }) }
                            </tbody>
                        </table>
                        </div>
                        <Pager page_info={connection.page_info.clone()} total={connection.total_count} page={page.clone()} />
                    </>
                },
            } }
        </section>
    }
}
