//! Two-factor enrollment: scan the QR code, confirm a code, save the recovery codes (shown once).

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::{ErrorBanner, Loading};
use crate::components::field::{bind, Field};
use crate::components::layout::LanguageSwitch;
use crate::components::recovery_codes::RecoveryCodes;
use crate::hooks::{use_app, use_load, Load};
use crate::route::Route;
use crate::services::{auth, ApiError};
use crate::state::Action;

#[function_component]
pub fn EnrollPage() -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let (enrollment, _) = use_load((), |()| auth::enroll_totp());
    let code = use_state(String::new);
    let error = use_state(|| None::<ApiError>);
    let recovery_codes = use_state(|| None::<Vec<String>>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (code, error, recovery_codes, busy) = (code.clone(), error.clone(), recovery_codes.clone(), busy.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let (entered, error, recovery_codes, busy) =
                (code.trim().replace(' ', ""), error.clone(), recovery_codes.clone(), busy.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = auth::confirm_totp(&entered).await;
                busy.set(false);
                match result {
                    Ok(codes) => recovery_codes.set(Some(codes)),
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let done = {
        let app = app.clone();
        Callback::from(move |()| {
            app.dispatch(Action::EnrollmentCompleted);
            navigator.push(&Route::Overview);
        })
    };

    let body = if let Some(codes) = &*recovery_codes {
        html! {
            <div class="stack" data-testid="recovery-codes">
                <h1>{ app.t("enroll.codes_title") }</h1>
                <RecoveryCodes codes={codes.clone()} on_saved={done} />
            </div>
        }
    } else {
        match &*enrollment {
            Load::Loading => html! { <Loading /> },
            Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
            Load::Loaded(enrollment) => html! {
                <form class="stack" {onsubmit}>
                    <h1>{ app.t("enroll.title") }</h1>
                    <p class="muted">{ app.t("enroll.help") }</p>
                    <div class="enroll-grid">
                        <div class="qr" role="img" aria-label={app.t("enroll.qr")}>{ Html::from_html_unchecked(enrollment.qr_code_svg.clone().into()) }</div>
                        <div class="stack">
                            <div>
                                <div class="label">{ app.t("enroll.secret") }</div>
                                <code class="secret" data-testid="totp-secret">{ enrollment.secret.clone() }</code>
                            </div>
                            <details>
                                <summary>{ app.t("enroll.uri") }</summary>
                                <code class="small break">{ enrollment.otpauth_uri.clone() }</code>
                            </details>
                        </div>
                    </div>
                    if let Some(err) = &*error {
                        if matches!(err, ApiError::Invalid { .. }) {
                            <div class="alert alert-error" role="alert">{ app.t("login.code_failed") }</div>
                        } else {
                            <ErrorBanner error={err.clone()} />
                        }
                    }
                    <Field label={app.t("login.code")} id="enroll-code">
                        <input id="enroll-code" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required=true
                               class="code-input" value={(*code).clone()} oninput={bind(&code)} />
                    </Field>
                    <button class="btn btn-primary" type="submit" disabled={*busy}>{ app.t("enroll.confirm") }</button>
                </form>
            },
        }
    };
    html! {
        <div class="login-screen">
            <div class="login-card wide">
                <div class="login-header">
                    <div class="brand"><span class="brand-mark">{ "◆" }</span><span class="brand-name">{ app.t("app.title") }</span></div>
                    <LanguageSwitch />
                </div>
                { body }
            </div>
        </div>
    }
}
