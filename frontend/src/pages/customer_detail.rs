//! One customer: its facts and its licenses, and (admins) a new license for it.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::{Badge, Empty, ErrorBanner, Loading};
use crate::components::license_status::{license_head, license_row};
use crate::hooks::{use_app, use_load, Load};
use crate::route::Route;
use crate::services::customers;
use crate::services::ApiError;

#[derive(Properties, PartialEq)]
pub struct CustomerDetailProps {
    pub id: String,
}

#[function_component]
pub fn CustomerDetailPage(props: &CustomerDetailProps) -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let (detail, _) = use_load(props.id.clone(), |id: String| async move {
        customers::customer(&id).await?.ok_or_else(|| ApiError::NotFound(String::new()))
    });
    let detail = match &*detail {
        Load::Loading => return html! { <section class="page"><Loading /></section> },
        Load::Failed(err) => return html! { <section class="page"><ErrorBanner error={err.clone()} /></section> },
        Load::Loaded(detail) => detail.clone(),
    };
    let customer = detail.customer;
    let new_license = {
        let id = customer.id.clone();
        Callback::from(move |_: MouseEvent| {
            // Only fails for a query that is no key-value list, which this is not.
            let _ = navigator.push_with_query(&Route::NewLicense, &[("customer", id.as_str())][..]);
        })
    };
    let lang = app.lang;

    html! {
        <section class="page">
            <div class="breadcrumbs"><Link<Route> to={Route::Customers}>{ app.t("nav.customers") }</Link<Route>>{ " / " }<span>{ customer.name.clone() }</span></div>
            <div class="page-header">
                <div>
                    <h1 data-testid="customer-name">{ customer.name.clone() }</h1>
                    <p class="muted">{ customer.email.clone() }</p>
                </div>
                if app.is_admin() {
                    <button class="btn btn-primary" onclick={new_license}>{ "+ " }{ app.t("customer.new_license") }</button>
                }
            </div>
            <div class="card">
                <dl class="facts">
                    <div><dt>{ app.t("customer.name") }</dt><dd>{ customer.name.clone() }</dd></div>
                    <div><dt>{ app.t("customer.email") }</dt><dd>{ customer.email.clone() }</dd></div>
                    <div><dt>{ app.t("customer.created") }</dt><dd>{ lang.date(&customer.created_at) }</dd></div>
                    <div><dt>{ app.t("customer.kind") }</dt><dd>
                        if customer.is_test { <Badge tone="amber" text={app.t("customer.test")} /> } else { { app.t("customer.regular") } }
                    </dd></div>
                    <div><dt>{ app.t("customer.license_count") }</dt><dd data-testid="customer-license-count">{ detail.licenses.len() }</dd></div>
                </dl>
            </div>

            <h2>{ app.t("customer.licenses") }</h2>
            if detail.licenses.is_empty() {
                <Empty message={app.t("customer.no_licenses")} />
            } else {
                <div class="table-wrap">
                <table class="table" data-testid="customer-licenses">
                    <thead><tr>{ license_head(&app, false) }</tr></thead>
                    <tbody>{ for detail.licenses.iter().map(|license| license_row(&app, license, false)) }</tbody>
                </table>
                </div>
            }
        </section>
    }
}
