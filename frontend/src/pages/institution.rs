//! One institution: its details (editable by admins), the customer it became or is linked to,
//! its contacts with their phones and e-mails, and notes on it and on each contact. Notes are
//! versioned: an edit adds a version and the earlier ones stay readable.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Badge, Empty, ErrorBanner, Loading};
use crate::components::field::{bind, Field};
use crate::components::institution::{customer_badge, website_link, InstitutionForm};
use crate::dom::input_value;
use crate::hooks::{use_app, use_form, use_load, Load};
use crate::route::Route;
use crate::services::crm::{
    self, Contact, ContactEmail, ContactInput, ContactPhone, EmailKind, Institution, Note, NoteSubject, PhoneKind,
};
use crate::services::customers;
use crate::services::ApiError;
use crate::services::Page;

#[derive(Properties, PartialEq)]
pub struct InstitutionPageProps {
    pub id: String,
}

/// The one form open on the page, if any.
#[derive(Clone, Copy, PartialEq)]
enum Panel {
    Edit,
    AddContact,
    LinkCustomer,
    Convert,
    /// The confirmation before unlinking the customer.
    Unlink,
}

#[function_component]
pub fn InstitutionPage(props: &InstitutionPageProps) -> Html {
    let app = use_app();
    let (detail, reload) = use_load(props.id.clone(), |id: String| async move {
        crm::institution(&id).await?.ok_or_else(|| ApiError::NotFound(String::new()))
    });
    let panel = use_state(|| None::<Panel>);
    let unlink_error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let detail = match &*detail {
        Load::Loading => return html! { <section class="page"><Loading /></section> },
        Load::Failed(err) => return html! { <section class="page"><ErrorBanner error={err.clone()} /></section> },
        Load::Loaded(detail) => detail.clone(),
    };
    let institution = detail.institution.clone();
    let open = |which: Panel| {
        let panel = panel.clone();
        Callback::from(move |_: MouseEvent| panel.set(Some(which)))
    };
    let on_close = {
        let panel = panel.clone();
        Callback::from(move |()| panel.set(None))
    };
    // After any change: close the form and show the institution as the server has it now.
    let on_done = {
        let (panel, reload) = (panel.clone(), reload.clone());
        Callback::from(move |()| {
            panel.set(None);
            reload.emit(());
        })
    };
    let on_saved = on_done.reform(|_: Institution| ());
    let on_unlink = {
        let (on_done, unlink_error, busy, id) =
            (on_done.clone(), unlink_error.clone(), busy.clone(), institution.id.clone());
        Callback::from(move |()| {
            let (on_done, unlink_error, busy, id) = (on_done.clone(), unlink_error.clone(), busy.clone(), id.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = crm::unlink_from_customer(&id).await;
                busy.set(false);
                unlink_error.set(result.err());
                on_done.emit(());
            });
        })
    };
    let lang = app.lang;

    html! {
        <section class="page">
            <div class="breadcrumbs">
                <Link<Route> to={Route::Crm}>{ app.t("crm.title") }</Link<Route>>{ " / " }{ institution.name.clone() }
            </div>
            <div class="page-header">
                <div>
                    <h1 data-testid="institution-name">{ institution.name.clone() }</h1>
                    <p class="muted">{ institution.institution_type.clone() }</p>
                </div>
                if app.is_admin() && *panel != Some(Panel::Edit) {
                    <button class="btn" onclick={open(Panel::Edit)}>{ app.t("edit") }</button>
                }
            </div>
            if *panel == Some(Panel::Edit) {
                <InstitutionForm institution={institution.clone()} on_saved={on_saved.clone()} on_close={on_close.clone()} />
            } else {
                <div class="card">
                    <dl class="facts" data-testid="institution-facts">
                        <div><dt>{ app.t("crm.type") }</dt><dd>{ dash(&institution.institution_type) }</dd></div>
                        <div><dt>{ app.t("crm.address") }</dt><dd class="pre">{ dash(&institution.address) }</dd></div>
                        <div><dt>{ app.t("crm.website") }</dt><dd>{ if institution.website.is_empty() { html! { "—" } } else { website_link(&institution.website) } }</dd></div>
                        <div><dt>{ app.t("crm.created") }</dt><dd>{ lang.date(&institution.created_at) }</dd></div>
                        <div><dt>{ app.t("crm.status") }</dt><dd>{ customer_badge(&app, &institution) }</dd></div>
                    </dl>
                </div>
            }

            <h2>{ app.t("crm.customer") }</h2>
            <div class="card" data-testid="linked-customer">
                if let Some(err) = &*unlink_error { <ErrorBanner error={err.clone()} /> }
                if let Some(customer) = &institution.customer {
                    <div class="row wrap between">
                        <div class="row wrap">
                            <Badge tone="green" text={app.t("crm.is_customer")} />
                            <span class="strong" data-testid="linked-customer-name">{ customer.name.clone() }</span>
                            <span class="muted">{ customer.email.clone() }</span>
                        </div>
                        if app.is_admin() {
                            <button class="btn btn-danger-outline" onclick={open(Panel::Unlink)}>{ app.t("crm.unlink") }</button>
                        }
                    </div>
                    if *panel == Some(Panel::Unlink) {
                        <ConfirmDialog title={app.t("crm.unlink_title")}
                            message={format!("{} {}", app.t("crm.unlink_message"), customer.name)}
                            confirm_label={app.t("crm.unlink")} busy={*busy}
                            on_confirm={on_unlink.clone()} on_cancel={on_close.clone()} />
                    }
                } else {
                    <div class="row wrap between">
                        <span class="muted">{ app.t("crm.not_customer") }</span>
                        if app.is_admin() && !matches!(*panel, Some(Panel::LinkCustomer | Panel::Convert)) {
                            <div class="row">
                                <button class="btn" onclick={open(Panel::LinkCustomer)}>{ app.t("crm.link_customer") }</button>
                                <button class="btn btn-primary" onclick={open(Panel::Convert)}>{ app.t("crm.convert") }</button>
                            </div>
                        }
                    </div>
                    if *panel == Some(Panel::LinkCustomer) {
                        <LinkCustomer institution_id={institution.id.clone()} on_done={on_done.clone()} on_close={on_close.clone()} />
                    }
                    if *panel == Some(Panel::Convert) {
                        <ConvertForm institution={institution.clone()} on_done={on_done.clone()} on_close={on_close.clone()} />
                    }
                }
            </div>

            <div class="section-header">
                <h2>{ app.t("crm.contacts") }{ format!(" ({})", detail.contacts.len()) }</h2>
                if app.is_admin() && *panel != Some(Panel::AddContact) {
                    <button class="btn" onclick={open(Panel::AddContact)}>{ "+ " }{ app.t("crm.add_contact") }</button>
                }
            </div>
            if *panel == Some(Panel::AddContact) {
                <NewContactForm institution_id={institution.id.clone()} on_done={on_done.clone()} on_close={on_close.clone()} />
            }
            if detail.contacts.is_empty() {
                <Empty message={app.t("crm.no_contacts")} />
            } else {
                <div class="contacts" data-testid="contacts">
                    { for detail.contacts.iter().map(|contact| html! {
                        <ContactCard key={contact.id.clone()} contact={contact.clone()} on_change={reload.clone()} />
                    }) }
                </div>
            }

            <h2>{ app.t("crm.notes") }</h2>
            <div class="card" data-testid="institution-notes">
                <Notes subject={NoteSubject::Institution(institution.id.clone())} notes={detail.notes.clone()} on_change={reload.clone()} />
            </div>
        </section>
    }
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "—".to_owned()
    } else {
        text.to_owned()
    }
}

