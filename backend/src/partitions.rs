//! The lifecycle of the heartbeat partitions. Raw heartbeats (`license_heartbeats`) live in
//! daily partitions created a week ahead, so that a heartbeat at a day boundary always has a
//! partition to land in; the compaction (`crate::compaction`) moves them into the long-term form
//! (`heartbeat_device_days`, monthly partitions created months ahead) and drops the emptied days.
//! Rows that landed in the default partition (the safety net) are reported and moved into their
//! day once it exists (older ones are compacted straight from it), and everything older than the
//! retention is detached and dropped.
//!
//! Every step runs in the database under one advisory lock (see the SQL functions
//! `ensure_heartbeat_day_partitions`, `ensure_heartbeat_history_partitions` and
//! `drop_heartbeat_partitions_before`), so any number of instances may run the maintenance at
//! once, and running it twice changes nothing.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Connection as _, PgConnection, PgExecutor, PgPool};

use crate::error::Result;

/// Daily raw partitions kept created after today: a week of missed maintenance runs.
pub const RAW_DAYS_AHEAD: u32 = 7;

/// How far ahead partitions are created, how long raw heartbeats stay raw and how long their
/// history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionSettings {
    /// Monthly partitions of the long-term form kept created after the current month.
    pub ahead_months: u32,
    /// History (raw or compacted) that ended more than this many months ago is dropped.
    pub retention_months: u32,
    /// Raw heartbeats are compacted once their UTC day ended more than this many hours ago.
    pub raw_window_hours: u32,
}

impl Default for PartitionSettings {
    fn default() -> Self {
        PartitionSettings { ahead_months: 3, retention_months: 12, raw_window_hours: 48 }
    }
}

/// What one maintenance run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Partitions created (ahead of time, or for days whose rows sat in the default partition).
    pub created: i32,
    /// Rows found in the default partition before the run.
    pub stray_rows_found: i64,
    /// Rows still in the default partition after the run: rows of days already due for
    /// compaction (the compaction moves them), or rows that keep arriving there.
    pub stray_rows_left: i64,
    /// Partitions detached and dropped by the retention, in name order.
    pub dropped: Vec<String>,
}

/// Creates the daily raw partitions for `days` days starting with `first_day` (UTC); returns how
/// many were new. Rows of those days in the default partition move into them.
pub async fn ensure_day_partitions(db: impl PgExecutor<'_>, first_day: NaiveDate, days: u32) -> Result<i32> {
    Ok(sqlx::query_scalar("SELECT ensure_heartbeat_day_partitions($1, $2)")
        .bind(first_day)
        .bind(i32::try_from(days).unwrap_or(i32::MAX))
        .fetch_one(db)
        .await?)
}

/// Creates the monthly partitions of the long-term form for `months` months starting with the
/// month of `first_day` (UTC); returns how many were new.
pub async fn ensure_history_partitions(db: impl PgExecutor<'_>, first_day: NaiveDate, months: u32) -> Result<i32> {
    Ok(sqlx::query_scalar("SELECT ensure_heartbeat_history_partitions($1, $2)")
        .bind(first_day)
        .bind(i32::try_from(months).unwrap_or(i32::MAX))
        .fetch_one(db)
        .await?)
}

/// Raw rows received before this moment are due for compaction: the start of the UTC day in
/// which the raw window began, so that only whole days are compacted.
pub async fn compaction_cutoff(db: impl PgExecutor<'_>, settings: PartitionSettings) -> Result<DateTime<Utc>> {
    Ok(sqlx::query_scalar("SELECT date_trunc('day', now() - make_interval(hours => $1), 'UTC')")
        .bind(i32::try_from(settings.raw_window_hours).unwrap_or(i32::MAX))
        .fetch_one(db)
        .await?)
}

async fn stray_rows(connection: &mut PgConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM license_heartbeats_default").fetch_one(connection).await?)
}

/// One full maintenance run by the database's clock: partitions ahead, the default partition
/// emptied into daily partitions (for rows not yet due for compaction), old partitions dropped.
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
    let (today, retention_cutoff): (NaiveDate, DateTime<Utc>) =
        sqlx::query_as("SELECT (now() AT TIME ZONE 'UTC')::date, now() - make_interval(months => $1)")
            .bind(i32::try_from(settings.retention_months).unwrap_or(i32::MAX))
            .fetch_one(&mut *connection)
            .await?;
    let due_for_compaction = compaction_cutoff(&mut *connection, settings).await?;
    let mut report = MaintenanceReport { stray_rows_found: stray_rows(connection).await?, ..Default::default() };
    report.created += ensure_day_partitions(&mut *connection, today, RAW_DAYS_AHEAD + 1).await?;
    report.created += ensure_history_partitions(&mut *connection, today, settings.ahead_months + 1).await?;
    if report.stray_rows_found > 0 {
        tracing::warn!(
            rows = report.stray_rows_found,
            "heartbeats landed in the default partition (a daily partition was missing); moving them"
        );
        let days: Vec<NaiveDate> = sqlx::query_scalar(
            "SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date
             FROM license_heartbeats_default WHERE received_at >= $1 ORDER BY 1",
        )
        .bind(due_for_compaction)
        .fetch_all(&mut *connection)
        .await?;
        for day in days {
            report.created += ensure_day_partitions(&mut *connection, day, 1).await?;
        }
    }
    report.dropped = sqlx::query_scalar("SELECT drop_heartbeat_partitions_before($1)")
        .bind(retention_cutoff)
        .fetch_all(&mut *connection)
        .await?;
    report.stray_rows_left = stray_rows(connection).await?;
    if report.stray_rows_left > 0 {
        tracing::warn!(rows = report.stray_rows_left, "heartbeats remain in the default partition until compacted");
    }
    if report.created > 0 || !report.dropped.is_empty() {
        tracing::info!(created = report.created, dropped = ?report.dropped, "heartbeat partition maintenance");
    }
    Ok(report)
}

/// Runs the maintenance every six hours (the first run six hours after start-up: `serve` runs
/// one before listening) until the task is dropped; a failed run is retried after an hour.
pub async fn run(pool: PgPool, settings: PartitionSettings) {
    const PERIOD: Duration = Duration::from_secs(6 * 60 * 60);
    const RETRY: Duration = Duration::from_secs(60 * 60);
    let mut wait = PERIOD;
    loop {
        tokio::time::sleep(wait).await;
        wait = match maintain(&pool, settings).await {
            Ok(_) => PERIOD,
            Err(err) => {
                tracing::error!(error = ?err, "heartbeat partition maintenance failed; retrying in an hour");
                RETRY
            }
        };
    }
}
