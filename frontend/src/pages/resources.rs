//! Resource pools: counts per type and state, the list with filters, bulk import with a report
//! per value, and (admins) release and quarantine with each resource's history.

use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::{Badge, ErrorBanner, Loading};
use crate::components::field::{bind, Field};
use crate::components::modal::Modal;
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::components::resource_pool::{release_on_click, type_label, TypeSelect};
use crate::dom::input_value;
use crate::hooks::{use_app, use_form, use_load, Load};
use crate::route::Route;
use crate::services::resources::{
    self, ImportReport, PoolCount, Resource, ResourceFilter, ResourceMove, ResourceState, ResourceType,
};
use crate::services::{ApiError, Connection, Page};
use crate::state::AppContext;

fn state_badge(app: &AppContext, resource: &Resource) -> Html {
    let (tone, key) = match resource.state {
        ResourceState::Available => ("green", "pool.available"),
        ResourceState::Allocated => ("grey", "pool.allocated"),
        ResourceState::Quarantined => ("amber", "pool.quarantined"),
    };
    html! {
        <span title={resource.quarantine_reason.clone().unwrap_or_default()}>
            <Badge {tone} text={app.t(key)} />
        </span>
    }
}

fn state_text(app: &AppContext, state: Option<ResourceState>) -> &'static str {
    match state {
        None => "–",
        Some(ResourceState::Available) => app.t("pool.available"),
        Some(ResourceState::Allocated) => app.t("pool.allocated"),
        Some(ResourceState::Quarantined) => app.t("pool.quarantined"),
    }
}

impl ListQuery for ResourceFilter {
    type Item = Resource;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<Resource>, ApiError>> {
        async move { resources::resources(&self, &page).await }.boxed_local()
    }
}

