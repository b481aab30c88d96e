//! Compaction moves every raw heartbeat into the long-term form exactly once: on random data
//! (seeded) across a day and a month boundary, with rows arriving late (in days already
//! compacted, and in the default partition), compacted in interrupted steps, from two tasks at
//! once and again, every count per hour and day per license and device, every session's first
//! and last heartbeat slot and every gap stay what the raw rows gave; raw partitions beyond the
//! window are dropped, the others kept. A device's timeline through GraphQL is the same before
//! and after compaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use license_server::analytics::{heartbeat_buckets_exact, HeartbeatBucket, TimeBucket};
use license_server::auth::Scope;
use license_server::compaction::{self, Budget};
use license_server::partitions::{self, PartitionSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{count, spawn_app};

#[derive(Debug, Clone, Copy)]
struct Beat {
    license: Uuid,
    device: Uuid,
    at: DateTime<Utc>,
    /// Inserted only after the compaction has started.
    late: bool,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    license: Uuid,
    device: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

fn utc(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap()
}

/// Devices of a few licenses online some hours at a time from 29 October to 2 November 2026
/// (UTC), heartbeats every 30 s ± 2 s, a few missed and a few longer pauses; 3 % of them late.
fn fleet(rng: &mut StdRng) -> (Vec<Session>, Vec<Beat>) {
    let (mut sessions, mut beats) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let license = Uuid::new_v4();
        for _ in 0..3 {
            let device = Uuid::new_v4();
            let mut start = utc(2026, 10, 29, 20) + Duration::minutes(rng.gen_range(0..240));
            while start < utc(2026, 11, 3, 0) {
                let end = start + Duration::minutes(rng.gen_range(20..600));
                let mut at = start;
                while at < end {
                    if rng.gen_bool(0.01) {
                        at += Duration::minutes(rng.gen_range(2..12));
                    } else if !rng.gen_bool(0.02) {
                        beats.push(Beat { license, device, at, late: rng.gen_bool(0.03) });
                    }
                    at += Duration::milliseconds(30_000 + rng.gen_range(-2_000..=2_000));
                }
                sessions.push(Session { license, device, start, end: at });
                start = at + Duration::minutes(rng.gen_range(5..300));
            }
        }
    }
    (sessions, beats)
}

async fn insert(pool: &PgPool, beats: &[Beat]) {
    let (licenses, devices, times): (Vec<Uuid>, Vec<Uuid>, Vec<DateTime<Utc>>) =
        beats.iter().map(|b| (b.license, b.device, b.at)).collect();
    sqlx::query(
        "INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
         SELECT gen_random_uuid(), l, d, t FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS u(l, d, t)",
    )
    .bind(licenses)
    .bind(devices)
    .bind(times)
    .execute(pool)
    .await
    .unwrap();
}

/// `count` raw heartbeats of one device, 30 s apart from `start` (its id doubling as the session's).
async fn every_30_seconds(pool: &PgPool, (license, device): (Uuid, Uuid), start: DateTime<Utc>, count: i32) {
    sqlx::query(
        "INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
         SELECT $2, $1, $2, $3 + i * interval '30 seconds' FROM generate_series(0, $4 - 1) i",
    )
    .bind(license)
    .bind(device)
    .bind(start)
    .bind(count)
    .execute(pool)
    .await
    .unwrap();
}

/// What the raw-row computation answers: heartbeats per bucket start, empty buckets left out.
fn buckets<'a>(beats: impl Iterator<Item = &'a Beat>, bucket: TimeBucket) -> Vec<(DateTime<Utc>, i64)> {
    let width = match bucket {
        TimeBucket::Hour => Duration::hours(1),
        TimeBucket::Day => Duration::days(1),
    };
    let mut counts = BTreeMap::new();
    for beat in beats {
        *counts.entry(beat.at.duration_trunc(width).unwrap()).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

fn slot(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::seconds(30)).unwrap()
}

/// The slots holding a heartbeat, and the gaps (pairs of consecutive slots more than 30 s
/// apart) between them.
fn gaps(slots: &[DateTime<Utc>]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    slots.windows(2).filter(|w| w[1] - w[0] > Duration::seconds(30)).map(|w| (w[0], w[1])).collect()
}

async fn exact(
    pool: &PgPool,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    bucket: TimeBucket,
    license: Option<Uuid>,
) -> Vec<(DateTime<Utc>, i64)> {
    let rows: Vec<HeartbeatBucket> = heartbeat_buckets_exact(pool, from, to, bucket, license).await.unwrap();
    rows.into_iter().map(|b| (b.bucket_start, b.count)).collect()
}

/// Every per-hour and per-day count, overall and per license, from the database against the
/// expectation computed from `beats`.
async fn assert_counts(pool: &PgPool, beats: &[Beat], licenses: &BTreeSet<Uuid>, step: &str) {
    let range = (utc(2026, 10, 29, 0), utc(2026, 11, 4, 0));
    for bucket in [TimeBucket::Hour, TimeBucket::Day] {
        assert_eq!(exact(pool, range, bucket, None).await, buckets(beats.iter(), bucket), "{step}: all, {bucket:?}");
        for &license in licenses {
            assert_eq!(
                exact(pool, range, bucket, Some(license)).await,
                buckets(beats.iter().filter(|b| b.license == license), bucket),
                "{step}: license {license}, {bucket:?}"
            );
        }
    }
}

/// The compacted history's sums per hour as stored: `(hour, heartbeats, devices holding each slot)`.
async fn compacted_hours(pool: &PgPool) -> Vec<(DateTime<Utc>, i64, Vec<i32>)> {
    sqlx::query_as("SELECT hour, n, slots FROM heartbeat_compacted_hours ORDER BY hour").fetch_all(pool).await.unwrap()
}

/// `heartbeat_compacted_hours` holds what the device-days add up to, computed here from their
/// hour counts and slot bits.
async fn assert_compacted_hours_add_up(pool: &PgPool, step: &str) {
    let days: Vec<(chrono::NaiveDate, Vec<i32>, i16, String)> =
        sqlx::query_as("SELECT day, hour_counts, first_slot, slots::text FROM heartbeat_device_days")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut expected: BTreeMap<DateTime<Utc>, (i64, Vec<i32>)> = BTreeMap::new();
    for (day, hour_counts, first_slot, bits) in days {
        let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
        for (hour, &n) in hour_counts.iter().enumerate().filter(|&(_, &n)| n > 0) {
            expected.entry(midnight + Duration::hours(hour as i64)).or_insert_with(|| (0, vec![0; 120])).0 +=
                i64::from(n);
        }
        for (i, _) in bits.chars().enumerate().filter(|&(_, bit)| bit == '1') {
            let slot = first_slot as usize + i;
            let hour = midnight + Duration::hours((slot / 120) as i64);
            expected.get_mut(&hour).expect("a slot holding a heartbeat lies in an hour counting it").1[slot % 120] += 1;
        }
    }
    let expected: Vec<_> = expected.into_iter().map(|(hour, (n, slots))| (hour, n, slots)).collect();
    assert_eq!(compacted_hours(pool).await, expected, "{step}: the compacted hours add up the device-days");
}

/// What a range answers from the compacted history: an hour wholly in range counts its
/// heartbeats; an hour cut by an edge counts, per device, the 30-second slots starting in range
/// that hold a heartbeat.
fn compacted_buckets(
    beats: &[Beat],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    bucket: TimeBucket,
) -> Vec<(DateTime<Utc>, i64)> {
    let width = match bucket {
        TimeBucket::Hour => Duration::hours(1),
        TimeBucket::Day => Duration::days(1),
    };
    let mut counts = BTreeMap::new();
    let mut held = BTreeSet::new();
    for beat in beats {
        let hour = beat.at.duration_trunc(Duration::hours(1)).unwrap();
        let counted = if hour >= from && hour + Duration::hours(1) <= to {
            true
        } else {
            let start = slot(beat.at);
            start >= from && start < to && held.insert((beat.device, start))
        };
        if counted {
            *counts.entry(hour.duration_trunc(width).unwrap()).or_insert(0) += 1;
        }
    }
    counts.into_iter().collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn compaction_moves_every_heartbeat_once_and_keeps_every_answer(pool: PgPool) {
    let mut rng = StdRng::seed_from_u64(17);
    let (sessions, beats) = fleet(&mut rng);
    let licenses: BTreeSet<Uuid> = beats.iter().map(|b| b.license).collect();
    assert!(beats.len() > 20_000, "{} heartbeats", beats.len());
    // Raw days 30 October to 2 November; the 29th has no partition, so its rows land in the
    // default partition, as rows do when a day was not created in time.
    partitions::ensure_day_partitions(&pool, utc(2026, 10, 30, 0).date_naive(), 4).await.unwrap();
    partitions::ensure_history_partitions(&pool, utc(2026, 10, 1, 0).date_naive(), 2).await.unwrap();
    let (on_time, late): (Vec<Beat>, Vec<Beat>) = beats.iter().copied().partition(|b| !b.late);
    insert(&pool, &on_time).await;
    assert!(count(&pool, "SELECT count(*) FROM license_heartbeats_default").await > 0);

    // Heartbeats within the raw window, which stay raw.
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(&pool).await.unwrap();
    let recent: Vec<Beat> = (1..=40)
        .map(|i| Beat {
            license: beats[0].license,
            device: beats[0].device,
            at: now - Duration::seconds(30 * i),
            late: false,
        })
        .collect();
    insert(&pool, &recent).await;

    // The expectation is what the raw rows give before any compaction.
    assert_counts(&pool, &on_time, &licenses, "raw rows").await;

    let settings = PartitionSettings::default();
    let partial =
        compaction::compact(&pool, settings, Budget { batch_rows: 700, max_batches: 5, paced: false }).await.unwrap();
    assert_eq!((partial.moved, partial.batches, partial.finished), (3_500, 5, false), "{partial:?}");
    assert!(partial.dropped.is_empty());
    assert_counts(&pool, &on_time, &licenses, "interrupted").await;
    assert_compacted_hours_add_up(&pool, "interrupted").await;

    // Late rows: in days partly compacted already, and in the default partition.
    insert(&pool, &late).await;
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                compaction::compact(&pool, settings, Budget { batch_rows: 1_000, ..Budget::default() }).await.unwrap()
            })
        })
        .collect();
    let mut moved = partial.moved;
    for run in runs {
        let report = run.await.unwrap();
        assert!(report.finished);
        moved += report.moved;
    }
    let again = compaction::compact(&pool, settings, Budget::default()).await.unwrap();
    assert_eq!((again.moved, again.finished), (0, true), "a second run finds nothing to move");
    assert_eq!(moved, beats.len() as i64, "every heartbeat moved once");

    // Nothing older than the window is left raw; the heartbeats within it are.
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, recent.len() as i64);
    assert_eq!(
        count(&pool, "SELECT sum(n) FROM heartbeat_device_days, unnest(hour_counts) n").await,
        beats.len() as i64
    );
    assert_counts(&pool, &beats, &licenses, "compacted").await;
    assert_compacted_hours_add_up(&pool, "compacted").await;
    // Ranges whose edges cut hours: all licenses at once (from the sums per hour) answer what
    // the devices' slots say, and what the licenses answer one by one (from their device-days).
    for _ in 0..12 {
        let from = utc(2026, 10, 29, 12) + Duration::seconds(rng.gen_range(0..86_400));
        let to = from + Duration::seconds(rng.gen_range(1..3 * 86_400));
        for bucket in [TimeBucket::Hour, TimeBucket::Day] {
            let all = exact(&pool, (from, to), bucket, None).await;
            assert_eq!(all, compacted_buckets(&beats, (from, to), bucket), "all licenses, [{from}, {to}) {bucket:?}");
            let mut by_license: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
            for &license in &licenses {
                for (start, n) in exact(&pool, (from, to), bucket, Some(license)).await {
                    *by_license.entry(start).or_default() += n;
                }
            }
            assert_eq!(
                all,
                by_license.into_iter().collect::<Vec<_>>(),
                "license by license, [{from}, {to}) {bucket:?}"
            );
        }
    }
    let window = (now - Duration::hours(1), now + Duration::hours(1));
    assert_eq!(exact(&pool, window, TimeBucket::Hour, None).await, buckets(recent.iter(), TimeBucket::Hour));

    // Per device and day: the hour counts and the slot timeline.
    let devices: BTreeSet<(Uuid, Uuid)> = beats.iter().map(|b| (b.license, b.device)).collect();
    for &(license, device) in &devices {
        let mine: Vec<&Beat> = beats.iter().filter(|b| b.device == device).collect();
        let mut expected_hours: BTreeMap<chrono::NaiveDate, Vec<i32>> = BTreeMap::new();
        for beat in &mine {
            let hours = expected_hours.entry(beat.at.date_naive()).or_insert_with(|| vec![0; 24]);
            hours[chrono::Timelike::hour(&beat.at) as usize] += 1;
        }
        let stored: Vec<(chrono::NaiveDate, Vec<i32>)> = sqlx::query_as(
            "SELECT day, hour_counts FROM heartbeat_device_days WHERE license_id = $1 AND device_id = $2 ORDER BY day",
        )
        .bind(license)
        .bind(device)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(stored, expected_hours.into_iter().collect::<Vec<_>>(), "hour counts of device {device}");

        let expected_slots: Vec<DateTime<Utc>> =
            mine.iter().map(|b| slot(b.at)).collect::<BTreeSet<_>>().into_iter().collect();
        let timeline = compaction::heartbeat_slots(&pool, license, device, utc(2026, 10, 29, 0), utc(2026, 11, 4, 0))
            .await
            .unwrap();
        assert_eq!(timeline, expected_slots, "timeline of device {device}");

        // Each session's first and last heartbeat slot and its gaps.
        for session in sessions.iter().filter(|s| s.device == device) {
            let raw: Vec<DateTime<Utc>> = expected_slots
                .iter()
                .copied()
                .filter(|&s| s >= slot(session.start) && s <= slot(session.end))
                .collect();
            let compacted: Vec<DateTime<Utc>> = compaction::heartbeat_slots(
                &pool,
                session.license,
                device,
                slot(session.start),
                slot(session.end) + Duration::seconds(30),
            )
            .await
            .unwrap();
            assert_eq!(compacted.first(), raw.first(), "first heartbeat of a session");
            assert_eq!(compacted.last(), raw.last(), "last heartbeat of a session");
            assert_eq!(gaps(&compacted), gaps(&raw), "gaps within a session");
        }
    }

    // The days beyond the window are gone from the raw table, today's and later days are kept.
    let raw_partitions: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'license_heartbeats'::regclass ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for day in ["20261030", "20261031", "20261101", "20261102"] {
        assert!(!raw_partitions.contains(&format!("license_heartbeats_{day}")), "{day} dropped: {raw_partitions:?}");
    }
    let today = format!("license_heartbeats_{}", now.format("%Y%m%d"));
    assert!(raw_partitions.contains(&today), "{raw_partitions:?}");
    assert!(raw_partitions.contains(&"license_heartbeats_default".to_owned()));
}

