//! Backups: list, take, verify and restore.

use serde_json::json;

use super::models::{Backup, BackupVerification, Connection};
use super::{gql, ApiError};

const BACKUP: &str = "id fileName kind status sizeBytes sha256 createdBy createdAt completedAt error \
                      pushStatus pushError pushedAt prunedAt";

/// The newest backups first.
pub async fn backups() -> Result<Connection<Backup>, ApiError> {
    let query = format!("query {{ backups(first: 100) {{ totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} nodes {{ {BACKUP} }} }} }}");
    gql(&query, json!({}), "backups").await
}

pub async fn create_backup() -> Result<Backup, ApiError> {
    gql(&format!("mutation {{ createBackup {{ {BACKUP} }} }}"), json!({}), "createBackup").await
}

pub async fn verify_backup(id: &str) -> Result<BackupVerification, ApiError> {
    let query = format!("mutation($id: ID!) {{ verifyBackup(id: $id) {{ ok problem backup {{ {BACKUP} }} }} }}");
    gql(&query, json!({"id": id}), "verifyBackup").await
}

/// Replaces the database's contents with the backup's, after the server checked its checksum.
pub async fn restore_backup(id: &str) -> Result<Backup, ApiError> {
    let query = format!("mutation($id: ID!) {{ restoreBackup(id: $id, confirm: true) {{ {BACKUP} }} }}");
    gql(&query, json!({"id": id}), "restoreBackup").await
}
