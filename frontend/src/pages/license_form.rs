//! Create or edit a license; the server's validation errors appear beside their fields.

use serde_json::{json, Value};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::{ErrorBanner, Loading};
use crate::components::field::{bind, input_value, Field};
use crate::hooks::{use_app, use_load, Load};
use crate::route::Route;
use crate::services::customers::{self, Customer};
use crate::services::licenses::{self, License, LicenseType};
use crate::services::ApiError;
use crate::services::Page;

#[derive(Properties, PartialEq)]
pub struct LicenseFormProps {
    /// Absent: a new license.
    #[prop_or_default]
    pub id: Option<String>,
}

#[function_component]
pub fn LicenseFormPage(props: &LicenseFormProps) -> Html {
    let app = use_app();
    let existing_id = props.id.clone();
    let (existing, _) = use_load(existing_id.clone(), |id: Option<String>| async move {
        match id {
            Some(id) => licenses::license(&id).await?.map(Some).ok_or_else(|| ApiError::NotFound(String::new())),
            None => Ok(None),
        }
    });
    let (customers, _) =
        use_load((), |()| async move { customers::customers("", &Page::default()).await.map(|c| c.nodes) });
    match (&*existing, &*customers) {
        (Load::Failed(err), _) | (_, Load::Failed(err)) => {
            html! { <section class="page"><ErrorBanner error={err.clone()} /></section> }
        }
        (Load::Loaded(license), Load::Loaded(customers)) => html! {
            <LicenseForm license={license.clone()} customers={customers.clone()} />
        },
        _ => {
            let _ = &app;
            html! { <section class="page"><Loading /></section> }
        }
    }
}

#[derive(Properties, PartialEq)]
struct FormProps {
    license: Option<License>,
    customers: Vec<Customer>,
}

fn day(value: &str) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let local = date.and_hms_opt(0, 0, 0)?.and_local_timezone(chrono::Local).earliest()?;
    Some(local.with_timezone(&chrono::Utc).to_rfc3339())
}

fn day_of(value: &chrono::DateTime<chrono::Utc>) -> String {
    value.with_timezone(&chrono::Local).format("%Y-%m-%d").to_string()
}

