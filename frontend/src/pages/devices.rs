//! The devices of all licenses: search by fingerprint, name or license key, filter by status,
//! type and when last seen, page through; admins deactivate a device after confirming.

use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::confirm::ConfirmDialog;
use crate::components::device_cells;
use crate::components::feedback::ErrorBanner;
use crate::components::field::bind;
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::components::search_toolbar::{active_select, ActiveChoices, SearchToolbar};
use crate::dom::input_value;
use crate::hooks::{use_app, use_confirm};
use crate::route::Route;
use crate::services::devices::{self, Device, DeviceFilter};
use crate::services::{ApiError, Connection, Page};

impl ListQuery for DeviceFilter {
    type Item = Device;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<Device>, ApiError>> {
        async move { devices::all_devices(&self, &page).await }.boxed_local()
    }
}

/// The "last seen" choices: hours, and the text of each.
const SEEN_WITHIN: [(i64, &str); 4] = [
    (1, "devices.seen_hour"),
    (24, "devices.seen_day"),
    (24 * 7, "devices.seen_week"),
    (24 * 30, "devices.seen_month"),
];

#[function_component]
pub fn DevicesPage() -> Html {
    let app = use_app();
    let filter = use_state(DeviceFilter::default);
    let device_type = use_state(String::new);
    let reload = use_state(|| 0_u32);
    let confirming =
        use_confirm(|device: Device| async move { devices::deactivate_device(&device.id).await.map(|_| ()) }, {
            let reload = reload.clone();
            Callback::from(move |()| reload.set(reload.wrapping_add(1)))
        });

    // The search box and the type field apply when the form is sent; the selects at once.
    let on_search = {
        let (filter, device_type) = (filter.clone(), device_type.clone());
        Callback::from(move |search: String| {
            filter.set(DeviceFilter { search, device_type: (*device_type).clone(), ..(*filter).clone() })
        })
    };
    let on_status = {
        let filter = filter.clone();
        Callback::from(move |active: Option<bool>| filter.set(DeviceFilter { active, ..(*filter).clone() }))
    };
    let on_seen = {
        let filter = filter.clone();
        Callback::from(move |event: Event| {
            let seen_within_hours = input_value(&event).parse().ok();
            filter.set(DeviceFilter { seen_within_hours, ..(*filter).clone() });
        })
    };
    let row = {
        let (app, confirming) = (app.clone(), confirming.clone());
        Callback::from(move |device: Device| {
            let ask = confirming.ask::<MouseEvent>(device.clone());
            html! {
                <tr key={device.id.clone()} data-fingerprint={device.hardware_fingerprint.clone()}>
                    { device_cells::name_cell(&device) }
                    <td class="mono">
                        if let Some(license) = &device.license {
                            <Link<Route> to={Route::License { id: license.id.clone() }}>{ license.license_key.clone() }</Link<Route>>
                        }
                    </td>
                    <td>{ device.license.as_ref().and_then(|l| l.customer.as_ref()).map(|c| c.name.clone()).unwrap_or_default() }</td>
                    <td>{ device.device_type.clone() }</td>
                    { device_cells::seen_cells(&app, &device) }
                    if app.is_admin() {
                        <td class="actions">
                            if device.is_active {
                                <button class="btn btn-small btn-danger-outline" onclick={ask}>{ app.t("device.deactivate") }</button>
                            }
                        </td>
                    }
                </tr>
            }
        })
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("devices.title") }</h1>
                    <p class="muted">{ app.t("devices.subtitle") }</p>
                </div>
            </div>
            if let Some(err) = &confirming.error { <ErrorBanner error={err.clone()} /> }
            <SearchToolbar label={app.t("devices.search")} {on_search} input_testid={Some(AttrValue::from("device-search"))}>
                <input id="device-type-filter" class="toolbar-narrow" placeholder={app.t("devices.type_filter")} aria-label={app.t("devices.type_filter")}
                       value={(*device_type).clone()} oninput={bind(&device_type)} />
                { active_select("device-status-filter", ActiveChoices {
                    label: app.t("devices.status"), all: app.t("devices.all"),
                    active: app.t("device.active"), inactive: app.t("device.inactive"),
                }, filter.active, on_status) }
                <select id="device-seen-filter" aria-label={app.t("devices.seen")} onchange={on_seen}>
                    <option value="" selected={filter.seen_within_hours.is_none()}>{ app.t("devices.seen_any") }</option>
                    { for SEEN_WITHIN.iter().map(|&(hours, text)| html! {
                        <option value={hours.to_string()} selected={filter.seen_within_hours == Some(hours)}>{ app.t(text) }</option>
                    }) }
                </select>
            </SearchToolbar>
            <PagedTable<DeviceFilter> query={(*filter).clone()} reload={*reload} empty={app.t("devices.empty")} testid="all-devices" {row}
                head={html! { <>
                    <th>{ app.t("live.device") }</th>
                    <th>{ app.t("live.license") }</th>
                    <th>{ app.t("live.customer") }</th>
                    <th>{ app.t("device.type") }</th>
                    <th>{ app.t("device.first_activated") }</th>
                    <th>{ app.t("device.last_seen") }</th>
                    <th>{ app.t("license.status") }</th>
                    if app.is_admin() { <th class="actions"></th> }
                </> }} />
            if let Some(device) = &*confirming.pending {
                <ConfirmDialog title={app.t("device.deactivate_title")}
                    message={format!("{} {} ({})", app.t("device.deactivate_message"), device.device_name, device.hardware_fingerprint)}
                    confirm_label={app.t("device.deactivate")} busy={confirming.busy}
                    on_confirm={confirming.on_confirm.clone()} on_cancel={confirming.on_cancel.clone()} />
            }
        </section>
    }
}
