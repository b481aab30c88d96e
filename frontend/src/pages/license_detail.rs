//! One license: its terms, its devices (deactivate), offline activation, its live sessions and its history.

use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::device_cells;
use crate::components::feedback::{Empty, ErrorBanner, Loading};
use crate::components::license_resources::LicenseResources;
use crate::components::license_status::status_badge;
use crate::components::license_terms::features_badges;
use crate::components::offline_lease::OfflineLeaseButton;
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::components::sessions_table::SessionsTable;
use crate::hooks::{use_app, use_live_sessions, use_load, Load};
use crate::route::Route;
use crate::services::devices::{self, Device};
use crate::services::licenses::{self, License};
use crate::services::sessions::{self, EndedSession};
use crate::services::ApiError;
use crate::services::{Connection, Page};

/// The ended sessions of one license.
#[derive(Clone, Debug, PartialEq)]
struct SessionHistory(String);

impl ListQuery for SessionHistory {
    type Item = EndedSession;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<EndedSession>, ApiError>> {
        async move { sessions::session_history(&self.0, &page).await }.boxed_local()
    }
}

#[derive(Properties, PartialEq)]
pub struct LicenseDetailProps {
    pub id: String,
}

/// A destructive action waiting for confirmation.
#[derive(Clone, PartialEq)]
enum Pending {
    DeactivateDevice(Device),
    SetActive(bool),
}

