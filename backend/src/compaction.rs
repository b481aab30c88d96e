//! Compaction of the heartbeat history: raw rows (one per heartbeat, in `license_heartbeats`)
//! whose UTC day ended more than the raw window ago move into the long-term form
//! (`heartbeat_device_days`: per device and day, the exact count of each hour and the day's
//! 30-second-slot timeline), and raw partitions left empty are dropped.
//!
//! Each batch is one statement in one transaction: it deletes at most [`Budget::batch_rows`] raw
//! rows `RETURNING` them, aggregates them and upserts the aggregates (adding counts, OR-ing
//! timelines). A crash between batches loses nothing and repeats nothing, and a row can only be
//! deleted (so counted) once, whoever runs the compaction; batches of all instances are
//! serialised by an advisory lock besides. Rows arriving late (in a day already compacted, or in
//! the default partition) are moved by the next run. Analytics read raw rows and the long-term
//! form together (`crate::analytics`), so their answers do not change while the compaction runs.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{Connection as _, PgConnection, PgPool};
use uuid::Uuid;

use crate::error::Result;
use crate::partitions::{compaction_cutoff, PartitionSettings};

/// How much one run may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Raw rows moved by one statement (so the longest a batch holds its row locks).
    pub batch_rows: i64,
    /// Batches one run may commit before it stops (the rest waits for the next run).
    pub max_batches: u32,
    /// Whether to rest after each batch as long as it took, so that the compaction takes at most
    /// half of one connection's time and leaves the CPU to the hot path (moving 5,000 rows takes
    /// tens of milliseconds, so a paced run still moves far more rows a second than a fleet of a
    /// million devices sends).
    pub paced: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { batch_rows: 5_000, max_batches: u32::MAX, paced: true }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Raw rows moved into the long-term form.
    pub moved: i64,
    /// Batches committed.
    pub batches: u32,
    /// Whether every raw row due was moved (false when the budget ran out first).
    pub finished: bool,
    /// Raw partitions dropped once empty, in name order.
    pub dropped: Vec<String>,
}

