//! Leads: institutions with search and paging, contacts found by name, and a new institution
//! (admins).

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::components::feedback::{Badge, Empty, ErrorBanner, Loading};
use crate::components::field::{bind, Field};
use crate::components::pager::Pager;
use crate::hooks::{use_app, use_load, Load};
use crate::services::catalog::Page;
use crate::services::crm::{self, Institution, InstitutionInput, SearchHit};
use crate::services::ApiError;
use crate::state::AppContext;

#[function_component]
pub fn CrmPage() -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let search = use_state(String::new);
    let applied = use_state(String::new);
    let page = use_state(Page::default);
    let (institutions, _) = use_load(((*applied).clone(), (*page).clone()), |(search, page)| async move {
        crm::institutions(&search, &page).await
    });
    let creating = use_state(|| false);

    let on_search = {
        let (search, applied, page) = (search.clone(), applied.clone(), page.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            applied.set(search.trim().to_owned());
            page.set(Page::default());
        })
    };
    let open_form = {
        let creating = creating.clone();
        Callback::from(move |_: MouseEvent| creating.set(true))
    };
    let on_close = {
        let creating = creating.clone();
        Callback::from(move |()| creating.set(false))
    };
    // A new institution opens at once, ready for its contacts.
    let on_saved =
        Callback::from(move |institution: Institution| navigator.push(&Route::Institution { id: institution.id }));

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("crm.title") }</h1>
                    <p class="muted">{ app.t("crm.subtitle") }</p>
                </div>
                if app.is_admin() && !*creating {
                    <button class="btn btn-primary" onclick={open_form}>{ "+ " }{ app.t("crm.new_institution") }</button>
                }
            </div>
            if *creating {
                <InstitutionForm {on_saved} {on_close} />
            }
            <form class="toolbar" onsubmit={on_search}>
                <input class="grow" type="search" placeholder={app.t("crm.search")} aria-label={app.t("crm.search")}
                       value={(*search).clone()} oninput={bind(&search)} data-testid="crm-search" />
                <button class="btn" type="submit">{ app.t("search") }</button>
            </form>
            if !applied.is_empty() {
                <ContactHits text={(*applied).clone()} />
            }
            { match &*institutions {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(connection) if connection.nodes.is_empty() => html! { <Empty message={app.t("crm.empty")} /> },
                Load::Loaded(connection) => html! {
                    <>
                        <div class="table-wrap">
                        <table class="table" data-testid="institutions">
                            <thead><tr>
                                <th>{ app.t("crm.name") }</th><th>{ app.t("crm.type") }</th>
                                <th>{ app.t("crm.website") }</th><th>{ app.t("crm.customer") }</th>
                                <th>{ app.t("crm.created") }</th>
                            </tr></thead>
                            <tbody>
                            { for connection.nodes.iter().map(|institution| html! {
                                <tr key={institution.id.clone()}>
                                    <td class="strong">
                                        <Link<Route> to={Route::Institution { id: institution.id.clone() }}>{ institution.name.clone() }</Link<Route>>
                                    </td>
                                    <td>{ institution.institution_type.clone() }</td>
                                    <td>{ website_link(&institution.website) }</td>
                                    <td>{ customer_badge(&app, institution) }</td>
                                    <td class="nowrap">{ app.lang.date(&institution.created_at) }</td>
                                </tr>
                            }) }
                            </tbody>
                        </table>
                        </div>
                        <Pager page_info={connection.page_info.clone()} total={connection.total_count} page={page.clone()} />
                    </>
                },
            } }
        </section>
    }
}

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
struct ContactHitsProps {
    text: String,
}

/// Contacts whose name contains the search text, each with a link to its institution.
#[function_component]
fn ContactHits(props: &ContactHitsProps) -> Html {
    let app = use_app();
    let (hits, _) = use_load(props.text.clone(), |text: String| async move { crm::search(&text).await });
    let contacts: Vec<SearchHit> = match &*hits {
        Load::Loading => return html! {},
        Load::Failed(err) => return html! { <ErrorBanner error={err.clone()} /> },
        Load::Loaded(hits) => hits.iter().filter(|hit| matches!(hit, SearchHit::Contact { .. })).cloned().collect(),
    };
    html! {
        <div class="card" data-testid="contact-hits">
            <h2>{ app.t("crm.matching_contacts") }{ " “" }{ props.text.clone() }{ "”" }</h2>
            if contacts.is_empty() {
                <p class="muted">{ app.t("crm.no_contacts_match") }</p>
            } else {
                <ul class="hit-list">
                    { for contacts.iter().filter_map(|hit| match hit {
                        SearchHit::Contact { id, name, position, institution } => Some(html! {
                            <li key={id.clone()}>
                                <span class="strong">{ name.clone() }</span>
                                if !position.is_empty() { <span class="muted">{ " · " }{ position.clone() }</span> }
                                if let Some(institution) = institution {
                                    <span class="muted">{ " — " }</span>
                                    <Link<Route> to={Route::Institution { id: institution.id.clone() }}>{ institution.name.clone() }</Link<Route>>
                                }
                            </li>
                        }),
                        SearchHit::Institution { .. } => None,
                    }) }
                </ul>
            }
        </div>
    }
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