#[sqlx::test(migrations = "../migrations")]
async fn heartbeat_counts_through_graphql_equal_the_raw_computation_after_compaction(pool: PgPool) {
    let mut rng = StdRng::seed_from_u64(16);
    let (_, beats) = fleet(&mut rng);
    partitions::ensure_day_partitions(&pool, utc(2026, 10, 29, 0).date_naive(), 5).await.unwrap();
    partitions::ensure_history_partitions(&pool, utc(2026, 10, 1, 0).date_naive(), 2).await.unwrap();
    insert(&pool, &beats).await;
    let app = spawn_app(&pool).await;
    let analyst = app.key(Scope::Analyst).await;
    let query = "query($f: DateTime!, $t: DateTime!, $b: TimeBucket!, $l: ID) {
        heartbeatCounts(from: $f, to: $t, bucket: $b, licenseId: $l) { bucketStart count } }";
    let as_json = |expected: Vec<(DateTime<Utc>, i64)>| {
        json!(expected
            .into_iter()
            .map(|(start, count)| json!({"bucketStart": start.to_rfc3339(), "count": count}))
            .collect::<Vec<_>>())
    };
    let license = beats[0].license;
    let cases = [
        ("HOUR", None, TimeBucket::Hour),
        ("DAY", None, TimeBucket::Day),
        ("HOUR", Some(license), TimeBucket::Hour),
        ("DAY", Some(license), TimeBucket::Day),
    ];
    let mut before = Vec::new();
    for (name, license, bucket) in cases {
        let variables = json!({"f": "2026-10-29T00:00:00Z", "t": "2026-11-04T00:00:00Z", "b": name, "l": license.map(|l| l.to_string())});
        let reply = app.gql(&analyst, query, variables.clone()).await;
        let expected = buckets(beats.iter().filter(|b| license.is_none_or(|l| b.license == l)), bucket);
        assert_eq!(reply.data("heartbeatCounts"), &as_json(expected), "raw, {name} {license:?}");
        before.push((variables, reply.data("heartbeatCounts").clone()));
    }

    let report = compaction::compact(&pool, PartitionSettings::default(), Budget::default()).await.unwrap();
    assert_eq!(report.moved, beats.len() as i64);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 0);
    for (variables, raw_answer) in before {
        let reply = app.gql(&analyst, query, variables.clone()).await;
        assert_eq!(reply.data("heartbeatCounts"), &raw_answer, "compacted, {variables}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_devices_heartbeat_timeline_shows_its_stretches_and_gaps_before_and_after_compaction(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let token = app.session(&client, &license_key, "timeline").await;
    let (license, device): (Uuid, Uuid) =
        sqlx::query_as("SELECT license_id, device_id FROM license_sessions WHERE session_token = $1::uuid")
            .bind(&token)
            .fetch_one(&pool)
            .await
            .unwrap();
    partitions::ensure_day_partitions(&pool, utc(2026, 10, 31, 0).date_naive(), 2).await.unwrap();
    partitions::ensure_history_partitions(&pool, utc(2026, 10, 1, 0).date_naive(), 2).await.unwrap();
    // 23:58 to 00:03 across the month boundary with 00:00:30 missed, then 00:10 to 00:11:59,
    // two heartbeats in that last slot.
    let start = utc(2026, 10, 31, 23) + Duration::minutes(58);
    let mut beats: Vec<Beat> = (0..10)
        .filter(|&i| i != 5)
        .map(|i| Beat { license, device, at: start + Duration::seconds(30 * i + 3), late: false })
        .collect();
    let later = utc(2026, 11, 1, 0) + Duration::minutes(10);
    beats.extend((0..4).map(|i| Beat { license, device, at: later + Duration::seconds(30 * i + 1), late: false }));
    beats.push(Beat { license, device, at: later + Duration::seconds(119), late: false });
    insert(&pool, &beats).await;

    let query = "query($d: ID!, $f: DateTime!, $t: DateTime!) {
        deviceHeartbeatTimeline(deviceId: $d, from: $f, to: $t) { from to slots } }";
    let variables = json!({"d": device, "f": "2026-10-31T00:00:00Z", "t": "2026-11-02T00:00:00Z"});
    let expected = json!([
        {"from": "2026-10-31T23:58:00+00:00", "to": "2026-11-01T00:00:30+00:00", "slots": 5},
        {"from": "2026-11-01T00:01:00+00:00", "to": "2026-11-01T00:03:00+00:00", "slots": 4},
        {"from": "2026-11-01T00:10:00+00:00", "to": "2026-11-01T00:12:00+00:00", "slots": 4},
    ]);
    let raw = app.gql(&analyst, query, variables.clone()).await;
    assert_eq!(raw.data("deviceHeartbeatTimeline"), &expected, "from the raw rows");
    let report = compaction::compact(&pool, PartitionSettings::default(), Budget::default()).await.unwrap();
    assert_eq!(report.moved, beats.len() as i64);
    let compacted = app.gql(&analyst, query, variables).await;
    assert_eq!(compacted.data("deviceHeartbeatTimeline"), &expected, "from the compacted history");

    let too_long =
        app.gql(&analyst, query, json!({"d": device, "f": "2026-09-01T00:00:00Z", "t": "2026-11-02T00:00:00Z"})).await;
    assert_eq!((too_long.error_code(), too_long.error_field()), ("BAD_USER_INPUT", "to"));
    let unknown = app
        .gql(&analyst, query, json!({"d": Uuid::new_v4(), "f": "2026-10-31T00:00:00Z", "t": "2026-11-02T00:00:00Z"}))
        .await;
    assert_eq!(unknown.data("deviceHeartbeatTimeline"), &json!([]));
    let refused =
        app.gql(&client, query, json!({"d": device, "f": "2026-10-31T00:00:00Z", "t": "2026-11-02T00:00:00Z"})).await;
    assert_eq!(refused.error_code(), "FORBIDDEN", "a client key may not read timelines");
}

