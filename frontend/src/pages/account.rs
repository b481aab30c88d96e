//! My account: the signed-in user's own password, two-factor authentication and recovery codes,
//! and their own dashboard sessions. For admins and analysts alike: these are their own
//! credentials, not data of the business.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Badge, ErrorBanner, Loading};
use crate::components::field::Field;
use crate::components::recovery_codes::RecoveryCodes;
use crate::hooks::{use_app, use_confirm, use_form, use_load, Load};
use crate::route::Route;
use crate::services::account::{self, DashboardSession, PasswordPolicy, CODE_FIELD};
use crate::services::users::{AdminUser, Role};
use crate::services::ApiError;
use crate::state::Action;

/// The field a repeated password that differs is reported on; the server has no such field.
const REPEAT_FIELD: &str = "repeatPassword";

#[function_component]
pub fn AccountPage() -> Html {
    let app = use_app();
    // Bumped by whatever ends sessions (a new password, 2FA off), so the list shows it.
    let sessions_generation = use_state(|| 0_u32);
    let sessions_changed = {
        let generation = sessions_generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    let Some(user) = app.user().cloned() else { return html! {} };
    let role = if user.role == Role::Admin { app.t("role.admin") } else { app.t("role.analyst") };
    html! {
        <section class="page">
            <div class="page-header"><div>
                <h1>{ app.t("nav.account") }</h1>
                <p class="muted" data-testid="account-user">{ format!("{} · {role}", user.username) }</p>
            </div></div>
            <div class="account-grid">
                <PasswordCard on_changed={sessions_changed.clone()} />
                <TwoFactorCard totp_enabled={user.totp_enabled} on_disabled={sessions_changed} />
            </div>
            <SessionsCard generation={*sessions_generation} />
        </section>
    }
}

/// The form for a new password.
#[derive(Clone, Debug, Default, PartialEq)]
struct NewPassword {
    current: String,
    new: String,
    repeat: String,
}

#[derive(Properties, PartialEq)]
struct PasswordCardProps {
    /// The password changed, so the user's other sessions ended.
    on_changed: Callback<()>,
}

/// "Length: 8–128 characters", from the server's rule.
fn password_rule(app: &crate::state::AppState, policy: &PasswordPolicy) -> String {
    format!(
        "{}: {}–{} {}",
        app.t("account.password_length"),
        policy.min_length,
        policy.max_length,
        app.t("account.characters")
    )
}

#[function_component]
fn PasswordCard(props: &PasswordCardProps) -> Html {
    let app = use_app();
    let (policy, _) = use_load((), |()| account::password_policy());
    let form = use_form(NewPassword::default);
    let changed = use_state(|| false);
    let onsubmit = {
        let save = |values: NewPassword| async move {
            if values.new != values.repeat {
                return Err(ApiError::Invalid { field: Some(REPEAT_FIELD.to_owned()), message: String::new() });
            }
            account::change_password(&values.current, &values.new).await
        };
        let (cleared, changed, on_changed) = (form.clone(), changed.clone(), props.on_changed.clone());
        let on_saved = Callback::from(move |_: bool| {
            cleared.update(|values| *values = NewPassword::default());
            changed.set(true);
            on_changed.emit(());
        });
        form.submit(save, on_saved)
    };
    let policy = match &*policy {
        Load::Loaded(policy) => Some(*policy),
        _ => None,
    };
    let rule = policy.map(|policy| password_rule(&app, &policy));
    let values = form.values();
    html! {
        <form class="card stack" {onsubmit} novalidate=true data-testid="password-form">
            <h2>{ app.t("account.password_title") }</h2>
            <p class="muted">{ app.t("account.password_help") }</p>
            if let Some(rule) = &rule {
                <p class="rule" data-testid="password-rules">{ rule.clone() }</p>
            }
            if *changed { <div class="alert alert-success" role="status">{ app.t("account.password_changed") }</div> }
            if let Some(err) = form.general_error() { <ErrorBanner error={err} /> }
            <Field label={app.t("account.current_password")} id="current-password"
                   error={form.field_error("currentPassword").map(|_| app.t("account.current_wrong").to_owned())}>
                <input id="current-password" type="password" autocomplete="current-password"
                       value={values.current.clone()} oninput={form.bind(|v, text| v.current = text)} />
            </Field>
            <Field label={app.t("account.new_password")} id="new-password"
                   error={form.field_error("newPassword").map(|message| rule.clone().unwrap_or(message))}>
                <input id="new-password" type="password" autocomplete="new-password"
                       minlength={policy.map(|p| p.min_length.to_string())} maxlength={policy.map(|p| p.max_length.to_string())}
                       value={values.new.clone()} oninput={form.bind(|v, text| v.new = text)} />
            </Field>
            <Field label={app.t("account.repeat_password")} id="repeat-password"
                   error={form.field_error(REPEAT_FIELD).map(|_| app.t("account.repeat_mismatch").to_owned())}>
                <input id="repeat-password" type="password" autocomplete="new-password"
                       value={values.repeat.clone()} oninput={form.bind(|v, text| v.repeat = text)} />
            </Field>
            <div class="row">
                <button class="btn btn-primary" type="submit" disabled={form.busy()}>{ app.t("account.password_title") }</button>
            </div>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct TwoFactorCardProps {
    totp_enabled: bool,
    /// 2FA was turned off, so the user's other sessions ended.
    on_disabled: Callback<()>,
}

#[function_component]
fn TwoFactorCard(props: &TwoFactorCardProps) -> Html {
    let app = use_app();
    let codes = use_state(|| None::<Vec<String>>);
    let on_done = {
        let (app, codes, on_disabled) = (app.clone(), codes.clone(), props.on_disabled.clone());
        Callback::from(move |outcome: Confirmed| match outcome {
            Confirmed::Codes(new_codes) => codes.set(Some(new_codes)),
            Confirmed::Disabled(user) => {
                // An admin's session may now only enroll again: the next request says so and
                // leads to the enrollment.
                app.dispatch(Action::SignedIn { user, enrollment_required: false });
                on_disabled.emit(());
            }
        })
    };
    let hide_codes = {
        let codes = codes.clone();
        Callback::from(move |()| codes.set(None))
    };
    html! {
        <div class="card stack" data-testid="two-factor">
            <div class="row between">
                <h2>{ app.t("login.totp_title") }</h2>
                if props.totp_enabled {
                    <Badge tone="green" text={app.t("users.totp_on")} />
                } else {
                    <Badge tone="amber" text={app.t("users.totp_off")} />
                }
            </div>
            if let Some(new_codes) = &*codes {
                <div class="stack key-once-panel" data-testid="new-recovery-codes">
                    <h3>{ app.t("enroll.codes_title") }</h3>
                    <RecoveryCodes codes={new_codes.clone()} on_saved={hide_codes} />
                </div>
            } else if props.totp_enabled {
                <p class="muted">{ app.t("account.totp_on_help") }</p>
                <ReauthForm purpose={Purpose::RegenerateCodes} on_done={on_done.clone()} />
                <ReauthForm purpose={Purpose::DisableTotp} {on_done} />
            } else {
                <p class="muted">{ app.t("account.totp_off_help") }</p>
                <div class="row">
                    <Link<Route> to={Route::Enroll} classes="btn btn-primary">{ app.t("enroll.title") }</Link<Route>>
                </div>
            }
        </div>
    }
}

/// What the password and a current code are asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Purpose {
    RegenerateCodes,
    DisableTotp,
}

/// What came of it.
enum Confirmed {
    Codes(Vec<String>),
    Disabled(AdminUser),
}

/// The password and a current code of the authenticator.
#[derive(Clone, Debug, Default, PartialEq)]
struct Reauthentication {
    password: String,
    code: String,
}

#[derive(Properties, PartialEq)]
struct ReauthFormProps {
    purpose: Purpose,
    on_done: Callback<Confirmed>,
}

/// A change to the second factor, confirmed with the password and a current code.
#[function_component]
fn ReauthForm(props: &ReauthFormProps) -> Html {
    let app = use_app();
    let form = use_form(Reauthentication::default);
    let purpose = props.purpose;
    let onsubmit = {
        let save = move |values: Reauthentication| async move {
            let code: String = values.code.chars().filter(|c| !c.is_whitespace()).collect();
            match purpose {
                Purpose::RegenerateCodes => {
                    account::regenerate_recovery_codes(&values.password, &code).await.map(Confirmed::Codes)
                }
                Purpose::DisableTotp => account::disable_totp(&values.password, &code).await.map(Confirmed::Disabled),
            }
        };
        let (cleared, on_done) = (form.clone(), props.on_done.clone());
        let on_saved = Callback::from(move |confirmed: Confirmed| {
            cleared.update(|values| *values = Reauthentication::default());
            on_done.emit(confirmed);
        });
        form.submit(save, on_saved)
    };
    let (id, title, help, submit, button_class) = match purpose {
        Purpose::RegenerateCodes => (
            "regenerate",
            app.t("account.regenerate_title"),
            app.t("account.regenerate_help"),
            app.t("account.regenerate"),
            "btn btn-primary",
        ),
        Purpose::DisableTotp => (
            "disable-totp",
            app.t("account.disable_title"),
            app.t("account.disable_help"),
            app.t("account.disable"),
            "btn btn-danger",
        ),
    };
    let code_error = form.field_error(CODE_FIELD).map(|message| {
        if message.is_empty() {
            app.t("account.reauth_failed").to_owned()
        } else {
            message
        }
    });
    let values = form.values();
    html! {
        <form class="stack reauth" {onsubmit} novalidate=true data-testid={format!("{id}-form")} aria-labelledby={format!("{id}-title")}>
            <h3 id={format!("{id}-title")}>{ title }</h3>
            <p class="muted small">{ help }</p>
            if let Some(err) = form.general_error() { <ErrorBanner error={err} /> }
            <div class="row align-end">
                <Field label={app.t("login.password")} id={format!("{id}-password")}>
                    <input id={format!("{id}-password")} type="password" autocomplete="current-password"
                           value={values.password.clone()} oninput={form.bind(|v, text| v.password = text)} />
                </Field>
                <Field label={app.t("account.totp_code")} id={format!("{id}-code")} error={code_error}>
                    <input id={format!("{id}-code")} inputmode="numeric" autocomplete="one-time-code" maxlength="7" class="code-input"
                           value={values.code.clone()} oninput={form.bind(|v, text| v.code = text)} />
                </Field>
            </div>
            <div class="row">
                <button class={button_class} type="submit" disabled={form.busy()}>{ submit }</button>
            </div>
        </form>
    }
}

/// Which sessions are about to end, waiting for the confirmation.
#[derive(Clone, Debug, PartialEq)]
enum Ending {
    One(DashboardSession),
    Others,
}

#[derive(Properties, PartialEq)]
struct SessionsCardProps {
    /// Changes when sessions may have ended elsewhere on the page.
    generation: u32,
}

#[function_component]
fn SessionsCard(props: &SessionsCardProps) -> Html {
    let app = use_app();
    let (sessions, reload) = use_load(props.generation, |_| account::my_dashboard_sessions());
    let pending = use_confirm(
        |ending: Ending| async move {
            match &ending {
                Ending::One(session) => account::end_dashboard_session(&session.id).await.map(|_| ()),
                Ending::Others => account::end_other_dashboard_sessions().await.map(|_| ()),
            }
        },
        reload,
    );
    let lang = app.lang;
    let others = match &*sessions {
        Load::Loaded(list) => list.iter().filter(|s| !s.current).count(),
        _ => 0,
    };
    let end_others = pending.ask::<MouseEvent>(Ending::Others);
    html! {
        <div class="account-sessions">
            <div class="section-header">
                <div>
                    <h2>{ app.t("account.sessions_title") }</h2>
                    <p class="muted small">{ app.t("account.sessions_help") }</p>
                </div>
                <button class="btn btn-danger-outline" onclick={end_others} disabled={others == 0} data-testid="end-other-sessions">
                    { app.t("account.end_others") }
                </button>
            </div>
            if let Some(err) = &pending.error { <ErrorBanner error={err.clone()} /> }
            { match &*sessions {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(list) => html! {
                    <div class="table-wrap">
                    <table class="table" data-testid="my-sessions">
                        <thead><tr>
                            <th>{ app.t("account.browser") }</th><th>{ app.t("account.address") }</th>
                            <th>{ app.t("account.signed_in_at") }</th><th>{ app.t("account.last_seen") }</th>
                            <th class="actions"></th>
                        </tr></thead>
                        <tbody>
                        { for list.iter().map(|session| {
                            let ask = pending.ask::<MouseEvent>(Ending::One(session.clone()));
                            html! {
                                <tr key={session.id.clone()} data-current={session.current.to_string()}>
                                    <td class="user-agent small">{ session.user_agent.clone().unwrap_or_else(|| app.t("account.unknown").to_owned()) }</td>
                                    <td class="mono small">{ session.ip_address.clone().unwrap_or_else(|| app.t("account.unknown").to_owned()) }</td>
                                    <td class="nowrap">{ lang.datetime(&session.created_at) }</td>
                                    <td class="nowrap">{ lang.datetime(&session.last_seen_at) }</td>
                                    <td class="actions">
                                        if session.current {
                                            <Badge tone="green" text={app.t("account.this_session")} />
                                        } else {
                                            <button class="btn btn-small btn-danger-outline" onclick={ask}>{ app.t("account.end_session") }</button>
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
            if let Some(ending) = &*pending.pending {
                <ConfirmDialog
                    title={match ending { Ending::One(_) => app.t("account.end_session"), Ending::Others => app.t("account.end_others") }}
                    message={match ending {
                        Ending::One(session) => format!("{} {}", app.t("account.end_session_message"),
                            session.user_agent.clone().unwrap_or_else(|| app.t("account.unknown").to_owned())),
                        Ending::Others => app.t("account.end_others_message").to_owned(),
                    }}
                    confirm_label={app.t("confirm")} busy={pending.busy}
                    on_confirm={pending.on_confirm.clone()} on_cancel={pending.on_cancel.clone()} />
            }
        </div>
    }
}
