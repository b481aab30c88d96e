//! Backups (admins only): how they are scheduled, pushed and kept; the list newest first with
//! size, checksum and push state; take one now; verify or restore (after a confirmation) every
//! backup whose archive the server still has, locally or in its clone of the git remote.
//! Backups and restores run on the server as jobs: while one runs (or a push to the git remote
//! follows it), the page reloads the list every [`POLL_MS`] until it has finished, and taking or
//! restoring another waits for the job.

use chrono::Timelike;
use gloo_timers::callback::Timeout;
use yew::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Badge, Empty, ErrorBanner, Loading};
use crate::components::remote_backups::RemoteBackups;
use crate::hooks::{use_app, use_load, Load};
use crate::i18n::Fixed;
use crate::services::backups::{self, Backup, BackupKind, BackupSchedule, BackupStatus, PushStatus};
use crate::services::ApiError;

/// How often the list is reloaded while a backup or restore runs.
const POLL_MS: u32 = 1500;

/// What the admin asked to do with one backup.
#[derive(Clone, PartialEq)]
enum Pending {
    Restore(Backup),
}

pub(crate) fn human_size(bytes: i64) -> String {
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
        format!("{} {}", Fixed(size, 1), units[unit])
    }
}

/// The schedule, the git remote with its last push, and the retention.
#[derive(Properties, PartialEq)]
struct SetupProps {
    schedule: BackupSchedule,
}

#[function_component]
fn BackupSetup(props: &SetupProps) -> Html {
    let app = use_app();
    let lang = app.lang;
    let schedule = &props.schedule;
    let daily = match (schedule.enabled, schedule.time, &schedule.timezone) {
        (true, Some(time), Some(zone)) => {
            html! { <>{ format!("{} {:02}:{:02} ({zone})", app.t("backups.daily_at"), time.hour(), time.minute()) }</> }
        }
        _ => html! { <Badge tone="grey" text={app.t("backups.schedule_off")} /> },
    };
    let mut retention = format!("{} {}", app.t("backups.newest"), schedule.retention_count);
    if let Some(days) = schedule.retention_days {
        retention.push_str(&format!(", {} {days} {}", app.t("backups.at_most"), app.t("backups.days_old")));
    }
    let last_push = |remote: &backups::GitRemote| match &remote.last_push {
        None => html! { <span class="muted">{ app.t("backups.never_pushed") }</span> },
        Some(push) => html! {
            <>
                { lang.datetime(&push.attempted_at) }{ " " }
                if push.ok {
                    <Badge tone="green" text={app.t("backups.pushed")} />
                } else {
                    <Badge tone="red" text={app.t("backups.push_failed")} />
                }
                if let Some(commit) = &push.commit {
                    <div class="mono small" title={commit.clone()}>{ &commit[..commit.len().min(12)] }</div>
                }
                if let Some(error) = &push.error {
                    <div class="small backup-push-error">{ error.clone() }</div>
                }
            </>
        },
    };
    html! {
        <div class="card" data-testid="backup-setup">
            <h2>{ app.t("backups.setup_title") }</h2>
            <dl class="facts">
                <div><dt>{ app.t("backups.schedule") }</dt><dd data-testid="backup-schedule">{ daily }</dd></div>
                <div><dt>{ app.t("backups.next_run") }</dt>
                    <dd>{ schedule.next_run_at.map(|at| lang.datetime(&at)).unwrap_or_else(|| "–".into()) }</dd></div>
                <div><dt>{ app.t("backups.retention") }</dt><dd>{ retention }</dd></div>
                <div class="backup-remote"><dt>{ app.t("backups.remote") }</dt>
                    <dd data-testid="backup-remote">
                        { match &schedule.git_remote {
                            Some(remote) => html! {
                                <><span class="mono">{ remote.url.clone() }</span>
                                <span class="muted">{ format!(" ({} {})", app.t("backups.branch"), remote.branch) }</span></>
                            },
                            None => html! { <span class="muted">{ app.t("backups.no_remote") }</span> },
                        } }
                    </dd></div>
                if let Some(remote) = &schedule.git_remote {
                    <div><dt>{ app.t("backups.last_push") }</dt><dd data-testid="backup-last-push">{ last_push(remote) }</dd></div>
                    <div><dt>{ app.t("backups.unpushed") }</dt><dd>{ remote.unpushed_count }</dd></div>
                }
            </dl>
        </div>
    }
}

