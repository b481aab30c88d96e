//! Aggregates for analysts: licenses by state and type, usage per license, and from the rollups
//! in [`rollups`]: sessions per day, heartbeats per hour or day (exact at the edges from the raw
//! and compacted heartbeats in the partitions in range only) and peak concurrency (exact from the
//! raw sessions of the days the rollup cannot answer alone).
//!
//! Each weighs what it reads and returns (`crate::graphql` has the weights): a range aggregate
//! its days of history plus its rows, a whole-table aggregate a table scan plus its rows.

use std::collections::BTreeMap;

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Duration, DurationRound as _, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{Permission, Require};
use crate::error::{Error, GqlResultExt, Result};
use crate::graphql::ids::{parse_id, Id};
use crate::graphql::{
    days_in_range, enum_size, history_complexity, hours_in_range, page_complexity, HISTORY_DAY_COMPLEXITY,
    TABLE_SCAN_COMPLEXITY,
};
use crate::licenses::LicenseType;
use crate::sessions::EndReason;
use crate::sessions::SessionSettings;

pub mod rollups;

/// Where a license stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum LicenseState {
    /// Active and inside its validity window.
    Active,
    /// Active, but its window has not started yet.
    Pending,
    /// Active, but its window has ended.
    Expired,
    /// Deactivated by an admin.
    Inactive,
}

#[derive(Debug, SimpleObject)]
pub struct LicenseCount {
    pub license_type: LicenseType,
    pub state: LicenseState,
    pub count: i64,
}

/// Devices and sessions of one license.
#[derive(Debug, sqlx::FromRow, SimpleObject)]
pub struct LicenseUsage {
    pub license_key: String,
    pub device_limit: i32,
    pub active_devices: i64,
    pub concurrent_sessions_limit: i32,
    /// Sessions whose last heartbeat is younger than the timeout.
    pub live_sessions: i64,
    pub license_id: Id,
}

#[derive(Debug, SimpleObject)]
pub struct ReasonCount {
    pub reason: EndReason,
    pub count: i64,
}

/// Sessions started and ended on one UTC day.
#[derive(Debug, SimpleObject)]
pub struct SessionDay {
    pub day: NaiveDate,
    pub started: i64,
    pub ended: i64,
    /// The ended sessions by why they ended.
    #[graphql(complexity = "enum_size::<EndReason>() * child_complexity")]
    pub end_reasons: Vec<ReasonCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum TimeBucket {
    Hour,
    Day,
}

impl TimeBucket {
    fn sql(self) -> &'static str {
        match self {
            TimeBucket::Hour => "hour",
            TimeBucket::Day => "day",
        }
    }

    /// How many buckets `[from, to)` holds (the most rows a query returns).
    pub fn count_in(self, from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
        match self {
            TimeBucket::Hour => hours_in_range(from, to),
            TimeBucket::Day => days_in_range(from, to),
        }
    }

    /// The longest range one query may cover: at most 31 × 24 hourly or 366 daily buckets.
    fn max_range(self) -> Duration {
        match self {
            TimeBucket::Hour => Duration::days(31),
            TimeBucket::Day => Duration::days(366),
        }
    }
}

#[derive(Debug, sqlx::FromRow, SimpleObject)]
pub struct HeartbeatBucket {
    /// The start of the hour or day (UTC).
    pub bucket_start: DateTime<Utc>,
    pub count: i64,
}

#[derive(Debug, sqlx::FromRow, SimpleObject)]
pub struct PeakConcurrency {
    /// The most sessions live at the same moment within the range.
    pub peak: i64,
    /// The first moment the peak was reached.
    pub reached_at: DateTime<Utc>,
    pub license_id: Id,
}

/// A stretch of consecutive 30-second slots in each of which a device sent a heartbeat: the
/// device was heard from throughout; the time between two stretches is a gap.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct HeartbeatStretch {
    /// The start of the stretch's first slot (UTC).
    pub from: DateTime<Utc>,
    /// The end of its last slot.
    pub to: DateTime<Utc>,
    /// How many slots it spans.
    pub slots: i32,
}

