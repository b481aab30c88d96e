//! Backups (admins only): the list newest first with size, checksum and push state; take one
//! now; verify one; restore one after a confirmation.

use yew::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Badge, Empty, ErrorBanner, Loading};
use crate::hooks::{use_app, use_load, Load};
use crate::services::backups::{self, Backup, BackupKind, BackupStatus, PushStatus};
use crate::services::ApiError;

/// What the admin asked to do with one backup.
#[derive(Clone, PartialEq)]
enum Pending {
    Restore(Backup),
}

fn human_size(bytes: i64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < units.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", units[unit])
    }
}

#[function_component]
pub fn BackupsPage() -> Html {
    let app = use_app();
    let (list, reload) = use_load((), |()| backups::backups());
    let error = use_state(|| None::<ApiError>);
    let notice = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let pending = use_state(|| None::<Pending>);

    if !app.is_admin() {
        return html! { <section class="page"><ErrorBanner error={ApiError::Forbidden(String::new())} /></section> };
    }
    let lang = app.lang;

    let on_create = {
        let (error, notice, busy, reload) = (error.clone(), notice.clone(), busy.clone(), reload.clone());
        let done = app.t("backups.created");
        Callback::from(move |_: MouseEvent| {
            let (error, notice, busy, reload) = (error.clone(), notice.clone(), busy.clone(), reload.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = backups::create_backup().await;
                busy.set(false);
                match result {
                    Ok(backup) => {
                        error.set(None);
                        notice.set(Some(format!("{done} {}", backup.file_name)));
                    }
                    Err(err) => error.set(Some(err)),
                }
                reload.emit(());
            });
        })
    };
    let verify = |backup: &Backup| {
        let (error, notice, busy, reload) = (error.clone(), notice.clone(), busy.clone(), reload.clone());
        let (id, name) = (backup.id.clone(), backup.file_name.clone());
        let (ok_text, bad_text) = (app.t("backups.verified"), app.t("backups.verify_failed"));
        Callback::from(move |_: MouseEvent| {
            let (error, notice, busy, reload, id, name) =
                (error.clone(), notice.clone(), busy.clone(), reload.clone(), id.clone(), name.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = backups::verify_backup(&id).await;
                busy.set(false);
                match result {
                    Ok(check) if check.ok => notice.set(Some(format!("{ok_text} {name}"))),
                    Ok(check) => notice.set(Some(format!("{bad_text} {name}: {}", check.problem.unwrap_or_default()))),
                    Err(err) => error.set(Some(err)),
                }
                reload.emit(());
            });
        })
    };
    let on_confirm = {
        let (pending, error, notice, busy, reload) =
            (pending.clone(), error.clone(), notice.clone(), busy.clone(), reload.clone());
        let done = app.t("backups.restored");
        Callback::from(move |()| {
            let Some(Pending::Restore(backup)) = (*pending).clone() else { return };
            let (pending, error, notice, busy, reload) =
                (pending.clone(), error.clone(), notice.clone(), busy.clone(), reload.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = backups::restore_backup(&backup.id).await;
                busy.set(false);
                pending.set(None);
                match result {
                    Ok(restored) => {
                        error.set(None);
                        notice.set(Some(format!("{done} {}", restored.file_name)));
                    }
                    Err(err) => error.set(Some(err)),
                }
                reload.emit(());
            });
        })
    };
    let on_cancel = {
        let pending = pending.clone();
        Callback::from(move |()| pending.set(None))
    };

    let status_badge = |backup: &Backup| match backup.status {
        BackupStatus::Completed => html! { <Badge tone="green" text={app.t("backups.completed")} /> },
        BackupStatus::Running => html! { <Badge tone="amber" text={app.t("backups.running")} /> },
        BackupStatus::Failed => html! { <Badge tone="red" text={app.t("backups.failed")} /> },
    };
    let push_badge = |backup: &Backup| match backup.push_status {
        PushStatus::Pushed => html! { <Badge tone="green" text={app.t("backups.pushed")} /> },
        PushStatus::Pending => html! { <Badge tone="amber" text={app.t("backups.push_pending")} /> },
        PushStatus::Failed => html! {
            <span title={backup.push_error.clone().unwrap_or_default()}>
                <Badge tone="red" text={app.t("backups.push_failed")} />
            </span>
        },
        PushStatus::NotConfigured => html! { <span class="muted">{ app.t("backups.no_remote") }</span> },
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("backups.title") }</h1>
                    <p class="muted">{ app.t("backups.subtitle") }</p>
                </div>
                <button class="btn btn-primary" data-testid="create-backup" onclick={on_create} disabled={*busy}>
                    { if *busy { app.t("backups.working") } else { app.t("backups.create") } }
                </button>
            </div>
            if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
            if let Some(text) = &*notice { <div class="alert alert-success" role="status">{ text.clone() }</div> }
            { match &*list {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(page) if page.nodes.is_empty() => html! { <Empty message={app.t("backups.empty")} /> },
                Load::Loaded(page) => html! {
                    <div class="table-wrap">
                    <table class="table" data-testid="backups">
                        <thead><tr>
                            <th>{ app.t("backups.created_at") }</th><th>{ app.t("backups.kind") }</th>
                            <th>{ app.t("backups.status") }</th><th>{ app.t("backups.size") }</th>
                            <th>{ "SHA-256" }</th><th>{ app.t("backups.created_by") }</th>
                            <th>{ app.t("backups.remote") }</th><th class="actions"></th>
                        </tr></thead>
                        <tbody>
                        { for page.nodes.iter().map(|backup| {
                            let restorable = backup.status == BackupStatus::Completed && backup.pruned_at.is_none();
                            let ask_restore = {
                                let (pending, backup) = (pending.clone(), backup.clone());
                                Callback::from(move |_: MouseEvent| pending.set(Some(Pending::Restore(backup.clone()))))
                            };
                            html! {
                                <tr>
                                    <td>
                                        { lang.datetime(&backup.created_at) }
                                        <div class="mono muted small">{ backup.file_name.clone() }</div>
                                    </td>
                                    <td>{ if backup.kind == BackupKind::Scheduled { app.t("backups.scheduled") } else { app.t("backups.manual") } }</td>
                                    <td title={backup.error.clone().unwrap_or_default()}>{ status_badge(backup) }</td>
                                    <td class="nowrap">{ backup.size_bytes.map(human_size).unwrap_or_else(|| "–".into()) }</td>
                                    <td class="mono small" title={backup.sha256.clone().unwrap_or_default()}>
                                        { backup.sha256.as_deref().map(|s| format!("{}…", &s[..s.len().min(12)])).unwrap_or_else(|| "–".into()) }
                                    </td>
                                    <td>{ backup.created_by.clone() }</td>
                                    <td>{ push_badge(backup) }</td>
                                    <td class="actions">
                                        if restorable {
                                            <button class="btn btn-small" onclick={verify(backup)} disabled={*busy}>{ app.t("backups.verify") }</button>
                                            <button class="btn btn-small btn-danger-outline" onclick={ask_restore} disabled={*busy}>{ app.t("backups.restore") }</button>
                                        }
                                    </td>
                                </tr>
                            }
                        }) }
                        </tbody>
                    </table>
                    </div>
                },
            } }
            if let Some(Pending::Restore(backup)) = &*pending {
                <ConfirmDialog
                    title={app.t("backups.restore")}
                    message={format!("{} {} ({})", app.t("backups.restore_message"), backup.file_name, lang.datetime(&backup.created_at))}
                    confirm_label={app.t("backups.restore_confirm")} busy={*busy} {on_confirm} {on_cancel} />
            }
        </section>
    }
}
