//! The keys that sign leases (never their private halves), and their rotation after a confirmation.

use yew::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Badge, ErrorBanner, Loading};
use crate::hooks::{use_app, use_load, Load};
use crate::services::leases;
use crate::services::ApiError;

#[function_component]
pub fn SigningKeys() -> Html {
    let app = use_app();
    let (keys, reload) = use_load((), |()| leases::signing_keys());
    let confirming = use_state(|| false);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let ask = {
        let confirming = confirming.clone();
        Callback::from(move |_: MouseEvent| confirming.set(true))
    };
    let on_cancel = {
        let confirming = confirming.clone();
        Callback::from(move |()| confirming.set(false))
    };
    let on_confirm = {
        let (confirming, busy, error, reload) = (confirming.clone(), busy.clone(), error.clone(), reload.clone());
        Callback::from(move |()| {
            let (confirming, busy, error, reload) = (confirming.clone(), busy.clone(), error.clone(), reload.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = leases::rotate_signing_key().await;
                busy.set(false);
                confirming.set(false);
                error.set(result.err());
                reload.emit(());
            });
        })
    };
    let lang = app.lang;
    html! {
        <section data-testid="signing-keys">
            <div class="section-header">
                <h2>{ app.t("signing.title") }</h2>
                <button class="btn" onclick={ask} disabled={*busy}>{ app.t("signing.rotate") }</button>
            </div>
            <p class="muted">{ app.t("signing.subtitle") }</p>
            if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
            { match &*keys {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(keys) => html! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr>
                            <th>{ app.t("signing.kid") }</th><th>{ app.t("keys.created") }</th>
                            <th>{ app.t("signing.retired") }</th><th>{ app.t("signing.published_until") }</th>
                            <th>{ app.t("license.status") }</th>
                        </tr></thead>
                        <tbody>
                        { for keys.iter().map(|key| html! {
                            <tr key={key.kid.clone()}>
                                <td class="mono small">{ key.kid.clone() }</td>
                                <td>{ lang.datetime(&key.created_at) }</td>
                                <td>{ key.retired_at.map(|d| lang.datetime(&d)).unwrap_or_default() }</td>
                                <td>{ key.published_until.map(|d| lang.datetime(&d)).unwrap_or_default() }</td>
                                <td>{ if key.current {
                                    html! { <Badge tone="green" text={app.t("signing.current")} /> }
                                } else {
                                    html! { <Badge tone="grey" text={app.t("signing.retired_badge")} /> }
                                } }</td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                    </div>
                },
            } }
            if *confirming {
                <ConfirmDialog title={app.t("signing.rotate_title")} message={app.t("signing.rotate_message")}
                    confirm_label={app.t("signing.rotate")} busy={*busy} {on_confirm} {on_cancel} />
            }
        </section>
    }
}
