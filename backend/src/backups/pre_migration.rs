//! Backup before migrate: when start-up (`serve`, `migrate`, `backup …`) finds migrations the
//! database has not seen, and the database has data (its `_sqlx_migrations` has rows), it dumps
//! the database before applying them; if the dump fails, nothing is migrated and start-up fails.
//! `BACKUP_BEFORE_MIGRATE=false` turns this off (with a warning in the log).
//!
//! The catalog may be older than this binary (the `backups` table may lack columns or the
//! `pre_migration` kind, or not exist at all), so the archive is written first and recorded in
//! the catalog only once the migrations have been applied.
//!
//! The migrations run on a connection without the statement timeout (a migration may rewrite a
//! large table). Everything happens under the backup job lock (see `jobs`), held on it:
//! several instances starting at once migrate one after the other, and the later ones find
//! nothing pending; no backup or restore runs meanwhile.

use std::collections::HashSet;

use anyhow::Context as _;
use chrono::Utc;
use sqlx::{Connection as _, PgConnection, PgPool};
use uuid::Uuid;

use super::jobs::JobLock;
use super::{Backup, BackupKind, BackupSettings, PushStatus, COLUMNS};
use crate::audit::{self, AuditEntry};
use crate::auth::Actor;
use crate::db::{unlimited_connection, MIGRATOR};

/// Applies pending migrations, after a backup when the database has data and `before_migrate` is on.
pub async fn migrate(pool: &PgPool, settings: &BackupSettings) -> anyhow::Result<()> {
    if !settings.before_migrate {
        tracing::warn!(
            "BACKUP_BEFORE_MIGRATE=false: pending database migrations are applied without taking a backup first"
        );
    }
    let mut connection = unlimited_connection(pool).await.context("cannot connect to PostgreSQL")?;
    JobLock::wait_on(&mut connection).await.context("cannot take the backup job lock before migrating")?;
    let result = migrate_locked(pool, &mut connection, settings).await;
    if let Err(err) = JobLock::release_on(&mut connection).await {
        tracing::warn!(error = %err, "releasing the backup job lock failed; closing the connection frees it");
    }
    let _ = connection.close().await;
    result
}

async fn migrate_locked(pool: &PgPool, connection: &mut PgConnection, settings: &BackupSettings) -> anyhow::Result<()> {
    let (has_data, pending) = pending(connection).await.context("cannot read the applied migrations")?;
    let archive = if pending.is_empty() || !has_data {
        None
    } else if !settings.before_migrate {
        tracing::warn!(pending = ?pending, "applying pending migrations without a backup (BACKUP_BEFORE_MIGRATE=false)");
        None
    } else {
        Some(back_up(pool, settings, &pending).await?)
    };
    let migrated = MIGRATOR.run(&mut *connection).await.context("applying database migrations failed");
    if let Some(archive) = archive {
        if let Err(err) = record(pool, settings, &archive).await {
            tracing::error!(
                error = ?err,
                file = %settings.archive_path(&archive.file_name).display(),
                "the backup taken before migrating is on disk but could not be recorded in the catalog"
            );
        }
    }
    migrated
}

/// Whether the database has data (applied migrations), and the versions it lacks.
async fn pending(connection: &mut PgConnection) -> sqlx::Result<(bool, Vec<i64>)> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&mut *connection).await?;
    let applied: HashSet<i64> = match exists {
        true => {
            sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations").fetch_all(&mut *connection).await?
        }
        false => Vec::new(),
    }
    .into_iter()
    .collect();
    let pending = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect();
    Ok((!applied.is_empty(), pending))
}

/// An archive written before migrating, to be recorded once the catalog is current.
struct Archive {
    id: Uuid,
    file_name: String,
    size: i64,
    sha256: String,
}

async fn back_up(pool: &PgPool, settings: &BackupSettings, pending: &[i64]) -> anyhow::Result<Archive> {
    let id = Uuid::new_v4();
    let file_name = super::new_file_name(id, Utc::now());
    tracing::info!(pending = ?pending, file = %file_name, "taking a backup before applying pending migrations");
    let dumped = super::dump(pool, settings, &file_name).await;
    crate::metrics::backup_finished(BackupKind::PreMigration.as_str(), dumped.is_ok());
    let (size, sha256) = dumped.with_context(|| {
        format!(
            "the backup before applying {} pending migration(s) failed, so none was applied (BACKUP_BEFORE_MIGRATE=false \
             migrates without a backup)",
            pending.len()
        )
    })?;
    Ok(Archive { id, file_name, size, sha256 })
}

/// Records the archive as a completed `pre_migration` backup (audited), then pushes and prunes
/// like any other.
async fn record(pool: &PgPool, settings: &BackupSettings, archive: &Archive) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let backup: Backup = sqlx::query_as(&format!(
        "INSERT INTO backups (id, file_name, kind, status, size_bytes, sha256, created_by, completed_at, push_status)
         VALUES ($1, $2, $3, 'completed', $4, $5, $6, now(), $7)
         RETURNING {COLUMNS}"
    ))
    .bind(archive.id)
    .bind(&archive.file_name)
    .bind(BackupKind::PreMigration)
    .bind(archive.size)
    .bind(&archive.sha256)
    .bind(&Actor::system().name)
    .bind(if settings.git.is_some() { PushStatus::Pending } else { PushStatus::NotConfigured })
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        (&Actor::system(), None),
        AuditEntry::new("backup.completed", "backup", backup.id).new_values(&backup),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(backup = %backup.id, file = %backup.file_name, size = backup.size_bytes, "backup before migrating completed");
    super::push_and_prune(pool, settings).await;
    Ok(())
}
