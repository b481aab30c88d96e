//! A license's state as a badge (active, expired or inactive), and a license as a row of the
//! license tables (all licenses, a customer's).

use yew::prelude::*;
use yew_router::prelude::Link;

use super::feedback::Badge;
use crate::route::Route;
use crate::services::licenses::License;
use crate::state::AppContext;

pub fn status_badge(app: &AppContext, license: &License) -> Html {
    let expired = license.valid_until.is_some_and(|until| until <= chrono::Utc::now());
    if !license.is_active {
        html! { <Badge tone="grey" text={app.t("license.inactive")} /> }
    } else if expired {
        html! { <Badge tone="amber" text={app.t("license.expired")} /> }
    } else {
        html! { <Badge tone="green" text={app.t("license.active")} /> }
    }
}

/// The header cells of a license table; with the customer column or without (one customer's).
pub fn license_head(app: &AppContext, with_customer: bool) -> Html {
    html! { <>
        <th>{ app.t("license.key") }</th>
        if with_customer { <th>{ app.t("license.customer") }</th> }
        <th>{ app.t("license.type") }</th>
        <th class="num">{ app.t("license.devices") }</th>
        <th class="num">{ app.t("license.sessions") }</th>
        <th>{ app.t("license.valid_until") }</th>
        <th>{ app.t("license.status") }</th>
    </> }
}

/// A license as a row under [`license_head`], its key linking to its page.
pub fn license_row(app: &AppContext, license: &License, with_customer: bool) -> Html {
    html! {
        <tr key={license.id.clone()}>
            <td class="mono"><Link<Route> to={Route::License { id: license.id.clone() }}>{ license.license_key.clone() }</Link<Route>></td>
            if with_customer {
                <td>{ license.customer.as_ref().map(|c| c.name.clone()).unwrap_or_default() }</td>
            }
            <td>{ app.lang.license_type(license.license_type) }</td>
            <td class="num">{ license.device_limit }</td>
            <td class="num">{ license.concurrent_sessions_limit }</td>
            <td>{ license.valid_until.map(|d| app.lang.date(&d)).unwrap_or_else(|| app.t("license.unlimited").to_owned()) }</td>
            <td>{ status_badge(app, license) }</td>
        </tr>
    }
}
