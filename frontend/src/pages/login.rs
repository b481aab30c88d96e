//! Sign in: password first, then the authenticator code (or a recovery code).

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::ErrorBanner;
use crate::components::field::{bind, Field};
use crate::components::layout::LanguageSwitch;
use crate::hooks::use_app;
use crate::route::Route;
use crate::services::auth::{self, LoginResult};
use crate::services::ApiError;
use crate::state::Action;

#[derive(Clone, PartialEq)]
enum Step {
    Password,
    Totp { challenge: String },
    Recovery { challenge: String },
}

#[function_component]
pub fn LoginPage() -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let step = use_state(|| Step::Password);
    let username = use_state(String::new);
    let password = use_state(String::new);
    let code = use_state(String::new);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (app, step, username, password, code, error, busy) =
            (app.clone(), step.clone(), username.clone(), password.clone(), code.clone(), error.clone(), busy.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let (app, navigator, step, code, error, busy) =
                (app.clone(), navigator.clone(), step.clone(), code.clone(), error.clone(), busy.clone());
            let (user, pass, current, entered) =
                ((*username).clone(), (*password).clone(), (*step).clone(), code.trim().replace(' ', ""));
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = match &current {
                    Step::Password => auth::login(&user, &pass).await,
                    Step::Totp { challenge } => auth::verify_totp(challenge, &entered).await,
                    Step::Recovery { challenge } => auth::redeem_recovery_code(challenge, &entered).await,
                };
                busy.set(false);
                match result {
                    Ok(LoginResult::LoginSucceeded { user, totp_enrollment_required }) => {
                        error.set(None);
                        app.dispatch(Action::SignedIn { user, enrollment_required: totp_enrollment_required });
                        navigator.push(if totp_enrollment_required { &Route::Enroll } else { &Route::Overview });
                    }
                    Ok(LoginResult::TotpRequired { challenge }) => {
                        error.set(None);
                        code.set(String::new());
                        step.set(Step::Totp { challenge });
                    }
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let use_recovery = {
        let step = step.clone();
        Callback::from(move |_: MouseEvent| {
            if let Step::Totp { challenge } = &*step {
                step.set(Step::Recovery { challenge: challenge.clone() });
            }
        })
    };
    let start_over = {
        let (step, error) = (step.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            error.set(None);
            step.set(Step::Password);
        })
    };

    let error_text = (*error).clone().map(|err| match err {
        ApiError::Invalid { .. } | ApiError::Unauthenticated | ApiError::Forbidden(_) => {
            html! { <div class="alert alert-error" role="alert">{ app.t(match &*step {
                Step::Password => "login.failed",
                _ => "login.code_failed",
            }) }</div> }
        }
        other => html! { <ErrorBanner error={other} /> },
    });

    html! {
        <div class="login-screen">
            <div class="login-card">
                <div class="login-header">
                    <div class="brand"><span class="brand-mark">{ "◆" }</span><span class="brand-name">{ app.t("app.title") }</span></div>
                    <LanguageSwitch />
                </div>
                <form {onsubmit} class="stack" data-step={match &*step { Step::Password => "password", Step::Totp { .. } => "totp", Step::Recovery { .. } => "recovery" }}>
                    { match &*step {
                        Step::Password => html! {
                            <>
                                <h1>{ app.t("login.title") }</h1>
                                <p class="muted">{ app.t("login.subtitle") }</p>
                                { error_text.clone().unwrap_or_default() }
                                <Field label={app.t("login.username")} id="username">
                                    <input id="username" name="username" autocomplete="username" required=true
                                           value={(*username).clone()} oninput={bind(&username)} />
                                </Field>
                                <Field label={app.t("login.password")} id="password">
                                    <input id="password" name="password" type="password" autocomplete="current-password" required=true
                                           value={(*password).clone()} oninput={bind(&password)} />
                                </Field>
                                <button class="btn btn-primary btn-block" type="submit" disabled={*busy}>{ app.t("login.submit") }</button>
                            </>
                        },
                        Step::Totp { .. } => html! {
                            <>
                                <h1>{ app.t("login.totp_title") }</h1>
                                <p class="muted">{ app.t("login.totp_help") }</p>
                                { error_text.clone().unwrap_or_default() }
                                <Field label={app.t("login.code")} id="totp-code">
                                    <input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}"
                                           maxlength="7" required=true class="code-input"
                                           value={(*code).clone()} oninput={bind(&code)} />
                                </Field>
                                <button class="btn btn-primary btn-block" type="submit" disabled={*busy}>{ app.t("login.verify") }</button>
                                <div class="login-links">
                                    <button type="button" class="link" onclick={use_recovery}>{ app.t("login.use_recovery") }</button>
                                    <button type="button" class="link" onclick={start_over.clone()}>{ app.t("login.start_over") }</button>
                                </div>
                            </>
                        },
                        Step::Recovery { .. } => html! {
                            <>
                                <h1>{ app.t("login.recovery_title") }</h1>
                                <p class="muted">{ app.t("login.recovery_help") }</p>
                                { error_text.clone().unwrap_or_default() }
                                <Field label={app.t("login.recovery_code")} id="recovery-code">
                                    <input id="recovery-code" name="recovery" autocomplete="off" required=true class="mono"
                                           value={(*code).clone()} oninput={bind(&code)} />
                                </Field>
                                <button class="btn btn-primary btn-block" type="submit" disabled={*busy}>{ app.t("login.verify") }</button>
                                <div class="login-links">
                                    <button type="button" class="link" onclick={start_over}>{ app.t("login.start_over") }</button>
                                </div>
                            </>
                        },
                    } }
                </form>
            </div>
        </div>
    }
}
