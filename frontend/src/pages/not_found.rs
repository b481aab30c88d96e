use yew::prelude::*;
use yew_router::prelude::Link;

use crate::hooks::use_app;
use crate::route::Route;

#[function_component]
pub fn NotFoundPage() -> Html {
    let app = use_app();
    html! {
        <section class="page">
            <h1>{ app.t("not_found.title") }</h1>
            <p><Link<Route> to={Route::Overview}>{ app.t("not_found.back") }</Link<Route>></p>
        </section>
    }
}
