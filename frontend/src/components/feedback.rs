//! Loading, empty and error states, and small status badges.

use yew::prelude::*;

use crate::hooks::use_app;
use crate::services::ApiError;

#[function_component]
pub fn Loading() -> Html {
    let app = use_app();
    html! { <div class="state loading" role="status"><span class="spinner"></span>{ app.t("loading") }</div> }
}

#[derive(Properties, PartialEq)]
pub struct EmptyProps {
    pub message: AttrValue,
}

#[function_component]
pub fn Empty(props: &EmptyProps) -> Html {
    html! { <div class="state empty">{ props.message.clone() }</div> }
}

#[derive(Properties, PartialEq)]
pub struct ErrorBannerProps {
    pub error: ApiError,
}

/// An error as a person reads it: what happened, and what to do about it.
#[function_component]
pub fn ErrorBanner(props: &ErrorBannerProps) -> Html {
    let app = use_app();
    let text = match &props.error {
        ApiError::Network => app.t("error.network").to_owned(),
        ApiError::Unauthenticated => app.t("error.unauthenticated").to_owned(),
        ApiError::EnrollmentRequired => app.t("error.enrollment").to_owned(),
        ApiError::Forbidden(_) => app.t("error.forbidden").to_owned(),
        ApiError::NotFound(_) => app.t("error.not_found").to_owned(),
        ApiError::Conflict(_) => app.t("error.conflict").to_owned(),
        ApiError::Invalid { message, .. } => format!("{} {message}", app.t("error.invalid")),
        ApiError::Server(message) if message.is_empty() || message == "internal server error" => {
            app.t("error.server").to_owned()
        }
        ApiError::Server(message) => message.clone(),
    };
    html! { <div class="alert alert-error" role="alert">{ text }</div> }
}

#[derive(Properties, PartialEq)]
pub struct BadgeProps {
    /// `green`, `amber`, `grey` or `red`.
    pub tone: AttrValue,
    pub text: AttrValue,
}

#[function_component]
pub fn Badge(props: &BadgeProps) -> Html {
    html! { <span class={classes!("badge", format!("badge-{}", props.tone))}>{ props.text.clone() }</span> }
}
