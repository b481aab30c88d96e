//! Offline activation of one license: a button opening a dialog (hardware fingerprint, days) whose
//! lease is offered as a file to carry to the air-gapped machine, and shown for copying.

use yew::prelude::*;

use crate::components::clipboard::copy_to_clipboard;
use crate::components::feedback::ErrorBanner;
use crate::components::field::Field;
use crate::components::modal::Modal;
use crate::hooks::{use_app, use_form};
use crate::services::leases;

/// What the admin types: numbers as typed, checked by the server (its errors name the field).
#[derive(Clone, Debug, PartialEq)]
struct OfflineForm {
    fingerprint: String,
    days: String,
}

#[derive(Properties, PartialEq)]
pub struct OfflineLeaseProps {
    pub license_id: AttrValue,
    pub license_key: AttrValue,
    /// After a lease was issued: the device it registered changes the license's devices.
    pub on_issued: Callback<()>,
}

#[function_component]
pub fn OfflineLeaseButton(props: &OfflineLeaseProps) -> Html {
    let app = use_app();
    let open = use_state(|| false);
    let show = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(true))
    };
    let close = {
        let open = open.clone();
        Callback::from(move |()| open.set(false))
    };
    html! {
        <>
            <button class="btn" onclick={show} data-testid="offline-activation">{ app.t("offline.button") }</button>
            if *open {
                <OfflineLeaseDialog license_id={props.license_id.clone()} license_key={props.license_key.clone()}
                    on_issued={props.on_issued.clone()} on_close={close} />
            }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct DialogProps {
    license_id: AttrValue,
    license_key: AttrValue,
    on_issued: Callback<()>,
    on_close: Callback<()>,
}

#[function_component]
fn OfflineLeaseDialog(props: &DialogProps) -> Html {
    let app = use_app();
    let form = use_form(|| OfflineForm { fingerprint: String::new(), days: "365".into() });
    let lease = use_state(|| None::<String>);
    let copied = use_state(|| false);
    let onsubmit = {
        let license_id = props.license_id.clone();
        let save = move |values: OfflineForm| {
            let license_id = license_id.clone();
            async move {
                // A number the browser cannot read goes to the server as 0, which names the field.
                let days = values.days.trim().parse::<i32>().unwrap_or(0);
                leases::issue_offline_lease(&license_id, &values.fingerprint, days).await
            }
        };
        let (lease, on_issued) = (lease.clone(), props.on_issued.clone());
        form.submit(
            save,
            Callback::from(move |issued: String| {
                lease.set(Some(issued));
                on_issued.emit(());
            }),
        )
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    // The license refusing (device slots taken, expired, inactive) belongs to no field of the form.
    let top_error =
        form.error().filter(|e| e.for_field("hardwareFingerprint").is_none() && e.for_field("validDays").is_none());
    html! {
        <Modal on_close={props.on_close.clone()} busy={form.busy()}>
            if let Some(lease) = &*lease {
                <div class="modal" role="dialog" aria-modal="true" aria-labelledby="offline-title" data-testid="offline-lease">
                    <h2 id="offline-title">{ app.t("offline.issued") }</h2>
                    <p class="muted small">{ app.t("offline.issued_help") }</p>
                    <textarea class="mono small" readonly=true rows="6" data-testid="offline-lease-value" aria-labelledby="offline-title" value={lease.clone()} />
                    <div class="modal-actions">
                        <a class="btn btn-primary" download={format!("license-{}.lease", props.license_key)}
                            href={format!("data:application/jwt;charset=utf-8,{lease}")}>{ app.t("offline.download") }</a>
                        <button class="btn" onclick={
                            let (text, copied) = (lease.clone(), copied.clone());
                            Callback::from(move |_: MouseEvent| { copy_to_clipboard(&text); copied.set(true); })
                        }>{ if *copied { app.t("copied") } else { app.t("copy") } }</button>
                        <button class="btn btn-ghost" onclick={close}>{ app.t("offline.done") }</button>
                    </div>
                </div>
            } else {
                <form class="modal" role="dialog" aria-modal="true" aria-labelledby="offline-title" {onsubmit} novalidate=true data-testid="offline-dialog">
                    <h2 id="offline-title">{ app.t("offline.title") }</h2>
                    <p class="muted small">{ app.t("offline.help") }</p>
                    if let Some(err) = top_error { <ErrorBanner error={err} /> }
                    <Field label={app.t("offline.fingerprint")} id="offline-fingerprint" error={form.field_error("hardwareFingerprint")}>
                        <input id="offline-fingerprint" class="mono" value={form.values().fingerprint.clone()} oninput={form.bind(|f, v| f.fingerprint = v)} />
                    </Field>
                    <Field label={app.t("offline.days")} id="offline-days" error={form.field_error("validDays")}>
                        <input id="offline-days" inputmode="numeric" value={form.values().days.clone()} oninput={form.bind(|f, v| f.days = v)} />
                    </Field>
                    <div class="modal-actions">
                        <button class="btn" type="button" onclick={close} disabled={form.busy()}>{ app.t("cancel") }</button>
                        <button class="btn btn-primary" type="submit" disabled={form.busy()}>{ app.t("offline.issue") }</button>
                    </div>
                </form>
            }
        </Modal>
    }
}
