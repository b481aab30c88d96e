//! Create or edit a license template; the server's validation errors appear beside their fields.

use serde_json::{json, Value};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::{ErrorBanner, Loading};
use crate::components::field::Field;
use crate::components::license_terms::{
    number, LimitsDraft, LimitsFields, LimitsInput, TermsDraft, TermsFields, TermsInput,
};
use crate::hooks::{use_app, use_form, use_load, Load};
use crate::route::Route;
use crate::services::license_templates::{self, LicenseTemplate};
use crate::services::ApiError;
use crate::state::AppContext;

#[derive(Properties, PartialEq)]
pub struct TemplateFormProps {
    /// Absent: a new template.
    #[prop_or_default]
    pub id: Option<String>,
}

#[function_component]
pub fn TemplateFormPage(props: &TemplateFormProps) -> Html {
    let (existing, _) = use_load(props.id.clone(), |id: Option<String>| async move {
        match id {
            Some(id) => license_templates::license_template(&id)
                .await?
                .map(Some)
                .ok_or_else(|| ApiError::NotFound(String::new())),
            None => Ok(None),
        }
    });
    match &*existing {
        Load::Loading => html! { <section class="page"><Loading /></section> },
        Load::Failed(err) => html! { <section class="page"><ErrorBanner error={err.clone()} /></section> },
        Load::Loaded(template) => html! { <TemplateForm template={template.clone()} /> },
    }
}

#[derive(Properties, PartialEq)]
struct FormProps {
    template: Option<LicenseTemplate>,
}

/// What the template form edits, as the inputs hold it.
#[derive(Clone, Debug, PartialEq)]
struct TemplateDraft {
    name: String,
    limits: LimitsDraft,
    duration_days: String,
    terms: TermsDraft,
}

impl TemplateDraft {
    fn new(template: Option<&LicenseTemplate>) -> TemplateDraft {
        match template {
            Some(t) => TemplateDraft {
                name: t.name.clone(),
                limits: LimitsDraft::new(t.license_type, t.device_limit, t.concurrent_sessions_limit),
                duration_days: t.duration_days.map(|d| d.to_string()).unwrap_or_default(),
                terms: TermsDraft::new(&t.features, t.offline_grace_seconds, t.max_device_releases),
            },
            None => TemplateDraft {
                name: String::new(),
                limits: LimitsDraft::default(),
                duration_days: String::new(),
                terms: TermsDraft::new(&[], 0, 3),
            },
        }
    }

    /// The `input` of `createLicenseTemplate` or `updateLicenseTemplate`; numbers that are no
    /// numbers are refused beside their field.
    fn input(&self, app: &AppContext) -> Result<Value, ApiError> {
        let duration = match self.duration_days.trim() {
            "" => None,
            days => Some(number(app, days, "durationDays")?),
        };
        let mut input = json!({
            "name": self.name,
            "durationDays": duration,
        });
        self.limits.add_to(&mut input, app)?;
        self.terms.add_to(&mut input, app)?;
        Ok(input)
    }
}

#[function_component]
fn TemplateForm(props: &FormProps) -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let form = use_form(|| TemplateDraft::new(props.template.as_ref()));
    let onsubmit = {
        let existing = props.template.as_ref().map(|t| (t.id.clone(), t.updated_at.clone()));
        let app = app.clone();
        let save = move |draft: TemplateDraft| {
            let (existing, input) = (existing.clone(), draft.input(&app));
            async move {
                let existing = existing.as_ref().map(|(id, at)| (id.as_str(), at.as_str()));
                license_templates::save_license_template(existing, input?).await
            }
        };
        let navigator = navigator.clone();
        form.submit(save, Callback::from(move |_: LicenseTemplate| navigator.push(&Route::Templates)))
    };
    let on_limits = form.bind_part(|draft, input: LimitsInput, text| draft.limits.set(input, text));
    let on_terms = form.bind_part(|draft, input: TermsInput, text| draft.terms.set(input, text));
    let cancel = Callback::from(move |_: MouseEvent| navigator.push(&Route::Templates));
    let draft = form.values();

    html! {
        <section class="page narrow">
            <div class="breadcrumbs"><Link<Route> to={Route::Templates}>{ app.t("nav.templates") }</Link<Route>></div>
            <div class="page-header">
                <h1>{ match &props.template {
                    Some(t) => format!("{}: {}", app.t("templates.edit"), t.name),
                    None => app.t("templates.new").to_owned(),
                } }</h1>
            </div>
            <form class="card stack" {onsubmit} novalidate=true data-testid="template-form">
                if let Some(err) = form.general_error() {
                    <ErrorBanner error={err} />
                }
                <Field label={app.t("template.name")} id="name" error={form.field_error("name")}>
                    <input id="name" value={draft.name.clone()} oninput={form.bind(|d, v| d.name = v)} />
                </Field>
                <LimitsFields draft={draft.limits.clone()} error={form.error()} on_change={on_limits} />
                <Field label={app.t("template.duration")} id="durationDays" error={form.field_error("durationDays")} hint={Some(AttrValue::from(app.t("template.duration_hint")))}>
                    <input id="durationDays" type="number" min="1" max="36500" value={draft.duration_days.clone()} oninput={form.bind(|d, v| d.duration_days = v)} />
                </Field>
                <TermsFields draft={draft.terms.clone()} error={form.error()} on_change={on_terms} />
                <div class="row end">
                    <button class="btn" type="button" onclick={cancel}>{ app.t("cancel") }</button>
                    <button class="btn btn-primary" type="submit" disabled={form.busy()}>{ app.t("save") }</button>
                </div>
            </form>
        </section>
    }
}
