//! Backups and restores as background jobs: `createBackup` and `restoreBackup` record the job as
//! RUNNING and return at once; the dump or restore runs in a task of the server, and its outcome
//! lands on the backup's row (`status`, or `restoreStatus` for a restore).
//!
//! **One job at a time, on all instances.** A job holds a session-level advisory lock on a
//! connection of its own (outside the pools) for as long as it runs. Whoever cannot take the lock
//! is refused with `BACKUP_IN_PROGRESS` and changes nothing.
//!
//! **A job that is gone leaves no RUNNING row behind for long.** A row is marked RUNNING only by
//! the holder of the lock, and stays so only while it runs. If the process dies, PostgreSQL ends
//! its connection and frees the lock; the next holder of the lock (the next job, or any instance
//! at start-up) therefore knows every RUNNING row it finds is abandoned, and marks it FAILED.

use std::net::IpAddr;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Backup, BackupKind, BackupSettings, COLUMNS};
use crate::audit::{self, AuditEntry};
use crate::auth::Actor;
use crate::error::{Error, Result};

/// The advisory lock a running job holds (one key for backups and restores alike).
const JOB_LOCK: &str = "hashtext('license-server backup job')";

/// The job lock, held by a connection of its own until released or until the process dies.
pub struct JobLock(PgConnection);

impl JobLock {
    /// Takes the lock unless a job runs somewhere; then `BACKUP_IN_PROGRESS`.
    pub async fn try_acquire(pool: &PgPool) -> Result<JobLock> {
        let mut connection = crate::db::unlimited_connection(pool).await?;
        let locked: bool =
            sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({JOB_LOCK})")).fetch_one(&mut connection).await?;
        if locked {
            return Ok(JobLock(connection));
        }
        let running: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM backups WHERE status = 'running' OR restore_status = 'running'
             ORDER BY coalesce(restore_started_at, created_at) DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await?;
        Err(Error::BackupInProgress { running })
    }

    /// Runs `work` holding the lock (`BACKUP_IN_PROGRESS`, and `work` not started, while a job
    /// runs somewhere), then releases it whatever `work`'s outcome.
    pub async fn around<T>(pool: &PgPool, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let lock = JobLock::try_acquire(pool).await?;
        let result = work.await;
        lock.release().await;
        result
    }

    /// Waits for the lock on `connection` (start-up, before migrating); released with [`Self::release_on`].
    pub async fn wait_on(connection: &mut PgConnection) -> sqlx::Result<()> {
        sqlx::query(&format!("SELECT pg_advisory_lock({JOB_LOCK})")).execute(connection).await.map(drop)
    }

    pub async fn release_on(connection: &mut PgConnection) -> sqlx::Result<()> {
        sqlx::query(&format!("SELECT pg_advisory_unlock({JOB_LOCK})")).execute(connection).await.map(drop)
    }

    /// Releases the lock (dropping it closes its connection, which releases it too).
    async fn release(mut self) {
        if let Err(err) = Self::release_on(&mut self.0).await {
            tracing::warn!(error = %err, "releasing the backup job lock failed; closing its connection frees it");
        }
        let _ = sqlx::Connection::close(self.0).await;
    }
}

/// At start-up: marks failed what jobs that are gone left RUNNING, unless a job runs right now
/// (then the next job does it).
pub async fn recover(pool: &PgPool, settings: &BackupSettings) -> anyhow::Result<()> {
    let result = match JobLock::around(pool, fail_abandoned(pool, settings)).await {
        Err(Error::BackupInProgress { .. }) => Ok(()),
        other => other,
    };
    result.map_err(super::cli::detailed)
}

/// Marks every RUNNING backup and restore failed. Only for the holder of the job lock, for
/// whom no RUNNING row can belong to a live job.
async fn fail_abandoned(pool: &PgPool, settings: &BackupSettings) -> Result<()> {
    const GONE: &str = "interrupted: the server running it stopped before it finished";
    // What a dump and a restore leave RUNNING, how each is marked failed, and its audit action.
    const ABANDONED: [(&str, &str); 2] = [
        ("status = 'failed', error = $1, completed_at = now() WHERE status = 'running'", "backup.failed"),
        (
            "restore_status = 'failed', restore_error = $1, restore_finished_at = now() WHERE restore_status = 'running'",
            "backup.restore_failed",
        ),
    ];
    let mut tx = pool.begin().await?;
    let mut dumps = Vec::new();
    for (change, action) in ABANDONED {
        let failed: Vec<Backup> = sqlx::query_as(&format!("UPDATE backups SET {change} RETURNING {COLUMNS}"))
            .bind(GONE)
            .fetch_all(&mut *tx)
            .await?;
        for backup in failed {
            tracing::warn!(backup = %backup.id, action, "a backup job was interrupted; marked failed");
            let entry = AuditEntry::new(action, "backup", backup.id).new_values(&backup);
            audit::record(&mut tx, (&Actor::system(), None), entry).await?;
            if action == "backup.failed" {
                dumps.push(backup.file_name);
            }
        }
    }
    tx.commit().await?;
    for file_name in dumps {
        let _ = tokio::fs::remove_file(settings.dir.join(format!("{file_name}.partial"))).await;
    }
    Ok(())
}

/// A backup recorded as RUNNING whose dump has not run yet; it holds the job lock.
pub struct BackupJob {
    lock: JobLock,
    pub backup: Backup,
}

