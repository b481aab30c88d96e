//! Backups: list, take, verify and restore; how they are scheduled, pushed and kept.

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::json;

use super::decode::{enum_from_json, from_json};
use super::{documents, gql, ApiError, Connection};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupKind {
    Manual,
    Scheduled,
    PreMigration,
}

impl BackupKind {
    pub const ALL: [BackupKind; 3] = [BackupKind::Manual, BackupKind::Scheduled, BackupKind::PreMigration];

    /// The schema's name.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Manual => "MANUAL",
            BackupKind::Scheduled => "SCHEDULED",
            BackupKind::PreMigration => "PRE_MIGRATION",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupStatus {
    Running,
    Completed,
    Failed,
}

impl BackupStatus {
    pub const ALL: [BackupStatus; 3] = [BackupStatus::Running, BackupStatus::Completed, BackupStatus::Failed];

    /// The schema's name.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::Running => "RUNNING",
            BackupStatus::Completed => "COMPLETED",
            BackupStatus::Failed => "FAILED",
        }
    }
}

/// Where the backup stands with the git remote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushStatus {
    NotConfigured,
    Pending,
    Pushed,
    Failed,
}

impl PushStatus {
    pub const ALL: [PushStatus; 4] =
        [PushStatus::NotConfigured, PushStatus::Pending, PushStatus::Pushed, PushStatus::Failed];

    /// The schema's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PushStatus::NotConfigured => "NOT_CONFIGURED",
            PushStatus::Pending => "PENDING",
            PushStatus::Pushed => "PUSHED",
            PushStatus::Failed => "FAILED",
        }
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct Backup {
        pub id: String,
        pub file_name: String,
        pub kind: BackupKind,
        pub status: BackupStatus,
        pub size_bytes: Option<i64>,
        pub sha256: Option<String>,
        pub created_by: String,
        pub created_at: DateTime<Utc>,
        pub completed_at: Option<DateTime<Utc>>,
        pub error: Option<String>,
        pub push_status: PushStatus,
        pub push_error: Option<String>,
        pub pushed_at: Option<DateTime<Utc>>,
        pub pruned_at: Option<DateTime<Utc>>,
        /// The server still has the archive (locally or in its clone of the git remote).
        pub restorable: bool,
        /// The last restore of this backup, if any: running, completed or failed.
        pub restore_status: Option<BackupStatus>,
        pub restore_finished_at: Option<DateTime<Utc>>,
        pub restore_error: Option<String>,
    }
}

impl Backup {
    /// Its dump or a restore of it is running on the server.
    pub fn job_running(&self) -> bool {
        self.status == BackupStatus::Running || self.restore_status == Some(BackupStatus::Running)
    }

    /// Its job runs, or its push to the git remote (which follows the job) has not happened yet.
    pub fn settling(&self) -> bool {
        self.job_running() || self.push_status == PushStatus::Pending
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct BackupVerification {
        pub ok: bool,
        pub problem: Option<String>,
        pub backup: Backup,
    }
}

from_json! {
    /// The daily schedule, the git remote and the retention, as the server is configured.
    #[derive(Clone, Debug, PartialEq)]
    pub struct BackupSchedule {
        pub enabled: bool,
        pub time: Option<NaiveTime>,
        pub timezone: Option<String>,
        pub next_run_at: Option<DateTime<Utc>>,
        pub retention_count: u32,
        pub retention_days: Option<u32>,
        pub git_remote: Option<GitRemote>,
    }
}

from_json! {
    /// The git remote, its address without credentials.
    #[derive(Clone, Debug, PartialEq)]
    pub struct GitRemote {
        pub url: String,
        pub branch: String,
        pub unpushed_count: i64,
        pub last_push: Option<BackupPush>,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct BackupPush {
        pub attempted_at: DateTime<Utc>,
        pub ok: bool,
        pub commit: Option<String>,
        pub error: Option<String>,
    }
}

pub async fn backup_schedule() -> Result<BackupSchedule, ApiError> {
    gql(documents::BACKUP_SCHEDULE, json!({}), "backupSchedule").await
}

/// The newest backups first.
pub async fn backups() -> Result<Connection<Backup>, ApiError> {
    gql(documents::BACKUPS, json!({}), "backups").await
}

/// Starts a backup; returns at once with status running.
pub async fn create_backup() -> Result<Backup, ApiError> {
    gql(documents::CREATE_BACKUP, json!({}), "createBackup").await
}

pub async fn verify_backup(id: &str) -> Result<BackupVerification, ApiError> {
    gql(documents::VERIFY_BACKUP, json!({"id": id}), "verifyBackup").await
}

/// Starts replacing the database's contents with the backup's (after the server checked its
/// checksum); returns at once with `restore_status` running.
pub async fn restore_backup(id: &str) -> Result<Backup, ApiError> {
    gql(documents::RESTORE_BACKUP, json!({"id": id}), "restoreBackup").await
}

from_json! {
    /// An archive on the git remote; `in_catalog` when this server's catalog knows it.
    #[derive(Clone, Debug, PartialEq)]
    pub struct RemoteBackup {
        pub file_name: String,
        pub size_bytes: i64,
        /// Null when the remote has no `.sha256` beside it (then it cannot be restored).
        pub sha256: Option<String>,
        pub backup: Option<BackupRef>,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct BackupRef {
        pub id: String,
    }
}

/// The remote's archives, newest first (the server fetches the remote now).
pub async fn remote_backups() -> Result<Vec<RemoteBackup>, ApiError> {
    gql(documents::REMOTE_BACKUPS, json!({}), "remoteBackups").await
}

/// Replaces the database's contents with a remote archive's, after the server checked it
/// against the `.sha256` beside it on the remote.
pub async fn restore_remote_backup(file_name: &str) -> Result<RemoteBackup, ApiError> {
    gql(documents::RESTORE_REMOTE_BACKUP, json!({"fileName": file_name}), "restoreRemoteBackup").await
}

enum_from_json!(BackupKind, BackupStatus, PushStatus);