fn check_range(from: DateTime<Utc>, to: DateTime<Utc>, max: Duration) -> Result<()> {
    if to <= from {
        return Err(Error::bad_input("to", "to must be after from"));
    }
    if to - from > max {
        return Err(Error::bad_input("to", format!("the range may span at most {} days", max.num_days())));
    }
    Ok(())
}

pub async fn license_counts(pool: &PgPool) -> Result<Vec<LicenseCount>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT license_type,
                CASE WHEN NOT is_active THEN 'inactive'
                     WHEN valid_from > now() THEN 'pending'
                     WHEN valid_until <= now() THEN 'expired'
                     ELSE 'active' END AS state,
                count(*)
         FROM licenses GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(license_type, state, count)| LicenseCount {
            license_type: LicenseType::parse(&license_type),
            state: match state.as_str() {
                "inactive" => LicenseState::Inactive,
                "pending" => LicenseState::Pending,
                "expired" => LicenseState::Expired,
                _ => LicenseState::Active,
            },
            count,
        })
        .collect())
}

/// Usage per license, closest to a limit first: by the larger of the shares of its device limit
/// and of its concurrent-session limit in use, then by live sessions and active devices.
pub async fn license_usage(
    pool: &PgPool,
    settings: &SessionSettings,
    license_id: Option<Uuid>,
    limit: i32,
) -> Result<Vec<LicenseUsage>> {
    if !(1..=100).contains(&limit) {
        return Err(Error::bad_input("first", "first must be between 1 and 100"));
    }
    Ok(sqlx::query_as(
        "SELECT * FROM (
             SELECT l.id AS license_id, l.license_key, l.device_limit, l.concurrent_sessions_limit, l.created_at,
                    (SELECT count(*) FROM device_registrations d WHERE d.license_id = l.id AND d.is_active) AS active_devices,
                    (SELECT count(*) FROM license_sessions s
                      WHERE s.license_id = l.id AND session_is_live(s.last_heartbeat_at, $2)) AS live_sessions
             FROM licenses l
             WHERE $1::uuid IS NULL OR l.id = $1) usage
         ORDER BY greatest(active_devices::numeric / device_limit, live_sessions::numeric / concurrent_sessions_limit) DESC,
                  live_sessions DESC, active_devices DESC, created_at, license_id
         LIMIT $3",
    )
    .bind(license_id)
    .bind(settings.timeout_secs())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?)
}

/// Sessions started and ended per UTC day in `[from, to)`: whole days from the rollups, the
/// partial days at the edges (when `from` or `to` is not midnight) from the raw rows.
pub async fn sessions_per_day(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    license_id: Option<Uuid>,
) -> Result<Vec<SessionDay>> {
    check_range(from, to, Duration::days(366))?;
    let first_day = ceil_to(from, Duration::days(1));
    let last_day = floor_to(to, Duration::days(1));
    let mut counts = Vec::new();
    if first_day < last_day {
        counts.extend(rollups::session_days(pool, first_day.date_naive(), last_day.date_naive(), license_id).await?);
        if from < first_day {
            counts.extend(session_counts_exact(pool, from, first_day, license_id).await?);
        }
        if last_day < to {
            counts.extend(session_counts_exact(pool, last_day, to, license_id).await?);
        }
    } else {
        counts.extend(session_counts_exact(pool, from, to, license_id).await?);
    }
    let mut by_day: BTreeMap<NaiveDate, (i64, BTreeMap<String, i64>)> = BTreeMap::new();
    for (day, kind, n) in counts {
        let (started, reasons) = by_day.entry(day).or_default();
        if kind == STARTED {
            *started += n;
        } else {
            *reasons.entry(kind).or_default() += n;
        }
    }
    Ok(by_day
        .into_iter()
        .filter_map(|(day, (started, reasons))| {
            let end_reasons: Vec<ReasonCount> = reasons
                .into_iter()
                .filter(|&(_, count)| count != 0)
                .map(|(reason, count)| ReasonCount { reason: EndReason::parse(&reason), count })
                .collect();
            let ended = end_reasons.iter().map(|r| r.count).sum();
            (started != 0 || !end_reasons.is_empty()).then_some(SessionDay { day, started, ended, end_reasons })
        })
        .collect())
}

