//! Backups in GraphQL: listed newest first (analysts and admins); created, verified and restored
//! by admins, who also see how backups are scheduled, pushed and kept, and what the git remote
//! holds. A backup is named by its id or its archive's file name. A restore must be confirmed
//! explicitly with `confirm: true`.

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::BackupSettings;
use super::{git_remote, schedule, source, Backup, BackupKind, BackupStatus, PushStatus};
use crate::auth::{caller, Permission, Require};
use crate::error::{Error, GqlResultExt};
use crate::graphql::ids::Id;
use crate::graphql::pagination::{paginate, ListConnection, PageArgs};
use sqlx::PgPool;
use std::sync::Arc;

#[Object]
impl Backup {
    async fn id(&self) -> Id {
        Id(self.id)
    }
    /// The archive's file name, in the backup directory and on the git remote.
    async fn file_name(&self) -> &str {
        &self.file_name
    }
    async fn kind(&self) -> BackupKind {
        self.kind
    }
    /// RUNNING while the dump runs (`createBackup` returns at once), then COMPLETED or FAILED.
    async fn status(&self) -> BackupStatus {
        self.status
    }
    /// The local day a scheduled backup was taken for.
    async fn scheduled_for(&self) -> Option<NaiveDate> {
        self.scheduled_for
    }
    /// Size of the compressed archive in bytes.
    async fn size_bytes(&self) -> Option<i64> {
        self.size_bytes
    }
    /// SHA-256 of the archive, lowercase hex.
    async fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }
    /// Who took it: the API key or user, `cli:<user>`, or `system` for scheduled backups.
    async fn created_by(&self) -> &str {
        &self.created_by
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at
    }
    /// Why the backup failed.
    async fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    async fn push_status(&self) -> PushStatus {
        self.push_status
    }
    async fn push_attempts(&self) -> i32 {
        self.push_attempts
    }
    async fn pushed_at(&self) -> Option<DateTime<Utc>> {
        self.pushed_at
    }
    /// The git commit that carries the archive on the remote.
    async fn push_commit(&self) -> Option<&str> {
        self.push_commit.as_deref()
    }
    /// Why the last push failed; the push is retried.
    async fn push_error(&self) -> Option<&str> {
        self.push_error.as_deref()
    }
    /// When the last push of this backup was attempted, whatever its outcome.
    async fn push_attempted_at(&self) -> Option<DateTime<Utc>> {
        self.push_attempted_at
    }
    /// When the local copy was deleted by the retention setting (the remote keeps it).
    async fn pruned_at(&self) -> Option<DateTime<Utc>> {
        self.pruned_at
    }
    /// Whether this server can still restore the backup: it completed and its archive is here,
    /// in the backup directory or, once pruned there, in the clone of the git remote.
    /// `verifyBackup` checks the archive itself.
    async fn restorable(&self, ctx: &Context<'_>) -> bool {
        super::restorable(ctx.data_unchecked::<Arc<BackupSettings>>(), self)
    }
    /// The last restore of this backup: RUNNING while it runs (`restoreBackup` returns at once),
    /// then COMPLETED or FAILED (see `restoreError`); null if it was never restored.
    async fn restore_status(&self) -> Option<BackupStatus> {
        self.restore_status
    }
    async fn restore_started_at(&self) -> Option<DateTime<Utc>> {
        self.restore_started_at
    }
    async fn restore_finished_at(&self) -> Option<DateTime<Utc>> {
        self.restore_finished_at
    }
    /// Who asked for the last restore.
    async fn restore_requested_by(&self) -> Option<&str> {
        self.restore_requested_by.as_deref()
    }
    /// Why the last restore failed; a failed restore changed nothing.
    async fn restore_error(&self) -> Option<&str> {
        self.restore_error.as_deref()
    }
}

/// How backups are taken, pushed and kept on this server.
#[derive(SimpleObject)]
pub struct BackupSchedule {
    /// Whether a backup is taken daily (`BACKUP_SCHEDULE`).
    pub enabled: bool,
    /// The time of day of the daily backup, in `timezone`; null when disabled.
    pub time: Option<NaiveTime>,
    /// The time zone of `time` (an IANA name or UTC); null when disabled.
    pub timezone: Option<String>,
    /// When the next scheduled backup is due; null when disabled.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Local copies kept: the newest this many...
    pub retention_count: u32,
    /// ...and, when set, none older than this many days.
    pub retention_days: Option<u32>,
    /// The git remote every backup is pushed to; null when none is configured.
    pub git_remote: Option<BackupGitRemote>,
}

/// The git remote backups are pushed to.
#[derive(SimpleObject)]
pub struct BackupGitRemote {
    /// The remote's address with any credentials replaced by `***`.
    pub url: String,
    pub branch: String,
    /// Completed backups not on the remote yet (pending, or their push failed and is retried).
    pub unpushed_count: i64,
    /// The newest push attempt; null before the first.
    pub last_push: Option<BackupPush>,
}

