//! The cells every device table shows the same way: the name above the fingerprint, and when the
//! device was first activated and last seen with its state.

use yew::prelude::*;

use crate::components::feedback::Badge;
use crate::services::devices::Device;
use crate::state::AppContext;

/// The device's name, its fingerprint below it.
pub fn name_cell(device: &Device) -> Html {
    html! {
        <td><div class="strong">{ device.device_name.clone() }</div><div class="muted mono small">{ device.hardware_fingerprint.clone() }</div></td>
    }
}

/// First activated, last seen, and whether the device holds a slot.
pub fn seen_cells(app: &AppContext, device: &Device) -> Html {
    let lang = app.lang;
    let state = if device.is_active {
        html! { <Badge tone="green" text={app.t("device.active")} /> }
    } else {
        html! { <Badge tone="grey" text={app.t("device.inactive")} /> }
    };
    html! {
        <>
            <td>{ lang.datetime(&device.first_activated_at) }</td>
            <td>{ lang.datetime(&device.last_seen_at) }</td>
            <td>{ state }</td>
        </>
    }
}
