//! The analytics rollups answer exactly what the raw rows say: on random data written through
//! the API and in SQL, with the mover run part-way, to the end, twice and from two connections.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound as _, NaiveDate, TimeZone, Utc};
use license_server::analytics::rollups::{move_all, move_deltas};
use license_server::auth::{Actor, Scope};
use license_server::backups;
use license_server::partitions::{self, PartitionSettings};
use license_server::rate_limit::{Rate, RateLimitSettings};
use license_server::sessions::SessionSettings;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::backups::{settings_in, TempDir};
use crate::helpers::{age_session, spawn_app, spawn_app_with, Options, TestApp};

const REASONS: [&str; 5] = ["client_ended", "timeout", "admin_terminated", "device_deactivated", "license_revoked"];

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// Heartbeats per bucket counted from `license_heartbeats` with plain SQL.
async fn raw_heartbeats(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: &str,
    license: Option<Uuid>,
) -> Vec<(DateTime<Utc>, i64)> {
    sqlx::query_as(
        "SELECT date_trunc($3, received_at, 'UTC'), count(*) FROM license_heartbeats
         WHERE received_at >= $1 AND received_at < $2 AND ($4::uuid IS NULL OR license_id = $4)
         GROUP BY 1 ORDER BY 1",
    )
    .bind(from)
    .bind(to)
    .bind(bucket)
    .bind(license)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// `sessionsPerDay`'s answer computed from `session_history` and `license_sessions` with plain SQL.
async fn raw_sessions_per_day(pool: &PgPool, from: DateTime<Utc>, to: DateTime<Utc>, license: Option<Uuid>) -> Value {
    let started: Vec<(NaiveDate, i64)> = sqlx::query_as(
        "SELECT (started_at AT TIME ZONE 'UTC')::date, count(*) FROM (
             SELECT started_at, license_id FROM session_history
             UNION ALL SELECT started_at, license_id FROM license_sessions) s
         WHERE started_at >= $1 AND started_at < $2 AND ($3::uuid IS NULL OR license_id = $3) GROUP BY 1",
    )
    .bind(from)
    .bind(to)
    .bind(license)
    .fetch_all(pool)
    .await
    .unwrap();
    let ended: Vec<(NaiveDate, String, i64)> = sqlx::query_as(
        "SELECT (ended_at AT TIME ZONE 'UTC')::date, end_reason, count(*) FROM session_history
         WHERE ended_at >= $1 AND ended_at < $2 AND ($3::uuid IS NULL OR license_id = $3) GROUP BY 1, 2",
    )
    .bind(from)
    .bind(to)
    .bind(license)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut days: BTreeMap<NaiveDate, (i64, BTreeMap<String, i64>)> = BTreeMap::new();
    for (day, n) in started {
        days.entry(day).or_default().0 = n;
    }
    for (day, reason, n) in ended {
        days.entry(day).or_default().1.insert(reason, n);
    }
    Value::Array(
        days.into_iter()
            .map(|(day, (started, reasons))| {
                json!({
                    "day": day.to_string(),
                    "started": started,
                    "ended": reasons.values().sum::<i64>(),
                    "endReasons": reasons.into_iter()
                        .map(|(reason, count)| json!({"reason": reason.to_uppercase(), "count": count}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// `peakConcurrentSessions`' answer (at most 100 licenses) computed from every session interval
/// of the range with plain SQL: ended sessions over `[started_at, ended_at)`, sessions not yet
/// filed until now or their deadline, clipped to the range, ends before starts at one instant.
async fn raw_peaks(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    license: Option<Uuid>,
) -> Vec<(Uuid, i64, DateTime<Utc>)> {
    sqlx::query_as(
        "WITH intervals AS (
             SELECT license_id, started_at AS s, ended_at AS e FROM session_history
             WHERE started_at < $2 AND ended_at > $1 AND ($3::uuid IS NULL OR license_id = $3)
             UNION ALL
             SELECT license_id, started_at, least(now(), last_heartbeat_at + make_interval(secs => $4))
             FROM license_sessions WHERE started_at < $2 AND ($3::uuid IS NULL OR license_id = $3)),
         clipped AS (
             SELECT license_id, greatest(s, $1) AS s, least(e, $2) AS e FROM intervals),
         events AS (
             SELECT license_id, s AS t, 1 AS delta FROM clipped WHERE e > s
             UNION ALL
             SELECT license_id, e, -1 FROM clipped WHERE e > s),
         running AS (
             SELECT license_id, t,
                    sum(delta) OVER (PARTITION BY license_id ORDER BY t, delta ROWS UNBOUNDED PRECEDING) AS level
             FROM events),
         peaks AS (
             SELECT DISTINCT ON (license_id) license_id, level AS peak, t AS reached_at
             FROM running ORDER BY license_id, level DESC, t)
         SELECT license_id, peak, reached_at FROM peaks ORDER BY peak DESC, license_id LIMIT 100",
    )
    .bind(from)
    .bind(to)
    .bind(license)
    .bind(SessionSettings::default().timeout_secs())
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Asserts that `peakConcurrentSessions` answers what [`raw_peaks`] says, for all licenses and for
/// `license`, for each range.
async fn assert_peaks_match_raw_rows(
    app: &TestApp,
    analyst: &str,
    license: Uuid,
    ranges: &[(DateTime<Utc>, DateTime<Utc>)],
    when: &str,
) {
    for &(from, to) in ranges {
        for license in [None, Some(license)] {
            let reply = app
                .gql(
                    analyst,
                    "query($f: DateTime!, $t: DateTime!, $l: ID) {
                        peakConcurrentSessions(from: $f, to: $t, licenseId: $l, first: 100) { licenseId peak reachedAt } }",
                    json!({"f": from, "t": to, "l": license}),
                )
                .await;
            let answered: Vec<(Uuid, i64, DateTime<Utc>)> = reply
                .data("peakConcurrentSessions")
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["licenseId"].as_str().unwrap().parse().unwrap(),
                        p["peak"].as_i64().unwrap(),
                        p["reachedAt"].as_str().unwrap().parse().unwrap(),
                    )
                })
                .collect();
            let raw = raw_peaks(&app.pool, from, to, license).await;
            assert_eq!(answered, raw, "peakConcurrentSessions [{from}, {to}) license {license:?} {when}");
        }
    }
}

/// Asserts that `heartbeatCounts` (by hour where the range allows, and by day),
/// `sessionsPerDay` and `peakConcurrentSessions`, for all licenses and for `license`, answer what
/// the raw rows say, for each range.
async fn assert_answers_match_raw_rows(
    app: &TestApp,
    analyst: &str,
    license: Uuid,
    ranges: &[(DateTime<Utc>, DateTime<Utc>)],
    when: &str,
) {
    for &(from, to) in ranges {
        for license in [None, Some(license)] {
            let buckets: &[&str] = if to - from <= Duration::days(31) { &["hour", "day"] } else { &["day"] };
            for bucket in buckets {
                let reply = app
                    .gql(
                        analyst,
                        "query($f: DateTime!, $t: DateTime!, $b: TimeBucket!, $l: ID) {
                            heartbeatCounts(from: $f, to: $t, bucket: $b, licenseId: $l) { bucketStart count } }",
                        json!({"f": from, "t": to, "b": bucket.to_uppercase(), "l": license}),
                    )
                    .await;
                let answered: Vec<(DateTime<Utc>, i64)> = reply
                    .data("heartbeatCounts")
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| (b["bucketStart"].as_str().unwrap().parse().unwrap(), b["count"].as_i64().unwrap()))
                    .collect();
                let raw = raw_heartbeats(&app.pool, from, to, bucket, license).await;
                assert_eq!(answered, raw, "heartbeatCounts {bucket} [{from}, {to}) license {license:?} {when}");
            }
            // A year's days with their reasons weigh more than a query may (366 × 6 reasons).
            let with_reasons = to - from <= Duration::days(300);
            let selection =
                if with_reasons { "day started ended endReasons { reason count }" } else { "day started ended" };
            let reply = app
                .gql(
                    analyst,
                    &format!(
                        "query($f: DateTime!, $t: DateTime!, $l: ID) {{
                            sessionsPerDay(from: $f, to: $t, licenseId: $l) {{ {selection} }} }}"
                    ),
                    json!({"f": from, "t": to, "l": license}),
                )
                .await;
            let mut raw = raw_sessions_per_day(&app.pool, from, to, license).await;
            if !with_reasons {
                for day in raw.as_array_mut().unwrap() {
                    day.as_object_mut().unwrap().remove("endReasons");
                }
            }
            assert_eq!(reply.data("sessionsPerDay"), &raw, "sessionsPerDay [{from}, {to}) license {license:?} {when}");
        }
    }
    assert_peaks_match_raw_rows(app, analyst, license, ranges, when).await;
}