/// One push attempt to the git remote.
#[derive(SimpleObject)]
pub struct BackupPush {
    pub attempted_at: DateTime<Utc>,
    /// Whether it reached the remote.
    pub ok: bool,
    /// The commit on the remote that carries the backups, when it did.
    pub commit: Option<String>,
    /// Why it failed, when it did (retried).
    pub error: Option<String>,
}

/// An archive on the git remote, which may be unknown to this server's catalog (a new machine).
#[derive(SimpleObject)]
pub struct RemoteBackup {
    /// The archive's file name under `backups/` on the remote's branch.
    pub file_name: String,
    pub size_bytes: i64,
    /// The SHA-256 of the `.sha256` file beside it; null when there is none (then it cannot be
    /// restored).
    pub sha256: Option<String>,
    /// This server's catalog entry for it, if it has one.
    pub backup: Option<Backup>,
}

impl RemoteBackup {
    async fn with_catalog(pool: &PgPool, archive: git_remote::RemoteArchive) -> crate::error::Result<Self> {
        let backup = source::find_by_id_or_name(pool, &archive.file_name, "fileName").await?;
        Ok(RemoteBackup {
            file_name: archive.file_name,
            size_bytes: archive.size_bytes,
            sha256: archive.sha256,
            backup,
        })
    }
}

/// The git remote could not be read (unreachable, no such branch): an operational state the
/// admin can act on, shown with git's (masked) message.
fn remote_unavailable(err: anyhow::Error) -> Error {
    Error::Refused {
        field: "fileName".into(),
        reason: "GIT_REMOTE_UNAVAILABLE".into(),
        message: format!("the git remote cannot be read: {err:#}"),
    }
}

/// A restore replaces every table's contents: the caller says so explicitly.
fn require_confirmation(confirm: bool) -> crate::error::Result<()> {
    if confirm {
        return Ok(());
    }
    Err(Error::bad_input("confirm", "restoring replaces every table's contents: pass confirm: true to go ahead"))
}

/// The result of checking a backup's archive.
#[derive(SimpleObject)]
pub struct BackupVerification {
    pub backup: Backup,
    /// The archive is here, matches its recorded size and SHA-256, and `pg_restore` reads it.
    pub ok: bool,
    /// What is wrong when `ok` is false.
    pub problem: Option<String>,
}

#[derive(Default)]
pub struct BackupQuery;

#[Object]
impl BackupQuery {
    /// Backups, newest first.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn backups(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<Backup>> {
        let pool = ctx.data_unchecked::<PgPool>();
        let total = super::count(pool).await.gql()?;
        paginate(PageArgs { after, before, first, last }, total, |offset, limit| super::list(pool, offset, limit)).await
    }

    /// The daily schedule, the git remote with its last push, and the retention (admins only).
    #[graphql(guard = "Require(Permission::Write)")]
    async fn backup_schedule(&self, ctx: &Context<'_>) -> async_graphql::Result<BackupSchedule> {
        let pool = ctx.data_unchecked::<PgPool>();
        let settings = ctx.data_unchecked::<Arc<BackupSettings>>();
        let next_run_at = match &settings.schedule {
            Some(daily) => Some(schedule::next_run(pool, daily).await.gql()?),
            None => None,
        };
        let git_remote = match &settings.git {
            Some(remote) => Some(BackupGitRemote {
                url: git_remote::display_url(remote.url.expose()),
                branch: remote.branch.clone(),
                unpushed_count: git_remote::unpushed_count(pool).await.gql()?,
                last_push: git_remote::last_push(pool).await.gql()?.map(|push| BackupPush {
                    attempted_at: push.attempted_at,
                    ok: push.status == PushStatus::Pushed,
                    commit: push.commit,
                    error: push.error,
                }),
            }),
            None => None,
        };
        Ok(BackupSchedule {
            enabled: settings.schedule.is_some(),
            time: settings.schedule.as_ref().map(|daily| daily.time),
            timezone: settings.schedule.as_ref().map(|daily| daily.timezone.clone()),
            next_run_at,
            retention_count: settings.retention_count,
            retention_days: settings.retention_days,
            git_remote,
        })
    }

    /// A backup by its id or its archive's file name.
    #[graphql(guard = "Require(Permission::Read)")]
    async fn backup(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Backup>> {
        source::find_by_id_or_name(ctx.data_unchecked::<PgPool>(), &id, "id").await.gql()
    }

    /// The archives on the git remote, fetched now, newest first (admins only). Restorable with
    /// `restoreRemoteBackup` even when this server's catalog has never seen them.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn remote_backups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RemoteBackup>> {
        let pool = ctx.data_unchecked::<PgPool>();
        let settings = ctx.data_unchecked::<Arc<BackupSettings>>();
        if settings.git.is_none() {
            return Err(Error::bad_input("remoteBackups", "no git remote is configured (BACKUP_GIT_REMOTE)")).gql();
        }
        let archives = git_remote::list_remote(settings).await.map_err(remote_unavailable).gql()?;
        let mut listed = Vec::with_capacity(archives.len());
        for archive in archives {
            listed.push(RemoteBackup::with_catalog(pool, archive).await.gql()?);
        }
        Ok(listed)
    }
}

