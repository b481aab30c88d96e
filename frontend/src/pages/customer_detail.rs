//! Placeholder until the page is built.

use yew::prelude::*;

use crate::hooks::use_app;

#[derive(Properties, PartialEq)]
pub struct CustomerDetailProps {
    pub id: String,
}

#[function_component]
pub fn CustomerDetailPage(props: &CustomerDetailProps) -> Html {
    let app = use_app();
    html! {
        <section class="page">
            <h1>{ app.t("nav.customers") }</h1>
            <p class="mono">{ props.id.clone() }</p>
        </section>
    }
}
