//! API keys ("System-API-Key generieren"): generate (the key is shown once), list, revoke; and
//! for admins the keys that sign leases, with their rotation.

use yew::prelude::*;

use crate::components::clipboard::copy_to_clipboard;
use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Badge, Empty, ErrorBanner, Loading};
use crate::components::field::Field;
use crate::components::modal::Modal;
use crate::components::signing_keys::SigningKeys;
use crate::hooks::{use_app, use_form, use_load, Load};
use crate::services::api_keys::{self, ApiKey, GeneratedApiKey, RateLimit, Scope};
use crate::services::ApiError;

/// The form for a new key.
#[derive(Clone, Debug, PartialEq)]
struct NewKey {
    name: String,
    scope: Scope,
}

#[function_component]
pub fn ApiKeysPage() -> Html {
    let app = use_app();
    let (keys, reload) = use_load((), |()| api_keys::api_keys());
    let form = use_form(|| NewKey { name: String::new(), scope: Scope::Client });
    let generated = use_state(|| None::<GeneratedApiKey>);
    let copied = use_state(|| false);
    // Failures of revoking show where the form's do.
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let revoking = use_state(|| None::<ApiKey>);
    let limiting = use_state(|| None::<ApiKey>);

    let onsubmit = {
        let save = |key: NewKey| async move { api_keys::generate_api_key(&key.name, key.scope).await };
        let (cleared, generated, copied, error, reload) =
            (form.clone(), generated.clone(), copied.clone(), error.clone(), reload.clone());
        let on_generated = Callback::from(move |key: GeneratedApiKey| {
            cleared.update(|new_key| new_key.name.clear());
            error.set(None);
            copied.set(false);
            generated.set(Some(key));
            reload.emit(());
        });
        form.submit(save, on_generated)
    };
    let on_scope = form.bind_change(|key, value| {
        if let Some(scope) = Scope::parse(&value) {
            key.scope = scope;
        }
    });
    let on_confirm = {
        let (revoking, busy, error, reload) = (revoking.clone(), busy.clone(), error.clone(), reload.clone());
        Callback::from(move |()| {
            let Some(key) = (*revoking).clone() else { return };
            let (revoking, busy, error, reload) = (revoking.clone(), busy.clone(), error.clone(), reload.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = api_keys::revoke_api_key(&key.id).await;
                busy.set(false);
                revoking.set(None);
                error.set(result.err());
                reload.emit(());
            });
        })
    };
    let on_cancel = {
        let revoking = revoking.clone();
        Callback::from(move |()| revoking.set(None))
    };
    let lang = app.lang;

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("keys.title") }</h1>
                    <p class="muted">{ app.t("keys.subtitle") }</p>
                </div>
            </div>
            if let Some(key) = &*generated {
                <div class="card key-once" data-testid="generated-key">
                    <h2>{ app.t("keys.generated") }{ ": " }{ key.api_key.name.clone() }</h2>
                    <div class="alert alert-warning">{ app.t("keys.shown_once") }</div>
                    <div class="row">
                        <code class="secret grow" data-testid="generated-key-value">{ key.key.clone() }</code>
                        <button class="btn" onclick={
                            let (text, copied) = (key.key.clone(), copied.clone());
                            Callback::from(move |_: MouseEvent| { copy_to_clipboard(&text); copied.set(true); })
                        }>{ if *copied { app.t("copied") } else { app.t("copy") } }</button>
                        <button class="btn btn-ghost" onclick={
                            let generated = generated.clone();
                            Callback::from(move |_: MouseEvent| generated.set(None))
                        }>{ app.t("keys.done") }</button>
                    </div>
                </div>
            }
            if app.is_admin() {
                <form class="card toolbar-form" {onsubmit} novalidate=true>
                    <h2>{ app.t("keys.generate") }</h2>
                    if let Some(err) = form.general_error().or_else(|| (*error).clone()) { <ErrorBanner error={err} /> }
                    <div class="row align-end">
                        <Field label={app.t("keys.name")} id="key-name" error={form.field_error("name")}>
                            <input id="key-name" placeholder={app.t("keys.name_placeholder")} value={form.values().name.clone()} oninput={form.bind(|key, v| key.name = v)} />
                        </Field>
                        <Field label={app.t("keys.scope")} id="key-scope" error={form.field_error("scope")}>
                            <select id="key-scope" onchange={on_scope}>
                                { for Scope::ALL.into_iter().map(|s| html! {
                                    <option value={s.as_str()} selected={form.values().scope == s}>{ app.t(s.label_key()) }</option>
                                }) }
                            </select>
                        </Field>
                        <button class="btn btn-primary" type="submit" disabled={form.busy() || *busy}>{ app.t("keys.generate") }</button>
                    </div>
                </form>
            }
            { match &*keys {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(keys) if keys.is_empty() => html! { <Empty message={app.t("keys.empty")} /> },
                Load::Loaded(keys) => html! {
                    <div class="table-wrap">
                    <table class="table" data-testid="api-keys">
                        <thead><tr>
                            <th>{ app.t("keys.name") }</th><th>{ app.t("keys.scope") }</th><th>{ app.t("keys.prefix") }</th>
                            <th>{ app.t("keys.created_by") }</th><th>{ app.t("keys.created") }</th><th>{ app.t("keys.last_used") }</th>
                            <th>{ app.t("keys.rate_limit") }</th><th>{ app.t("license.status") }</th>
                            if app.is_admin() { <th class="actions"></th> }
                        </tr></thead>
                        <tbody>
                        { for keys.iter().map(|key| {
                            let ask = {
                                let (revoking, key) = (revoking.clone(), key.clone());
                                Callback::from(move |_: MouseEvent| revoking.set(Some(key.clone())))
                            };
                            let edit_limit = {
                                let (limiting, key) = (limiting.clone(), key.clone());
                                Callback::from(move |_: MouseEvent| limiting.set(Some(key.clone())))
                            };
                            html! {
                                <tr key={key.id.clone()} data-key-id={key.id.clone()}>
                                    <td class="strong">{ key.name.clone() }</td>
                                    <td>{ app.t(key.scope.label_key()) }</td>
                                    <td class="mono small">{ format!("{}…", key.prefix) }</td>
                                    <td>{ key.created_by.clone() }</td>
                                    <td>{ lang.datetime(&key.created_at) }</td>
                                    <td>{ key.last_used_at.map(|d| lang.datetime(&d)).unwrap_or_else(|| app.t("never").to_owned()) }</td>
                                    <td class="small" data-testid="rate-limit">
                                        { rate_text(&app, key.rate_limit) }{ " " }
                                        <Badge tone={if key.rate_limit.custom { "amber" } else { "grey" }}
                                            text={app.t(if key.rate_limit.custom { "keys.rate_custom" } else { "keys.rate_default" })} />
                                    </td>
                                    <td>{ if key.revoked_at.is_some() { html! { <Badge tone="grey" text={app.t("keys.revoked")} /> } } else { html! { <Badge tone="green" text={app.t("keys.active")} /> } } }</td>
                                    if app.is_admin() {
                                        <td class="actions">if key.revoked_at.is_none() {
                                            <button class="btn btn-small" onclick={edit_limit}>{ app.t("keys.edit_rate") }</button>
                                            <button class="btn btn-small btn-danger-outline" onclick={ask}>{ app.t("keys.revoke") }</button>
                                        }</td>
                                    }
                                </tr>
                            }
                        }) }
                        </tbody>
                    </table>
                    </div>
                },
            } }
            if let Some(key) = &*revoking {
                <ConfirmDialog title={app.t("keys.revoke_title")}
                    message={format!("{} {}", app.t("keys.revoke_message"), key.name)}
                    confirm_label={app.t("keys.revoke")} busy={*busy} {on_confirm} {on_cancel} />
            }
            if app.is_admin() { <SigningKeys /> }
            if let Some(key) = &*limiting {
                <RateLimitDialog api_key={key.clone()}
                    on_done={
                        let (limiting, reload) = (limiting.clone(), reload.clone());
                        Callback::from(move |()| { limiting.set(None); reload.emit(()); })
                    }
                    on_cancel={
                        let limiting = limiting.clone();
                        Callback::from(move |()| limiting.set(None))
                    } />
            }
        </section>
    }
}

