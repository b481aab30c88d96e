//! Backups: list, take, verify and restore.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{documents, gql, ApiError, Connection};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackupKind {
    Manual,
    Scheduled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackupStatus {
    Running,
    Completed,
    Failed,
}

/// Where the backup stands with the git remote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PushStatus {
    NotConfigured,
    Pending,
    Pushed,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
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
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BackupVerification {
    pub ok: bool,
    pub problem: Option<String>,
    pub backup: Backup,
}

/// The newest backups first.
pub async fn backups() -> Result<Connection<Backup>, ApiError> {
    gql(documents::BACKUPS, json!({}), "backups").await
}

pub async fn create_backup() -> Result<Backup, ApiError> {
    gql(documents::CREATE_BACKUP, json!({}), "createBackup").await
}

pub async fn verify_backup(id: &str) -> Result<BackupVerification, ApiError> {
    gql(documents::VERIFY_BACKUP, json!({"id": id}), "verifyBackup").await
}

/// Replaces the database's contents with the backup's, after the server checked its checksum.
pub async fn restore_backup(id: &str) -> Result<Backup, ApiError> {
    gql(documents::RESTORE_BACKUP, json!({"id": id}), "restoreBackup").await
}