#[function_component]
pub fn BackupsPage() -> Html {
    let app = use_app();
    let (list, reload_list) = use_load((), |()| backups::backups());
    let (schedule, reload_schedule) = use_load((), |()| backups::backup_schedule());
    // Taking, verifying or restoring a backup moves the list and the last push alike.
    let reload = Callback::from(move |()| {
        reload_list.emit(());
        reload_schedule.emit(());
    });
    let error = use_state(|| None::<ApiError>);
    let notice = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let pending = use_state(|| None::<Pending>);
    let job_running = matches!(&*list, Load::Loaded(page) if page.nodes.iter().any(Backup::job_running));
    let settling = matches!(&*list, Load::Loaded(page) if page.nodes.iter().any(Backup::settling));
    // Each poll moves `polls`, which sets the next one while a job (or the push after it) runs.
    let polls = use_state(|| 0_u32);
    {
        let (polls, reload) = (polls.clone(), reload.clone());
        use_effect_with((settling, *polls), move |(settling, _)| {
            let next = settling.then(|| {
                Timeout::new(POLL_MS, move || {
                    polls.set(polls.wrapping_add(1));
                    reload.emit(());
                })
            });
            move || drop(next)
        });
    }

    if !app.is_admin() {
        return html! { <section class="page"><ErrorBanner error={ApiError::Forbidden(String::new())} /></section> };
    }
    let lang = app.lang;

    let on_create = {
        let (error, notice, busy, reload) = (error.clone(), notice.clone(), busy.clone(), reload.clone());
        let done = app.t("backups.started");
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
        let done = app.t("backups.restore_started");
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
        BackupStatus::Running => html! {
            <span class="nowrap"><span class="spinner spinner-inline"></span><Badge tone="amber" text={app.t("backups.running")} /></span>
        },
        BackupStatus::Failed => html! { <Badge tone="red" text={app.t("backups.failed")} /> },
    };
    let restore_state = |backup: &Backup| match backup.restore_status {
        Some(BackupStatus::Running) => html! {
            <div class="small nowrap" data-testid="restore-running"><span class="spinner spinner-inline"></span>{ app.t("backups.restoring") }</div>
        },
        Some(BackupStatus::Failed) => html! {
            <div title={backup.restore_error.clone().unwrap_or_default()}><Badge tone="red" text={app.t("backups.restore_failed")} /></div>
        },
        Some(BackupStatus::Completed) => html! {
            <div class="muted small">
                { app.t("backups.last_restored") }{ " " }{ backup.restore_finished_at.map(|at| lang.datetime(&at)).unwrap_or_default() }
            </div>
        },
        None => html! {},
    };
    let kind_label = |kind: BackupKind| match kind {
        BackupKind::Manual => app.t("backups.manual"),
        BackupKind::Scheduled => app.t("backups.scheduled"),
        BackupKind::PreMigration => app.t("backups.pre_migration"),
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
                <button class="btn btn-primary" data-testid="create-backup" onclick={on_create} disabled={*busy || job_running}>
                    { if *busy { app.t("backups.working") } else { app.t("backups.create") } }
                </button>
            </div>
            if let Some(err) = &*error { <ErrorBanner error={err.clone()} /> }
            if let Some(text) = &*notice { <div class="alert alert-success" role="status">{ text.clone() }</div> }
            if job_running {
                <div class="alert alert-warning" role="status" data-testid="backup-job-running">
                    <span class="spinner spinner-inline"></span>{ app.t("backups.job_running") }
                </div>
            }
            { match &*schedule {
                Load::Loading => html! {},
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(schedule) => html! {
                    <>
                        <BackupSetup schedule={schedule.clone()} />
                        if schedule.git_remote.is_some() { <RemoteBackups on_restored={reload.clone()} /> }
                    </>
                },
            } }
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
                                    <td>{ kind_label(backup.kind) }</td>
                                    <td title={backup.error.clone().unwrap_or_default()}>{ status_badge(backup) }</td>
                                    <td class="nowrap">{ backup.size_bytes.map(human_size).unwrap_or_else(|| "–".into()) }</td>
                                    <td class="mono small" title={backup.sha256.clone().unwrap_or_default()}>
                                        { backup.sha256.as_deref().map(|s| format!("{}…", &s[..s.len().min(12)])).unwrap_or_else(|| "–".into()) }
                                    </td>
                                    <td>{ backup.created_by.clone() }</td>
                                    <td>
                                        { push_badge(backup) }
                                        if backup.pruned_at.is_some() {
                                            <div class="muted small">{ app.t("backups.pruned") }</div>
                                        }
                                    </td>
                                    <td class="actions">
                                        { restore_state(backup) }
                                        if backup.restorable {
                                            <button class="btn btn-small" onclick={verify(backup)} disabled={*busy}>{ app.t("backups.verify") }</button>
                                            <button class="btn btn-small btn-danger-outline" onclick={ask_restore} disabled={*busy || job_running}>{ app.t("backups.restore") }</button>
                                        } else if backup.status == BackupStatus::Completed {
                                            <span class="muted small">{ app.t("backups.not_restorable") }</span>
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
