//! API keys ("System-API-Key generieren"): generate (the key is shown once), list, revoke.

use yew::prelude::*;

use crate::components::clipboard::copy_to_clipboard;
use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Badge, Empty, ErrorBanner, Loading};
use crate::components::field::Field;
use crate::hooks::{use_app, use_form, use_load, Load};
use crate::services::api_keys::{self, ApiKey, GeneratedApiKey, Scope};
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
                            <th>{ app.t("license.status") }</th>
                            if app.is_admin() { <th class="actions"></th> }
                        </tr></thead>
                        <tbody>
                        { for keys.iter().map(|key| {
                            let ask = {
                                let (revoking, key) = (revoking.clone(), key.clone());
                                Callback::from(move |_: MouseEvent| revoking.set(Some(key.clone())))
                            };
                            html! {
                                <tr key={key.id.clone()}>
                                    <td class="strong">{ key.name.clone() }</td>
                                    <td>{ app.t(key.scope.label_key()) }</td>
                                    <td class="mono small">{ format!("{}…", key.prefix) }</td>
                                    <td>{ key.created_by.clone() }</td>
                                    <td>{ lang.datetime(&key.created_at) }</td>
                                    <td>{ key.last_used_at.map(|d| lang.datetime(&d)).unwrap_or_else(|| app.t("never").to_owned()) }</td>
                                    <td>{ if key.revoked_at.is_some() { html! { <Badge tone="grey" text={app.t("keys.revoked")} /> } } else { html! { <Badge tone="green" text={app.t("keys.active")} /> } } }</td>
                                    if app.is_admin() {
                                        <td class="actions">if key.revoked_at.is_none() {
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
        </section>
    }
}