/// The `kind` of session counts that started (the others are end reasons).
const STARTED: &str = "started";

/// Sessions per UTC day in `[from, to)` counted from the raw rows, as `(day, kind, count)`:
/// started (live and filed sessions, by `started_at`) and ended by reason (by `ended_at`).
async fn session_counts_exact(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    license_id: Option<Uuid>,
) -> Result<Vec<(NaiveDate, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT (started_at AT TIME ZONE 'UTC')::date, 'started', count(*) FROM (
             SELECT started_at, license_id FROM session_history
             UNION ALL SELECT started_at, license_id FROM license_sessions) s
         WHERE started_at >= $1 AND started_at < $2 AND ($3::uuid IS NULL OR license_id = $3)
         GROUP BY 1
         UNION ALL
         SELECT (ended_at AT TIME ZONE 'UTC')::date, end_reason, count(*) FROM session_history
         WHERE ended_at >= $1 AND ended_at < $2 AND ($3::uuid IS NULL OR license_id = $3)
         GROUP BY 1, 2",
    )
    .bind(from)
    .bind(to)
    .bind(license_id)
    .fetch_all(pool)
    .await?)
}

/// `at` rounded down to a multiple of `step` (an hour or a day: whole UTC hours and days).
fn floor_to(at: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    at.duration_trunc(step).unwrap_or(at)
}

/// `at` rounded up to a multiple of `step`.
fn ceil_to(at: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let floor = floor_to(at, step);
    if floor == at {
        at
    } else {
        floor + step
    }
}

