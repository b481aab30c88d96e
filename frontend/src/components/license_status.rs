//! A license's state as a badge: active, expired or inactive.

use yew::prelude::*;

use super::feedback::Badge;
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
