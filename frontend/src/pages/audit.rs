//! The audit log: filters, paging, and old and new values side by side.

use yew::prelude::*;

use crate::components::feedback::{Empty, ErrorBanner, Loading};
use crate::components::field::{bind, Field};
use crate::hooks::{use_app, use_load, Load};
use crate::services::audit::{self, AuditEntry, AuditFilter};

fn pretty(value: &Option<serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => "—".into(),
        Some(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
    }
}

#[function_component]
pub fn AuditPage() -> Html {
    let app = use_app();
    let entity_type = use_state(String::new);
    let action = use_state(String::new);
    let actor = use_state(String::new);
    let from = use_state(String::new);
    let to = use_state(String::new);
    let filter = use_state(AuditFilter::default);
    // Cursors of the pages before the current one, to go back.
    let cursors = use_state(Vec::<Option<String>>::new);
    let after = use_state(|| None::<String>);
    let expanded = use_state(|| None::<String>);
    let (entries, _) = use_load(((*filter).clone(), (*after).clone()), |(filter, after)| async move {
        audit::audit_log(&filter, after.as_deref()).await
    });

    let onsubmit = {
        let (entity_type, action, actor, from, to, filter, cursors, after) = (
            entity_type.clone(),
            action.clone(),
            actor.clone(),
            from.clone(),
            to.clone(),
            filter.clone(),
            cursors.clone(),
            after.clone(),
        );
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            filter.set(AuditFilter {
                entity_type: (*entity_type).clone(),
                action: (*action).clone(),
                actor: (*actor).clone(),
                from: (*from).clone(),
                to: (*to).clone(),
            });
            cursors.set(Vec::new());
            after.set(None);
        })
    };
    let lang = app.lang;

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("audit.title") }</h1>
                    <p class="muted">{ app.t("audit.subtitle") }</p>
                </div>
            </div>
            <form class="card filters" {onsubmit}>
                <Field label={app.t("audit.entity")} id="audit-entity">
                    <input id="audit-entity" placeholder="license, session, api_key…" value={(*entity_type).clone()} oninput={bind(&entity_type)} />
                </Field>
                <Field label={app.t("audit.action")} id="audit-action">
                    <input id="audit-action" placeholder="license.created" value={(*action).clone()} oninput={bind(&action)} />
                </Field>
                <Field label={app.t("audit.actor")} id="audit-actor">
                    <input id="audit-actor" value={(*actor).clone()} oninput={bind(&actor)} />
                </Field>
                <Field label={app.t("audit.from")} id="audit-from">
                    <input id="audit-from" type="date" value={(*from).clone()} oninput={bind(&from)} />
                </Field>
                <Field label={app.t("audit.to")} id="audit-to">
                    <input id="audit-to" type="date" value={(*to).clone()} oninput={bind(&to)} />
                </Field>
                <div class="filters-submit"><button class="btn btn-primary" type="submit">{ app.t("filter") }</button></div>
            </form>
            { match &*entries {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(connection) if connection.nodes.is_empty() => html! { <Empty message={app.t("audit.empty")} /> },
                Load::Loaded(connection) => {
                    let previous = {
                        let (cursors, after) = (cursors.clone(), after.clone());
                        Callback::from(move |_: MouseEvent| {
                            let mut stack = (*cursors).clone();
                            let last = stack.pop().flatten();
                            cursors.set(stack);
                            after.set(last);
                        })
                    };
                    let next = {
                        let (cursors, after, end) = (cursors.clone(), after.clone(), connection.page_info.end_cursor.clone());
                        Callback::from(move |_: MouseEvent| {
                            let mut stack = (*cursors).clone();
                            stack.push((*after).clone());
                            cursors.set(stack);
                            after.set(end.clone());
                        })
                    };
                    html! {
                        <>
                            <div class="table-wrap">
                            <table class="table audit" data-testid="audit-log">
                                <thead><tr>
                                    <th>{ app.t("audit.when") }</th><th>{ app.t("audit.action") }</th><th>{ app.t("audit.entity") }</th>
                                    <th>{ app.t("audit.actor") }</th><th>{ app.t("audit.ip") }</th><th></th>
                                </tr></thead>
                                <tbody>
                                { for connection.nodes.iter().map(|entry| entry_rows(&app, entry, &expanded, lang)) }
                                </tbody>
                            </table>
                            </div>
                            <div class="pager">
                                <span class="muted">{ format!("{} {}", connection.total_count, app.t("pager.total")) }</span>
                                <div class="pager-buttons">
                                    <button class="btn btn-small" disabled={cursors.is_empty()} onclick={previous}>{ "‹ " }{ app.t("pager.previous") }</button>
                                    <button class="btn btn-small" disabled={!connection.page_info.has_next_page} onclick={next}>{ app.t("pager.next") }{ " ›" }</button>
                                </div>
                            </div>
                        </>
                    }
                }
            } }
        </section>
    }
}

fn entry_rows(
    app: &crate::state::AppContext,
    entry: &AuditEntry,
    expanded: &UseStateHandle<Option<String>>,
    lang: crate::i18n::Lang,
) -> Html {
    let open = expanded.as_deref() == Some(entry.id.as_str());
    let toggle = {
        let (expanded, id) = (expanded.clone(), entry.id.clone());
        Callback::from(move |_: MouseEvent| expanded.set(if open { None } else { Some(id.clone()) }))
    };
    html! {
        <>
            <tr key={entry.id.clone()} class={classes!(open.then_some("open"))} data-action={entry.action.clone()}>
                <td class="nowrap">{ lang.datetime(&entry.occurred_at) }</td>
                <td class="mono">{ entry.action.clone() }</td>
                <td>{ entry.entity_type.clone() }<div class="muted mono small">{ entry.entity_id.clone().unwrap_or_default() }</div></td>
                <td>{ entry.actor_name.clone() }<div class="muted small">{ entry.actor_type.clone() }</div></td>
                <td class="mono small">{ entry.client_ip.clone().unwrap_or_else(|| "–".into()) }</td>
                <td class="actions"><button class="btn btn-small btn-ghost" onclick={toggle} aria-expanded={open.to_string()}>
                    { if open { app.t("audit.hide") } else { app.t("audit.changes") } }
                </button></td>
            </tr>
            if open {
                <tr class="diff-row"><td colspan="6">
                    <div class="diff">
                        <div><div class="label">{ app.t("audit.old") }</div><pre>{ pretty(&entry.old_values) }</pre></div>
                        <div><div class="label">{ app.t("audit.new") }</div><pre>{ pretty(&entry.new_values) }</pre></div>
                    </div>
                </td></tr>
            }
        </>
    }
}