/// The message for a failed request: beside `field` when it is about that field, else on top.
fn split_error(error: &Option<ApiError>, field: &str) -> (Option<ApiError>, Option<String>) {
    match error {
        Some(err) => match err.for_field(field) {
            Some(message) => (None, Some(message)),
            None => (Some(err.clone()), None),
        },
        None => (None, None),
    }
}

#[derive(Properties, PartialEq)]
struct LinkCustomerProps {
    institution_id: String,
    on_done: Callback<()>,
    on_close: Callback<()>,
}

/// Finds an existing customer by name or e-mail and links the lead to it.
#[function_component]
fn LinkCustomer(props: &LinkCustomerProps) -> Html {
    let app = use_app();
    let search = use_state(String::new);
    let applied = use_state(String::new);
    let (customers, _) =
        use_load(
            (*applied).clone(),
            |search: String| async move { customers::customers(&search, &Page::default()).await },
        );
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let on_search = {
        let (search, applied) = (search.clone(), applied.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            applied.set((*search).clone());
        })
    };
    let link = |customer_id: String| {
        let (error, busy, on_done) = (error.clone(), busy.clone(), props.on_done.clone());
        let institution_id = props.institution_id.clone();
        Callback::from(move |_: MouseEvent| {
            let (error, busy, on_done) = (error.clone(), busy.clone(), on_done.clone());
            let (institution_id, customer_id) = (institution_id.clone(), customer_id.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = crm::link_to_customer(&institution_id, &customer_id).await;
                busy.set(false);
                match result {
                    Ok(_) => on_done.emit(()),
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    html! {
        <div class="stack subpanel" data-testid="link-customer">
            <h3>{ app.t("crm.link_customer") }</h3>
            if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
            <form class="row" onsubmit={on_search}>
                <input class="grow" type="search" id="link-customer-search" placeholder={app.t("customers.search")}
                       aria-label={app.t("customers.search")} value={(*search).clone()} oninput={bind(&search)} />
                <button class="btn" type="submit">{ app.t("search") }</button>
                <button class="btn btn-ghost" type="button" onclick={close}>{ app.t("cancel") }</button>
            </form>
            { match &*customers {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(connection) if connection.nodes.is_empty() => html! { <Empty message={app.t("customers.empty")} /> },
                Load::Loaded(connection) => html! {
                    <div class="table-wrap">
                    <table class="table">
                        <tbody>
                        { for connection.nodes.iter().map(|customer| html! {
                            <tr key={customer.id.clone()}>
                                <td class="strong">{ customer.name.clone() }</td>
                                <td>{ customer.email.clone() }</td>
                                <td class="actions">
                                    <button class="btn btn-small btn-primary" disabled={*busy} onclick={link(customer.id.clone())}>{ app.t("crm.link") }</button>
                                </td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                    </div>
                },
            } }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ConvertFormProps {
    institution: Institution,
    on_done: Callback<()>,
    on_close: Callback<()>,
}

/// Creates a customer from the lead (name and e-mail) and links it.
#[function_component]
fn ConvertForm(props: &ConvertFormProps) -> Html {
    let app = use_app();
    let form = use_form(|| (props.institution.name.clone(), String::new()));
    let onsubmit = {
        let institution_id = props.institution.id.clone();
        let save = move |(name, email): (String, String)| {
            let institution_id = institution_id.clone();
            async move { crm::convert_to_customer(&institution_id, &name, &email).await }
        };
        form.submit(save, props.on_done.reform(|_: Institution| ()))
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    let (name, email) = form.values();
    html! {
        <form class="stack subpanel" {onsubmit} novalidate=true data-testid="convert-form">
            <h3>{ app.t("crm.convert") }</h3>
            <p class="muted">{ app.t("crm.convert_help") }</p>
            if let Some(err) = form.general_error() { <ErrorBanner error={err} /> }
            <div class="grid-2">
                <Field label={app.t("customer.name")} id="convert-name" error={form.field_error("name")}>
                    <input id="convert-name" value={name.clone()} oninput={form.bind(|(name, _), v| *name = v)} />
                </Field>
                <Field label={app.t("customer.email")} id="convert-email" error={form.field_error("email")}>
                    <input id="convert-email" type="email" value={email.clone()} oninput={form.bind(|(_, email), v| *email = v)} />
                </Field>
            </div>
            <div class="row end">
                <button class="btn" type="button" onclick={close}>{ app.t("cancel") }</button>
                <button class="btn btn-primary" type="submit" disabled={form.busy()}>{ app.t("crm.convert") }</button>
            </div>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct NewContactFormProps {
    institution_id: String,
    on_done: Callback<()>,
    on_close: Callback<()>,
}

/// What the new-contact form edits.
#[derive(Clone, Debug, PartialEq)]
struct NewContact {
    name: String,
    position: String,
    phone_kind: PhoneKind,
    phone: String,
    email_kind: EmailKind,
    email: String,
}

impl NewContact {
    /// The contact with its first phone number and e-mail address, when given.
    fn input(self) -> ContactInput {
        let mut input = ContactInput { name: self.name, position: self.position, ..Default::default() };
        if !self.phone.trim().is_empty() {
            input.phones.push(ContactPhone { kind: self.phone_kind, number: self.phone });
        }
        if !self.email.trim().is_empty() {
            input.emails.push(ContactEmail { kind: self.email_kind, email: self.email });
        }
        input
    }
}

/// A new contact with, optionally, a first phone number and e-mail address.
#[function_component]
fn NewContactForm(props: &NewContactFormProps) -> Html {
    let app = use_app();
    let form = use_form(|| NewContact {
        name: String::new(),
        position: String::new(),
        phone_kind: PhoneKind::Work,
        phone: String::new(),
        email_kind: EmailKind::Work,
        email: String::new(),
    });
    let onsubmit = {
        let institution_id = props.institution_id.clone();
        let save = move |contact: NewContact| {
            let institution_id = institution_id.clone();
            async move { crm::create_contact(&institution_id, &contact.input()).await }
        };
        form.submit(save, props.on_done.reform(|_: Contact| ()))
    };
    let on_phone_kind = form.bind_change(|contact, value| contact.phone_kind = PhoneKind::parse(&value));
    let on_email_kind = form.bind_change(|contact, value| contact.email_kind = EmailKind::parse(&value));
    let close = props.on_close.reform(|_: MouseEvent| ());
    let contact = form.values();
    html! {
        <form class="card stack" {onsubmit} novalidate=true data-testid="contact-form">
            <h2>{ app.t("crm.add_contact") }</h2>
            if let Some(err) = form.general_error() { <ErrorBanner error={err} /> }
            <div class="grid-2">
                <Field label={app.t("crm.contact_name")} id="contact-name" error={form.field_error("name")}>
                    <input id="contact-name" value={contact.name.clone()} oninput={form.bind(|c, v| c.name = v)} />
                </Field>
                <Field label={app.t("crm.position")} id="contact-position" error={form.field_error("position")}>
                    <input id="contact-position" value={contact.position.clone()} oninput={form.bind(|c, v| c.position = v)} />
                </Field>
                <div class="row align-start">
                    <Field label={app.t("crm.kind")} id="contact-phone-kind">
                        <select id="contact-phone-kind" onchange={on_phone_kind}>
                            { for PhoneKind::ALL.into_iter().map(|k| html! {
                                <option value={k.as_str()} selected={contact.phone_kind == k}>{ app.t(k.label_key()) }</option>
                            }) }
                        </select>
                    </Field>
                    <Field label={app.t("crm.phone")} id="contact-phone" error={form.field_error("phones.0.number")}
                           hint={AttrValue::from(app.t("crm.phone_hint"))}>
                        <input id="contact-phone" type="tel" placeholder="+49 30 1234567" value={contact.phone.clone()} oninput={form.bind(|c, v| c.phone = v)} />
                    </Field>
                </div>
                <div class="row align-start">
                    <Field label={app.t("crm.kind")} id="contact-email-kind">
                        <select id="contact-email-kind" onchange={on_email_kind}>
                            { for EmailKind::ALL.into_iter().map(|k| html! {
                                <option value={k.as_str()} selected={contact.email_kind == k}>{ app.t(k.label_key()) }</option>
                            }) }
                        </select>
                    </Field>
                    <Field label={app.t("crm.email")} id="contact-email" error={form.field_error("emails.0.email")}>
                        <input id="contact-email" type="email" value={contact.email.clone()} oninput={form.bind(|c, v| c.email = v)} />
                    </Field>
                </div>
            </div>
            <div class="row end">
                <button class="btn" type="button" onclick={close}>{ app.t("cancel") }</button>
                <button class="btn btn-primary" type="submit" disabled={form.busy()}>{ app.t("crm.add_contact") }</button>
            </div>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct ContactCardProps {
    contact: Contact,
    on_change: Callback<()>,
}

/// What is open on a contact's card.
#[derive(Clone, PartialEq)]
enum ContactPanel {
    Edit,
    AddPhone,
    AddEmail,
    RemovePhone(ContactPhone),
    RemoveEmail(ContactEmail),
}

/// A contact: name, position, phones and e-mails with their kinds, and notes.
#[function_component]
fn ContactCard(props: &ContactCardProps) -> Html {
    let app = use_app();
    let contact = &props.contact;
    let panel = use_state(|| None::<ContactPanel>);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);

    // Every change goes through `updateContact`, which replaces name, position, phones and e-mails.
    let save = {
        let (panel, busy, error, on_change) = (panel.clone(), busy.clone(), error.clone(), props.on_change.clone());
        let (id, read_at) = (contact.id.clone(), contact.updated_at.clone());
        Callback::from(move |input: ContactInput| {
            let (panel, busy, error, on_change, id, read_at) =
                (panel.clone(), busy.clone(), error.clone(), on_change.clone(), id.clone(), read_at.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = crm::update_contact(&id, &input, &read_at).await;
                busy.set(false);
                match result {
                    Ok(_) => {
                        error.set(None);
                        panel.set(None);
                        on_change.emit(());
                    }
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let open = |which: ContactPanel| {
        let (panel, error) = (panel.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            error.set(None);
            panel.set(Some(which.clone()));
        })
    };
    let on_close = {
        let (panel, error) = (panel.clone(), error.clone());
        Callback::from(move |()| {
            error.set(None);
            panel.set(None);
        })
    };
    // Like the other dialogs: it closes once the server answered, and a failure shows on the card.
    let on_confirm_remove = {
        let (panel, busy, error, on_change) = (panel.clone(), busy.clone(), error.clone(), props.on_change.clone());
        let contact = contact.clone();
        Callback::from(move |()| {
            let mut input = contact.input();
            match &*panel {
                Some(ContactPanel::RemovePhone(phone)) => input.phones.retain(|p| p != phone),
                Some(ContactPanel::RemoveEmail(email)) => input.emails.retain(|e| e != email),
                _ => return,
            }
            let (panel, busy, error, on_change) = (panel.clone(), busy.clone(), error.clone(), on_change.clone());
            let (id, read_at) = (contact.id.clone(), contact.updated_at.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = crm::update_contact(&id, &input, &read_at).await;
                busy.set(false);
                panel.set(None);
                match result {
                    Ok(_) => on_change.emit(()),
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let admin = app.is_admin();
    let idle = panel.is_none();
    let kind_badge = |key: &'static str| html! { <Badge tone="grey" text={app.t(key)} /> };

    html! {
        <div class="card contact" data-testid="contact" data-contact-id={contact.id.clone()}>
            if *panel == Some(ContactPanel::Edit) {
                <ContactNameForm contact={contact.clone()} error={(*error).clone()} busy={*busy} on_save={save.clone()} on_close={on_close.clone()} />
            } else {
                <div class="contact-head">
                    <div>
                        <div class="strong contact-name">{ contact.name.clone() }</div>
                        if !contact.position.is_empty() { <div class="muted">{ contact.position.clone() }</div> }
                    </div>
                    if admin && idle {
                        <button class="btn btn-small" onclick={open(ContactPanel::Edit)}>{ app.t("edit") }</button>
                    }
                </div>
            }
            if let Some(err) = error.as_ref().filter(|_| panel.is_none()) {
                <ErrorBanner error={err.clone()} />
            }
            <div class="grid-2 contact-details">
                <div>
                    <div class="label">{ app.t("crm.phones") }</div>
                    if contact.phones.is_empty() { <p class="muted small">{ app.t("crm.none") }</p> }
                    <ul class="detail-list" data-testid="phones">
                        { for contact.phones.iter().map(|phone| html! {
                            <li key={phone.number.clone()}>
                                { kind_badge(phone.kind.label_key()) }
                                <a class="mono" href={format!("tel:{}", phone.number)}>{ phone.number.clone() }</a>
                                if admin && idle {
                                    <button class="link remove" title={app.t("crm.remove")} aria-label={app.t("crm.remove")}
                                            onclick={open(ContactPanel::RemovePhone(phone.clone()))}>{ "×" }</button>
                                }
                            </li>
                        }) }
                    </ul>
                    if *panel == Some(ContactPanel::AddPhone) {
                        <AddDetail contact={contact.clone()} what={Detail::Phone} error={(*error).clone()} busy={*busy}
                                   on_save={save.clone()} on_close={on_close.clone()} />
                    } else if admin && idle {
                        <button class="link small" onclick={open(ContactPanel::AddPhone)}>{ "+ " }{ app.t("crm.add_phone") }</button>
                    }
                </div>
                <div>
                    <div class="label">{ app.t("crm.emails") }</div>
                    if contact.emails.is_empty() { <p class="muted small">{ app.t("crm.none") }</p> }
                    <ul class="detail-list" data-testid="emails">
                        { for contact.emails.iter().map(|email| html! {
                            <li key={email.email.clone()}>
                                { kind_badge(email.kind.label_key()) }
                                <a href={format!("mailto:{}", email.email)}>{ email.email.clone() }</a>
                                if admin && idle {
                                    <button class="link remove" title={app.t("crm.remove")} aria-label={app.t("crm.remove")}
                                            onclick={open(ContactPanel::RemoveEmail(email.clone()))}>{ "×" }</button>
                                }
                            </li>
                        }) }
                    </ul>
                    if *panel == Some(ContactPanel::AddEmail) {
                        <AddDetail contact={contact.clone()} what={Detail::Email} error={(*error).clone()} busy={*busy}
                                   on_save={save.clone()} on_close={on_close.clone()} />
                    } else if admin && idle {
                        <button class="link small" onclick={open(ContactPanel::AddEmail)}>{ "+ " }{ app.t("crm.add_email") }</button>
                    }
                </div>
            </div>
            <div class="contact-notes">
                <div class="label">{ app.t("crm.notes") }</div>
                <Notes subject={NoteSubject::Contact(contact.id.clone())} notes={contact.notes.clone()} on_change={props.on_change.clone()} />
            </div>
            { match &*panel {
                Some(ContactPanel::RemovePhone(phone)) => html! {
                    <ConfirmDialog title={app.t("crm.remove_phone")} message={format!("{} {} ({})", app.t("crm.remove_message"), phone.number, contact.name)}
                        confirm_label={app.t("crm.remove")} busy={*busy} on_confirm={on_confirm_remove.clone()} on_cancel={on_close.clone()} />
                },
                Some(ContactPanel::RemoveEmail(email)) => html! {
                    <ConfirmDialog title={app.t("crm.remove_email")} message={format!("{} {} ({})", app.t("crm.remove_message"), email.email, contact.name)}
                        confirm_label={app.t("crm.remove")} busy={*busy} on_confirm={on_confirm_remove.clone()} on_cancel={on_close.clone()} />
                },
                _ => html! {},
            } }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ContactNameFormProps {
    contact: Contact,
    error: Option<ApiError>,
    busy: bool,
    on_save: Callback<ContactInput>,
    on_close: Callback<()>,
}

/// Renames a contact or changes the position; phones and e-mails stay as they are.
#[function_component]
fn ContactNameForm(props: &ContactNameFormProps) -> Html {
    let app = use_app();
    let name = use_state(|| props.contact.name.clone());
    let position = use_state(|| props.contact.position.clone());
    let onsubmit = {
        let (name, position, on_save, contact) =
            (name.clone(), position.clone(), props.on_save.clone(), props.contact.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            on_save.emit(ContactInput { name: (*name).clone(), position: (*position).clone(), ..contact.input() });
        })
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    let field_error = |field: &str| props.error.as_ref().and_then(|e| e.for_field(field));
    let id = |field: &str| format!("{field}-{}", props.contact.id);
    html! {
        <form class="stack" {onsubmit} novalidate=true>
            if let Some(err) = props.error.as_ref().filter(|e| !e.is_field_error()) { <ErrorBanner error={err.clone()} /> }
            <div class="grid-2">
                <Field label={app.t("crm.contact_name")} id={id("contact-name")} error={field_error("name")}>
                    <input id={id("contact-name")} value={(*name).clone()} oninput={bind(&name)} />
                </Field>
                <Field label={app.t("crm.position")} id={id("contact-position")} error={field_error("position")}>
                    <input id={id("contact-position")} value={(*position).clone()} oninput={bind(&position)} />
                </Field>
            </div>
            <div class="row end">
                <button class="btn" type="button" onclick={close}>{ app.t("cancel") }</button>
                <button class="btn btn-primary" type="submit" disabled={props.busy}>{ app.t("save") }</button>
            </div>
        </form>
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Detail {
    Phone,
    Email,
}

#[derive(Properties, PartialEq)]
struct AddDetailProps {
    contact: Contact,
    what: Detail,
    error: Option<ApiError>,
    busy: bool,
    on_save: Callback<ContactInput>,
    on_close: Callback<()>,
}

/// Adds one typed phone number or e-mail address to a contact.
#[function_component]
fn AddDetail(props: &AddDetailProps) -> Html {
    let app = use_app();
    let kind = use_state(|| match props.what {
        Detail::Phone => PhoneKind::Work.as_str(),
        Detail::Email => EmailKind::Work.as_str(),
    });
    let value = use_state(String::new);
    let contact = &props.contact;
    // The new entry goes last, so a complaint about it names that index.
    let (field, id) = match props.what {
        Detail::Phone => (format!("phones.{}.number", contact.phones.len()), format!("phone-{}", contact.id)),
        Detail::Email => (format!("emails.{}.email", contact.emails.len()), format!("email-{}", contact.id)),
    };
    let (banner, field_error) = split_error(&props.error, &field);
    let onsubmit = {
        let (kind, value, on_save, contact, what) =
            (kind.clone(), value.clone(), props.on_save.clone(), contact.clone(), props.what);
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let mut input = contact.input();
            match what {
                Detail::Phone => {
                    input.phones.push(ContactPhone { kind: PhoneKind::parse(&kind), number: (*value).clone() })
                }
                Detail::Email => {
                    input.emails.push(ContactEmail { kind: EmailKind::parse(&kind), email: (*value).clone() })
                }
            }
            on_save.emit(input);
        })
    };
    let on_kind = {
        let (kind, what) = (kind.clone(), props.what);
        Callback::from(move |event: Event| {
            let chosen = input_value(&event);
            kind.set(match what {
                Detail::Phone => PhoneKind::parse(&chosen).as_str(),
                Detail::Email => EmailKind::parse(&chosen).as_str(),
            })
        })
    };
    let kinds: Vec<(&'static str, &'static str)> = match props.what {
        Detail::Phone => PhoneKind::ALL.into_iter().map(|k| (k.as_str(), k.label_key())).collect(),
        Detail::Email => EmailKind::ALL.into_iter().map(|k| (k.as_str(), k.label_key())).collect(),
    };
    let (label, input_type, placeholder, hint) = match props.what {
        Detail::Phone => (app.t("crm.phone"), "tel", "+49 30 1234567", Some(AttrValue::from(app.t("crm.phone_hint")))),
        Detail::Email => (app.t("crm.email"), "email", "name@example.org", None),
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    html! {
        <form class="stack add-detail" {onsubmit} novalidate=true data-testid="add-detail">
            if let Some(err) = banner { <ErrorBanner error={err} /> }
            <div class="row align-start">
                <Field label={app.t("crm.kind")} id={format!("{id}-kind")}>
                    <select id={format!("{id}-kind")} onchange={on_kind}>
                        { for kinds.into_iter().map(|(value, key)| html! {
                            <option {value} selected={*kind == value}>{ app.t(key) }</option>
                        }) }
                    </select>
                </Field>
                <Field {label} id={id.clone()} error={field_error} {hint}>
                    <input id={id.clone()} type={input_type} {placeholder} value={(*value).clone()} oninput={bind(&value)} />
                </Field>
            </div>
            <div class="row end">
                <button class="btn btn-small" type="button" onclick={close}>{ app.t("cancel") }</button>
                <button class="btn btn-small btn-primary" type="submit" disabled={props.busy}>{ app.t("crm.add") }</button>
            </div>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct NotesProps {
    subject: NoteSubject,
    notes: Vec<Note>,
    on_change: Callback<()>,
}

/// The notes on an institution or a contact, oldest first, and a form to add one (admins).
#[function_component]
fn Notes(props: &NotesProps) -> Html {
    let app = use_app();
    let form = use_form(String::new);
    let onsubmit = {
        let subject = props.subject.clone();
        let save = move |body: String| {
            let subject = subject.clone();
            async move { crm::add_note(&subject, &body).await }
        };
        let (cleared, on_change) = (form.clone(), props.on_change.clone());
        form.submit(
            save,
            Callback::from(move |_: Note| {
                cleared.update(String::clear);
                on_change.emit(());
            }),
        )
    };
    let id = match &props.subject {
        NoteSubject::Institution(id) => format!("note-institution-{id}"),
        NoteSubject::Contact(id) => format!("note-contact-{id}"),
    };
    let (banner, field_error) = split_error(&form.error(), "body");
    html! {
        <div class="notes-list" data-testid="notes">
            if props.notes.is_empty() { <p class="muted small">{ app.t("crm.no_notes") }</p> }
            { for props.notes.iter().map(|note| html! {
                <NoteItem key={note.id.clone()} note={note.clone()} on_change={props.on_change.clone()} />
            }) }
            if app.is_admin() {
                <form class="stack add-note" {onsubmit} novalidate=true data-testid="add-note">
                    if let Some(err) = banner { <ErrorBanner error={err} /> }
                    <Field label={app.t("crm.new_note")} id={id.clone()} error={field_error}>
                        <textarea id={id.clone()} rows="2" value={form.values().clone()} oninput={form.bind(|body, v| *body = v)} />
                    </Field>
                    <div class="row end">
                        <button class="btn btn-small" type="submit" disabled={form.busy()}>{ app.t("crm.add_note") }</button>
                    </div>
                </form>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct NoteItemProps {
    note: Note,
    on_change: Callback<()>,
}

/// One note: its current text, who wrote it when, "edit" (a new version) and its earlier versions.
#[function_component]
fn NoteItem(props: &NoteItemProps) -> Html {
    let app = use_app();
    let note = &props.note;
    let editing = use_state(|| false);
    let show_versions = use_state(|| false);
    let form = use_form(|| note.body.clone());

    let start_edit = {
        let (editing, form, current) = (editing.clone(), form.clone(), note.body.clone());
        Callback::from(move |_: MouseEvent| {
            let current = current.clone();
            form.update(move |body| *body = current);
            form.clear_error();
            editing.set(true);
        })
    };
    let cancel = {
        let editing = editing.clone();
        Callback::from(move |_: MouseEvent| editing.set(false))
    };
    let toggle_versions = {
        let show_versions = show_versions.clone();
        Callback::from(move |_: MouseEvent| show_versions.set(!*show_versions))
    };
    let onsubmit = {
        let (id, version) = (note.id.clone(), note.version);
        let save = move |body: String| {
            let id = id.clone();
            async move { crm::edit_note(&id, &body, version).await }
        };
        let (editing, on_change) = (editing.clone(), props.on_change.clone());
        form.submit(
            save,
            Callback::from(move |_: Note| {
                editing.set(false);
                on_change.emit(());
            }),
        )
    };
    let lang = app.lang;
    let earlier: Vec<_> = note.versions.iter().filter(|v| v.version < note.version).rev().collect();
    let id = format!("note-edit-{}", note.id);
    let (banner, field_error) = split_error(&form.error(), "body");

    html! {
        <div class="note" data-testid="note" data-version={note.version.to_string()}>
            if *editing {
                <form class="stack" {onsubmit} novalidate=true>
                    if let Some(err) = banner { <ErrorBanner error={err} /> }
                    <Field label={app.t("crm.edit_note")} id={id.clone()} error={field_error} hint={AttrValue::from(app.t("crm.edit_note_hint"))}>
                        <textarea id={id.clone()} rows="3" value={form.values().clone()} oninput={form.bind(|body, v| *body = v)} />
                    </Field>
                    <div class="row end">
                        <button class="btn btn-small" type="button" onclick={cancel}>{ app.t("cancel") }</button>
                        <button class="btn btn-small btn-primary" type="submit" disabled={form.busy()}>{ app.t("save") }</button>
                    </div>
                </form>
            } else {
                <div class="note-body" data-testid="note-body">{ note.body.clone() }</div>
                <div class="note-meta">
                    <span>{ note.edited_by.clone() }{ " · " }{ lang.datetime(&note.edited_at) }</span>
                    if note.version > 1 {
                        <Badge tone="amber" text={format!("{} {}", app.t("crm.version"), note.version)} />
                        <button class="link" onclick={toggle_versions}>
                            { if *show_versions { app.t("crm.hide_versions") } else { app.t("crm.show_versions") } }
                            { format!(" ({})", earlier.len()) }
                        </button>
                    }
                    if app.is_admin() {
                        <button class="link" onclick={start_edit}>{ app.t("edit") }</button>
                    }
                </div>
                if *show_versions {
                    <ol class="note-versions" data-testid="note-versions">
                        { for earlier.iter().map(|v| html! {
                            <li key={v.version}>
                                <div class="note-meta">
                                    <span class="strong">{ app.t("crm.version") }{ " " }{ v.version }</span>
                                    <span>{ v.edited_by.clone() }{ " · " }{ lang.datetime(&v.edited_at) }</span>
                                </div>
                                <div class="note-body">{ v.body.clone() }</div>
                            </li>
                        }) }
                    </ol>
                }
            }
        </div>
    }
}
