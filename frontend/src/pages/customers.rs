//! Customers: search, page through, open one, create and edit (admins).

use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::feedback::{Badge, ErrorBanner};
use crate::components::field::Field;
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::components::search_toolbar::SearchToolbar;
use crate::dom::input_checked;
use crate::hooks::{use_app, use_form};
use crate::route::Route;
use crate::services::customers::{self, Customer};
use crate::services::{ApiError, Connection, Page};

/// The customers whose name or e-mail contains the text (all when it is empty).
#[derive(Clone, Debug, Default, PartialEq)]
struct CustomerSearch(String);

impl ListQuery for CustomerSearch {
    type Item = Customer;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<Customer>, ApiError>> {
        async move { customers::customers(&self.0, &page).await }.boxed_local()
    }
}

#[function_component]
pub fn CustomersPage() -> Html {
    let app = use_app();
    let search = use_state(CustomerSearch::default);
    let reload = use_state(|| 0_u32);
    // `Some(None)`: the form for a new customer; `Some(Some(c))`: editing `c`.
    let editing = use_state(|| None::<Option<Customer>>);

    let on_search = {
        let search = search.clone();
        Callback::from(move |text: String| search.set(CustomerSearch(text)))
    };
    let new_customer = {
        let editing = editing.clone();
        Callback::from(move |_: MouseEvent| editing.set(Some(None)))
    };
    let on_done = {
        let (editing, reload) = (editing.clone(), reload.clone());
        Callback::from(move |()| {
            editing.set(None);
            reload.set(reload.wrapping_add(1));
        })
    };
    let on_close = {
        let editing = editing.clone();
        Callback::from(move |()| editing.set(None))
    };
    let row = {
        let (app, editing) = (app.clone(), editing.clone());
        Callback::from(move |customer: Customer| {
            let edit = {
                let (editing, customer) = (editing.clone(), customer.clone());
                Callback::from(move |_: MouseEvent| editing.set(Some(Some(customer.clone()))))
            };
            html! {
                <tr key={customer.id.clone()}>
                    <td class="strong"><Link<Route> to={Route::Customer { id: customer.id.clone() }}>{ customer.name.clone() }</Link<Route>></td>
                    <td>{ customer.email.clone() }</td>
                    <td>{ app.lang.date(&customer.created_at) }</td>
                    <td>if customer.is_test { <Badge tone="amber" text={app.t("customer.test")} /> }</td>
                    if app.is_admin() {
                        <td class="actions"><button class="btn btn-small" onclick={edit}>{ app.t("edit") }</button></td>
                    }
                </tr>
            }
        })
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("customers.title") }</h1>
                    <p class="muted">{ app.t("customers.subtitle") }</p>
                </div>
                if app.is_admin() && editing.is_none() {
                    <button class="btn btn-primary" onclick={new_customer}>{ "+ " }{ app.t("customers.new") }</button>
                }
            </div>
            if let Some(customer) = &*editing {
                <CustomerForm customer={customer.clone()} {on_done} {on_close} />
            }
            <SearchToolbar label={app.t("customers.search")} {on_search} />
            <PagedTable<CustomerSearch> query={(*search).clone()} reload={*reload} empty={app.t("customers.empty")}
                testid="customers" {row}
                head={html! { <>
                    <th>{ app.t("customer.name") }</th><th>{ app.t("customer.email") }</th>
                    <th>{ app.t("customer.created") }</th><th></th>
                    if app.is_admin() { <th class="actions"></th> }
                </> }} />
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct CustomerFormProps {
    customer: Option<Customer>,
    on_done: Callback<()>,
    on_close: Callback<()>,
}

/// What the customer form edits.
#[derive(Clone, Debug, Default, PartialEq)]
struct CustomerDraft {
    name: String,
    email: String,
    is_test: bool,
}

#[function_component]
fn CustomerForm(props: &CustomerFormProps) -> Html {
    let app = use_app();
    let form = use_form(|| {
        props
            .customer
            .as_ref()
            .map(|c| CustomerDraft { name: c.name.clone(), email: c.email.clone(), is_test: c.is_test })
            .unwrap_or_default()
    });
    let onsubmit = {
        let existing = props.customer.as_ref().map(|c| (c.id.clone(), c.updated_at.clone()));
        let save = move |draft: CustomerDraft| {
            let existing = existing.clone();
            async move {
                match &existing {
                    Some((id, read_at)) => {
                        customers::update_customer(id, read_at, &draft.name, &draft.email, draft.is_test).await
                    }
                    None => customers::create_customer(&draft.name, &draft.email, draft.is_test).await,
                }
            }
        };
        form.submit(save, props.on_done.reform(|_: Customer| ()))
    };
    let on_test = {
        let form = form.clone();
        Callback::from(move |event: Event| {
            let checked = input_checked(&event);
            form.update(move |draft| draft.is_test = checked);
        })
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    let draft = form.values();
    html! {
        <form class="card stack" {onsubmit} novalidate=true data-testid="customer-form">
            <h2>{ if props.customer.is_some() { app.t("customers.edit") } else { app.t("customers.new") } }</h2>
            if let Some(err) = form.general_error() { <ErrorBanner error={err} /> }
            <div class="grid-2">
                <Field label={app.t("customer.name")} id="name" error={form.field_error("name")}>
                    <input id="name" value={draft.name.clone()} oninput={form.bind(|d, v| d.name = v)} />
                </Field>
                <Field label={app.t("customer.email")} id="email" error={form.field_error("email")}>
                    <input id="email" type="email" value={draft.email.clone()} oninput={form.bind(|d, v| d.email = v)} />
                </Field>
            </div>
            <label class="checkbox"><input type="checkbox" checked={draft.is_test} onchange={on_test} />{ app.t("customer.is_test") }</label>
            <div class="row end">
                <button class="btn" type="button" onclick={close}>{ app.t("cancel") }</button>
                <button class="btn btn-primary" type="submit" disabled={form.busy()}>{ app.t("save") }</button>
            </div>
        </form>
    }
}
