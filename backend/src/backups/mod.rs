//! Backups: compressed `pg_dump` archives (custom format) in a backup directory, recorded in the
//! `backups` table with size, SHA-256 checksum, creation time, creator and kind; created on
//! demand (CLI, GraphQL) and daily by the scheduler, optionally pushed to a git remote, pruned
//! locally by a retention setting, verified and restored.
//!
//! Restoring runs `pg_restore --clean --if-exists --single-transaction` against the live
//! database while the server keeps its pool:
//! - the archive's checksum is checked first; a corrupt archive is refused before anything runs;
//! - everything happens in one transaction: any failure rolls the whole restore back, and the
//!   database is left as it was;
//! - `--clean` *drops* and recreates the tables, which fires no DELETE or TRUNCATE trigger, so
//!   the append-only guard of `audit_log` does not stand in the way (and stays in force, being
//!   recreated from the archive). The audit log returns to its state at backup time; the restore
//!   itself is then appended to it;
//! - DROP TABLE waits for an ACCESS EXCLUSIVE lock on each table: requests in flight finish
//!   first, new ones wait until the restore commits (`lock_timeout` bounds the wait, after which
//!   the restore fails and changes nothing). Idle pooled connections hold no locks; their cached
//!   statements are re-planned by PostgreSQL against the recreated tables;
//! - the `backups` table is not in any archive, so the catalog of backups survives a restore.
//!
//! A restore brings back the schema as it was (including `_sqlx_migrations`); restoring a backup
//! taken by an older version is followed by the migrations on the next start.
//!
//! Archives may be encrypted ([`encryption`]), and an archive the catalog has never seen (on the
//! git remote, or a file) restores too ([`source`]), onto a database that may never have been
//! migrated (the command line migrates around such a restore: see [`cli`]).

pub mod cli;
pub mod encryption;
pub mod git_remote;
mod graphql;
pub mod jobs;
pub mod pg_tools;
pub mod pre_migration;
pub mod schedule;
pub mod source;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

pub use self::graphql::{BackupMutation, BackupQuery};
use crate::audit::{self, AuditEntry};
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// Where backups go, when they are taken, where they are pushed and how long they are kept.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// The directory holding the archives (and the git clone, in `.git-remote/`).
    pub dir: PathBuf,
    /// The daily scheduled backup, if enabled.
    pub schedule: Option<Schedule>,
    /// The git remote every backup is pushed to, if configured.
    pub git: Option<GitRemote>,
    /// Local copies kept: the newest this many...
    pub retention_count: u32,
    /// ...and, when set, none older than this many days.
    pub retention_days: Option<u32>,
    /// How often pushes that failed are retried.
    pub push_retry: Duration,
    /// How archives are encrypted (when recipients are set) and decrypted.
    pub encryption: encryption::Encryption,
    /// The wait before a failed scheduled backup is tried again the same day (doubling with
    /// each failure; at most [`schedule::ATTEMPTS_PER_DAY`] attempts a day).
    pub retry: Duration,
    /// Whether start-up takes a backup before applying pending migrations to a database with data.
    pub before_migrate: bool,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            dir: PathBuf::from("backups"),
            schedule: None,
            git: None,
            retention_count: 14,
            retention_days: None,
            push_retry: Duration::from_secs(300),
            encryption: encryption::Encryption::default(),
            retry: Duration::from_secs(600),
            before_migrate: true,
        }
    }
}

/// The daily scheduled backup: at `time` in `timezone` (an IANA name PostgreSQL knows, e.g.
/// `Europe/Berlin`, or `UTC`). Time zone arithmetic is done by PostgreSQL, so daylight-saving
/// changes need no time zone crate.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub time: NaiveTime,
    pub timezone: String,
}

/// A git repository that receives every backup as a commit; nothing is ever deleted there.
#[derive(Debug, Clone)]
pub struct GitRemote {
    /// May carry credentials: passed to git through its environment, never on a command line or in logs.
    pub url: SecretString,
    pub branch: String,
}

impl BackupSettings {
    fn archive_path(&self, file_name: &str) -> PathBuf {
        self.dir.join(file_name)
    }

