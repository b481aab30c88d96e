//! Placeholder until the page is built.

use yew::prelude::*;

use crate::hooks::use_app;

#[function_component]
pub fn AccountPage() -> Html {
    let app = use_app();
    html! {
        <section class="page">
            <h1>{ app.t("nav.account") }</h1>
        </section>
    }
}