#[function_component]
pub fn LicenseDetailPage(props: &LicenseDetailProps) -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let (license, reload_license) = use_load(props.id.clone(), |id: String| async move {
        licenses::license(&id).await?.ok_or_else(|| ApiError::NotFound(String::new()))
    });
    let (devices, reload_devices) = use_load(props.id.clone(), |id: String| async move { devices::devices(&id).await });
    let live = use_live_sessions(Some(props.id.clone()));
    let pending = use_state(|| None::<Pending>);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);

    // Sessions that end change the history; reload it whenever the live list changes.
    let live_count = live.sessions.as_ref().map_or(0, |sessions| sessions.len() as u32);
    let history_row = {
        let lang = app.lang;
        Callback::from(move |s: EndedSession| {
            html! {
                <tr key={s.id.clone()}>
                    <td>{ s.device.as_ref().map(|d| d.device_name.clone()).unwrap_or_default() }</td>
                    <td>{ lang.datetime(&s.started_at) }</td>
                    <td>{ lang.datetime(&s.ended_at) }</td>
                    <td>{ lang.end_reason(s.end_reason) }</td>
                </tr>
            }
        })
    };

    let on_confirm = {
        let (pending, busy, error) = (pending.clone(), busy.clone(), error.clone());
        let (reload_license, reload_devices) = (reload_license.clone(), reload_devices.clone());
        let license_id = props.id.clone();
        Callback::from(move |()| {
            let Some(action) = (*pending).clone() else { return };
            let (pending, busy, error, reload_license, reload_devices, license_id) = (
                pending.clone(),
                busy.clone(),
                error.clone(),
                reload_license.clone(),
                reload_devices.clone(),
                license_id.clone(),
            );
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = match action {
                    Pending::DeactivateDevice(device) => devices::deactivate_device(&device.id).await.map(|_| ()),
                    Pending::SetActive(active) => licenses::set_license_active(&license_id, active).await.map(|_| ()),
                };
                busy.set(false);
                pending.set(None);
                error.set(result.err());
                reload_license.emit(());
                reload_devices.emit(());
            });
        })
    };
    let on_cancel = {
        let pending = pending.clone();
        Callback::from(move |()| pending.set(None))
    };

    let license = match &*license {
        Load::Loading => return html! { <section class="page"><Loading /></section> },
        Load::Failed(err) => return html! { <section class="page"><ErrorBanner error={err.clone()} /></section> },
        Load::Loaded(license) => license.clone(),
    };
    let License { id, license_key, is_active, .. } = license.clone();
    let edit = {
        let (navigator, id) = (navigator.clone(), id.clone());
        Callback::from(move |_: MouseEvent| navigator.push(&Route::EditLicense { id: id.clone() }))
    };
    let toggle = {
        let pending = pending.clone();
        Callback::from(move |_: MouseEvent| pending.set(Some(Pending::SetActive(!is_active))))
    };
    let lang = app.lang;

    html! {
        <section class="page">
            <div class="breadcrumbs"><Link<Route> to={Route::Licenses}>{ app.t("nav.licenses") }</Link<Route>>{ " / " }<span class="mono">{ license_key.clone() }</span></div>
            <div class="page-header">
                <div>
                    <h1 class="mono" data-testid="license-key">{ license_key.clone() }</h1>
                    <p class="muted">{ license.customer.as_ref().map(|c| format!("{} · {}", c.name, c.email)).unwrap_or_default() }</p>
                </div>
                if app.is_admin() {
                    <div class="row">
                        <button class="btn" onclick={edit}>{ app.t("license.edit") }</button>
                        <OfflineLeaseButton license_id={id.clone()} license_key={license_key.clone()} on_issued={reload_devices.clone()} />
                        <button class={if is_active { "btn btn-danger-outline" } else { "btn" }} onclick={toggle}>
                            { if is_active { app.t("license.deactivate") } else { app.t("license.activate") } }
                        </button>
                    </div>
                }
            </div>
            if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
            <div class="card">
                <dl class="facts">
                    <div><dt>{ app.t("license.status") }</dt><dd>{ status_badge(&app, &license) }</dd></div>
                    <div><dt>{ app.t("license.type") }</dt><dd>{ lang.license_type(license.license_type) }</dd></div>
                    <div><dt>{ app.t("license.device_limit") }</dt><dd>{ license.device_limit }</dd></div>
                    <div><dt>{ app.t("license.concurrent_limit") }</dt><dd>{ license.concurrent_sessions_limit }</dd></div>
                    <div><dt>{ app.t("license.valid_from") }</dt><dd>{ lang.date(&license.valid_from) }</dd></div>
                    <div><dt>{ app.t("license.valid_until") }</dt><dd>{ license.valid_until.map(|d| lang.date(&d)).unwrap_or_else(|| app.t("license.unlimited").to_owned()) }</dd></div>
                    <div><dt>{ app.t("terms.offline_grace") }</dt><dd data-testid="offline-grace">{ lang.offline_grace(license.offline_grace_seconds) }</dd></div>
                    <div><dt>{ app.t("terms.releases") }</dt><dd data-testid="max-device-releases">{ license.max_device_releases }</dd></div>
                    <div><dt>{ app.t("terms.features") }</dt><dd>{ features_badges(lang, &license.features) }</dd></div>
                </dl>
                if !license.notes.is_empty() { <p class="notes">{ license.notes.clone() }</p> }
            </div>

            <h2>{ app.t("license.live_sessions") }</h2>
            { match &live.sessions {
                None => html! { <Loading /> },
                Some(sessions) => html! { <SessionsTable sessions={sessions.clone()} show_license=false /> },
            } }

            <h2>{ app.t("license.devices_title") }</h2>
            { match &*devices {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(devices) if devices.is_empty() => html! { <Empty message={app.t("license.no_devices")} /> },
                Load::Loaded(devices) => html! {
                    <div class="table-wrap">
                    <table class="table" data-testid="devices">
                        <thead><tr>
                            <th>{ app.t("live.device") }</th><th>{ app.t("device.type") }</th>
                            <th>{ app.t("device.first_activated") }</th><th>{ app.t("device.last_seen") }</th>
                            <th>{ app.t("license.status") }</th>
                            if app.is_admin() { <th class="actions"></th> }
                        </tr></thead>
                        <tbody>
                        { for devices.iter().map(|device| {
                            let ask = {
                                let (pending, device) = (pending.clone(), device.clone());
                                Callback::from(move |_: MouseEvent| pending.set(Some(Pending::DeactivateDevice(device.clone()))))
                            };
                            html! {
                                <tr key={device.id.clone()}>
                                    { device_cells::name_cell(device) }
                                    <td>{ device.device_type.clone() }</td>
                                    { device_cells::seen_cells(&app, device) }
                                    if app.is_admin() {
                                        <td class="actions">
                                            if device.is_active {
                                                <button class="btn btn-small btn-danger-outline" onclick={ask}>{ app.t("device.deactivate") }</button>
                                            }
                                        </td>
                                    }
                                </tr>
                            }
                        }) }
                        </tbody>
                    </table>
                    </div>
                },
            } }

            <h2>{ app.t("pool.of_license") }</h2>
            <LicenseResources license_id={props.id.clone()} />

            <h2>{ app.t("license.history") }</h2>
            <PagedTable<SessionHistory> query={SessionHistory(props.id.clone())} reload={live_count} empty={app.t("license.no_history")}
                testid="history" row={history_row}
                head={html! { <>
                    <th>{ app.t("live.device") }</th><th>{ app.t("live.started") }</th>
                    <th>{ app.t("history.ended") }</th><th>{ app.t("history.reason") }</th>
                </> }} />

            if let Some(action) = &*pending {
                { match action {
                    Pending::DeactivateDevice(device) => html! {
                        <ConfirmDialog title={app.t("device.deactivate_title")}
                            message={format!("{} {}", app.t("device.deactivate_message"), device.device_name)}
                            confirm_label={app.t("device.deactivate")} busy={*busy}
                            on_confirm={on_confirm.clone()} on_cancel={on_cancel.clone()} />
                    },
                    Pending::SetActive(false) => html! {
                        <ConfirmDialog title={app.t("license.deactivate_title")} message={app.t("license.deactivate_message")}
                            confirm_label={app.t("license.deactivate")} busy={*busy}
                            on_confirm={on_confirm.clone()} on_cancel={on_cancel.clone()} />
                    },
                    Pending::SetActive(true) => html! {
                        <ConfirmDialog title={app.t("license.activate")} message={app.t("license.activate_message")}
                            confirm_label={app.t("license.activate")} busy={*busy}
                            on_confirm={on_confirm.clone()} on_cancel={on_cancel.clone()} />
                    },
                } }
            }
        </section>
    }
}
