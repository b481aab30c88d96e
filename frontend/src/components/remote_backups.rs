//! "Restore from the remote" on the Backups page: the git remote's archives, fetched when the
//! card is shown, each restorable (after a confirmation) even when this server's catalog has
//! never seen it, as on a new machine.

use yew::prelude::*;

use crate::components::confirm::ConfirmDialog;
use crate::components::feedback::{Empty, ErrorBanner, Loading};
use crate::hooks::{use_app, use_confirm, use_load, Load};
use crate::pages::backups::human_size;
use crate::services::backups::{self, RemoteBackup};

#[derive(Properties, PartialEq)]
pub struct RemoteBackupsProps {
    /// Called after a restore (the page reloads its lists).
    pub on_restored: Callback<()>,
}

#[function_component]
pub fn RemoteBackups(props: &RemoteBackupsProps) -> Html {
    let app = use_app();
    let (list, reload) = use_load((), |()| backups::remote_backups());
    let restored = use_state(|| None::<String>);
    let restoring = use_confirm(
        {
            let restored = restored.clone();
            move |archive: RemoteBackup| {
                let restored = restored.clone();
                async move {
                    let done = backups::restore_remote_backup(&archive.file_name).await?;
                    restored.set(Some(done.file_name));
                    Ok(())
                }
            }
        },
        {
            let (reload, on_restored) = (reload.clone(), props.on_restored.clone());
            Callback::from(move |()| {
                reload.emit(());
                on_restored.emit(());
            })
        },
    );
    let on_refresh = reload.reform(|_: MouseEvent| ());

    html! {
        <div class="card" data-testid="remote-backups">
            <div class="page-header">
                <h2>{ app.t("backups.remote_title") }</h2>
                <button class="btn btn-small" onclick={on_refresh}>{ app.t("backups.remote_refresh") }</button>
            </div>
            <p class="muted">{ app.t("backups.remote_subtitle") }</p>
            if let Some(err) = &restoring.error { <ErrorBanner error={err.clone()} /> }
            if let Some(name) = &*restored {
                <div class="alert alert-success" role="status">{ format!("{} {name}", app.t("backups.restored")) }</div>
            }
            { match &*list {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(archives) if archives.is_empty() => html! { <Empty message={app.t("backups.remote_empty")} /> },
                Load::Loaded(archives) => html! {
                    <div class="table-wrap">
                    <table class="table" data-testid="remote-backup-list">
                        <thead><tr>
                            <th>{ app.t("backups.file") }</th><th>{ app.t("backups.size") }</th>
                            <th>{ "SHA-256" }</th><th class="actions"></th>
                        </tr></thead>
                        <tbody>
                        { for archives.iter().map(|archive| html! {
                            <tr key={archive.file_name.clone()}>
                                <td class="mono small">
                                    { archive.file_name.clone() }
                                    if archive.backup.is_none() {
                                        <div class="muted small">{ app.t("backups.not_in_catalog") }</div>
                                    }
                                </td>
                                <td class="nowrap">{ human_size(archive.size_bytes) }</td>
                                <td class="mono small" title={archive.sha256.clone().unwrap_or_default()}>
                                    { archive.sha256.as_deref().map(|s| format!("{}…", &s[..s.len().min(12)])).unwrap_or_else(|| "–".into()) }
                                </td>
                                <td class="actions">
                                    if archive.sha256.is_some() {
                                        <button class="btn btn-small btn-danger-outline" disabled={restoring.busy}
                                            aria-label={format!("{} {}", app.t("backups.restore"), archive.file_name)}
                                            onclick={restoring.ask::<MouseEvent>(archive.clone())}>{ app.t("backups.restore") }</button>
                                    } else {
                                        <span class="muted small">{ app.t("backups.no_checksum") }</span>
                                    }
                                </td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                    </div>
                },
            } }
            if let Some(archive) = &*restoring.pending {
                <ConfirmDialog
                    title={app.t("backups.restore")}
                    message={format!("{} {}", app.t("backups.restore_message"), archive.file_name)}
                    confirm_label={app.t("backups.restore_confirm")} busy={restoring.busy}
                    on_confirm={restoring.on_confirm.clone()} on_cancel={restoring.on_cancel.clone()} />
            }
        </div>
    }
}
