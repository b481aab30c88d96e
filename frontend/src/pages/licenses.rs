//! Licenses: search, filter by status, page through; create (admins).

use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::license_status::{license_head, license_row};
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::components::search_toolbar::{active_select, ActiveChoices, SearchToolbar};
use crate::hooks::use_app;
use crate::route::Route;
use crate::services::licenses::{self, License, LicenseFilter};
use crate::services::{ApiError, Connection, Page};

impl ListQuery for LicenseFilter {
    type Item = License;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<License>, ApiError>> {
        async move { licenses::licenses(&self, &page).await }.boxed_local()
    }
}

#[function_component]
pub fn LicensesPage() -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let filter = use_state(LicenseFilter::default);

    let on_search = {
        let filter = filter.clone();
        Callback::from(move |search: String| filter.set(LicenseFilter { search, ..(*filter).clone() }))
    };
    let on_status = {
        let filter = filter.clone();
        Callback::from(move |active: Option<bool>| filter.set(LicenseFilter { active, ..(*filter).clone() }))
    };
    let new_license = Callback::from(move |_: MouseEvent| navigator.push(&Route::NewLicense));
    let row = {
        let app = app.clone();
        Callback::from(move |license: License| license_row(&app, &license, true))
    };

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
            <SearchToolbar label={app.t("licenses.search")} {on_search}>
                { active_select("license-status-filter", ActiveChoices {
                    label: app.t("licenses.status"), all: app.t("licenses.all"),
                    active: app.t("license.active"), inactive: app.t("license.inactive"),
                }, filter.active, on_status) }
            </SearchToolbar>
            <PagedTable<LicenseFilter> query={(*filter).clone()} empty={app.t("licenses.empty")} testid="licenses" {row}
                head={license_head(&app, true)} />
        </section>
    }
}
