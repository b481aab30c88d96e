//! Dashboard users (admins only): create, disable and enable, change role, reset 2FA.

use yew::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Badge, ErrorBanner, Loading};
use crate::components::field::Field;
use crate::dom::input_value;
use crate::hooks::{use_app, use_form, use_load, Load};
use crate::services::users::{self, AdminUser, Role, UserAction};
use crate::services::ApiError;

/// The form for a new user.
#[derive(Clone, Debug, PartialEq)]
struct NewUser {
    username: String,
    password: String,
    role: Role,
}

impl Default for NewUser {
    fn default() -> Self {
        NewUser { username: String::new(), password: String::new(), role: Role::Analyst }
    }
}

#[function_component]
pub fn UsersPage() -> Html {
    let app = use_app();
    let (list, reload) = use_load((), |()| users::admin_users());
    let form = use_form(NewUser::default);
    // Failures of the actions on listed users show where the form's do.
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let pending = use_state(|| None::<(AdminUser, UserAction)>);

    if !app.is_admin() {
        return html! { <section class="page"><ErrorBanner error={ApiError::Forbidden(String::new())} /></section> };
    }

    let onsubmit = {
        let save =
            |user: NewUser| async move { users::create_admin_user(&user.username, user.role, &user.password).await };
        let (cleared, error, reload) = (form.clone(), error.clone(), reload.clone());
        let on_created = Callback::from(move |_: AdminUser| {
            cleared.update(|user| *user = NewUser { role: user.role, ..NewUser::default() });
            error.set(None);
            reload.emit(());
        });
        form.submit(save, on_created)
    };
    let on_role = form.bind_change(|user, value| {
        if let Some(role) = Role::parse(&value) {
            user.role = role;
        }
    });
    let on_confirm = {
        let (pending, busy, error, reload) = (pending.clone(), busy.clone(), error.clone(), reload.clone());
        Callback::from(move |()| {
            let Some((user, action)) = (*pending).clone() else { return };
            let (pending, busy, error, reload) = (pending.clone(), busy.clone(), error.clone(), reload.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = users::apply_user_action(&user.id, action).await;
                busy.set(false);
                pending.set(None);
                error.set(result.err());
                reload.emit(());
            });
        })
    };
    let on_cancel = {
        let pending = pending.clone();
        Callback::from(move |()| pending.set(None))
    };
    let lang = app.lang;
    let me = app.user().map(|u| u.id.clone());

    html! {
        <section class="page">
            <div class="page-header"><div>
                <h1>{ app.t("users.title") }</h1>
                <p class="muted">{ app.t("users.subtitle") }</p>
            </div></div>
            <form class="card" {onsubmit} novalidate=true>
                <h2>{ app.t("users.new") }</h2>
                if let Some(err) = form.general_error().or_else(|| (*error).clone()) { <ErrorBanner error={err} /> }
                <div class="row align-end wrap">
                    <Field label={app.t("login.username")} id="new-username" error={form.field_error("username")}>
                        <input id="new-username" autocomplete="off" value={form.values().username.clone()} oninput={form.bind(|user, v| user.username = v)} />
                    </Field>
                    <Field label={app.t("users.initial_password")} id="new-password" error={form.field_error("password")}>
                        <input id="new-password" type="password" autocomplete="new-password" value={form.values().password.clone()} oninput={form.bind(|user, v| user.password = v)} />
                    </Field>
                    <Field label={app.t("users.role")} id="new-role" error={form.field_error("role")}>
                        <select id="new-role" onchange={on_role}>
                            <option value={Role::Analyst.as_str()} selected={form.values().role == Role::Analyst}>{ app.t("role.analyst") }</option>
                            <option value={Role::Admin.as_str()} selected={form.values().role == Role::Admin}>{ app.t("role.admin") }</option>
                        </select>
                    </Field>
                    <button class="btn btn-primary" type="submit" disabled={form.busy() || *busy}>{ app.t("users.create") }</button>
                </div>
            </form>
            { match &*list {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(users) => html! {
                    <div class="table-wrap">
                    <table class="table" data-testid="users">
                        <thead><tr>
                            <th>{ app.t("login.username") }</th><th>{ app.t("users.role") }</th><th>{ app.t("users.two_factor") }</th>
                            <th>{ app.t("license.status") }</th><th>{ app.t("users.last_login") }</th><th class="actions"></th>
                        </tr></thead>
                        <tbody>
                        { for users.iter().map(|user| {
                            let ask = |action: UserAction| {
                                let (pending, user) = (pending.clone(), user.clone());
                                Callback::from(move |_: MouseEvent| pending.set(Some((user.clone(), action))))
                            };
                            let change_role = {
                                let (id, error, reload) = (user.id.clone(), error.clone(), reload.clone());
                                Callback::from(move |event: Event| {
                                    let Some(role) = Role::parse(&input_value(&event)) else { return };
                                    let (id, error, reload) = (id.clone(), error.clone(), reload.clone());
                                    wasm_bindgen_futures::spawn_local(async move {
                                        error.set(users::set_role(&id, role).await.err());
                                        reload.emit(());
                                    });
                                })
                            };
                            let is_me = me.as_deref() == Some(user.id.as_str());
                            html! {
                                <tr key={user.id.clone()}>
                                    <td class="strong">{ user.username.clone() }</td>
                                    <td>
                                        <select aria-label={app.t("users.role")} onchange={change_role} disabled={is_me}>
                                            <option value={Role::Analyst.as_str()} selected={user.role == Role::Analyst}>{ app.t("role.analyst") }</option>
                                            <option value={Role::Admin.as_str()} selected={user.role == Role::Admin}>{ app.t("role.admin") }</option>
                                        </select>
                                    </td>
                                    <td>{ if user.totp_enabled { html! { <Badge tone="green" text={app.t("users.totp_on")} /> } } else { html! { <Badge tone="amber" text={app.t("users.totp_off")} /> } } }</td>
                                    <td>{ if user.is_disabled { html! { <Badge tone="grey" text={app.t("users.disabled")} /> } } else { html! { <Badge tone="green" text={app.t("users.enabled")} /> } } }</td>
                                    <td>{ user.last_login_at.map(|d| lang.datetime(&d)).unwrap_or_else(|| app.t("never").to_owned()) }</td>
                                    <td class="actions nowrap">
                                        if !is_me {
                                            if user.totp_enabled {
                                                <button class="btn btn-small" onclick={ask(UserAction::ResetTotp)}>{ app.t("users.reset_totp") }</button>
                                            }
                                            if user.is_disabled {
                                                <button class="btn btn-small" onclick={ask(UserAction::Enable)}>{ app.t("users.enable") }</button>
                                            } else {
                                                <button class="btn btn-small btn-danger-outline" onclick={ask(UserAction::Disable)}>{ app.t("users.disable") }</button>
                                            }
                                        }
                                    </td>
                                </tr>
                            }
                        }) }
                        </tbody>
                    </table>
                    </div>
                },
            } }
            if let Some((user, action)) = &*pending {
                <ConfirmDialog
                    title={match action { UserAction::Disable => app.t("users.disable"), UserAction::Enable => app.t("users.enable"), UserAction::ResetTotp => app.t("users.reset_totp") }}
                    message={format!("{} {}", match action {
                        UserAction::Disable => app.t("users.disable_message"),
                        UserAction::Enable => app.t("users.enable_message"),
                        UserAction::ResetTotp => app.t("users.reset_message"),
                    }, user.username)}
                    confirm_label={app.t("confirm")} busy={*busy} {on_confirm} {on_cancel} />
            }
        </section>
    }
}