#[derive(Default)]
pub struct BackupMutation;

#[Object]
impl BackupMutation {
    /// Starts a backup and returns it at once with status RUNNING; the dump runs on the server.
    /// Poll `backup(id)` (or `backups`) for COMPLETED or FAILED; once completed it is pushed when
    /// a git remote is configured (a failed push shows in `pushStatus` and is retried). Refused
    /// with `BACKUP_IN_PROGRESS` (`extensions.backupId`) while a backup or restore runs on any
    /// instance.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn create_backup(&self, ctx: &Context<'_>) -> async_graphql::Result<Backup> {
        let pool = ctx.data_unchecked::<PgPool>();
        let settings = ctx.data_unchecked::<Arc<BackupSettings>>();
        let caller = caller(ctx).gql()?;
        let job = super::start_manual(pool, settings, &caller.actor, caller.ip).await.gql()?;
        let backup = job.backup.clone();
        job.spawn(pool.clone(), settings.clone());
        Ok(backup)
    }

    /// Checks a backup's archive (by id or archive file name) without changing anything.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn verify_backup(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<BackupVerification> {
        let pool = ctx.data_unchecked::<PgPool>();
        let id = source::resolve(pool, &id, "id").await.gql()?;
        let verification = super::verify(pool, ctx.data_unchecked::<Arc<BackupSettings>>(), id).await.gql()?;
        Ok(BackupVerification {
            backup: verification.backup,
            ok: verification.problem.is_none(),
            problem: verification.problem,
        })
    }

    /// Replaces the whole database with the backup's contents (the backup catalog excepted); the
    /// backup is named by its id or its archive's file name. `confirm` must be true. Returns at
    /// once with the backup's `restoreStatus` RUNNING; the restore runs on the server and ends
    /// COMPLETED or FAILED (`restoreError`). The archive is verified first; a corrupt one fails
    /// the restore and the database stays as it was. Refused with `BACKUP_IN_PROGRESS` while a
    /// backup or restore runs on any instance.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn restore_backup(&self, ctx: &Context<'_>, id: ID, confirm: bool) -> async_graphql::Result<Backup> {
        let pool = ctx.data_unchecked::<PgPool>();
        let caller = caller(ctx).gql()?;
        let id = source::resolve(pool, &id, "id").await.gql()?;
        require_confirmation(confirm).gql()?;
        let settings = ctx.data_unchecked::<Arc<BackupSettings>>();
        let job = super::jobs::start_restore(pool, settings, &caller.actor, caller.ip, id).await.gql()?;
        let backup = job.backup.clone();
        job.spawn(pool.clone(), settings.clone());
        Ok(backup)
    }

    /// Replaces the whole database with the contents of an archive on the git remote, fetched
    /// now, which this server's catalog need not know (`remoteBackups` lists them). `confirm` must
    /// be true. The archive's SHA-256 is checked against the `.sha256` file beside it on the
    /// remote first; a mismatch or a missing `.sha256` is refused and nothing changes.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn restore_remote_backup(
        &self,
        ctx: &Context<'_>,
        file_name: String,
        confirm: bool,
    ) -> async_graphql::Result<RemoteBackup> {
        let pool = ctx.data_unchecked::<PgPool>();
        let settings = ctx.data_unchecked::<Arc<BackupSettings>>();
        let caller = caller(ctx).gql()?;
        source::check_archive_name(&file_name, "fileName").gql()?;
        require_confirmation(confirm).gql()?;
        let archive = source::from_remote(settings, &file_name).await.gql()?;
        // Not while a backup or restore job runs, and none starts while this restore runs.
        super::jobs::JobLock::around(pool, source::restore(pool, settings, &archive, false)).await.gql()?;
        source::record(pool, &caller.actor, caller.ip, &archive).await.gql()?;
        tracing::info!(file = %file_name, "backup restored from the git remote");
        let size_bytes = super::digest(&archive.path).await.map_err(Error::Internal).gql()?.0;
        let backup = source::find_by_id_or_name(pool, &file_name, "fileName").await.gql()?;
        Ok(RemoteBackup { file_name, size_bytes, sha256: archive.sha256.clone(), backup })
    }
}