/// Writes `count` heartbeats at random moments of `[from, to)` for random devices of `devices`,
/// in statements of random sizes (each statement leaves one delta per hour it touches).
async fn random_heartbeats(
    pool: &PgPool,
    rng: &mut StdRng,
    devices: &[(Uuid, Uuid)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    count: usize,
) {
    let span = (to - from).num_milliseconds();
    let mut left = count;
    while left > 0 {
        let size = rng.gen_range(1..=left.min(40));
        let (mut licenses, mut device_ids, mut times) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..size {
            let (license, device) = devices[rng.gen_range(0..devices.len())];
            licenses.push(license);
            device_ids.push(device);
            times.push(from + Duration::milliseconds(rng.gen_range(0..span)));
        }
        sqlx::query(
            "INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
             SELECT gen_random_uuid(), l, d, t FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS x(l, d, t)",
        )
        .bind(&licenses)
        .bind(&device_ids)
        .bind(&times)
        .execute(pool)
        .await
        .unwrap();
        left -= size;
    }
}

/// Files `count` ended sessions at random moments of `[from, to)`, lasting up to 30 hours, in
/// statements of random sizes.
async fn random_history(
    pool: &PgPool,
    rng: &mut StdRng,
    devices: &[(Uuid, Uuid)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    count: usize,
) {
    let span = (to - from).num_milliseconds();
    let mut left = count;
    while left > 0 {
        let size = rng.gen_range(1..=left.min(10));
        let (mut licenses, mut device_ids, mut starts, mut ends, mut reasons) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..size {
            let (license, device) = devices[rng.gen_range(0..devices.len())];
            let start = from + Duration::milliseconds(rng.gen_range(0..span));
            licenses.push(license);
            device_ids.push(device);
            starts.push(start);
            ends.push(start + Duration::seconds(rng.gen_range(1..30 * 3600)));
            reasons.push(REASONS[rng.gen_range(0..REASONS.len())].to_owned());
        }
        sqlx::query(
            "INSERT INTO session_history (id, session_token, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason)
             SELECT gen_random_uuid(), gen_random_uuid(), l, d, s, e, e, r
             FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::text[]) AS x(l, d, s, e, r)",
        )
        .bind(&licenses)
        .bind(&device_ids)
        .bind(&starts)
        .bind(&ends)
        .bind(&reasons)
        .execute(pool)
        .await
        .unwrap();
        left -= size;
    }
}

/// Licenses with devices and live sessions made through the API; returns the licenses'
/// `(license id, device id)` pairs and their keys, plus the live sessions' tokens.
async fn licenses_with_sessions(app: &TestApp, admin: &str, client: &str) -> (Vec<(Uuid, Uuid)>, Vec<String>) {
    let (mut devices, mut tokens) = (Vec::new(), Vec::new());
    for l in 0..3 {
        let (license, key) = app.create_license(admin, 5, 5).await;
        for d in 0..3 {
            let token = app.session(client, &key, &format!("device-{l}-{d}")).await;
            let device: Uuid =
                sqlx::query_scalar("SELECT device_id FROM license_sessions WHERE session_token = $1::uuid")
                    .bind(&token)
                    .fetch_one(&app.pool)
                    .await
                    .unwrap();
            devices.push((license.parse().unwrap(), device));
            tokens.push(token);
        }
    }
    (devices, tokens)
}

/// An app whose analyst key is not rate limited (a test asks a few hundred questions in a few
/// seconds), with an admin, an analyst and a client key.
async fn app_for_many_questions(pool: &PgPool) -> (TestApp, String, String, String) {
    let unlimited = Rate { per_second: 1_000_000, burst: 1_000_000 };
    let rate_limits = RateLimitSettings { analyst_key: unlimited, ..RateLimitSettings::default() };
    let app = spawn_app_with(pool, Options { rate_limits: Some(rate_limits), ..Options::default() }).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    (app, admin, analyst, client)
}

#[sqlx::test(migrations = "../migrations")]
async fn aggregates_from_the_rollups_equal_the_raw_rows_on_random_data(pool: PgPool) {
    let (app, admin, analyst, client) = app_for_many_questions(&pool).await;
    let mut rng = StdRng::seed_from_u64(16);
    let (devices, tokens) = licenses_with_sessions(&app, &admin, &client).await;
    let license = devices[0].0;

    // Through the API: heartbeats, some sessions ended by their clients, one ended again later.
    for token in &tokens {
        for _ in 0..rng.gen_range(1..4) {
            assert_eq!(app.heartbeat(&client, token).await["__typename"], "HeartbeatAccepted");
        }
    }
    for token in tokens.iter().step_by(2) {
        assert_eq!(app.end_session(&client, token).await["__typename"], "SessionEnded");
    }

    // In SQL: history across a year's, a month's, a day's and hours' boundaries (the months lie in
    // the default partition until their partitions are made below).
    let (window_from, window_to) = (at(2025, 12, 29, 0, 0, 0), at(2026, 1, 3, 0, 0, 0));
    random_heartbeats(&pool, &mut rng, &devices, window_from, window_to, 600).await;
    random_history(&pool, &mut rng, &devices, window_from, window_to, 60).await;

    let now = Utc::now();
    let ranges = [
        (at(2025, 12, 31, 0, 0, 0), at(2026, 1, 2, 0, 0, 0)),
        (at(2025, 12, 30, 21, 17, 23), at(2026, 1, 1, 2, 41, 5)),
        (at(2025, 12, 31, 23, 10, 0), at(2025, 12, 31, 23, 50, 0)),
        (at(2025, 12, 31, 22, 30, 0), at(2026, 1, 1, 1, 0, 0)),
        (at(2025, 6, 1, 0, 0, 0), at(2026, 6, 1, 0, 0, 0)),
        (at(2025, 6, 1, 7, 3, 0), at(2026, 6, 1, 2, 0, 0)),
        (now - Duration::hours(30), now + Duration::hours(2)),
        (now - Duration::days(300), now + Duration::minutes(1)),
    ];
    assert_answers_match_raw_rows(&app, &analyst, license, &ranges, "before any move").await;

    // Part-way: a few deltas of each kind moved, the rest not.
    let moved = move_deltas(&pool, 5).await.unwrap().unwrap();
    assert_eq!((moved.heartbeat_deltas, moved.session_deltas), (5, 5));
    assert_answers_match_raw_rows(&app, &analyst, license, &ranges, "with some deltas moved").await;

    // More writes: history deleted and corrected, more heartbeats, the months' partitions made
    // (rows move out of the default partition: counted once), sessions ended by the API.
    sqlx::query("DELETE FROM session_history WHERE id IN (SELECT id FROM session_history WHERE started_at < $1 ORDER BY id LIMIT 7)")
        .bind(window_to)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE session_history SET ended_at = ended_at + interval '20 hours', end_reason = 'timeout'
         WHERE id IN (SELECT id FROM session_history WHERE started_at < $1 ORDER BY id DESC LIMIT 5)",
    )
    .bind(window_to)
    .execute(&pool)
    .await
    .unwrap();
    random_heartbeats(&pool, &mut rng, &devices, window_from, window_to, 300).await;
    partitions::ensure_day_partitions(&pool, NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(), 62).await.unwrap();
    for token in tokens.iter().skip(1).step_by(2) {
        assert_eq!(app.end_session(&client, token).await["__typename"], "SessionEnded");
    }
    assert_answers_match_raw_rows(&app, &analyst, license, &ranges, "after more writes").await;

    let moved = move_all(&pool).await.unwrap();
    assert!(moved.heartbeat_deltas > 0 && moved.session_deltas > 0, "{moved:?}");
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM heartbeat_hour_deltas) + (SELECT count(*) FROM session_day_deltas)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    assert_answers_match_raw_rows(&app, &analyst, license, &ranges, "with every delta moved").await;
}

