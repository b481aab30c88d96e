//! Pieces of a lead institution shown on more than one page: its customer badge, its website
//! link, and the form that creates or edits it.

use yew::prelude::*;

use super::feedback::{Badge, ErrorBanner};
use super::field::Field;
use crate::hooks::{use_app, use_form};
use crate::services::crm::{self, Institution, InstitutionInput};
use crate::state::AppContext;

/// "Customer: name" once the lead is linked, else "Lead".
pub fn customer_badge(app: &AppContext, institution: &Institution) -> Html {
    match &institution.customer {
        Some(customer) => {
            html! { <Badge tone="green" text={format!("{}: {}", app.t("crm.customer"), customer.name)} /> }
        }
        None => html! { <Badge tone="grey" text={app.t("crm.lead")} /> },
    }
}

/// The website as a link that opens in a new tab; the scheme is optional in what is stored.
pub fn website_link(website: &str) -> Html {
    if website.is_empty() {
        return html! {};
    }
    let href = if website.starts_with("http://") || website.starts_with("https://") {
        website.to_owned()
    } else {
        format!("https://{website}")
    };
    html! { <a {href} target="_blank" rel="noopener noreferrer">{ website.to_owned() }</a> }
}

#[derive(Properties, PartialEq)]
pub struct InstitutionFormProps {
    /// The institution to edit; a new one when absent.
    #[prop_or_default]
    pub institution: Option<Institution>,
    pub on_saved: Callback<Institution>,
    pub on_close: Callback<()>,
}

#[function_component]
pub fn InstitutionForm(props: &InstitutionFormProps) -> Html {
    let app = use_app();
    let form = use_form(|| props.institution.as_ref().map(InstitutionInput::from).unwrap_or_default());
    let onsubmit = {
        let existing = props.institution.as_ref().map(|i| (i.id.clone(), i.updated_at.clone()));
        let save = move |input: InstitutionInput| {
            let existing = existing.clone();
            async move {
                match &existing {
                    Some((id, read_at)) => crm::update_institution(id, &input, read_at).await,
                    None => crm::create_institution(&input).await,
                }
            }
        };
        form.submit(save, props.on_saved.clone())
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    let input = form.values();
    html! {
        <form class="card stack" {onsubmit} novalidate=true data-testid="institution-form">
            <h2>{ if props.institution.is_some() { app.t("crm.edit_institution") } else { app.t("crm.new_institution") } }</h2>
            if let Some(err) = form.general_error() { <ErrorBanner error={err} /> }
            <div class="grid-2">
                <Field label={app.t("crm.name")} id="institution-name" error={form.field_error("name")}>
                    <input id="institution-name" value={input.name.clone()} oninput={form.bind(|i, v| i.name = v)} />
                </Field>
                <Field label={app.t("crm.type")} id="institution-type" error={form.field_error("institutionType")}
                       hint={AttrValue::from(app.t("crm.type_hint"))}>
                    <input id="institution-type" value={input.institution_type.clone()} oninput={form.bind(|i, v| i.institution_type = v)} />
                </Field>
                <Field label={app.t("crm.address")} id="institution-address" error={form.field_error("address")}>
                    <textarea id="institution-address" rows="2" value={input.address.clone()} oninput={form.bind(|i, v| i.address = v)} />
                </Field>
                <Field label={app.t("crm.website")} id="institution-website" error={form.field_error("website")}
                       hint={AttrValue::from(app.t("crm.website_hint"))}>
                    <input id="institution-website" value={input.website.clone()} oninput={form.bind(|i, v| i.website = v)} placeholder="https://example.org" />
                </Field>
            </div>
            <div class="row end">
                <button class="btn" type="button" onclick={close}>{ app.t("cancel") }</button>
                <button class="btn btn-primary" type="submit" disabled={form.busy()}>{ app.t("save") }</button>
            </div>
        </form>
    }
}