/// Moves one batch of `partition`'s raw rows received before `cutoff`, with a license id of at
/// least the given one, in (license, time) order, so that a device's day mostly lands in one
/// batch and the next batch resumes where this one stopped without rereading moved rows.
/// Returns the rows moved and the last license id seen.
///
/// The same statement adds the batch to `heartbeat_compacted_hours` (migration
/// 20261209000100): its heartbeats to their hour's count, and to each slot the device-days for
/// which the batch sets that slot's bit. `held` reads the device-days as they were before the
/// statement (every part of one statement sees the same snapshot), and batches are serialised,
/// so a bit is counted when it is first set and never again.
const MOVE_BATCH_SQL: &str = "
    WITH moved AS (
        DELETE FROM {partition}
        WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM {partition}
            WHERE received_at < $1 AND license_id >= $2
            ORDER BY license_id, received_at LIMIT $3))
        RETURNING license_id, device_id, received_at),
    slotted AS (
        SELECT license_id, device_id, (received_at AT TIME ZONE 'UTC')::date AS day,
               floor(extract(epoch FROM received_at - date_trunc('day', received_at, 'UTC')) / 30)::integer AS slot
        FROM moved),
    per_hour AS (
        SELECT license_id, device_id, day, slot / 120 AS hour, count(*)::integer AS n
        FROM slotted GROUP BY 1, 2, 3, 4),
    per_day AS (
        SELECT license_id, device_id, day, array_agg(coalesce(h.n, 0) ORDER BY hours.hour) AS hour_counts
        FROM (SELECT DISTINCT license_id, device_id, day FROM per_hour) d
        CROSS JOIN generate_series(0, 23) AS hours(hour)
        LEFT JOIN per_hour h USING (license_id, device_id, day, hour)
        GROUP BY 1, 2, 3),
    bounded AS (
        SELECT license_id, device_id, day, slot, min(slot) OVER w AS lo, max(slot) OVER w AS hi
        FROM slotted WINDOW w AS (PARTITION BY license_id, device_id, day)),
    timelines AS (
        SELECT license_id, device_id, day, min(lo) AS first_slot,
               bit_or(set_bit(repeat('0', hi - lo + 1)::bit varying, slot - lo, 1)) AS slots
        FROM bounded GROUP BY 1, 2, 3),
    stored AS (
        INSERT INTO heartbeat_device_days AS t (license_id, day, device_id, hour_counts, first_slot, slots)
        SELECT license_id, day, device_id, hour_counts, first_slot, slots
        FROM per_day JOIN timelines USING (license_id, device_id, day)
        ON CONFLICT (license_id, day, device_id) DO UPDATE SET
            hour_counts = heartbeat_hour_counts_add(t.hour_counts, excluded.hour_counts),
            first_slot = least(t.first_slot, excluded.first_slot),
            slots = heartbeat_slots_or(t.first_slot, t.slots, excluded.first_slot, excluded.slots)),
    held AS (
        SELECT t.license_id, t.device_id, t.day, t.first_slot, t.slots
        FROM heartbeat_device_days t
        JOIN (SELECT DISTINCT license_id, device_id, day FROM per_hour) k USING (license_id, device_id, day)),
    newly_held AS (
        SELECT s.day, s.slot / 120 AS hour, s.slot % 120 AS position, count(*)::integer AS devices
        FROM (SELECT DISTINCT license_id, device_id, day, slot FROM slotted) s
        LEFT JOIN held h USING (license_id, device_id, day)
        WHERE h.slots IS NULL OR s.slot < h.first_slot OR s.slot >= h.first_slot + length(h.slots)
           OR get_bit(h.slots, s.slot - h.first_slot) = 0
        GROUP BY 1, 2, 3),
    hours AS (
        SELECT hours.day::timestamp AT TIME ZONE 'UTC' + make_interval(hours => hours.hour) AS hour, hours.n,
               array_agg(coalesce(f.devices, 0) ORDER BY p.position) AS slots
        FROM (SELECT day, hour, sum(n)::bigint AS n FROM per_hour GROUP BY 1, 2) hours
        CROSS JOIN generate_series(0, 119) AS p(position)
        LEFT JOIN newly_held f ON f.day = hours.day AND f.hour = hours.hour AND f.position = p.position
        GROUP BY hours.day, hours.hour, hours.n),
    counted AS (
        INSERT INTO heartbeat_compacted_hours AS t (hour, n, slots)
        SELECT hour, n, slots FROM hours
        ON CONFLICT (hour) DO UPDATE SET
            n = t.n + excluded.n,
            slots = heartbeat_hour_counts_add(t.slots, excluded.slots))
    SELECT count(*), max(license_id::text)::uuid FROM moved";

/// The raw partitions that may hold rows received before `cutoff`, oldest first, the default
/// partition last.
async fn partitions_before(connection: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT c.relname::text
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'license_heartbeats'::regclass
           AND (c.relname = 'license_heartbeats_default'
             OR (c.relname ~ '^license_heartbeats_[0-9]{8}$'
                 AND to_date(substr(c.relname, 20), 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC' < $1)
             OR (c.relname ~ '^license_heartbeats_[0-9]{6}$'
                 AND to_date(substr(c.relname, 20), 'YYYYMM')::timestamp AT TIME ZONE 'UTC' < $1))
         ORDER BY c.relname = 'license_heartbeats_default', c.relname",
    )
    .bind(cutoff)
    .fetch_all(connection)
    .await?)
}

/// One batch in its own transaction, after the compaction's advisory lock.
async fn move_batch(
    connection: &mut PgConnection,
    statement: &str,
    cutoff: DateTime<Utc>,
    from_license: Uuid,
    rows: i64,
) -> Result<(i64, Option<Uuid>)> {
    let mut tx = connection.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('license_heartbeats compaction'))").execute(&mut *tx).await?;
    let moved: sqlx::Result<(i64, Option<Uuid>)> =
        sqlx::query_as(statement).bind(cutoff).bind(from_license).bind(rows).fetch_one(&mut *tx).await;
    match moved {
        Ok(moved) => {
            tx.commit().await?;
            Ok(moved)
        }
        // Another instance emptied and dropped the partition meanwhile: nothing left to move.
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some(UNDEFINED_TABLE) => Ok((0, None)),
        Err(err) => Err(err.into()),
    }
}

/// SQLSTATE of a table that does not exist.
const UNDEFINED_TABLE: &str = "42P01";