/// A restore of a backup taken before the compaction existed brings back the raw rows and a
/// `_sqlx_migrations` without its migration, but leaves the long-term form (not in the archive)
/// holding the same heartbeats compacted later: the migration runs again and starts it afresh, so
/// no heartbeat counts twice.
#[sqlx::test(migrations = "../migrations")]
async fn the_migration_run_again_after_an_older_restore_counts_no_heartbeat_twice(pool: PgPool) {
    let (license, device) = (Uuid::new_v4(), Uuid::new_v4());
    let start = (Utc::now() - Duration::days(5)).duration_trunc(Duration::days(1)).unwrap() + Duration::hours(9);
    every_30_seconds(&pool, (license, device), start, 100).await;
    compaction::compact(&pool, PartitionSettings::default(), Budget::default()).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 0, "compacted");
    assert_eq!(count(&pool, "SELECT count(*) FROM heartbeat_device_days").await, 1);

    // What the restore of the older archive leaves: its raw rows back, its migrations record.
    every_30_seconds(&pool, (license, device), start, 100).await;
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version >= 20261207000200").execute(&pool).await.unwrap();
    sqlx::migrate!("../migrations").run(&pool).await.unwrap();

    assert_eq!(count(&pool, "SELECT count(*) FROM heartbeat_device_days").await, 0, "started afresh");
    let (from, to) = (start - Duration::hours(9), start + Duration::hours(15));
    let buckets = heartbeat_buckets_exact(&pool, from, to, TimeBucket::Day, Some(license)).await.unwrap();
    assert_eq!(buckets.iter().map(|b| b.count).sum::<i64>(), 100, "{buckets:?}");
    compaction::compact(&pool, PartitionSettings::default(), Budget::default()).await.unwrap();
    let buckets = heartbeat_buckets_exact(&pool, from, to, TimeBucket::Day, Some(license)).await.unwrap();
    assert_eq!(buckets.iter().map(|b| b.count).sum::<i64>(), 100, "compacted again: {buckets:?}");
    let buckets = heartbeat_buckets_exact(&pool, from, to, TimeBucket::Day, None).await.unwrap();
    assert_eq!(buckets.iter().map(|b| b.count).sum::<i64>(), 100, "all licenses, compacted again: {buckets:?}");
}