/// A heartbeat statement: heartbeats per bucket (`$3`) in `[$1, $2)` from the raw rows (those of
/// the licenses `$license` admits) and the compacted history (`$compacted`, per bucket) together
/// (see `crate::compaction`). A heartbeat is in exactly one of them at any moment, so one
/// statement (one snapshot) counts each once, wherever the compaction stands. The range is a
/// plain condition on bind parameters for each table, so PostgreSQL prunes the partitions outside
/// it (at planning with a custom plan, at execution with a generic one); `tests/api/analytics.rs`
/// checks the plans. In the compacted history, an hour cut by an edge of the range counts the
/// 30-second slots in range that hold a heartbeat (a slot counts when it starts in range), which
/// is exact unless two heartbeats of a device shared a slot.
macro_rules! heartbeat_buckets_sql {
    (raw: $license:literal, compacted: $compacted:literal) => {
        concat!(
            "
    WITH raw AS (
        SELECT date_trunc($3, received_at, 'UTC') AS bucket_start, count(*) AS n
        FROM license_heartbeats
        WHERE received_at >= $1 AND received_at < $2",
            $license,
            "
        GROUP BY 1),
    compacted AS (",
            $compacted,
            ")
    SELECT bucket_start, sum(n)::bigint AS count
    FROM (SELECT * FROM raw UNION ALL SELECT * FROM compacted) buckets
    GROUP BY 1 HAVING sum(n) > 0 ORDER BY 1"
        )
    };
}

/// Heartbeats of all licenses per bucket: the compacted history is read from its sums per hour
/// (`heartbeat_compacted_hours`, kept by the compaction), one row per hour, whose per-slot counts
/// answer an hour cut by an edge without reading every device's day.
pub const HEARTBEAT_BUCKETS_SQL: &str = heartbeat_buckets_sql!(
    raw: "",
    compacted: "
        SELECT date_trunc($3, h.hour, 'UTC') AS bucket_start,
               sum(CASE WHEN h.hour >= $1 AND h.hour + interval '1 hour' <= $2 THEN h.n
                        ELSE (SELECT coalesce(sum(x), 0) FROM unnest(h.slots[
                                  greatest(ceil(extract(epoch FROM $1 - h.hour) / 30)::integer, 0) + 1
                                  : least(ceil(extract(epoch FROM $2 - h.hour) / 30)::integer, 120)]) AS x)
                   END) AS n
        FROM heartbeat_compacted_hours h
        WHERE h.hour > $1 - interval '1 hour' AND h.hour < $2
        GROUP BY 1"
);

/// Heartbeats of one license (`$4`) per bucket: the compacted history is read from the license's
/// device-days in range, and only their hours in range.
pub const LICENSE_HEARTBEAT_BUCKETS_SQL: &str = heartbeat_buckets_sql!(
    raw: " AND license_id = $4",
    compacted: "
        SELECT date_trunc($3, hour_start, 'UTC') AS bucket_start,
               sum(CASE WHEN hour_start >= $1 AND hour_start + interval '1 hour' <= $2 THEN h.n
                        ELSE heartbeat_slots_count(d.first_slot, d.slots,
                                 greatest(h.hour * 120, ceil(extract(epoch FROM $1 - day_start) / 30)::integer),
                                 least(h.hour * 120 + 120, ceil(extract(epoch FROM $2 - day_start) / 30)::integer))
                   END) AS n
        FROM heartbeat_device_days d
        CROSS JOIN LATERAL (SELECT d.day::timestamp AT TIME ZONE 'UTC' AS day_start) s
        CROSS JOIN LATERAL generate_series(
            greatest(floor(extract(epoch FROM $1 - s.day_start) / 3600)::integer, 0),
            least(ceil(extract(epoch FROM $2 - s.day_start) / 3600)::integer, 24) - 1) AS c(hour)
        CROSS JOIN LATERAL (SELECT d.hour_counts[c.hour + 1] AS n, c.hour,
                                   s.day_start + make_interval(hours => c.hour) AS hour_start) h
        WHERE d.day >= ($1 AT TIME ZONE 'UTC')::date AND d.day <= ($2 AT TIME ZONE 'UTC')::date
          AND d.license_id = $4
          AND h.n > 0 AND h.hour_start < $2 AND h.hour_start + interval '1 hour' > $1
        GROUP BY 1"
);

/// Heartbeats per bucket in `[from, to)`. For all licenses, the whole hours come from the hourly
/// rollup and the partial hours at the edges from [`heartbeat_buckets_exact`]; for one license,
/// everything comes from there.
pub async fn heartbeat_buckets(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: TimeBucket,
    license_id: Option<Uuid>,
) -> Result<Vec<HeartbeatBucket>> {
    check_range(from, to, bucket.max_range())?;
    let first_hour = ceil_to(from, Duration::hours(1));
    let last_hour = floor_to(to, Duration::hours(1));
    if license_id.is_some() || first_hour >= last_hour {
        return heartbeat_buckets_exact(pool, from, to, bucket, license_id).await;
    }
    let mut counts: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
    for (bucket_start, count) in rollups::heartbeat_hours(pool, first_hour, last_hour, bucket.sql()).await? {
        *counts.entry(bucket_start).or_default() += count;
    }
    for (edge_from, edge_to) in [(from, first_hour), (last_hour, to)] {
        if edge_from < edge_to {
            for edge in heartbeat_buckets_exact(pool, edge_from, edge_to, bucket, None).await? {
                *counts.entry(edge.bucket_start).or_default() += edge.count;
            }
        }
    }
    Ok(counts
        .into_iter()
        .filter(|&(_, count)| count != 0)
        .map(|(bucket_start, count)| HeartbeatBucket { bucket_start, count })
        .collect())
}

/// Heartbeats per bucket in `[from, to)` counted from the stored heartbeats, raw and compacted,
/// overall ([`HEARTBEAT_BUCKETS_SQL`]) or for one license ([`LICENSE_HEARTBEAT_BUCKETS_SQL`]):
/// exact for any range whose edges are whole hours or lie within the raw window. The range is
/// not checked.
pub async fn heartbeat_buckets_exact(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: TimeBucket,
    license_id: Option<Uuid>,
) -> Result<Vec<HeartbeatBucket>> {
    let sql = if license_id.is_some() { LICENSE_HEARTBEAT_BUCKETS_SQL } else { HEARTBEAT_BUCKETS_SQL };
    let query = sqlx::query_as(sql).bind(from).bind(to).bind(bucket.sql());
    let query = match license_id {
        Some(license) => query.bind(license),
        None => query,
    };
    Ok(query.fetch_all(pool).await?)
}

/// The longest range a device's heartbeat timeline may cover.
const TIMELINE_MAX_RANGE_DAYS: i64 = 31;

/// A device's heartbeat timeline in `[from, to)` at 30-second resolution, from the raw rows and
/// the compacted history alike (a slot is in range when it starts in range): its first `first`
/// stretches, oldest first. Empty for an unknown device.
pub async fn heartbeat_timeline(
    pool: &PgPool,
    device_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    first: i32,
) -> Result<Vec<HeartbeatStretch>> {
    check_range(from, to, Duration::days(TIMELINE_MAX_RANGE_DAYS))?;
    if !(1..=1000).contains(&first) {
        return Err(Error::bad_input("first", "first must be between 1 and 1000"));
    }
    let license: Option<Uuid> = sqlx::query_scalar("SELECT license_id FROM device_registrations WHERE id = $1")
        .bind(device_id)
        .fetch_optional(pool)
        .await?;
    let Some(license) = license else {
        return Ok(Vec::new());
    };
    let slots = crate::compaction::heartbeat_slots(pool, license, device_id, from, to).await?;
    Ok(stretches(&slots).into_iter().take(usize::try_from(first).unwrap_or(0)).collect())
}

/// Consecutive slot starts (30 s apart) joined into stretches.
fn stretches(slots: &[DateTime<Utc>]) -> Vec<HeartbeatStretch> {
    let slot = Duration::seconds(30);
    let mut stretches: Vec<HeartbeatStretch> = Vec::new();
    for &start in slots {
        match stretches.last_mut() {
            Some(last) if last.to == start => {
                last.to = start + slot;
                last.slots += 1;
            }
            _ => stretches.push(HeartbeatStretch { from: start, to: start + slot, slots: 1 }),
        }
    }
    stretches
}

/// The peak number of simultaneous sessions per license within `[from, to)`: the most sessions
/// live at one moment, counting ended sessions over `[started_at, ended_at)` and sessions not yet
/// filed until now (live ones) or their deadline (dead ones). A session ending at the instant
/// another starts does not overlap it. Read from the daily rollup (see [`rollups::peak_levels`]).
pub async fn peak_concurrency(
    pool: &PgPool,
    settings: &SessionSettings,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    license_id: Option<Uuid>,
    limit: i32,
) -> Result<Vec<PeakConcurrency>> {
    check_range(from, to, Duration::days(366))?;
    if !(1..=100).contains(&limit) {
        return Err(Error::bad_input("first", "first must be between 1 and 100"));
    }
    rollups::peak_levels(pool, from, to, settings.timeout_secs(), license_id, i64::from(limit)).await
}

/// What an aggregate read from the rollups weighs besides its rows: at most two partial days (or
/// hours) of raw rows at the edges of its range.
const ROLLUP_EDGES_COMPLEXITY: usize = 2 * HISTORY_DAY_COMPLEXITY;

/// What `heartbeatCounts` reads: the rollup (and the edges) for all licenses, the raw history of
/// the range for one license.
fn heartbeat_read_complexity(from: DateTime<Utc>, to: DateTime<Utc>, one_license: bool) -> usize {
    if one_license {
        history_complexity(from, to)
    } else {
        ROLLUP_EDGES_COMPLEXITY
    }
}

fn optional_id(id: Option<ID>) -> async_graphql::Result<Option<Uuid>> {
    id.as_ref().map(|id| parse_id(id, "licenseId")).transpose().gql()
}

#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// How many licenses there are of each type in each state.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "TABLE_SCAN_COMPLEXITY + enum_size::<LicenseType>() * enum_size::<LicenseState>() * child_complexity"
    )]
    async fn license_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<LicenseCount>> {
        license_counts(ctx.data_unchecked::<PgPool>()).await.gql()
    }

    /// Active devices and live sessions per license, closest to a limit first: by the larger
    /// share of the device limit or of the concurrent-session limit in use (a license with 1 of
    /// 1 sessions live comes before one with 3 of 10), then by live sessions and active devices.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "TABLE_SCAN_COMPLEXITY + page_complexity(Some(first), None, child_complexity)"
    )]
    async fn license_usage(
        &self,
        ctx: &Context<'_>,
        license_id: Option<ID>,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<LicenseUsage>> {
        let pool = ctx.data_unchecked::<PgPool>();
        license_usage(pool, ctx.data_unchecked::<SessionSettings>(), optional_id(license_id)?, first).await.gql()
    }

    /// Sessions started and ended per UTC day in `[from, to)`, with the reasons they ended.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "ROLLUP_EDGES_COMPLEXITY + days_in_range(from, to) * child_complexity"
    )]
    async fn sessions_per_day(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        license_id: Option<ID>,
    ) -> async_graphql::Result<Vec<SessionDay>> {
        sessions_per_day(ctx.data_unchecked::<PgPool>(), from, to, optional_id(license_id)?).await.gql()
    }

    /// Heartbeats per hour (ranges up to 31 days) or day (up to 366 days) in `[from, to)`,
    /// overall or for one license. Empty buckets are left out.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "heartbeat_read_complexity(from, to, license_id.is_some()) + bucket.count_in(from, to) * child_complexity"
    )]
    async fn heartbeat_counts(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket: TimeBucket,
        license_id: Option<ID>,
    ) -> async_graphql::Result<Vec<HeartbeatBucket>> {
        let pool = ctx.data_unchecked::<PgPool>();
        heartbeat_buckets(pool, from, to, bucket, optional_id(license_id)?).await.gql()
    }

    /// The most sessions live at once per license within `[from, to)`, highest first.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "history_complexity(from, to) + page_complexity(Some(first), None, child_complexity)"
    )]
    async fn peak_concurrent_sessions(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        license_id: Option<ID>,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<PeakConcurrency>> {
        let pool = ctx.data_unchecked::<PgPool>();
        peak_concurrency(pool, ctx.data_unchecked::<SessionSettings>(), from, to, optional_id(license_id)?, first)
            .await
            .gql()
    }

    /// When a device was heard from in `[from, to)` (up to 31 days), at 30-second resolution:
    /// its stretches of consecutive slots holding a heartbeat, oldest first (at most `first`).
    /// The gaps between them are the times it was silent for more than 30 s.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "history_complexity(from, to) + usize::try_from(first).unwrap_or(0) * child_complexity"
    )]
    async fn device_heartbeat_timeline(
        &self,
        ctx: &Context<'_>,
        device_id: ID,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default = 100)] first: i32,
    ) -> async_graphql::Result<Vec<HeartbeatStretch>> {
        let device_id = parse_id(&device_id, "deviceId").gql()?;
        heartbeat_timeline(ctx.data_unchecked::<PgPool>(), device_id, from, to, first).await.gql()
    }
}
