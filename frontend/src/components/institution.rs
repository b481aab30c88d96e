//! Pieces of a lead institution shown on more than one page: its customer badge, its website
//! link, and the form that creates or edits it.

use yew::prelude::*;

use super::feedback::{Badge, ErrorBanner};
use super::field::{bind, Field};
use crate::hooks::use_app;
use crate::services::crm::{self, Institution, InstitutionInput};
use crate::services::ApiError;
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
    let initial = props.institution.as_ref().map(InstitutionInput::from).unwrap_or_default();
    let name = use_state(|| initial.name.clone());
    let institution_type = use_state(|| initial.institution_type.clone());
    let address = use_state(|| initial.address.clone());
    let website = use_state(|| initial.website.clone());
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (name, institution_type, address, website, error, busy) =
            (name.clone(), institution_type.clone(), address.clone(), website.clone(), error.clone(), busy.clone());
        let (id, on_saved) =
            (props.institution.as_ref().map(|i| (i.id.clone(), i.updated_at.clone())), props.on_saved.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let input = InstitutionInput {
                name: (*name).clone(),
                institution_type: (*institution_type).clone(),
                address: (*address).clone(),
                website: (*website).clone(),
            };
            let (error, busy, on_saved, id) = (error.clone(), busy.clone(), on_saved.clone(), id.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = match &id {
                    Some((id, read_at)) => crm::update_institution(id, &input, read_at).await,
                    None => crm::create_institution(&input).await,
                };
                busy.set(false);
                match result {
                    Ok(institution) => on_saved.emit(institution),
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    let field_error = |field: &str| error.as_ref().and_then(|e| e.for_field(field));
    html! {
        <form class="card stack" {onsubmit} novalidate=true data-testid="institution-form">
            <h2>{ if props.institution.is_some() { app.t("crm.edit_institution") } else { app.t("crm.new_institution") } }</h2>
            if let Some(err) = error.as_ref().filter(|e| !e.is_field_error()) { <ErrorBanner error={err.clone()} /> }
            <div class="grid-2">
                <Field label={app.t("crm.name")} id="institution-name" error={field_error("name")}>
                    <input id="institution-name" value={(*name).clone()} oninput={bind(&name)} />
                </Field>
                <Field label={app.t("crm.type")} id="institution-type" error={field_error("institutionType")}
                       hint={AttrValue::from(app.t("crm.type_hint"))}>
                    <input id="institution-type" value={(*institution_type).clone()} oninput={bind(&institution_type)} />
                </Field>
                <Field label={app.t("crm.address")} id="institution-address" error={field_error("address")}>
                    <textarea id="institution-address" rows="2" value={(*address).clone()} oninput={bind(&address)} />
                </Field>
                <Field label={app.t("crm.website")} id="institution-website" error={field_error("website")}
                       hint={AttrValue::from(app.t("crm.website_hint"))}>
                    <input id="institution-website" value={(*website).clone()} oninput={bind(&website)} placeholder="https://example.org" />
                </Field>
            </div>
            <div class="row end">
                <button class="btn" type="button" onclick={close}>{ app.t("cancel") }</button>
                <button class="btn btn-primary" type="submit" disabled={*busy}>{ app.t("save") }</button>
            </div>
        </form>
    }
}