/// Files `count` ended sessions on a grid of six hours from `from` (starts and ends fall on
/// midnights and on each other), lasting 0 to 48 hours, in statements of random sizes.
async fn grid_history(pool: &PgPool, rng: &mut StdRng, devices: &[(Uuid, Uuid)], from: DateTime<Utc>, count: usize) {
    let mut left = count;
    while left > 0 {
        let size = rng.gen_range(1..=left.min(6));
        let (mut licenses, mut device_ids, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..size {
            let (license, device) = devices[rng.gen_range(0..devices.len())];
            let start = from + Duration::hours(6 * rng.gen_range(0..16));
            licenses.push(license);
            device_ids.push(device);
            starts.push(start);
            ends.push(start + Duration::hours(6 * rng.gen_range(0..=8)));
        }
        sqlx::query(
            "INSERT INTO session_history (id, session_token, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason)
             SELECT gen_random_uuid(), gen_random_uuid(), l, d, s, s, e, 'timeout'
             FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS x(l, d, s, e)",
        )
        .bind(&licenses)
        .bind(&device_ids)
        .bind(&starts)
        .bind(&ends)
        .execute(pool)
        .await
        .unwrap();
        left -= size;
    }
}

/// The daily rollup of concurrency where days meet: sessions starting and ending at midnight,
/// back to back there, lasting no time or several days; a live session started days ago and a
/// dead one not filed yet; ranges on midnights, across them and inside one day; answered with
/// every delta pending, part of them moved, all moved, and pending again after deletes and
/// updates of the history.
#[sqlx::test(migrations = "../migrations")]
async fn peaks_from_the_daily_rollup_equal_the_raw_rows_where_days_meet(pool: PgPool) {
    let (app, admin, analyst, client) = app_for_many_questions(&pool).await;
    let mut rng = StdRng::seed_from_u64(20);
    let (devices, tokens) = licenses_with_sessions(&app, &admin, &client).await;
    let license = devices[0].0;
    sqlx::query(
        "UPDATE license_sessions SET started_at = now() - interval '2 days 20 minutes' WHERE session_token = $1::uuid",
    )
    .bind(&tokens[0])
    .execute(&pool)
    .await
    .unwrap();
    age_session(&pool, &tokens[3], 600).await;

    let today = Utc::now().duration_trunc(Duration::days(1)).unwrap();
    let first = today - Duration::days(4);
    grid_history(&pool, &mut rng, &devices, first, 70).await;
    let zero_length: i64 = sqlx::query_scalar("SELECT count(*) FROM session_history WHERE ended_at = started_at")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(zero_length > 0, "the grid holds sessions that last no time");

    let mut ranges = vec![
        (first, today),
        (today - Duration::days(3), today - Duration::days(1)),
        (today - Duration::days(2), today - Duration::days(2) + Duration::hours(6)),
        (today - Duration::days(1) + Duration::hours(6), today + Duration::hours(6)),
        (today - Duration::days(2) - Duration::minutes(1), Utc::now() + Duration::hours(1)),
        (first - Duration::days(1), Utc::now()),
    ];
    for _ in 0..12 {
        let from = first + Duration::hours(3 * rng.gen_range(0..40));
        ranges.push((from, from + Duration::hours(3 * rng.gen_range(1..24))));
    }
    assert_peaks_match_raw_rows(&app, &analyst, license, &ranges, "with every delta pending").await;
    move_deltas(&pool, 10).await.unwrap().unwrap();
    assert_peaks_match_raw_rows(&app, &analyst, license, &ranges, "with some deltas moved").await;
    let moved = move_all(&pool).await.unwrap();
    assert!(moved.peak_deltas > 0, "{moved:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM session_peak_days").fetch_one(&pool).await.unwrap();
    assert!(rows > 0);
    assert_peaks_match_raw_rows(&app, &analyst, license, &ranges, "with every delta moved").await;

    sqlx::query("DELETE FROM session_history WHERE id IN (SELECT id FROM session_history ORDER BY id LIMIT 10)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE session_history SET ended_at = ended_at + interval '18 hours'
         WHERE id IN (SELECT id FROM session_history ORDER BY id DESC LIMIT 10)",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(app.end_session(&client, &tokens[1]).await["__typename"], "SessionEnded");
    assert_peaks_match_raw_rows(&app, &analyst, license, &ranges, "after deletes and updates").await;
    move_all(&pool).await.unwrap();
    assert_peaks_match_raw_rows(&app, &analyst, license, &ranges, "after deletes and updates, moved").await;
}

/// `session_peak_days` rebuilt from the history by the migration.
async fn peak_days_rebuilt(pool: &PgPool) -> Vec<(Uuid, NaiveDate, i32, i32, DateTime<Utc>)> {
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version >= 20261210000100").execute(pool).await.unwrap();
    sqlx::migrate!("../migrations").run(pool).await.unwrap();
    peak_days(pool).await
}

async fn peak_days(pool: &PgPool) -> Vec<(Uuid, NaiveDate, i32, i32, DateTime<Utc>)> {
    sqlx::query_as("SELECT license_id, day, carry, rise, rise_at FROM session_peak_days ORDER BY 1, 2")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn moving_twice_or_from_two_connections_at_once_never_counts_a_delta_twice(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let mut rng = StdRng::seed_from_u64(17);
    let (devices, _) = licenses_with_sessions(&app, &admin, &client).await;
    let (from, to) = (at(2026, 2, 27, 0, 0, 0), at(2026, 3, 2, 0, 0, 0));
    random_heartbeats(&pool, &mut rng, &devices, from, to, 2000).await;
    random_history(&pool, &mut rng, &devices, from, to, 300).await;

    let totals = |pool: PgPool| async move {
        sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT (SELECT coalesce(sum(n), 0)::bigint FROM heartbeat_hourly) + (SELECT coalesce(sum(n), 0)::bigint FROM heartbeat_hour_deltas),
                    (SELECT count(*) FROM license_heartbeats),
                    (SELECT coalesce(sum(n), 0)::bigint FROM session_day_totals WHERE kind <> 'started')
                      + (SELECT coalesce(sum(n), 0)::bigint FROM session_day_deltas WHERE kind <> 'started'),
                    (SELECT count(*) FROM session_history)",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    // Two movers in small batches at once, from two connections, each until it holds the lock
    // and finds nothing left.
    let mover = |pool: PgPool| async move {
        let mut moved = 0;
        loop {
            match move_deltas(&pool, 7).await.unwrap() {
                Some(m) if m.total() == 0 => return moved,
                Some(m) => moved += m.total(),
                None => tokio::task::yield_now().await,
            }
        }
    };
    let before: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM heartbeat_hour_deltas) + (SELECT count(*) FROM session_day_deltas)
                + (SELECT count(*) FROM session_peak_deltas)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (a, b) = tokio::join!(tokio::spawn(mover(pool.clone())), tokio::spawn(mover(pool.clone())));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, before, "each delta moved once ({a} + {b})");
    let (rolled, raw, ended_rolled, ended_raw) = totals(pool.clone()).await;
    assert_eq!((rolled, ended_rolled), (raw, ended_raw));
    let rollup_only: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT sum(n)::bigint FROM heartbeat_hourly), (SELECT sum(n)::bigint FROM session_day_totals WHERE kind <> 'started')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rollup_only, (raw, ended_raw), "everything is in the rollups now");

    // Again: nothing left to move, nothing changes.
    let again = move_deltas(&pool, 7).await.unwrap().unwrap();
    assert_eq!(again.total(), 0);
    assert_eq!(totals(pool.clone()).await, (raw, raw, ended_raw, ended_raw));
    // The per-license rollup adds up to the totals.
    let per_license: i64 = sqlx::query_scalar("SELECT sum(n)::bigint FROM session_day_license WHERE kind <> 'started'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(per_license, ended_raw);
    // The days of concurrency, moved in small batches from two connections, are what the
    // migration builds from the history at once.
    let moved_days = peak_days(&pool).await;
    assert!(moved_days.len() > 10, "{} days", moved_days.len());
    assert_eq!(peak_days_rebuilt(&pool).await, moved_days);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_retention_takes_dropped_heartbeats_out_of_the_hourly_rollup(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let analyst = app.key(Scope::Analyst).await;
    let devices = [(Uuid::new_v4(), Uuid::new_v4())];
    let mut rng = StdRng::seed_from_u64(18);
    // Two years ago (three of its days get a partition, then are dropped), and in the default
    // partition.
    let old = Utc::now() - Duration::days(730);
    partitions::ensure_day_partitions(&pool, old.date_naive() - Duration::days(1), 3).await.unwrap();
    random_heartbeats(&pool, &mut rng, &devices, old - Duration::days(3), old + Duration::days(3), 200).await;
    let recent = Utc::now() - Duration::days(2);
    random_heartbeats(&pool, &mut rng, &devices, recent, recent + Duration::hours(5), 50).await;
    move_all(&pool).await.unwrap();
    random_heartbeats(&pool, &mut rng, &devices, old - Duration::days(3), old + Duration::days(3), 20).await;

    let report = partitions::maintain(&pool, PartitionSettings::default()).await.unwrap();
    assert!(!report.dropped.is_empty(), "{report:?}");
    let ranges = [(old - Duration::days(10), old + Duration::days(10)), (recent - Duration::days(1), Utc::now())];
    for (from, to) in ranges {
        let reply = app
            .gql(
                &analyst,
                "query($f: DateTime!, $t: DateTime!) { heartbeatCounts(from: $f, to: $t, bucket: DAY) { bucketStart count } }",
                json!({"f": from, "t": to}),
            )
            .await;
        let total: i64 =
            reply.data("heartbeatCounts").as_array().unwrap().iter().map(|b| b["count"].as_i64().unwrap()).sum();
        let raw: i64 = raw_heartbeats(&pool, from, to, "day", None).await.iter().map(|(_, n)| n).sum();
        assert_eq!(total, raw, "[{from}, {to})");
    }
    let kept_old: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM heartbeat_hourly WHERE hour < $1) + (SELECT count(*) FROM heartbeat_hour_deltas WHERE hour < $1)",
    )
    .bind(old + Duration::days(10))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kept_old, 0, "nothing of the dropped months is left in the rollup");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_live_session_whose_start_an_update_moves_is_counted_on_its_new_day(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let (license, key) = app.create_license(&admin, 1, 1).await;
    let license: Uuid = license.parse().unwrap();
    let token = app.session(&client, &key, "device").await;
    move_all(&pool).await.unwrap();
    sqlx::query(
        "UPDATE license_sessions SET started_at = started_at - interval '3 days' WHERE session_token = $1::uuid",
    )
    .bind(&token)
    .execute(&pool)
    .await
    .unwrap();
    let ranges = [(Utc::now() - Duration::days(5), Utc::now() + Duration::hours(1))];
    assert_answers_match_raw_rows(&app, &analyst, license, &ranges, "moved, deltas not yet moved").await;
    move_all(&pool).await.unwrap();
    assert_answers_match_raw_rows(&app, &analyst, license, &ranges, "moved, deltas moved").await;
    // A heartbeat's update does not fire it: no delta appears.
    assert_eq!(app.heartbeat(&client, &token).await["__typename"], "HeartbeatAccepted");
    let deltas: i64 = sqlx::query_scalar("SELECT count(*) FROM session_day_deltas").fetch_one(&pool).await.unwrap();
    assert_eq!(deltas, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_restored_backup_answers_what_its_raw_rows_say(pool: PgPool) {
    let dir = TempDir::new("rollups-restore");
    let settings = settings_in(&dir.0);
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let mut rng = StdRng::seed_from_u64(19);
    let (devices, _) = licenses_with_sessions(&app, &admin, &client).await;
    let (from, to) = (at(2026, 4, 29, 0, 0, 0), at(2026, 5, 2, 0, 0, 0));
    random_heartbeats(&pool, &mut rng, &devices, from, to, 300).await;
    random_history(&pool, &mut rng, &devices, from, to, 30).await;
    move_deltas(&pool, 4).await.unwrap();
    // Taken with some deltas moved and some not.
    let backup = backups::create(&pool, &settings, &Actor::cli(), None).await.unwrap();

    random_heartbeats(&pool, &mut rng, &devices, from, to, 200).await;
    random_history(&pool, &mut rng, &devices, from, to, 20).await;
    move_all(&pool).await.unwrap();
    backups::restore(&pool, &settings, &Actor::cli(), None, backup.id).await.unwrap();

    let ranges =
        [(at(2026, 4, 29, 0, 0, 0), at(2026, 5, 2, 0, 0, 0)), (at(2026, 4, 30, 5, 30, 0), at(2026, 5, 1, 7, 0, 0))];
    assert_answers_match_raw_rows(&app, &analyst, devices[0].0, &ranges, "after the restore").await;
    move_all(&pool).await.unwrap();
    assert_answers_match_raw_rows(&app, &analyst, devices[0].0, &ranges, "after the restore, all moved").await;
}
