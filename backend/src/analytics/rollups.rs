//! Rollups of heartbeats (all licenses, per hour), of sessions (started, and ended by reason,
//! per UTC day, per license and over all licenses) and of filed sessions' concurrency (per
//! license and UTC day), so that the analysts' aggregates read a few rows per day instead of
//! scanning raw history.
//!
//! Exact by construction (migrations `20261207000100_analytics_rollups.sql` and
//! `20261210000100_session_peak_days.sql`): statement-level triggers append deltas for every row
//! written to `license_heartbeats`, `license_sessions` and `session_history`, in the writer's
//! transaction, to insert-only tables. [`move_deltas`] folds them into the rollups: each statement
//! deletes a batch of deltas and adds them to the rollups, so a delta is counted once, whichever
//! instance moves it and whenever it stops. Readers add the rollups and the deltas not yet moved
//! in one statement (one snapshot): exact at any moment.

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
    /// Deltas of filed sessions' days folded into `session_peak_days`.
    pub peak_deltas: i64,
}

impl Moved {
    /// Deltas of every kind moved.
    pub fn total(self) -> i64 {
        self.heartbeat_deltas + self.session_deltas + self.peak_deltas
    }
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
    // The days' carries add up; their rises are recomputed from the history this statement sees
    // (a filing it does not see left a delta it does not move either).
    let peak_deltas: i64 = sqlx::query_scalar(
        "WITH moved AS (
             DELETE FROM session_peak_deltas
             WHERE ctid = ANY (ARRAY(SELECT ctid FROM session_peak_deltas LIMIT $1))
             RETURNING license_id, day, carry),
         days AS (
             SELECT license_id, day, sum(carry)::integer AS carry FROM moved GROUP BY 1, 2),
         added AS (
             INSERT INTO session_peak_days AS p (license_id, day, carry, rise, rise_at)
             SELECT d.license_id, d.day, d.carry, r.rise, r.rise_at
             FROM days d CROSS JOIN LATERAL session_peak_rise(d.license_id, d.day) r
             ON CONFLICT (license_id, day) DO UPDATE
             SET carry = p.carry + excluded.carry, rise = excluded.rise, rise_at = excluded.rise_at)
         SELECT count(*) FROM moved",
    )
    .bind(batch)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Moved { heartbeat_deltas, session_deltas, peak_deltas }))
}