/// Drops the raw partitions before `cutoff` that are empty. The detach needs a moment's
/// exclusive lock on `license_heartbeats`; while it waits for it, heartbeats queue behind it, so
/// it waits at most 200 ms (the next run tries again).
async fn drop_empty_partitions(connection: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<Vec<String>> {
    let mut tx = connection.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '200ms'").execute(&mut *tx).await?;
    let dropped: sqlx::Result<Vec<String>> =
        sqlx::query_scalar("SELECT drop_compacted_heartbeat_partitions($1)").bind(cutoff).fetch_all(&mut *tx).await;
    match dropped {
        Ok(dropped) => {
            tx.commit().await?;
            Ok(dropped)
        }
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some(LOCK_NOT_AVAILABLE) => {
            tracing::info!("compacted heartbeat partitions are busy; dropping them in the next run");
            Ok(Vec::new())
        }
        Err(err) => Err(err.into()),
    }
}

/// SQLSTATE of a `lock_timeout` expiring.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// One compaction run by the database's clock, within `budget`, on a connection of its own
/// without the request statement timeout.
pub async fn compact(pool: &PgPool, settings: PartitionSettings, budget: Budget) -> Result<CompactionReport> {
    let mut connection = crate::db::unlimited_connection(pool).await?;
    let report = compact_on(&mut connection, settings, budget).await;
    if let Err(err) = connection.close().await {
        tracing::debug!(error = ?err, "closing the compaction's connection failed");
    }
    report
}

async fn compact_on(
    connection: &mut PgConnection,
    settings: PartitionSettings,
    budget: Budget,
) -> Result<CompactionReport> {
    let cutoff = compaction_cutoff(&mut *connection, settings).await?;
    let mut report = CompactionReport::default();
    for partition in partitions_before(connection, cutoff).await? {
        let statement = MOVE_BATCH_SQL.replace("{partition}", &format!("\"{partition}\""));
        let mut from_license = Uuid::nil();
        loop {
            if report.batches == budget.max_batches {
                return Ok(report);
            }
            let started = Instant::now();
            let (moved, last_license) =
                move_batch(connection, &statement, cutoff, from_license, budget.batch_rows).await?;
            if moved == 0 {
                break;
            }
            if budget.paced {
                tokio::time::sleep(started.elapsed()).await;
            }
            report.batches += 1;
            report.moved += moved;
            from_license = last_license.unwrap_or(from_license);
        }
    }
    report.finished = true;
    report.dropped = drop_empty_partitions(connection, cutoff).await?;
    if report.moved > 0 || !report.dropped.is_empty() {
        tracing::info!(moved = report.moved, dropped = ?report.dropped, "heartbeat compaction");
    }
    Ok(report)
}

/// Runs the compaction every ten minutes (the first run right after start-up) until the task is
/// dropped; a failed run is logged and retried at the next period.
pub async fn run(pool: PgPool, settings: PartitionSettings) {
    const PERIOD: Duration = Duration::from_secs(10 * 60);
    loop {
        if let Err(err) = compact(&pool, settings, Budget::default()).await {
            tracing::error!(error = ?err, "heartbeat compaction failed; retrying in ten minutes");
        }
        tokio::time::sleep(PERIOD).await;
    }
}

/// The start of every 30-second slot in `[from, to)` in which the device sent at least one
/// heartbeat, from raw rows and the long-term form alike: a device's heartbeat timeline, whose
/// gaps (consecutive slots further apart than one) are the times it was not heard from.
pub async fn heartbeat_slots(
    pool: &PgPool,
    license_id: Uuid,
    device_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "SELECT slot_start FROM (
             SELECT date_bin('30 seconds', received_at, timestamptz '2000-01-01 00:00:00+00') AS slot_start
             FROM license_heartbeats
             WHERE license_id = $1 AND device_id = $2 AND received_at >= $3 AND received_at < $4
             UNION
             SELECT (d.day::timestamp AT TIME ZONE 'UTC') + (d.first_slot + i) * interval '30 seconds'
             FROM heartbeat_device_days d CROSS JOIN generate_series(0, length(d.slots) - 1) AS i
             WHERE d.license_id = $1 AND d.device_id = $2
               AND d.day >= ($3 AT TIME ZONE 'UTC')::date AND d.day <= ($4 AT TIME ZONE 'UTC')::date
               AND get_bit(d.slots, i) = 1) slots
         WHERE slot_start >= $3 AND slot_start < $4
         ORDER BY 1",
    )
    .bind(license_id)
    .bind(device_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?)
}