#[function_component]
fn LicenseForm(props: &FormProps) -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let license = props.license.clone();
    let customer_id = use_state(|| props.customers.first().map(|c| c.id.clone()).unwrap_or_default());
    let license_type = use_state(|| license.as_ref().map(|l| l.license_type).unwrap_or(LicenseType::Subscription));
    let device_limit = use_state(|| license.as_ref().map(|l| l.device_limit.to_string()).unwrap_or_else(|| "3".into()));
    let concurrent =
        use_state(|| license.as_ref().map(|l| l.concurrent_sessions_limit.to_string()).unwrap_or_else(|| "1".into()));
    let valid_from = use_state(|| license.as_ref().map(|l| day_of(&l.valid_from)).unwrap_or_default());
    let valid_until =
        use_state(|| license.as_ref().and_then(|l| l.valid_until.as_ref().map(day_of)).unwrap_or_default());
    let notes = use_state(|| license.as_ref().map(|l| l.notes.clone()).unwrap_or_default());
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (customer_id, license_type, device_limit, concurrent, valid_from, valid_until, notes, error, busy) = (
            customer_id.clone(),
            license_type.clone(),
            device_limit.clone(),
            concurrent.clone(),
            valid_from.clone(),
            valid_until.clone(),
            notes.clone(),
            error.clone(),
            busy.clone(),
        );
        let license = license.clone();
        let app = app.clone();
        let navigator = navigator.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let number = |value: &str, field: &str| {
                value
                    .trim()
                    .parse::<i32>()
                    .map_err(|_| ApiError::Invalid { field: Some(field.into()), message: app.t("form.number").into() })
            };
            let limits = number(&device_limit, "deviceLimit")
                .and_then(|devices| Ok((devices, number(&concurrent, "concurrentSessionsLimit")?)));
            let (devices, sessions) = match limits {
                Ok(limits) => limits,
                Err(err) => return error.set(Some(err)),
            };
            let mut input = json!({
                "licenseType": license_type.as_str(),
                "deviceLimit": devices,
                "concurrentSessionsLimit": sessions,
                "validUntil": day(&valid_until),
                "notes": (*notes).clone(),
            });
            if let Some(from) = day(&valid_from) {
                input["validFrom"] = Value::String(from);
            }
            if license.is_none() {
                if customer_id.is_empty() {
                    return error.set(Some(ApiError::Invalid {
                        field: Some("customerId".into()),
                        message: app.t("license.customer_required").into(),
                    }));
                }
                input["customerId"] = Value::String((*customer_id).clone());
            }
            let existing = license.as_ref().map(|l| (l.id.clone(), l.updated_at.clone()));
            let (error, busy, navigator) = (error.clone(), busy.clone(), navigator.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let existing = existing.as_ref().map(|(id, at)| (id.as_str(), at.as_str()));
                let result = licenses::save_license(existing, input).await;
                busy.set(false);
                match result {
                    Ok(saved) => navigator.push(&Route::License { id: saved.id }),
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let field_error = |field: &str| error.as_ref().and_then(|e| e.for_field(field));
    let on_type = {
        let license_type = license_type.clone();
        Callback::from(move |event: Event| {
            if let Some(t) = LicenseType::parse(&input_value(&event)) {
                license_type.set(t);
            }
        })
    };
    let on_customer = {
        let customer_id = customer_id.clone();
        Callback::from(move |event: Event| customer_id.set(input_value(&event)))
    };
    let cancel = {
        let navigator = navigator.clone();
        let back = license.as_ref().map(|l| Route::License { id: l.id.clone() }).unwrap_or(Route::Licenses);
        Callback::from(move |_: MouseEvent| navigator.push(&back))
    };

    html! {
        <section class="page narrow">
            <div class="page-header">
                <h1>{ match &license {
                    Some(l) => format!("{} {}", app.t("license.edit"), l.license_key),
                    None => app.t("licenses.new").to_owned(),
                } }</h1>
            </div>
            <form class="card stack" {onsubmit} novalidate=true>
                if let Some(err) = error.as_ref().filter(|e| !e.is_field_error()) {
                    <ErrorBanner error={err.clone()} />
                }
                if license.is_none() {
                    <Field label={app.t("license.customer")} id="customerId" error={field_error("customerId")}>
                        if props.customers.is_empty() {
                            <div class="alert alert-warning">{ app.t("license.no_customers") }</div>
                        } else {
                            <select id="customerId" onchange={on_customer}>
                                { for props.customers.iter().map(|c| html! {
                                    <option value={c.id.clone()} selected={*customer_id == c.id}>{ format!("{} ({})", c.name, c.email) }</option>
                                }) }
                            </select>
                        }
                    </Field>
                }
                <Field label={app.t("license.type")} id="licenseType" error={field_error("licenseType")}>
                    <select id="licenseType" onchange={on_type}>
                        { for LicenseType::ALL.into_iter().map(|t| html! {
                            <option value={t.as_str()} selected={*license_type == t}>{ app.lang.license_type(t) }</option>
                        }) }
                    </select>
                </Field>
                <div class="grid-2">
                    <Field label={app.t("license.device_limit")} id="deviceLimit" error={field_error("deviceLimit")} hint={Some(AttrValue::from(app.t("license.device_limit_hint")))}>
                        <input id="deviceLimit" type="number" min="1" max="10" value={(*device_limit).clone()} oninput={bind(&device_limit)} />
                    </Field>
                    <Field label={app.t("license.concurrent_limit")} id="concurrentSessionsLimit" error={field_error("concurrentSessionsLimit")} hint={Some(AttrValue::from(app.t("license.concurrent_hint")))}>
                        <input id="concurrentSessionsLimit" type="number" min="1" max="10" value={(*concurrent).clone()} oninput={bind(&concurrent)} />
                    </Field>
                </div>
                <div class="grid-2">
                    <Field label={app.t("license.valid_from")} id="validFrom" error={field_error("validFrom")}>
                        <input id="validFrom" type="date" value={(*valid_from).clone()} oninput={bind(&valid_from)} />
                    </Field>
                    <Field label={app.t("license.valid_until")} id="validUntil" error={field_error("validUntil")} hint={Some(AttrValue::from(app.t("license.valid_until_hint")))}>
                        <input id="validUntil" type="date" value={(*valid_until).clone()} oninput={bind(&valid_until)} />
                    </Field>
                </div>
                <Field label={app.t("license.notes")} id="notes" error={field_error("notes")}>
                    <textarea id="notes" rows="3" value={(*notes).clone()} oninput={bind(&notes)} />
                </Field>
                <div class="row end">
                    <button class="btn" type="button" onclick={cancel}>{ app.t("cancel") }</button>
                    <button class="btn btn-primary" type="submit" disabled={*busy}>{ app.t("save") }</button>
                </div>
            </form>
        </section>
    }
}