/// The migration that adds the sums per hour builds them from the device-days compacted before
/// it, as the compaction would have kept them.
#[sqlx::test(migrations = "../migrations")]
async fn the_sums_per_hour_are_built_from_the_history_compacted_before_them(pool: PgPool) {
    let mut rng = StdRng::seed_from_u64(19);
    let (_, beats) = fleet(&mut rng);
    insert(&pool, &beats).await;
    compaction::compact(&pool, PartitionSettings::default(), Budget { paced: false, ..Budget::default() })
        .await
        .unwrap();
    let kept = compacted_hours(&pool).await;
    assert!(kept.len() > 48, "{} hours", kept.len());

    sqlx::query("DELETE FROM _sqlx_migrations WHERE version >= 20261209000100").execute(&pool).await.unwrap();
    sqlx::query("TRUNCATE heartbeat_compacted_hours").execute(&pool).await.unwrap();
    sqlx::migrate!("../migrations").run(&pool).await.unwrap();
    assert_eq!(compacted_hours(&pool).await, kept);
    assert_compacted_hours_add_up(&pool, "built by the migration").await;
}

/// The retention drops the sums of the hours whose device-days it dropped (a month's partition,
/// or rows of the default partition), and keeps the others.
#[sqlx::test(migrations = "../migrations")]
async fn the_retention_drops_the_sums_of_the_hours_it_drops(pool: PgPool) {
    let (license, device) = (Uuid::new_v4(), Uuid::new_v4());
    let now = Utc::now();
    let month_ago =
        |months: u32| (now.date_naive() - chrono::Months::new(months)).and_hms_opt(10, 0, 0).unwrap().and_utc();
    // Two years ago in a monthly partition of its own, 20 months ago in the default partition, 20
    // days ago kept.
    partitions::ensure_history_partitions(&pool, month_ago(24).date_naive(), 1).await.unwrap();
    let kept_day = (now - Duration::days(20)).duration_trunc(Duration::days(1)).unwrap() + Duration::hours(10);
    for start in [month_ago(24), month_ago(20), kept_day] {
        every_30_seconds(&pool, (license, device), start, 200).await;
    }
    compaction::compact(&pool, PartitionSettings::default(), Budget::default()).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM heartbeat_compacted_hours").await, 6, "three days of two hours");

    let report = partitions::maintain(&pool, PartitionSettings::default()).await.unwrap();
    assert!(!report.dropped.is_empty(), "{report:?}");
    let left: Vec<DateTime<Utc>> = compacted_hours(&pool).await.into_iter().map(|(hour, _, _)| hour).collect();
    assert_eq!(left, vec![kept_day, kept_day + Duration::hours(1)]);
    assert_compacted_hours_add_up(&pool, "after the retention").await;
}

