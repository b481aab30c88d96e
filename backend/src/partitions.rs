//! The lifecycle of the monthly partitions of `license_heartbeats`: created ahead of time so that
//! a heartbeat at a month boundary always has a partition to land in, rows that landed in the
//! default partition (the safety net) reported and moved into their month once it exists, and
//! months older than the retention detached and dropped.
//!
//! Every step runs in the database under one advisory lock (see the SQL functions
//! `ensure_heartbeat_partitions` and `drop_heartbeat_partitions_before`), so any number of
//! instances may run the maintenance at once, and running it twice changes nothing.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Connection as _, PgConnection, PgExecutor, PgPool};

use crate::error::Result;

/// How far ahead partitions are created and how long heartbeats are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionSettings {
    /// Monthly partitions kept created after the current month.
    pub ahead_months: u32,
    /// Partitions that ended more than this many months ago are dropped.
    pub retention_months: u32,
}

impl Default for PartitionSettings {
    fn default() -> Self {
        PartitionSettings { ahead_months: 3, retention_months: 12 }
    }
}

/// What one maintenance run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Partitions created (ahead of time, or for months whose rows sat in the default partition).
    pub created: i32,
    /// Rows found in the default partition before the run.
    pub stray_rows_found: i64,
    /// Rows still in the default partition after the run (0 unless rows keep arriving there).
    pub stray_rows_left: i64,
    /// Partitions detached and dropped by the retention, oldest first.
    pub dropped: Vec<String>,
}

/// Creates the partitions for `months` months starting with the month of `first_day` (UTC);
/// returns how many were new. Rows of those months in the default partition move into them.
pub async fn ensure_partitions(db: impl PgExecutor<'_>, first_day: NaiveDate, months: u32) -> Result<i32> {
    Ok(sqlx::query_scalar("SELECT ensure_heartbeat_partitions($1, $2)")
        .bind(first_day)
        .bind(i32::try_from(months).unwrap_or(i32::MAX))
        .fetch_one(db)
        .await?)
}

/// The current month and `ahead` months after it, by the database's clock.
async fn ensure_current(connection: &mut PgConnection, ahead: u32) -> Result<i32> {
    let today: NaiveDate =
        sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC')::date").fetch_one(&mut *connection).await?;
    ensure_partitions(connection, today, ahead + 1).await
}

async fn stray_rows(connection: &mut PgConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM license_heartbeats_default").fetch_one(connection).await?)
}

/// One full maintenance run by the database's clock: partitions ahead, the default partition
/// emptied into monthly partitions (for rows within the retention), old partitions dropped.
/// Runs on a connection of its own without the statement timeout: moving stray rows or waiting
/// for a partition's lock may legitimately take longer than any request should.
pub async fn maintain(pool: &PgPool, settings: PartitionSettings) -> Result<MaintenanceReport> {
    let mut connection = crate::db::unlimited_connection(pool).await?;
    let report = maintain_on(&mut connection, settings).await;
    if let Err(err) = connection.close().await {
        tracing::debug!(error = ?err, "closing the partition maintenance's connection failed");
    }
    report
}

async fn maintain_on(connection: &mut PgConnection, settings: PartitionSettings) -> Result<MaintenanceReport> {
    let cutoff: DateTime<Utc> = sqlx::query_scalar("SELECT now() - make_interval(months => $1)")
        .bind(i32::try_from(settings.retention_months).unwrap_or(i32::MAX))
        .fetch_one(&mut *connection)
        .await?;
    let mut report = MaintenanceReport { stray_rows_found: stray_rows(connection).await?, ..Default::default() };
    report.created += ensure_current(connection, settings.ahead_months).await?;
    if report.stray_rows_found > 0 {
        tracing::warn!(
            rows = report.stray_rows_found,
            "heartbeats landed in the default partition (a monthly partition was missing); moving them"
        );
        let months: Vec<NaiveDate> = sqlx::query_scalar(
            "SELECT DISTINCT date_trunc('month', received_at AT TIME ZONE 'UTC')::date
             FROM license_heartbeats_default WHERE received_at >= $1 ORDER BY 1",
        )
        .bind(cutoff)
        .fetch_all(&mut *connection)
        .await?;
        for month in months {
            report.created += ensure_partitions(&mut *connection, month, 1).await?;
        }
    }
    report.dropped = sqlx::query_scalar("SELECT drop_heartbeat_partitions_before($1)")
        .bind(cutoff)
        .fetch_all(&mut *connection)
        .await?;
    report.stray_rows_left = stray_rows(connection).await?;
    if report.stray_rows_left > 0 {
        tracing::warn!(rows = report.stray_rows_left, "heartbeats remain in the default partition");
    }
    if report.created > 0 || !report.dropped.is_empty() {
        tracing::info!(created = report.created, dropped = ?report.dropped, "heartbeat partition maintenance");
    }
    Ok(report)
}

/// Runs the maintenance daily (the first run a day after start-up: `serve` runs one before
/// listening) until the task is dropped; a failed run is retried after an hour.
pub async fn run(pool: PgPool, settings: PartitionSettings) {
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    const RETRY: Duration = Duration::from_secs(60 * 60);
    let mut wait = DAY;
    loop {
        tokio::time::sleep(wait).await;
        wait = match maintain(&pool, settings).await {
            Ok(_) => DAY,
            Err(err) => {
                tracing::error!(error = ?err, "heartbeat partition maintenance failed; retrying in an hour");
                RETRY
            }
        };
    }
}