    fn clone_dir(&self) -> PathBuf {
        self.dir.join(".git-remote")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, async_graphql::Enum)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    /// Taken on demand (CLI or GraphQL).
    Manual,
    /// Taken by the daily schedule.
    Scheduled,
    /// Taken at start-up before pending migrations were applied.
    PreMigration,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Manual => "manual",
            BackupKind::Scheduled => "scheduled",
            BackupKind::PreMigration => "pre_migration",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, async_graphql::Enum)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    Running,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, async_graphql::Enum)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// No git remote is configured.
    NotConfigured,
    /// Waiting for its first push.
    Pending,
    Pushed,
    /// The last push failed (see `pushError`); it is retried.
    Failed,
}

/// One backup as the catalog records it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    pub id: Uuid,
    pub file_name: String,
    pub kind: BackupKind,
    pub status: BackupStatus,
    pub scheduled_for: Option<NaiveDate>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub push_status: PushStatus,
    pub push_attempts: i32,
    pub pushed_at: Option<DateTime<Utc>>,
    pub push_commit: Option<String>,
    pub push_error: Option<String>,
    /// When the last push of this backup was attempted, whatever its outcome.
    pub push_attempted_at: Option<DateTime<Utc>>,
    pub pruned_at: Option<DateTime<Utc>>,
    /// The last restore of this backup: running, completed or failed; `None` if never restored.
    pub restore_status: Option<BackupStatus>,
    pub restore_started_at: Option<DateTime<Utc>>,
    pub restore_finished_at: Option<DateTime<Utc>>,
    pub restore_requested_by: Option<String>,
    pub restore_error: Option<String>,
}

const COLUMNS: &str = "id, file_name, kind, status, scheduled_for, size_bytes, sha256, created_by, created_at, \
                       completed_at, error, push_status, push_attempts, pushed_at, push_commit, push_error, push_attempted_at, \
                       pruned_at, restore_status, restore_started_at, restore_finished_at, restore_requested_by, \
                       restore_error";

/// The outcome of checking an archive against the catalog.
#[derive(Debug, Clone)]
pub struct Verification {
    pub backup: Backup,
    /// Where the archive was found, if anywhere.
    pub path: Option<PathBuf>,
    /// Why the archive cannot be restored; `None` when it can.
    pub problem: Option<String>,
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<Backup>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM backups WHERE id = $1")).bind(id).fetch_optional(pool).await?)
}

async fn get(pool: &PgPool, id: Uuid) -> Result<Backup> {
    find(pool, id).await?.ok_or_else(|| Error::not_found("backup", "id"))
}

/// Newest first.
pub async fn list(pool: &PgPool, offset: i64, limit: i64) -> Result<Vec<Backup>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM backups ORDER BY created_at DESC, id OFFSET $1 LIMIT $2"))
        .bind(offset)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

pub async fn count(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM backups").fetch_one(pool).await?)
}

fn new_file_name(id: Uuid, at: DateTime<Utc>) -> String {
    format!("license-server-{}-{}.dump", at.format("%Y%m%dT%H%M%SZ"), &id.simple().to_string()[..8])
}