/// In the month of the cutoff, the retention drops the sums of the default partition's days
/// before the cutoff, whose rows it deletes, and keeps those of the days after it.
#[sqlx::test(migrations = "../migrations")]
async fn the_retention_drops_the_sums_of_default_partition_days_before_the_cutoff_in_its_month(pool: PgPool) {
    use chrono::Datelike as _;
    let (license, device) = (Uuid::new_v4(), Uuid::new_v4());
    // No partition of either table reaches back 15 months: every row is in a default partition.
    let month = (Utc::now().date_naive() - chrono::Months::new(15)).with_day(1).unwrap();
    let at = |day: u32| month.with_day(day).unwrap().and_hms_opt(10, 0, 0).unwrap().and_utc();
    for start in [at(3), at(20)] {
        every_30_seconds(&pool, (license, device), start, 200).await;
    }
    compaction::compact(&pool, PartitionSettings::default(), Budget::default()).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM heartbeat_compacted_hours").await, 4, "two days of two hours");

    let dropped: Vec<String> =
        sqlx::query_scalar("SELECT drop_heartbeat_partitions_before($1)").bind(at(11)).fetch_all(&pool).await.unwrap();
    assert!(dropped.is_empty(), "{dropped:?}");
    let left: Vec<DateTime<Utc>> = compacted_hours(&pool).await.into_iter().map(|(hour, _, _)| hour).collect();
    assert_eq!(left, vec![at(20), at(20) + Duration::hours(1)]);
    assert_compacted_hours_add_up(&pool, "after the retention").await;
}