#[function_component]
pub fn ResourcesPage() -> Html {
    let app = use_app();
    let (counts, reload_counts) = use_load((), |()| resources::pool_counts());
    let draft = use_state(ResourceFilter::default);
    let value = use_state(String::new);
    let applied = use_state(ResourceFilter::default);
    let list_generation = use_state(|| 0_u32);
    let quarantining = use_state(|| None::<Resource>);
    let open_history = use_state(|| None::<String>);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let reload = {
        let (reload_counts, list_generation) = (reload_counts.clone(), list_generation.clone());
        Callback::from(move |()| {
            reload_counts.emit(());
            list_generation.set(list_generation.wrapping_add(1));
        })
    };
    let on_filter = {
        let (draft, value, applied) = (draft.clone(), value.clone(), applied.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            applied.set(ResourceFilter { value: (*value).clone(), ..(*draft).clone() });
        })
    };
    let on_type = {
        let draft = draft.clone();
        Callback::from(move |event: Event| {
            draft.set(ResourceFilter { resource_type: ResourceType::parse(&input_value(&event)), ..(*draft).clone() })
        })
    };
    let on_state = {
        let draft = draft.clone();
        Callback::from(move |event: Event| {
            draft.set(ResourceFilter { state: ResourceState::parse(&input_value(&event)), ..(*draft).clone() })
        })
    };
    let on_quarantined = {
        let (quarantining, reload) = (quarantining.clone(), reload.clone());
        Callback::from(move |()| {
            quarantining.set(None);
            reload.emit(());
        })
    };
    let on_close_quarantine = {
        let quarantining = quarantining.clone();
        Callback::from(move |()| quarantining.set(None))
    };
    let row = {
        let (app, open_history, quarantining, busy, error, reload) =
            (app.clone(), open_history.clone(), quarantining.clone(), busy.clone(), error.clone(), reload.clone());
        Callback::from(move |resource: Resource| {
            let shown = open_history.as_deref() == Some(resource.id.as_str());
            let toggle_history = {
                let (open_history, id) = (open_history.clone(), resource.id.clone());
                Callback::from(move |_: MouseEvent| open_history.set(if shown { None } else { Some(id.clone()) }))
            };
            let ask_quarantine = {
                let (quarantining, resource) = (quarantining.clone(), resource.clone());
                Callback::from(move |_: MouseEvent| quarantining.set(Some(resource.clone())))
            };
            let release = release_on_click(&resource, &busy, &error, reload.clone());
            html! {
                <>
                <tr key={resource.id.clone()} data-value={resource.value.clone()}>
                    <td class="mono strong">{ resource.value.clone() }</td>
                    <td>{ type_label(&app, resource.resource_type) }</td>
                    <td>
                        { state_badge(&app, &resource) }
                        if let Some(reason) = &resource.quarantine_reason {
                            <div class="muted small">{ reason.clone() }</div>
                        }
                    </td>
                    <td>{ match &resource.license {
                        Some(license) => html! {
                            <Link<Route> to={Route::License { id: license.id.clone() }} classes="mono">{ license.license_key.clone() }</Link<Route>>
                        },
                        None => html! { <span class="muted">{ "–" }</span> },
                    } }</td>
                    <td>{ app.lang.datetime(&resource.updated_at) }</td>
                    <td class="actions">
                        <button class="btn btn-small btn-ghost" onclick={toggle_history}>
                            { if shown { app.t("audit.hide") } else { app.t("pool.history") } }
                        </button>
                        if app.is_admin() && resource.state != ResourceState::Available {
                            <button class="btn btn-small" onclick={release} disabled={*busy}>{ app.t("pool.release") }</button>
                        }
                        if app.is_admin() && resource.state != ResourceState::Quarantined {
                            <button class="btn btn-small btn-danger-outline" onclick={ask_quarantine} disabled={*busy}>{ app.t("pool.quarantine") }</button>
                        }
                    </td>
                </tr>
                if shown {
                    <tr class="open"><td colspan="6"><History id={resource.id.clone()} /></td></tr>
                }
                </>
            }
        })
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("pool.title") }</h1>
                    <p class="muted">{ app.t("pool.subtitle") }</p>
                </div>
            </div>
            { match &*counts {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(counts) => html! { <PoolCounts counts={counts.clone()} /> },
            } }
            if app.is_admin() { <ImportForm on_done={reload.clone()} /> }

            <h2>{ app.t("pool.list") }</h2>
            <form class="toolbar" onsubmit={on_filter} data-testid="resource-filters">
                <select aria-label={app.t("pool.type")} id="pool-filter-type" onchange={on_type}>
                    <option value="" selected={draft.resource_type.is_none()}>{ app.t("pool.all_types") }</option>
                    { for ResourceType::ALL.into_iter().map(|t| html! {
                        <option value={t.as_str()} selected={draft.resource_type == Some(t)}>{ type_label(&app, t) }</option>
                    }) }
                </select>
                <select aria-label={app.t("pool.state")} id="pool-filter-state" onchange={on_state}>
                    <option value="" selected={draft.state.is_none()}>{ app.t("pool.all_states") }</option>
                    { for ResourceState::ALL.into_iter().map(|s| html! {
                        <option value={s.as_str()} selected={draft.state == Some(s)}>{ state_text(&app, Some(s)) }</option>
                    }) }
                </select>
                <input class="grow" type="search" id="pool-filter-value" placeholder={app.t("pool.value_search")}
                       aria-label={app.t("pool.value_search")} value={(*value).clone()} oninput={bind(&value)} />
                <button class="btn" type="submit">{ app.t("filter") }</button>
            </form>
            if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
            <PagedTable<ResourceFilter> query={(*applied).clone()} reload={*list_generation} empty={app.t("pool.empty")}
                testid="resources" {row}
                head={html! { <>
                    <th>{ app.t("pool.value") }</th><th>{ app.t("pool.type") }</th>
                    <th>{ app.t("pool.state") }</th><th>{ app.t("pool.license") }</th>
                    <th>{ app.t("pool.updated") }</th><th class="actions"></th>
                </> }} />
            if let Some(resource) = &*quarantining {
                <QuarantineDialog resource={resource.clone()} on_done={on_quarantined} on_cancel={on_close_quarantine} />
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct PoolCountsProps {
    counts: Vec<PoolCount>,
}

#[function_component]
fn PoolCounts(props: &PoolCountsProps) -> Html {
    let app = use_app();
    html! {
        <div class="pool-cards">
            { for ResourceType::ALL.into_iter().map(|t| {
                let count = props.counts.iter().find(|c| c.resource_type == t);
                let number = |f: fn(&PoolCount) -> i32| count.map(f).unwrap_or(0);
                html! {
                    <div class="card pool-card" data-testid={format!("pool-{}", t.as_str())}>
                        <h3>{ type_label(&app, t) }</h3>
                        <div class="pool-total">{ number(|c| c.total) }</div>
                        <dl class="pool-states">
                            <div><dt>{ app.t("pool.available") }</dt><dd data-state="AVAILABLE">{ number(|c| c.available) }</dd></div>
                            <div><dt>{ app.t("pool.allocated") }</dt><dd data-state="ALLOCATED">{ number(|c| c.allocated) }</dd></div>
                            <div><dt>{ app.t("pool.quarantined") }</dt><dd data-state="QUARANTINED">{ number(|c| c.quarantined) }</dd></div>
                        </dl>
                    </div>
                }
            }) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ImportFormProps {
    on_done: Callback<()>,
}

/// Pasted values of one type, imported together; the report says what became of each.
#[function_component]
fn ImportForm(props: &ImportFormProps) -> Html {
    let app = use_app();
    let resource_type = use_state(|| ResourceType::Domain);
    let text = use_state(String::new);
    let report = use_state(|| None::<ImportReport>);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let on_text = {
        let text = text.clone();
        Callback::from(move |event: InputEvent| text.set(input_value(&event)))
    };
    let onsubmit = {
        let (resource_type, text, report, error, busy) =
            (resource_type.clone(), text.clone(), report.clone(), error.clone(), busy.clone());
        let on_done = props.on_done.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let values = resources::split_values(&text);
            let (resource_type, text, report, error, busy, on_done) =
                (*resource_type, text.clone(), report.clone(), error.clone(), busy.clone(), on_done.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = resources::import(resource_type, values).await;
                busy.set(false);
                match result {
                    Ok(done) => {
                        error.set(None);
                        if done.invalid.is_empty() && done.duplicates.is_empty() {
                            text.set(String::new());
                        }
                        report.set(Some(done));
                        on_done.emit(());
                    }
                    Err(err) => error.set(Some(err)),
                }
            });
        })
    };
    let empty = resources::split_values(&text).is_empty();

    html! {
        <form class="card stack" {onsubmit} novalidate=true data-testid="import-form">
            <h2>{ app.t("pool.import") }</h2>
            <p class="muted">{ app.t("pool.import_help") }</p>
            if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
            <div class="row align-start">
                <Field label={app.t("pool.type")} id="import-type">
                    <TypeSelect id="import-type" value={resource_type.clone()} />
                </Field>
                <div class="grow">
                    <Field label={app.t("pool.values")} id="import-values">
                        <textarea id="import-values" rows="4" value={(*text).clone()} oninput={on_text}
                                  placeholder={match *resource_type {
                                      ResourceType::Domain => "example.com\nshop.example.org",
                                      ResourceType::Ipv4 => "192.0.2.10\n198.51.100.7",
                                      ResourceType::Phone => "+49 30 1234567\n+1 202 555 0143",
                                  }} />
                    </Field>
                </div>
            </div>
            <div class="row end">
                <button class="btn btn-primary" type="submit" disabled={*busy || empty}>{ app.t("pool.import_submit") }</button>
            </div>
            if let Some(report) = &*report {
                <div class="import-report" data-testid="import-report">
                    <div class="row">
                        <Badge tone="green" text={format!("{} {}", report.added.len(), app.t("pool.added"))} />
                        <Badge tone="grey" text={format!("{} {}", report.duplicates.len(), app.t("pool.duplicates"))} />
                        <Badge tone="red" text={format!("{} {}", report.invalid.len(), app.t("pool.invalid"))} />
                    </div>
                    if !report.duplicates.is_empty() {
                        <p class="small"><span class="muted">{ app.t("pool.duplicates") }{ ": " }</span>
                            <span class="mono">{ report.duplicates.join(", ") }</span></p>
                    }
                    if !report.invalid.is_empty() {
                        <ul class="detail-list" data-testid="import-invalid">
                            { for report.invalid.iter().map(|v| html! {
                                <li><span class="mono strong">{ v.value.clone() }</span><span class="muted">{ v.reason.clone() }</span></li>
                            }) }
                        </ul>
                    }
                </div>
            }
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct HistoryProps {
    id: String,
}

/// Every move of one resource: who, when, from which state to which, and the license.
#[function_component]
fn History(props: &HistoryProps) -> Html {
    let app = use_app();
    let (moves, _) = use_load(props.id.clone(), |id: String| async move { resources::history(&id).await });
    let lang = app.lang;
    let describe =
        |m: &ResourceMove| format!("{} → {}", state_text(&app, m.from_state), state_text(&app, Some(m.to_state)));
    match &*moves {
        Load::Loading => html! { <Loading /> },
        Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
        Load::Loaded(moves) => html! {
            <ol class="history-list" data-testid="resource-history">
                { for moves.iter().map(|m| html! {
                    <li>
                        <span class="nowrap">{ lang.datetime(&m.occurred_at) }</span>
                        <span class="strong">{ describe(m) }</span>
                        if let Some(license_id) = &m.license_id {
                            <Link<Route> to={Route::License { id: license_id.clone() }}>{ app.t("pool.license") }</Link<Route>>
                        }
                        if let Some(reason) = &m.reason { <span>{ format!("“{reason}”") }</span> }
                        <span class="muted">{ m.actor_name.clone() }</span>
                    </li>
                }) }
            </ol>
        },
    }
}

#[derive(Properties, PartialEq)]
struct QuarantineProps {
    resource: Resource,
    on_done: Callback<()>,
    on_cancel: Callback<()>,
}

/// Asks for the reason before taking a resource out of circulation.
#[function_component]
fn QuarantineDialog(props: &QuarantineProps) -> Html {
    let app = use_app();
    let form = use_form(String::new);
    let onsubmit = {
        let id = props.resource.id.clone();
        let save = move |reason: String| {
            let id = id.clone();
            async move { resources::quarantine(&id, reason.trim()).await }
        };
        form.submit(save, props.on_done.reform(|_: Resource| ()))
    };
    let cancel = props.on_cancel.reform(|_: MouseEvent| ());
    let message = if props.resource.license.is_some() {
        app.t("pool.quarantine_allocated")
    } else {
        app.t("pool.quarantine_message")
    };
    html! {
        <Modal on_close={props.on_cancel.clone()} busy={form.busy()}>
            <form class="modal" role="dialog" aria-modal="true" aria-labelledby="quarantine-title" {onsubmit} novalidate=true>
                <h2 id="quarantine-title">{ app.t("pool.quarantine_title") }</h2>
                <p>{ message }{ " " }<span class="mono strong">{ props.resource.value.clone() }</span></p>
                if let Some(err) = form.general_error() { <ErrorBanner error={err} /> }
                <Field label={app.t("pool.reason")} id="quarantine-reason" error={form.field_error("reason")}>
                    <input id="quarantine-reason" value={form.values().clone()} oninput={form.bind(|reason, v| *reason = v)} />
                </Field>
                <div class="modal-actions">
                    <button class="btn" type="button" onclick={cancel} disabled={form.busy()}>{ app.t("cancel") }</button>
                    <button class="btn btn-danger" type="submit" disabled={form.busy()}>{ app.t("pool.quarantine") }</button>
                </div>
            </form>
        </Modal>
    }
}