/// Records a backup as running; for a scheduled one, only if no backup holds its day yet (failed
/// attempts do not). Only for the holder of the job lock ([`jobs::start_backup`]).
async fn start(
    conn: &mut PgConnection,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    kind: BackupKind,
    day: Option<NaiveDate>,
) -> Result<Option<Backup>> {
    let id = Uuid::new_v4();
    let backup: Option<Backup> = sqlx::query_as(&format!(
        "INSERT INTO backups (id, file_name, kind, scheduled_for, created_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scheduled_for) WHERE status <> 'failed' DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(new_file_name(id, Utc::now()))
    .bind(kind)
    .bind(day)
    .bind(&actor.name)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(backup) = &backup {
        audit::record(conn, (actor, ip), AuditEntry::new("backup.created", "backup", backup.id).new_values(backup))
            .await?;
    }
    Ok(backup)
}

/// Starts a manual backup as a job: recorded as RUNNING, not dumped yet (`BACKUP_IN_PROGRESS`
/// while another backup or restore runs anywhere). [`jobs::BackupJob::run`] or `spawn` takes it.
pub async fn start_manual(
    pool: &PgPool,
    settings: &BackupSettings,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
) -> Result<jobs::BackupJob> {
    let job = jobs::start_backup(pool, settings, actor, ip, BackupKind::Manual, None).await?;
    Ok(job.expect("a manual backup has no day to clash on"))
}

/// Takes a manual backup now and waits for it; returns it completed (or the error, with the
/// backup recorded as failed).
pub async fn create(
    pool: &PgPool,
    settings: &BackupSettings,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
) -> Result<Backup> {
    start_manual(pool, settings, actor, ip).await?.run(pool, settings).await
}

/// Takes the scheduled backup of `day` unless a backup holds the day already, its attempts are
/// used up or its retry is not due yet, or another job runs, on this instance or any other: the
/// day is claimed under the job lock and a unique index.
pub async fn create_scheduled(pool: &PgPool, settings: &BackupSettings, day: NaiveDate) -> Result<Option<Backup>> {
    let job = match jobs::start_backup(pool, settings, &Actor::system(), None, BackupKind::Scheduled, Some(day)).await {
        Ok(Some(job)) => job,
        Ok(None) | Err(Error::BackupInProgress { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    job.run(pool, settings).await.map(Some)
}

/// Dumps the database into the backup's archive and records the result.
async fn take(pool: &PgPool, settings: &BackupSettings, backup: Backup) -> Result<Backup> {
    let result = dump(pool, settings, &backup.file_name).await;
    let mut tx = pool.begin().await?;
    let done: Backup = match &result {
        Ok((size, sha256)) => {
            sqlx::query_as(&format!(
                "UPDATE backups SET status = 'completed', size_bytes = $2, sha256 = $3, completed_at = now(),
                        push_status = $4
                 WHERE id = $1 RETURNING {COLUMNS}"
            ))
            .bind(backup.id)
            .bind(*size)
            .bind(sha256)
            .bind(if settings.git.is_some() { PushStatus::Pending } else { PushStatus::NotConfigured })
            .fetch_one(&mut *tx)
            .await?
        }
        Err(err) => {
            sqlx::query_as(&format!(
            "UPDATE backups SET status = 'failed', error = $2, completed_at = now() WHERE id = $1 RETURNING {COLUMNS}"
        ))
            .bind(backup.id)
            .bind(format!("{err:#}"))
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let action = if result.is_ok() { "backup.completed" } else { "backup.failed" };
    audit::record(
        &mut tx,
        (&Actor::system(), None),
        AuditEntry::new(action, "backup", done.id).old_values(&backup).new_values(&done),
    )
    .await?;
    tx.commit().await?;
    crate::metrics::backup_finished(done.kind.as_str(), result.is_ok());
    if let Err(err) = result {
        tracing::error!(backup = %done.id, error = ?err, "backup failed");
        return Err(Error::Internal(err));
    }
    tracing::info!(backup = %done.id, file = %done.file_name, size = done.size_bytes, "backup completed");
    Ok(done)
}

/// After a backup completed: pushes what waits for the git remote, and prunes local copies.
/// Failures are logged; the push is retried by the background task.
async fn push_and_prune(pool: &PgPool, settings: &BackupSettings) {
    if settings.git.is_some() {
        if let Err(err) = git_remote::push_pending(pool, settings).await {
            tracing::warn!(error = ?err, "pushing backups to the git remote failed; retrying later");
        }
    }
    if let Err(err) = prune(pool, settings).await {
        tracing::warn!(error = ?err, "pruning local backups failed");
    }
}

/// Writes the archive next to its final name and renames it once complete and synced, so a
/// crash never leaves a half-written file under a backup's name. Returns its size and SHA-256.
async fn dump(pool: &PgPool, settings: &BackupSettings, file_name: &str) -> anyhow::Result<(i64, String)> {
    tokio::fs::create_dir_all(&settings.dir)
        .await
        .with_context(|| format!("cannot create BACKUP_DIR {}", settings.dir.display()))?;
    let final_path = settings.archive_path(file_name);
    let partial = settings.dir.join(format!("{file_name}.partial"));
    let tools = pg_tools::PgTools::for_pool(pool)?;
    let result = async {
        tools.dump(&partial, &settings.encryption.recipients).await?;
        tokio::fs::File::open(&partial).await?.sync_all().await?;
        let (size, sha256) = digest(&partial).await?;
        tokio::fs::rename(&partial, &final_path).await?;
        anyhow::Ok((size, sha256))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    result
}

/// Size and SHA-256 (lowercase hex) of a file.
pub async fn digest(path: &Path) -> anyhow::Result<(i64, String)> {
    let mut file =
        tokio::fs::File::open(path).await.with_context(|| format!("cannot open the archive {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size: i64 = 0;
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as i64;
    }
    let hex = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((size, hex))
}

/// Whether the server can still restore the backup: it completed and its archive is here, in the
/// backup directory or (after local pruning) in the git clone. Whether the archive is intact is
/// for [`verify`] to say.
pub fn restorable(settings: &BackupSettings, backup: &Backup) -> bool {
    backup.status == BackupStatus::Completed && locate(settings, backup).is_some()
}

/// Where the archive of `backup` is: the backup directory, or (after local pruning) the git clone.
fn locate(settings: &BackupSettings, backup: &Backup) -> Option<PathBuf> {
    [settings.archive_path(&backup.file_name), settings.clone_dir().join("backups").join(&backup.file_name)]
        .into_iter()
        .find(|path| path.is_file())
}

/// Checks that the backup completed, that its archive is here, that its size and SHA-256 match
/// the catalog, and that `pg_restore` can read its table of contents.
pub async fn verify(pool: &PgPool, settings: &BackupSettings, id: Uuid) -> Result<Verification> {
    let backup = get(pool, id).await?;
    let path = locate(settings, &backup);
    let problem = check(pool, settings, &backup, path.as_deref()).await?;
    Ok(Verification { backup, path, problem })
}

async fn check(
    pool: &PgPool,
    settings: &BackupSettings,
    backup: &Backup,
    path: Option<&Path>,
) -> Result<Option<String>> {
    let (Some(expected_sha), Some(expected_size)) = (&backup.sha256, backup.size_bytes) else {
        return Ok(Some(format!("backup {} did not complete (status {:?})", backup.id, backup.status)));
    };
    let Some(path) = path else {
        return Ok(Some(format!("the archive {} is not on this server", backup.file_name)));
    };
    let recorded = format!("the backup recorded {expected_sha} ({expected_size} bytes)");
    check_archive(pool, settings, path, &backup.file_name, Some((expected_sha, Some(expected_size), recorded))).await
}

/// Why the archive at `path` cannot be restored, or `None`: its SHA-256 (and size, when known)
/// are as `expected` says (what it must be, and where that comes from, for the message; `None`:
/// unchecked), it can be decrypted when encrypted, and `pg_restore` reads its table of contents.
async fn check_archive(
    pool: &PgPool,
    settings: &BackupSettings,
    path: &Path,
    file_name: &str,
    expected: Option<(&str, Option<i64>, String)>,
) -> Result<Option<String>> {
    let (size, sha256) = digest(path).await?;
    if let Some((expected_sha, expected_size, source)) = expected {
        if sha256 != expected_sha || expected_size.is_some_and(|expected| expected != size) {
            return Ok(Some(format!(
                "the archive {file_name} is corrupt: its SHA-256 is {sha256} ({size} bytes), {source}"
            )));
        }
    }
    let archive = match input(settings, path)? {
        Ok(archive) => archive,
        Err(problem) => return Ok(Some(format!("the archive {file_name} {problem}"))),
    };
    if let Err(err) = pg_tools::PgTools::for_pool(pool)?.list(&archive).await {
        return Ok(Some(format!("pg_restore cannot read the archive {file_name}: {err:#}")));
    }
    Ok(None)
}

/// How `pg_restore` reads the archive at `path`; why it cannot, when it is encrypted and no
/// identity is configured.
fn input<'a>(
    settings: &'a BackupSettings,
    path: &'a Path,
) -> Result<std::result::Result<pg_tools::Archive<'a>, String>> {
    if !encryption::is_encrypted(path).map_err(Error::Internal)? {
        return Ok(Ok(pg_tools::Archive { path, decrypt_with: None }));
    }
    Ok(match &settings.encryption.identity_file {
        Some(identity) => Ok(pg_tools::Archive { path, decrypt_with: Some(identity) }),
        None => Err("is encrypted (age): its content cannot be read without BACKUP_DECRYPTION_IDENTITY_FILE".into()),
    })
}

/// Replaces the database's contents with those of an archive that passed its checks.
async fn restore_checked(pool: &PgPool, settings: &BackupSettings, path: &Path) -> Result<()> {
    let archive = input(settings, path)?.map_err(|problem| Error::bad_input("id", problem))?;
    pg_tools::PgTools::for_pool(pool)?.restore(&archive).await.map_err(Error::Internal)
}

/// Audits a restore (`entity`: the backup's id, or the archive's name when the catalog has none).
async fn record_restore(
    pool: &PgPool,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    entity: String,
    values: serde_json::Value,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    audit::record(&mut tx, (actor, ip), AuditEntry::new("backup.restored", "backup", entity).new_values(values))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the database's contents with the backup's, after verifying the archive. A backup
/// that fails verification is refused and nothing changes.
pub async fn restore(
    pool: &PgPool,
    settings: &BackupSettings,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
) -> Result<Backup> {
    let backup = restore_only(pool, settings, id).await?;
    record_restored(pool, actor, ip, &backup).await?;
    tracing::info!(backup = %id, "backup restored");
    get(pool, id).await
}

/// [`restore`] without recording it (the command line records it after migrating).
pub async fn restore_only(pool: &PgPool, settings: &BackupSettings, id: Uuid) -> Result<Backup> {
    let verification = verify(pool, settings, id).await?;
    if let Some(problem) = verification.problem {
        return Err(Error::bad_input("id", format!("{problem}; nothing was restored and the database is unchanged")));
    }
    let path = verification.path.expect("a verified backup has an archive");
    restore_checked(pool, settings, &path).await?;
    Ok(verification.backup)
}

/// What the audit log says of a restored backup.
fn restored_values(backup: &Backup) -> serde_json::Value {
    serde_json::json!({
        "fileName": backup.file_name,
        "sha256": backup.sha256,
        "backupCreatedAt": backup.created_at,
    })
}

/// Records the restore of a catalog backup (see [`restore_only`]).
pub async fn record_restored(
    pool: &PgPool,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    backup: &Backup,
) -> Result<()> {
    record_restore(pool, actor, ip, backup.id.to_string(), restored_values(backup)).await
}

/// Deletes local archives beyond the retention, and only archives that are safely on the git
/// remote when one is configured. Returns the pruned backups' ids.
pub async fn prune(pool: &PgPool, settings: &BackupSettings) -> Result<Vec<Uuid>> {
    let candidates: Vec<(Uuid, String, PushStatus)> = sqlx::query_as(
        "SELECT id, file_name, push_status FROM (
             SELECT id, file_name, push_status, created_at,
                    row_number() OVER (ORDER BY created_at DESC, id) AS position
             FROM backups WHERE status = 'completed' AND pruned_at IS NULL) local
         WHERE position > $1 OR ($2::integer IS NOT NULL AND created_at < now() - make_interval(days => $2))
         ORDER BY created_at",
    )
    .bind(i64::from(settings.retention_count))
    .bind(settings.retention_days.map(|d| i32::try_from(d).unwrap_or(i32::MAX)))
    .fetch_all(pool)
    .await?;
    let mut pruned = Vec::new();
    for (id, file_name, push_status) in candidates {
        if settings.git.is_some() && push_status != PushStatus::Pushed {
            continue;
        }
        match tokio::fs::remove_file(settings.archive_path(&file_name)).await {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::Internal(anyhow::Error::new(err).context("cannot delete a local backup"))),
        }
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE backups SET pruned_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
        audit::record(
            &mut tx,
            (&Actor::system(), None),
            AuditEntry::new("backup.pruned", "backup", id).new_values(serde_json::json!({"fileName": file_name})),
        )
        .await?;
        tx.commit().await?;
        pruned.push(id);
    }
    if !pruned.is_empty() {
        tracing::info!(count = pruned.len(), "pruned local backups beyond the retention");
    }
    Ok(pruned)
}