/// Moves batches until fewer than a batch of each kind is left (or another mover has the lock);
/// returns the total moved.
pub async fn move_all(pool: &PgPool) -> Result<Moved> {
    let mut total = Moved::default();
    while let Some(moved) = move_deltas(pool, MOVE_BATCH).await? {
        total.heartbeat_deltas += moved.heartbeat_deltas;
        total.session_deltas += moved.session_deltas;
        total.peak_deltas += moved.peak_deltas;
        if [moved.heartbeat_deltas, moved.session_deltas, moved.peak_deltas].iter().all(|&n| n < MOVE_BATCH) {
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

/// The peak number of simultaneous sessions per license within `[from, to)` (highest first, at
/// most `limit`), overall or for one license: filed sessions from `session_peak_days`, live ones
/// (ending now, or at their deadline when dead but not filed yet) from `license_sessions`.
///
/// A whole day of the range that no live session is in and whose rollup row has no delta pending
/// peaks at its row's `carry + rise`. The other days of the range with sessions (those, and the
/// days its edges cut) are counted from their events: the level at the day's start (the filed
/// carry, the rollup's and the pending deltas', and the live sessions across it), then the filed
/// and live starts and ends in the day, ends first at one instant. The range's own start is a
/// point of its first day. Filed events are read by time, each such day's for all its licenses at
/// once; so a range whose every day holds a live session reads its history once, as counting
/// every session interval would.
pub(super) async fn peak_levels(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    timeout_secs: f64,
    license_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<super::PeakConcurrency>> {
    let (only, only_filed) =
        if license_id.is_some() { ("AND license_id = $6", "AND f.license_id = $6") } else { ("", "") };
    let day = chrono::Duration::days(1);
    let (first_start, last_end) = (super::floor_to(from, day), super::ceil_to(to, day));
    let (first_day, last_day) = (first_start.date_naive(), (last_end - day).date_naive());
    // The days the range's edges cut, counted from their events.
    let edge_days: Vec<NaiveDate> = [(first_start < from, first_day), (last_end > to, last_day)]
        .into_iter()
        .filter_map(|(cut, day)| cut.then_some(day))
        .collect();
    let query = format!(
        "WITH live_in AS MATERIALIZED (
             SELECT license_id, s, e FROM (
                 SELECT license_id, started_at AS s, least(now(), session_deadline(last_heartbeat_at, $3)) AS e
                 FROM license_sessions WHERE started_at < $2 {only}) l
             WHERE e > s AND e > $1),
         pending AS MATERIALIZED (
             SELECT license_id, day, sum(carry)::integer AS carry FROM session_peak_deltas
             WHERE day >= $4 AND day <= $5 {only} GROUP BY 1, 2),
         -- Days whose rollup row is not up to date, and the days of the range a live session is in.
         marked AS MATERIALIZED (
             SELECT license_id, day FROM pending
             UNION
             SELECT l.license_id, d.first + i
             FROM live_in l
             CROSS JOIN LATERAL (SELECT (greatest(l.s, $1) AT TIME ZONE 'UTC')::date AS first,
                                        ((least(l.e, $2) - interval '1 microsecond') AT TIME ZONE 'UTC')::date AS last) d
             CROSS JOIN LATERAL generate_series(0, d.last - d.first) AS i),
         -- The rollup's days and the marked ones without a row, and whether to count them from events.
         rolled AS MATERIALIZED (
             SELECT license_id, day, coalesce(p.carry, 0) AS carry, p.rise, p.rise_at,
                    m.license_id IS NOT NULL OR day = ANY ($8) AS raw
             FROM (SELECT * FROM session_peak_days WHERE day >= $4 AND day <= $5 {only}) p
             FULL JOIN marked m USING (license_id, day)),
         raw_days AS MATERIALIZED (
             SELECT license_id, day, ds, greatest(ds, $1) AS a, least(de, $2) AS b,
                    r.carry + coalesce(p.carry, 0) AS carry
             FROM rolled r LEFT JOIN pending p USING (license_id, day)
             CROSS JOIN LATERAL (SELECT day::timestamp AT TIME ZONE 'UTC' AS ds,
                                        (day + 1)::timestamp AT TIME ZONE 'UTC' AS de) x
             WHERE r.raw),
         -- ord: 0 the level at the day's start, 1 ends, 2 the range's start, 3 starts.
         events AS (
             SELECT license_id, day, a, ds AS t, 0 AS ord, carry AS delta FROM raw_days
             UNION ALL
             SELECT license_id, day, a, a, 2, 0 FROM raw_days
             UNION ALL
             SELECT r.license_id, r.day, r.a, f.t, CASE WHEN f.delta < 0 THEN 1 ELSE 3 END, f.delta
             FROM (SELECT DISTINCT day, ds, b FROM raw_days) d
             CROSS JOIN LATERAL filed_session_events(d.ds, d.b) f
             JOIN raw_days r ON r.license_id = f.license_id AND r.day = d.day
             WHERE true {only_filed}
             UNION ALL
             SELECT r.license_id, r.day, r.a, x.t, x.ord, x.delta
             FROM raw_days r JOIN live_in l ON l.license_id = r.license_id
             CROSS JOIN LATERAL (VALUES (r.ds, 0, 1, l.s < r.ds AND l.e > r.ds),
                                        (l.e, 1, -1, l.e > r.ds AND l.e < r.b),
                                        (l.s, 3, 1, l.s >= r.ds AND l.s < r.b)) x(t, ord, delta, happens)
             WHERE x.happens),
         counted AS MATERIALIZED (
             SELECT license_id, t, level FROM (
                 SELECT license_id, a, t, ord,
                        sum(delta) OVER (PARTITION BY license_id, day ORDER BY t, ord ROWS UNBOUNDED PRECEDING) AS level
                 FROM events) running
             WHERE ord >= 2 AND t >= a),
         -- The whole days read from the rollup alone, and the other days' points.
         candidates AS (
             SELECT license_id, rise_at AS t, carry + rise AS level FROM rolled WHERE NOT raw
             UNION ALL
             SELECT license_id, t, level FROM counted),
         best AS (
             SELECT license_id, max(level) AS peak FROM (
                 SELECT license_id, max(carry + rise) AS level FROM rolled WHERE NOT raw GROUP BY license_id
                 UNION ALL
                 SELECT license_id, level FROM counted) c
             GROUP BY license_id HAVING max(level) > 0 ORDER BY 2 DESC, 1 LIMIT $7)
         SELECT b.peak::bigint AS peak, min(c.t) AS reached_at, b.license_id
         FROM best b JOIN candidates c ON c.license_id = b.license_id AND c.level = b.peak
         GROUP BY b.license_id, b.peak ORDER BY b.peak DESC, b.license_id"
    );
    // `$6` is sent typed (uuid) when the statement over all licenses does not use it.
    Ok(sqlx::query_as(&query)
        .bind(from)
        .bind(to)
        .bind(timeout_secs)
        .bind(first_day)
        .bind(last_day)
        .bind(license_id)
        .bind(limit)
        .bind(edge_days)
        .fetch_all(pool)
        .await?)
}
