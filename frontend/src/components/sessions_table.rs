//! Live sessions as a table, with "terminate" (after confirmation) for admins.

use yew::prelude::*;
use yew_router::prelude::Link;

use super::confirm::ConfirmDialog;
use super::feedback::{Empty, ErrorBanner};
use crate::hooks::use_app;
use crate::route::Route;
use crate::services::sessions::{self, LiveSession};
use crate::services::ApiError;

#[derive(Properties, PartialEq)]
pub struct SessionsTableProps {
    pub sessions: Vec<LiveSession>,
    /// Show the license and customer columns (the all-licenses view).
    #[prop_or(true)]
    pub show_license: bool,
}

#[function_component]
pub fn SessionsTable(props: &SessionsTableProps) -> Html {
    let app = use_app();
    let lang = app.lang;
    let confirming = use_state(|| None::<LiveSession>);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);

    let on_confirm = {
        let (confirming, busy, error) = (confirming.clone(), busy.clone(), error.clone());
        Callback::from(move |()| {
            let Some(session) = (*confirming).clone() else { return };
            let (confirming, busy, error) = (confirming.clone(), busy.clone(), error.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                // The subscription removes the row once the session has ended.
                let result = sessions::terminate_session(&session.id).await;
                busy.set(false);
                confirming.set(None);
                error.set(result.err());
            });
        })
    };
    let on_cancel = {
        let confirming = confirming.clone();
        Callback::from(move |()| confirming.set(None))
    };

    if props.sessions.is_empty() {
        return html! {
            <>
                if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
                <Empty message={app.t("live.empty")} />
            </>
        };
    }
    html! {
        <>
            if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
            <div class="table-wrap">
            <table class="table" data-testid="live-sessions">
                <thead><tr>
                    <th>{ app.t("live.device") }</th>
                    if props.show_license { <th>{ app.t("live.license") }</th> <th>{ app.t("live.customer") }</th> }
                    <th>{ app.t("live.started") }</th>
                    <th>{ app.t("live.last_heartbeat") }</th>
                    <th>{ app.t("live.expires") }</th>
                    <th>{ app.t("live.ip") }</th>
                    if app.is_admin() { <th class="actions"></th> }
                </tr></thead>
                <tbody>
                { for props.sessions.iter().map(|session| {
                    let device = session.device.clone();
                    let license = session.license.clone();
                    let ask = {
                        let (confirming, session) = (confirming.clone(), session.clone());
                        Callback::from(move |_: MouseEvent| confirming.set(Some(session.clone())))
                    };
                    html! {
                        <tr key={session.id.clone()} data-session-id={session.id.clone()}>
                            <td>
                                <div class="strong">{ device.as_ref().map(|d| d.device_name.clone()).unwrap_or_default() }</div>
                                <div class="muted mono small">{ device.as_ref().map(|d| d.hardware_fingerprint.clone()).unwrap_or_default() }</div>
                            </td>
                            if props.show_license {
                                <td class="mono">
                                    if let Some(license) = &license {
                                        <Link<Route> to={Route::License { id: license.id.clone() }}>{ license.license_key.clone() }</Link<Route>>
                                    }
                                </td>
                                <td>{ license.as_ref().and_then(|l| l.customer.as_ref()).map(|c| c.name.clone()).unwrap_or_default() }</td>
                            }
                            <td>{ lang.datetime(&session.started_at) }</td>
                            <td>{ lang.datetime(&session.last_heartbeat_at) }</td>
                            <td>{ lang.datetime(&session.expires_at) }</td>
                            <td class="mono small">{ session.client_ip.clone().unwrap_or_else(|| "–".into()) }</td>
                            if app.is_admin() {
                                <td class="actions"><button class="btn btn-small btn-danger-outline" onclick={ask}>{ app.t("live.terminate") }</button></td>
                            }
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            </div>
            if let Some(session) = &*confirming {
                <ConfirmDialog
                    title={app.t("live.terminate_title")}
                    message={format!("{} {}", app.t("live.terminate_message"),
                        session.device.as_ref().map(|d| d.device_name.clone()).unwrap_or_default())}
                    confirm_label={app.t("live.terminate")}
                    busy={*busy}
                    {on_confirm}
                    {on_cancel} />
            }
        </>
    }
}