fn rate_text(app: &crate::state::AppContext, rate: RateLimit) -> String {
    format!("{}/s · {} {}", rate.per_second, app.t("keys.burst"), rate.burst)
}

/// The limit form: numbers as typed, checked by the server (its errors name the field).
#[derive(Clone, Debug, PartialEq)]
struct LimitForm {
    per_second: String,
    burst: String,
}

#[derive(Properties, PartialEq)]
struct RateLimitDialogProps {
    api_key: ApiKey,
    on_done: Callback<()>,
    on_cancel: Callback<()>,
}

#[function_component]
fn RateLimitDialog(props: &RateLimitDialogProps) -> Html {
    let app = use_app();
    let current = props.api_key.rate_limit;
    let form = use_form(|| LimitForm { per_second: current.per_second.to_string(), burst: current.burst.to_string() });
    let resetting = use_state(|| false);
    let reset_error = use_state(|| None::<ApiError>);
    let onsubmit = {
        let id = props.api_key.id.clone();
        let save = move |values: LimitForm| {
            let id = id.clone();
            async move {
                // A number the browser cannot read goes to the server as 0, which names the field.
                let number = |text: &str| text.trim().parse::<i64>().unwrap_or(0);
                api_keys::set_api_key_rate_limit(&id, number(&values.per_second), number(&values.burst)).await
            }
        };
        let done = props.on_done.clone();
        form.submit(save, Callback::from(move |_: ApiKey| done.emit(())))
    };
    let on_reset = {
        let (id, done, resetting, reset_error) =
            (props.api_key.id.clone(), props.on_done.clone(), resetting.clone(), reset_error.clone());
        Callback::from(move |_: MouseEvent| {
            let (id, done, resetting, reset_error) = (id.clone(), done.clone(), resetting.clone(), reset_error.clone());
            resetting.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = api_keys::clear_api_key_rate_limit(&id).await;
                resetting.set(false);
                match result {
                    Ok(_) => done.emit(()),
                    Err(err) => reset_error.set(Some(err)),
                }
            });
        })
    };
    let cancel = props.on_cancel.reform(|_: MouseEvent| ());
    let busy = form.busy() || *resetting;
    html! {
        <Modal on_close={props.on_cancel.clone()} {busy}>
            <form class="modal" role="dialog" aria-modal="true" aria-labelledby="rate-title" {onsubmit} novalidate=true data-testid="rate-limit-dialog">
                <h2 id="rate-title">{ app.t("keys.rate_title") }{ " " }{ props.api_key.name.clone() }</h2>
                <p class="muted small">{ app.t("keys.rate_help") }</p>
                if let Some(err) = form.general_error().or_else(|| (*reset_error).clone()) { <ErrorBanner error={err} /> }
                <Field label={app.t("keys.per_second")} id="rate-per-second" error={form.field_error("perSecond")}>
                    <input id="rate-per-second" inputmode="numeric" value={form.values().per_second.clone()} oninput={form.bind(|f, v| f.per_second = v)} />
                </Field>
                <Field label={app.t("keys.burst")} id="rate-burst" error={form.field_error("burst")}>
                    <input id="rate-burst" inputmode="numeric" value={form.values().burst.clone()} oninput={form.bind(|f, v| f.burst = v)} />
                </Field>
                <div class="modal-actions">
                    <button class="btn" type="button" onclick={cancel} disabled={busy}>{ app.t("cancel") }</button>
                    if current.custom {
                        <button class="btn" type="button" onclick={on_reset} disabled={busy}>{ app.t("keys.rate_reset") }</button>
                    }
                    <button class="btn btn-primary" type="submit" disabled={busy}>{ app.t("keys.rate_save") }</button>
                </div>
            </form>
        </Modal>
    }
}
