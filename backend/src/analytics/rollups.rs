//! Rollups of heartbeats (all licenses, per hour) and of sessions (started, and ended by reason,
//! per UTC day, per license and over all licenses), so that the analysts' aggregates read a few
//! hundred rows instead of scanning raw history.
//!
//! Exact by construction (migration `20261207000100_analytics_rollups.sql`): statement-level
//! triggers append deltas for every row written to `license_heartbeats`, `license_sessions` and
//! `session_history`, in the writer's transaction, to insert-only tables. [`move_deltas`] folds
//! them into the rollups: each statement deletes a batch of deltas and adds them to the rollups,
//! so a delta is counted once, whichever instance moves it and whenever it stops. Readers add the
//! rollups and the deltas not yet moved in one statement (one snapshot): exact at any moment.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::Result;

/// Deltas moved per table and statement; a run repeats until fewer are left.
pub const MOVE_BATCH: i64 = 10_000;

/// How often each instance moves deltas: readers sum the deltas not yet moved, so they should stay few.
const MOVE_INTERVAL: Duration = Duration::from_secs(5);

/// What one call of [`move_deltas`] moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Hourly heartbeat deltas folded into `heartbeat_hourly`.
    pub heartbeat_deltas: i64,
    /// Daily session deltas folded into `session_day_license` and `session_day_totals`.
    pub session_deltas: i64,
}

/// Moves up to `batch` deltas of each kind into the rollups, in one transaction. `None` when
/// another mover holds the lock (it is doing the work); moving the same delta twice is
/// impossible either way, since a delta is deleted by the statement that adds it.
pub async fn move_deltas(pool: &PgPool, batch: i64) -> Result<Option<Moved>> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('analytics rollups'))")
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(None);
    }
    let heartbeat_deltas: i64 = sqlx::query_scalar(
        "WITH moved AS (
             DELETE FROM heartbeat_hour_deltas
             WHERE ctid = ANY (ARRAY(SELECT ctid FROM heartbeat_hour_deltas LIMIT $1))
             RETURNING hour, n),
         added AS (
             INSERT INTO heartbeat_hourly (hour, n)
             SELECT hour, sum(n)::bigint FROM moved GROUP BY hour
             ON CONFLICT (hour) DO UPDATE SET n = heartbeat_hourly.n + excluded.n)
         SELECT count(*) FROM moved",
    )
    .bind(batch)
    .fetch_one(&mut *tx)
    .await?;
    let session_deltas: i64 = sqlx::query_scalar(
        "WITH moved AS (
             DELETE FROM session_day_deltas
             WHERE ctid = ANY (ARRAY(SELECT ctid FROM session_day_deltas LIMIT $1))
             RETURNING license_id, day, kind, n),
         per_license AS (
             INSERT INTO session_day_license (license_id, day, kind, n)
             SELECT license_id, day, kind, sum(n)::bigint FROM moved GROUP BY 1, 2, 3
             ON CONFLICT (license_id, day, kind) DO UPDATE SET n = session_day_license.n + excluded.n),
         totals AS (
             INSERT INTO session_day_totals (day, kind, n)
             SELECT day, kind, sum(n)::bigint FROM moved GROUP BY 1, 2
             ON CONFLICT (day, kind) DO UPDATE SET n = session_day_totals.n + excluded.n)
         SELECT count(*) FROM moved",
    )
    .bind(batch)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Moved { heartbeat_deltas, session_deltas }))
}

/// Moves batches until fewer than a batch of each kind is left (or another mover has the lock);
/// returns the total moved.
pub async fn move_all(pool: &PgPool) -> Result<Moved> {
    let mut total = Moved::default();
    while let Some(moved) = move_deltas(pool, MOVE_BATCH).await? {
        total.heartbeat_deltas += moved.heartbeat_deltas;
        total.session_deltas += moved.session_deltas;
        if moved.heartbeat_deltas < MOVE_BATCH && moved.session_deltas < MOVE_BATCH {
            break;
        }
    }
    Ok(total)
}

/// Moves deltas every few seconds until the task is dropped. Every instance runs it; the
/// advisory lock lets one at a time do the work.
pub async fn run(pool: PgPool) {
    let mut ticker = tokio::time::interval(MOVE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = move_all(&pool).await {
            tracing::warn!(error = ?err, "moving analytics deltas into the rollups failed; retrying next period");
        }
    }
}

/// Heartbeats of all licenses per `bucket` (`hour` or `day`) over the whole hours `[from, to)`,
/// from the hourly rollup and the deltas not yet moved; `(bucket start, count)`, zero counts
/// included.
pub(super) async fn heartbeat_hours(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: &str,
) -> Result<Vec<(DateTime<Utc>, i64)>> {
    Ok(sqlx::query_as(
        "SELECT date_trunc($3, hour, 'UTC'), sum(n)::bigint FROM (
             SELECT hour, n FROM heartbeat_hourly WHERE hour >= $1 AND hour < $2
             UNION ALL
             SELECT hour, n FROM heartbeat_hour_deltas WHERE hour >= $1 AND hour < $2) h
         GROUP BY 1",
    )
    .bind(from)
    .bind(to)
    .bind(bucket)
    .fetch_all(pool)
    .await?)
}

/// Sessions per UTC day in the whole days `[from, to)`, overall or for one license, from the
/// rollups and the deltas not yet moved: `(day, kind, count)`, `kind` being `started` or an end
/// reason; zero counts included.
pub(super) async fn session_days(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    license_id: Option<Uuid>,
) -> Result<Vec<(NaiveDate, String, i64)>> {
    let rollup = match license_id {
        None => "SELECT day, kind, n FROM session_day_totals WHERE day >= $1 AND day < $2",
        Some(_) => "SELECT day, kind, n FROM session_day_license WHERE license_id = $3 AND day >= $1 AND day < $2",
    };
    Ok(sqlx::query_as(&format!(
        "SELECT day, kind, sum(n)::bigint FROM (
             {rollup}
             UNION ALL
             SELECT day, kind, n FROM session_day_deltas
             WHERE day >= $1 AND day < $2 AND ($3::uuid IS NULL OR license_id = $3)) s
         GROUP BY 1, 2"
    ))
    .bind(from)
    .bind(to)
    .bind(license_id)
    .fetch_all(pool)
    .await?)
}