/// Claims the job lock and records a backup of `kind` as RUNNING; for a scheduled backup, only
/// while `may_start` (checked under the lock) allows it and no backup holds the day (`None`).
pub(super) async fn start_backup(
    pool: &PgPool,
    settings: &BackupSettings,
    actor: &Actor,
    ip: Option<IpAddr>,
    kind: BackupKind,
    day: Option<chrono::NaiveDate>,
) -> Result<Option<BackupJob>> {
    let lock = JobLock::try_acquire(pool).await?;
    let started: Result<Option<Backup>> = async {
        fail_abandoned(pool, settings).await?;
        if let Some(day) = day {
            if !super::schedule::may_attempt(pool, settings, day).await? {
                return Ok(None);
            }
        }
        let mut tx = pool.begin().await?;
        let backup = super::start(&mut tx, actor, ip, kind, day).await?;
        tx.commit().await?;
        Ok(backup)
    }
    .await;
    match started {
        Ok(Some(backup)) => Ok(Some(BackupJob { lock, backup })),
        other => {
            lock.release().await;
            other.map(|_| None)
        }
    }
}

impl BackupJob {
    /// Dumps and records the outcome, frees the lock, then pushes and prunes (the push is
    /// coordinated on its own, and shows in `pushStatus`).
    pub async fn run(self, pool: &PgPool, settings: &BackupSettings) -> Result<Backup> {
        let result = super::take(pool, settings, self.backup).await;
        self.lock.release().await;
        let done = result?;
        super::push_and_prune(pool, settings).await;
        Ok(super::find(pool, done.id).await?.unwrap_or(done))
    }

    /// Runs in a task of its own; the outcome is on the backup's row (and in the log).
    pub fn spawn(self, pool: PgPool, settings: std::sync::Arc<BackupSettings>) {
        tokio::spawn(async move {
            // `take` logs a failure itself.
            let _ = self.run(&pool, &settings).await;
        });
    }
}

/// A restore recorded as RUNNING on its backup's row; it holds the job lock.
pub struct RestoreJob {
    lock: JobLock,
    pub backup: Backup,
    actor: Actor,
    ip: Option<IpAddr>,
}

/// Checks what can be checked at once (the backup exists, completed, and its archive is on this
/// server: `BAD_USER_INPUT` otherwise), claims the job lock and records the restore as RUNNING.
/// The archive's checksum is verified by the job, before anything is replaced.
pub async fn start_restore(
    pool: &PgPool,
    settings: &BackupSettings,
    actor: &Actor,
    ip: Option<IpAddr>,
    id: Uuid,
) -> Result<RestoreJob> {
    let backup = super::get(pool, id).await?;
    if !super::restorable(settings, &backup) {
        return Err(Error::bad_input(
            "id",
            format!(
                "backup {id} cannot be restored: it did not complete, or its archive {} is not on this server; \
                 nothing was restored and the database is unchanged",
                backup.file_name
            ),
        ));
    }
    let lock = JobLock::try_acquire(pool).await?;
    let started: Result<Backup> = async {
        fail_abandoned(pool, settings).await?;
        let mut tx = pool.begin().await?;
        let running: Backup = sqlx::query_as(&format!(
            "UPDATE backups SET restore_status = 'running', restore_started_at = now(), restore_finished_at = NULL,
                    restore_requested_by = $2, restore_error = NULL
             WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(&actor.name)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            (actor, ip),
            AuditEntry::new("backup.restore_started", "backup", id).old_values(&backup).new_values(&running),
        )
        .await?;
        tx.commit().await?;
        Ok(running)
    }
    .await;
    match started {
        Ok(backup) => Ok(RestoreJob { lock, backup, actor: actor.clone(), ip }),
        Err(err) => {
            lock.release().await;
            Err(err)
        }
    }
}

impl RestoreJob {
    /// Verifies and restores (`backups::restore`, which audits `backup.restored`), records the
    /// outcome on the row (a failure with its reason, audited as `backup.restore_failed`); then
    /// frees the lock. Returns the row as recorded.
    pub async fn run(self, pool: &PgPool, settings: &BackupSettings) -> Result<Backup> {
        let id = self.backup.id;
        let error = match super::restore(pool, settings, &self.actor, self.ip, id).await {
            Ok(_) => None,
            Err(err) => {
                // Admins asked for the restore: they see the whole reason, as for a failed dump.
                let err = super::cli::detailed(err);
                tracing::error!(backup = %id, error = ?err, "restoring the backup failed");
                Some(format!("{err:#}"))
            }
        };
        let recorded = record_restore(pool, id, error.as_deref()).await;
        self.lock.release().await;
        recorded
    }

    pub fn spawn(self, pool: PgPool, settings: std::sync::Arc<BackupSettings>) {
        tokio::spawn(async move {
            // `run` logs a failure itself.
            let _ = self.run(&pool, &settings).await;
        });
    }
}

async fn record_restore(pool: &PgPool, id: Uuid, error: Option<&str>) -> Result<Backup> {
    let mut tx = pool.begin().await?;
    let done: Backup = sqlx::query_as(&format!(
        "UPDATE backups SET restore_status = CASE WHEN $2::text IS NULL THEN 'completed' ELSE 'failed' END,
                restore_error = $2, restore_finished_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(error)
    .fetch_one(&mut *tx)
    .await?;
    if error.is_some() {
        audit::record(
            &mut tx,
            (&Actor::system(), None),
            AuditEntry::new("backup.restore_failed", "backup", id).new_values(&done),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}
