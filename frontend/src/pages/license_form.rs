//! Create or edit a license; the server's validation errors appear beside their fields. A new
//! license's customer is searched among all customers as one types; `?customer=<id>` (the
//! customer page's "New license") chooses it beforehand.

use serde_json::{json, Value};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::customer_picker::CustomerPicker;
use crate::components::feedback::{ErrorBanner, Loading};
use crate::components::field::Field;
use crate::components::license_terms::{LimitsDraft, LimitsFields, LimitsInput, TermsDraft, TermsFields, TermsInput};
use crate::hooks::{use_app, use_form, use_load, Load};
use crate::route::Route;
use crate::services::customers::{self, CustomerRef};
use crate::services::license_templates::{self, LicenseTemplate};
use crate::services::licenses::{self, License};
use crate::services::ApiError;
use crate::state::AppContext;

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
    // `/licenses/new?customer=<id>`: the customer the new license is for.
    let chosen_id = use_location()
        .and_then(|l| web_sys::UrlSearchParams::new_with_str(l.query_str()).ok())
        .and_then(|query| query.get("customer"));
    let (chosen, _) = use_load(chosen_id, |id: Option<String>| async move {
        match id {
            Some(id) => Ok(customers::customer(&id).await?.map(|c| c.customer.to_ref())),
            None => Ok(None),
        }
    });
    // Only a new license starts from a template.
    let (templates, _) = use_load(existing_id.is_none(), |new: bool| async move {
        if new {
            license_templates::template_choices().await
        } else {
            Ok(Vec::new())
        }
    });
    match (&*existing, &*chosen, &*templates) {
        (Load::Failed(err), _, _) | (_, Load::Failed(err), _) | (_, _, Load::Failed(err)) => {
            html! { <section class="page"><ErrorBanner error={err.clone()} /></section> }
        }
        (Load::Loaded(license), Load::Loaded(customer), Load::Loaded(templates)) => html! {
            <LicenseForm license={license.clone()} customer={customer.clone()} templates={templates.clone()} />
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
    /// The customer chosen beforehand, for a new license.
    customer: Option<CustomerRef>,
    /// The templates a new license may start from.
    templates: Vec<LicenseTemplate>,
}

fn day(value: &str) -> Option<String> {
    let date: chrono::NaiveDate = value.parse().ok()?;
    let local = date.and_hms_opt(0, 0, 0)?.and_local_timezone(chrono::Local).earliest()?;
    Some(local.with_timezone(&chrono::Utc).to_rfc3339())
}

fn day_of(value: &chrono::DateTime<chrono::Utc>) -> String {
    value.with_timezone(&chrono::Local).date_naive().to_string()
}

/// What the license form edits, as the inputs hold it.
#[derive(Clone, Debug, PartialEq)]
struct LicenseDraft {
    customer: Option<CustomerRef>,
    limits: LimitsDraft,
    valid_from: String,
    valid_until: String,
    notes: String,
    terms: TermsDraft,
    /// The template the form was filled from, if any (recorded with the new license's audit row).
    template_id: String,
}

impl LicenseDraft {
    fn new(license: Option<&License>, customer: Option<CustomerRef>) -> LicenseDraft {
        LicenseDraft {
            customer,
            limits: license.map_or_else(LimitsDraft::default, |l| {
                LimitsDraft::new(l.license_type, l.device_limit, l.concurrent_sessions_limit)
            }),
            valid_from: license.map(|l| day_of(&l.valid_from)).unwrap_or_default(),
            valid_until: license.and_then(|l| l.valid_until.as_ref().map(day_of)).unwrap_or_default(),
            notes: license.map(|l| l.notes.clone()).unwrap_or_default(),
            terms: license.map_or_else(
                || TermsDraft::new(&[], 0, 3),
                |l| TermsDraft::new(&l.features, l.offline_grace_seconds, l.max_device_releases),
            ),
            template_id: String::new(),
        }
    }

    /// Fills the form from `template`: its type, limits and terms, and the end date its duration
    /// gives from the start date (today when there is none yet); an open-ended one clears it.
    fn fill_from(&mut self, template: &LicenseTemplate) {
        self.template_id = template.id.clone();
        self.limits =
            LimitsDraft::new(template.license_type, template.device_limit, template.concurrent_sessions_limit);
        self.terms = TermsDraft::new(&template.features, template.offline_grace_seconds, template.max_device_releases);
        let start = self.valid_from.parse().unwrap_or_else(|_| chrono::Local::now().date_naive());
        self.valid_until = template
            .duration_days
            .and_then(|days| start.checked_add_days(chrono::Days::new(u64::try_from(days).ok()?)))
            .map(|end: chrono::NaiveDate| end.to_string())
            .unwrap_or_default();
    }

    /// The `input` of `createLicense` (with the customer) or `updateLicense`; limits that are no
    /// numbers, or a missing customer, are refused beside their field.
    fn input(&self, new: bool, app: &AppContext) -> Result<Value, ApiError> {
        let mut input = json!({
            "validUntil": day(&self.valid_until),
            "notes": self.notes,
        });
        self.limits.add_to(&mut input, app)?;
        self.terms.add_to(&mut input, app)?;
        if let Some(from) = day(&self.valid_from) {
            input["validFrom"] = Value::String(from);
        }
        if new {
            let Some(customer) = &self.customer else {
                return Err(ApiError::Invalid {
                    field: Some("customerId".into()),
                    message: app.t("license.customer_required").into(),
                });
            };
            input["customerId"] = Value::String(customer.id.clone());
            if !self.template_id.is_empty() {
                input["templateId"] = Value::String(self.template_id.clone());
            }
        }
        Ok(input)
    }
}

#[function_component]
fn LicenseForm(props: &FormProps) -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let license = props.license.clone();
    let form = use_form(|| LicenseDraft::new(props.license.as_ref(), props.customer.clone()));
    let onsubmit = {
        let existing = license.as_ref().map(|l| (l.id.clone(), l.updated_at.clone()));
        let app = app.clone();
        let save = move |draft: LicenseDraft| {
            let (existing, input) = (existing.clone(), draft.input(existing.is_none(), &app));
            async move {
                let existing = existing.as_ref().map(|(id, at)| (id.as_str(), at.as_str()));
                licenses::save_license(existing, input?).await
            }
        };
        let navigator = navigator.clone();
        form.submit(save, Callback::from(move |saved: License| navigator.push(&Route::License { id: saved.id })))
    };
    let on_limits = form.bind_part(|draft, input: LimitsInput, text| draft.limits.set(input, text));
    let on_customer = {
        let form = form.clone();
        Callback::from(move |customer: Option<CustomerRef>| form.update(move |draft| draft.customer = customer))
    };
    let on_template = {
        let (form, templates) = (form.clone(), props.templates.clone());
        Callback::from(move |event: Event| {
            let chosen = templates.iter().find(|t| t.id == crate::dom::input_value(&event)).cloned();
            form.update(move |draft| match &chosen {
                Some(template) => draft.fill_from(template),
                None => draft.template_id.clear(),
            });
        })
    };
    let on_terms = form.bind_part(|draft, input: TermsInput, text| draft.terms.set(input, text));
    let cancel = {
        let navigator = navigator.clone();
        let back = license.as_ref().map(|l| Route::License { id: l.id.clone() }).unwrap_or(Route::Licenses);
        Callback::from(move |_: MouseEvent| navigator.push(&back))
    };
    let draft = form.values();

    html! {
        <section class="page narrow">
            <div class="page-header">
                <h1>{ match &license {
                    Some(l) => format!("{} {}", app.t("license.edit"), l.license_key),
                    None => app.t("licenses.new").to_owned(),
                } }</h1>
            </div>
            <form class="card stack" {onsubmit} novalidate=true>
                if let Some(err) = form.general_error() {
                    <ErrorBanner error={err} />
                }
                if license.is_none() && !props.templates.is_empty() {
                    <Field label={app.t("license.template")} id="templateId" error={form.field_error("templateId")} hint={Some(AttrValue::from(app.t("license.template_hint")))}>
                        <select id="templateId" onchange={on_template}>
                            <option value="" selected={draft.template_id.is_empty()}>{ app.t("license.no_template") }</option>
                            { for props.templates.iter().map(|t| html! {
                                <option value={t.id.clone()} selected={draft.template_id == t.id}>{ t.name.clone() }</option>
                            }) }
                        </select>
                    </Field>
                }
                { match &license {
                    None => html! {
                        <Field label={app.t("license.customer")} id="customerId" error={form.field_error("customerId")}>
                            <CustomerPicker id="customerId" chosen={draft.customer.clone()} on_choose={on_customer}
                                invalid={form.field_error("customerId").is_some()} />
                        </Field>
                    },
                    // A license keeps its customer: shown, not changed.
                    Some(license) => html! {
                        <Field label={app.t("license.customer")} id="customerId">
                            <input id="customerId" readonly=true value={license.customer.as_ref()
                                .map(|c| format!("{} · {}", c.name, c.email)).unwrap_or_default()} />
                        </Field>
                    },
                } }
                <LimitsFields draft={draft.limits.clone()} error={form.error()} on_change={on_limits} />
                <div class="grid-2">
                    <Field label={app.t("license.valid_from")} id="validFrom" error={form.field_error("validFrom")}>
                        <input id="validFrom" type="date" value={draft.valid_from.clone()} oninput={form.bind(|d, v| d.valid_from = v)} />
                    </Field>
                    <Field label={app.t("license.valid_until")} id="validUntil" error={form.field_error("validUntil")} hint={Some(AttrValue::from(app.t("license.valid_until_hint")))}>
                        <input id="validUntil" type="date" value={draft.valid_until.clone()} oninput={form.bind(|d, v| d.valid_until = v)} />
                    </Field>
                </div>
                <TermsFields draft={draft.terms.clone()} error={form.error()} on_change={on_terms} />
                <Field label={app.t("license.notes")} id="notes" error={form.field_error("notes")}>
                    <textarea id="notes" rows="3" value={draft.notes.clone()} oninput={form.bind(|d, v| d.notes = v)} />
                </Field>
                <div class="row end">
                    <button class="btn" type="button" onclick={cancel}>{ app.t("cancel") }</button>
                    <button class="btn btn-primary" type="submit" disabled={form.busy()}>{ app.t("save") }</button>
                </div>
            </form>
        </section>
    }
}
