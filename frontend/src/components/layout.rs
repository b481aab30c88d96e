//! The frame of every signed-in page: header with navigation, user and language, then content.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::hooks::use_app;
use crate::i18n::Lang;
use crate::route::Route;
use crate::services::auth;
use crate::services::users::Role;
use crate::state::Action;

#[derive(Properties, PartialEq)]
pub struct LayoutProps {
    pub children: Children,
}

#[function_component]
pub fn LanguageSwitch() -> Html {
    let app = use_app();
    let button = |lang: Lang| {
        let app = app.clone();
        let active = app.lang == lang;
        let onclick = Callback::from(move |_: MouseEvent| app.dispatch(Action::SetLang(lang)));
        html! {
            <button class={classes!("lang", active.then_some("active"))} aria-pressed={active.to_string()}
                    data-lang={lang.code()} {onclick}>{ lang.code().to_uppercase() }</button>
        }
    };
    html! { <div class="lang-switch" role="group" aria-label="Language">{ button(Lang::De) }{ button(Lang::En) }</div> }
}

#[function_component]
pub fn Layout(props: &LayoutProps) -> Html {
    let app = use_app();
    let route = use_route::<Route>();
    let navigator = use_navigator().expect("inside the router");
    let on_logout = {
        let app = app.clone();
        Callback::from(move |_: MouseEvent| {
            let (app, navigator) = (app.clone(), navigator.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let _ = auth::logout().await;
                app.dispatch(Action::SignedOut);
                navigator.push(&Route::Login);
            });
        })
    };
    let nav_item = |target: Route, key: &'static str| {
        let active = route.as_ref().is_some_and(|r| r.section() == target.section());
        html! {
            <li>
                <Link<Route> to={target} classes={classes!("nav-link", active.then_some("active"))}>{ app.t(key) }</Link<Route>>
            </li>
        }
    };
    // A group of links under a visible heading that also names the list for screen readers.
    let nav_group = |id: &'static str, heading: Option<&'static str>, items: Html| {
        html! {
            <div class="nav-group" data-group={id}>
                if let Some(heading) = heading {
                    <p class="nav-heading" id={format!("nav-{id}")}>{ app.t(heading) }</p>
                }
                <ul aria-labelledby={heading.map(|_| format!("nav-{id}"))}>{ items }</ul>
            </div>
        }
    };
    let user = app.user().cloned();
    html! {
        <div class="shell">
            <header class="topbar">
                <div class="brand">
                    <span class="brand-mark" aria-hidden="true">{ "◆" }</span>
                    <span class="brand-name">{ app.t("app.title") }</span>
                </div>
                <div class="topbar-right">
                    <LanguageSwitch />
                    if let Some(user) = user {
                        <Link<Route> to={Route::Account} classes="user">
                            <span class="user-name" data-testid="signed-in-user">{ user.username.clone() }</span>
                            <span class="user-role">{ if user.role == Role::Admin { app.t("role.admin") } else { app.t("role.analyst") } }</span>
                        </Link<Route>>
                    }
                    <button class="btn btn-small btn-ghost" onclick={on_logout}>{ app.t("logout") }</button>
                </div>
            </header>
            <nav class="sidebar" aria-label="Main">
                { nav_group("start", None, html! {<>
                    { nav_item(Route::Overview, "nav.overview") }
                    { nav_item(Route::Live, "nav.live") }
                </>}) }
                { nav_group("licensing", Some("nav.group.licensing"), html! {<>
                    { nav_item(Route::Licenses, "nav.licenses") }
                    { nav_item(Route::Templates, "nav.templates") }
                    { nav_item(Route::Customers, "nav.customers") }
                    { nav_item(Route::Devices, "nav.devices") }
                    { nav_item(Route::History, "nav.history") }
                    { nav_item(Route::Resources, "nav.resources") }
                </>}) }
                { nav_group("sales", Some("nav.group.sales"), html! {<>
                    { nav_item(Route::Crm, "nav.crm") }
                </>}) }
                { nav_group("administration", Some("nav.group.administration"), html! {<>
                    { nav_item(Route::ApiKeys, "nav.api_keys") }
                    if app.is_admin() { { nav_item(Route::Users, "nav.users") } }
                    if app.is_admin() { { nav_item(Route::Backups, "nav.backups") } }
                    { nav_item(Route::Audit, "nav.audit") }
                </>}) }
            </nav>
            <main class="content">{ props.children.clone() }</main>
        </div>
    }
}
