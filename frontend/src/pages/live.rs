//! Live sessions, updating in real time through the `liveSessions` subscription.

use yew::prelude::*;

use crate::components::feedback::{ErrorBanner, Loading};
use crate::components::field::bind;
use crate::components::sessions_table::SessionsTable;
use crate::hooks::{use_app, use_live_sessions};
use crate::services::licenses::{self, LicenseRef};
use crate::services::ApiError;

#[function_component]
pub fn LivePage() -> Html {
    let app = use_app();
    let filter_text = use_state(String::new);
    let filter = use_state(|| None::<LicenseRef>);
    let filter_error = use_state(|| None::<ApiError>);
    let live = use_live_sessions(filter.as_ref().map(|l| l.id.clone()));

    let apply = {
        let (filter_text, filter, filter_error) = (filter_text.clone(), filter.clone(), filter_error.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let key = filter_text.trim().to_owned();
            let (filter, filter_error) = (filter.clone(), filter_error.clone());
            if key.is_empty() {
                filter.set(None);
                filter_error.set(None);
                return;
            }
            wasm_bindgen_futures::spawn_local(async move {
                match licenses::license_by_key(&key).await {
                    Ok(Some(license)) => {
                        filter_error.set(None);
                        filter.set(Some(license));
                    }
                    Ok(None) => filter_error
                        .set(Some(ApiError::Invalid { field: Some("licenseKey".into()), message: String::new() })),
                    Err(err) => filter_error.set(Some(err)),
                }
            });
        })
    };
    let clear = {
        let (filter_text, filter, filter_error) = (filter_text.clone(), filter.clone(), filter_error.clone());
        Callback::from(move |_: MouseEvent| {
            filter_text.set(String::new());
            filter.set(None);
            filter_error.set(None);
        })
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("live.title") }</h1>
                    <p class="muted">{ app.t("live.subtitle") }</p>
                </div>
                <div class={classes!("live-indicator", live.connected.then_some("on"))} data-testid="live-indicator">
                    <span class="dot"></span>
                    { if live.connected { app.t("live.connected") } else { app.t("live.reconnecting") } }
                    if let Some(sessions) = &live.sessions {
                        <span class="count" data-testid="live-count">{ sessions.len() }</span>
                    }
                </div>
            </div>
            <form class="toolbar" onsubmit={apply}>
                <input class="grow" placeholder={app.t("live.filter_placeholder")} aria-label={app.t("live.filter_placeholder")}
                       value={(*filter_text).clone()} oninput={bind(&filter_text)} />
                <button class="btn" type="submit">{ app.t("filter") }</button>
                if filter.is_some() {
                    <button class="btn btn-ghost" type="button" onclick={clear}>{ app.t("filter.clear") }</button>
                }
            </form>
            if let Some(err) = &*filter_error {
                if matches!(err, ApiError::Invalid { .. }) {
                    <div class="alert alert-error">{ app.t("live.no_such_license") }</div>
                } else {
                    <ErrorBanner error={err.clone()} />
                }
            }
            if let Some(license) = &*filter {
                <div class="filter-chip">{ app.t("live.license") }{ ": " }<span class="mono">{ license.license_key.clone() }</span></div>
            }
            if live.refused {
                <ErrorBanner error={ApiError::Unauthenticated} />
            } else {
                { match &live.sessions {
                    None => html! { <Loading /> },
                    Some(sessions) => html! { <SessionsTable sessions={sessions.clone()} show_license={filter.is_none()} /> },
                } }
            }
        </section>
    }
}
