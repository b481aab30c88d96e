//! Monthly partitions of `license_heartbeats`, created ahead of time so that a heartbeat at a
//! month boundary always has a partition to land in.

use std::time::Duration;

use chrono::NaiveDate;
use sqlx::PgPool;

use crate::error::Result;

/// Creates the partitions for `months` months starting with the month of `first_day` (UTC);
/// returns how many were new. Idempotent; several instances may call it at once.
pub async fn ensure_partitions(pool: &PgPool, first_day: NaiveDate, months: u32) -> Result<i32> {
    Ok(sqlx::query_scalar("SELECT ensure_heartbeat_partitions($1, $2)")
        .bind(first_day)
        .bind(i32::try_from(months).unwrap_or(i32::MAX))
        .fetch_one(pool)
        .await?)
}

/// The current month and `ahead` months after it, by the database's clock.
pub async fn ensure_current(pool: &PgPool, ahead: u32) -> Result<i32> {
    let today: NaiveDate = sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC')::date").fetch_one(pool).await?;
    let created = ensure_partitions(pool, today, ahead + 1).await?;
    let stray: i64 = sqlx::query_scalar("SELECT count(*) FROM license_heartbeats_default").fetch_one(pool).await?;
    if stray > 0 {
        tracing::warn!(rows = stray, "heartbeats landed in the default partition: a monthly partition was missing");
    }
    Ok(created)
}

/// Runs the maintenance daily until the task is dropped.
pub async fn run(pool: PgPool, ahead: u32) {
    let mut ticker = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    loop {
        ticker.tick().await;
        match ensure_current(&pool, ahead).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(created = n, "created heartbeat partitions"),
            Err(err) => tracing::error!(error = ?err, "heartbeat partition maintenance failed"),
        }
    }
}
