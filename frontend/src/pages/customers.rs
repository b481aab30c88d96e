//! Customers: search, page through, create and edit (admins).

use yew::prelude::*;

use crate::components::feedback::{Badge, Empty, ErrorBanner, Loading};
use crate::components::field::{bind, input_checked, Field};
use crate::components::pager::Pager;
use crate::hooks::{use_app, use_load, Load};
use crate::services::customers::{self, Customer};
use crate::services::ApiError;
use crate::services::Page;

#[function_component]
pub fn CustomersPage() -> Html {
    let app = use_app();
    let search = use_state(String::new);
    let applied = use_state(String::new);
    let page = use_state(Page::default);
    let (customers, reload) = use_load(((*applied).clone(), (*page).clone()), |(search, page)| async move {
        customers::customers(&search, &page).await
    });
    // `Some(None)`: the form for a new customer; `Some(Some(c))`: editing `c`.
    let editing = use_state(|| None::<Option<Customer>>);

    let on_search = {
        let (search, applied, page) = (search.clone(), applied.clone(), page.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            applied.set((*search).clone());
            page.set(Page::default());
        })
    };
    let new_customer = {
        let editing = editing.clone();
        Callback::from(move |_: MouseEvent| editing.set(Some(None)))
    };
    let on_done = {
        let (editing, reload) = (editing.clone(), reload.clone());
        Callback::from(move |()| {
            editing.set(None);
            reload.emit(());
        })
    };
    let on_close = {
        let editing = editing.clone();
        Callback::from(move |()| editing.set(None))
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
            <form class="toolbar" onsubmit={on_search}>
                <input class="grow" type="search" placeholder={app.t("customers.search")} aria-label={app.t("customers.search")}
                       value={(*search).clone()} oninput={bind(&search)} />
                <button class="btn" type="submit">{ app.t("search") }</button>
            </form>
            { match &*customers {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(connection) if connection.nodes.is_empty() => html! { <Empty message={app.t("customers.empty")} /> },
                Load::Loaded(connection) => html! {
                    <>
                        <div class="table-wrap">
                        <table class="table" data-testid="customers">
                            <thead><tr>
                                <th>{ app.t("customer.name") }</th><th>{ app.t("customer.email") }</th>
                                <th>{ app.t("customer.created") }</th><th></th>
                                if app.is_admin() { <th class="actions"></th> }
                            </tr></thead>
                            <tbody>
                            { for connection.nodes.iter().map(|customer| {
                                let edit = {
                                    let (editing, customer) = (editing.clone(), customer.clone());
                                    Callback::from(move |_: MouseEvent| editing.set(Some(Some(customer.clone()))))
                                };
                                html! {
                                    <tr key={customer.id.clone()}>
                                        <td class="strong">{ customer.name.clone() }</td>
                                        <td>{ customer.email.clone() }</td>
                                        <td>{ app.lang.date(&customer.created_at) }</td>
                                        <td>if customer.is_test { <Badge tone="amber" text={app.t("customer.test")} /> }</td>
                                        if app.is_admin() {
                                            <td class="actions"><button class="btn btn-small" onclick={edit}>{ app.t("edit") }</button></td>
                                        }
                                    </tr>
                                }
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

#[derive(Properties, PartialEq)]
struct CustomerFormProps {
    customer: Option<Customer>,
    on_done: Callback<()>,
    on_close: Callback<()>,
}

#[function_component]
fn CustomerForm(props: &CustomerFormProps) -> Html {
    let app = use_app();
    let name = use_state(|| props.customer.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let email = use_state(|| props.customer.as_ref().map(|c| c.email.clone()).unwrap_or_default());
    let is_test = use_state(|| props.customer.as_ref().is_some_and(|c| c.is_test));
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (name, email, is_test, error, busy) =
            (name.clone(), email.clone(), is_test.clone(), error.clone(), busy.clone());
        let (id, on_done) =
            (props.customer.as_ref().map(|c| (c.id.clone(), c.updated_at.clone())), props.on_done.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let (name, email, is_test) = ((*name).clone(), (*email).clone(), *is_test);
            let (error, busy, on_done, id) = (error.clone(), busy.clone(), on_done.clone(), id.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = match &id {
                    Some((id, read_at)) => customers::update_customer(id, read_at, &name, &email, is_test).await,
                    None => customers::create_customer(&name, &email, is_test).await,
                };
                busy.set(false);
                match result {
                    Ok(_) => on_done.emit(()),
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let on_test = {
        let is_test = is_test.clone();
        Callback::from(move |event: Event| is_test.set(input_checked(&event)))
    };
    let close = props.on_close.reform(|_: MouseEvent| ());
    let field_error = |field: &str| error.as_ref().and_then(|e| e.for_field(field));
    html! {
        <form class="card stack" {onsubmit} novalidate=true data-testid="customer-form">
            <h2>{ if props.customer.is_some() { app.t("customers.edit") } else { app.t("customers.new") } }</h2>
            if let Some(err) = error.as_ref().filter(|e| !e.is_field_error()) { <ErrorBanner error={err.clone()} /> }
            <div class="grid-2">
                <Field label={app.t("customer.name")} id="name" error={field_error("name")}>
                    <input id="name" value={(*name).clone()} oninput={bind(&name)} />
                </Field>
                <Field label={app.t("customer.email")} id="email" error={field_error("email")}>
                    <input id="email" type="email" value={(*email).clone()} oninput={bind(&email)} />
                </Field>
            </div>
            <label class="checkbox"><input type="checkbox" checked={*is_test} onchange={on_test} />{ app.t("customer.is_test") }</label>
            <div class="row end">
                <button class="btn" type="button" onclick={close}>{ app.t("cancel") }</button>
                <button class="btn btn-primary" type="submit" disabled={*busy}>{ app.t("save") }</button>
            </div>
        </form>
    }
}
