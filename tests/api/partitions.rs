//! Raw heartbeats land in their UTC day's partition, on both sides of a day and a month
//! boundary, and their compacted history in its month's; partition maintenance creates days and
//! months ahead, drops history past the retention and empties the default partition; a monthly
//! raw partition of an upgraded database gives way to daily ones once it is empty.

use chrono::NaiveDate;
use license_server::auth::Scope;
use sqlx::PgPool;

use license_server::partitions::{self, MaintenanceReport, PartitionSettings, RAW_DAYS_AHEAD};

use crate::helpers::{count, spawn_app};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

async fn partition_of(pool: &PgPool, at: &str) -> String {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
         VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), $1::timestamptz)",
    )
    .bind(at)
    .execute(&mut *tx)
    .await
    .unwrap();
    let name: String = sqlx::query_scalar(
        "SELECT tableoid::regclass::text FROM license_heartbeats WHERE received_at = $1::timestamptz",
    )
    .bind(at)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    name
}

async fn history_partition_of(pool: &PgPool, day: &str) -> String {
    let mut tx = pool.begin().await.unwrap();
    let name: String = sqlx::query_scalar(
        "INSERT INTO heartbeat_device_days (license_id, day, device_id, hour_counts, first_slot, slots)
         VALUES (gen_random_uuid(), $1::date, gen_random_uuid(), array_fill(0, ARRAY[24]), 0, B'1')
         RETURNING tableoid::regclass::text",
    )
    .bind(day)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    name
}

#[sqlx::test(migrations = "../migrations")]
async fn heartbeats_either_side_of_a_day_and_a_month_boundary_land_in_their_own_day(pool: PgPool) {
    assert_eq!(partitions::ensure_day_partitions(&pool, date(2030, 12, 31), 2).await.unwrap(), 2);
    assert_eq!(partitions::ensure_history_partitions(&pool, date(2030, 12, 15), 2).await.unwrap(), 2);
    assert_eq!(partition_of(&pool, "2030-12-31 23:59:59.999999+00").await, "license_heartbeats_20301231");
    assert_eq!(partition_of(&pool, "2031-01-01 00:00:00+00").await, "license_heartbeats_20310101");
    // A local-time boundary is not a partition boundary: 00:30 in Berlin is still December in UTC.
    assert_eq!(partition_of(&pool, "2031-01-01 00:30:00+01").await, "license_heartbeats_20301231");
    // Outside every daily partition, the row is still kept (in the default partition).
    assert_eq!(partition_of(&pool, "2031-01-02 00:00:00+00").await, "license_heartbeats_default");
    assert_eq!(history_partition_of(&pool, "2030-12-31").await, "heartbeat_device_days_203012");
    assert_eq!(history_partition_of(&pool, "2031-01-01").await, "heartbeat_device_days_203101");
    assert_eq!(history_partition_of(&pool, "2031-02-01").await, "heartbeat_device_days_default");
}

/// Names of the partitions of `table` except its default one, oldest first.
async fn partitions_of(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1::regclass AND c.relname !~ '_default$'
         ORDER BY 1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// `<prefix>YYYYMM` for the month `offset` months from now (UTC).
async fn month_name(pool: &PgPool, prefix: &str, offset: i32) -> String {
    sqlx::query_scalar("SELECT $1 || to_char((now() AT TIME ZONE 'UTC') + make_interval(months => $2), 'YYYYMM')")
        .bind(prefix)
        .bind(offset)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `license_heartbeats_YYYYMMDD` for the day `offset` days from today (UTC).
async fn day_name(pool: &PgPool, offset: i32) -> String {
    sqlx::query_scalar(
        "SELECT 'license_heartbeats_' || to_char((now() AT TIME ZONE 'UTC') + make_interval(days => $1), 'YYYYMMDD')",
    )
    .bind(offset)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn insert_heartbeat(pool: &PgPool, at_sql: &str) {
    sqlx::query(&format!(
        "INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
         VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), {at_sql})"
    ))
    .execute(pool)
    .await
    .unwrap();
}

fn settings(ahead_months: u32, retention_months: u32) -> PartitionSettings {
    PartitionSettings { ahead_months, retention_months, ..PartitionSettings::default() }
}

#[sqlx::test(migrations = "../migrations")]
async fn partition_maintenance_creates_the_days_and_the_configured_months_ahead(pool: PgPool) {
    let report = partitions::maintain(&pool, settings(6, 12)).await.unwrap();
    assert_eq!(report.created, 3, "the migration created the current month and three ahead; three more are needed");
    let mut expected_months = Vec::new();
    for offset in 0..=6 {
        expected_months.push(month_name(&pool, "heartbeat_device_days_", offset).await);
    }
    assert_eq!(partitions_of(&pool, "heartbeat_device_days").await, expected_months);
    let mut expected_days = Vec::new();
    for offset in 0..=RAW_DAYS_AHEAD as i32 {
        expected_days.push(day_name(&pool, offset).await);
    }
    assert_eq!(partitions_of(&pool, "license_heartbeats").await, expected_days, "today and a week ahead, nothing else");
}

#[sqlx::test(migrations = "../migrations")]
async fn partition_maintenance_twice_in_a_row_changes_nothing_the_second_time(pool: PgPool) {
    partitions::ensure_history_partitions(&pool, date(2000, 1, 1), 2).await.unwrap();
    partitions::ensure_day_partitions(&pool, date(2000, 1, 31), 2).await.unwrap();
    let first = partitions::maintain(&pool, settings(4, 12)).await.unwrap();
    assert_eq!(first.created, 1, "month 4 ahead");
    assert_eq!(
        first.dropped,
        [
            "heartbeat_device_days_200001",
            "heartbeat_device_days_200002",
            "license_heartbeats_20000131",
            "license_heartbeats_20000201"
        ]
    );
    let before =
        (partitions_of(&pool, "license_heartbeats").await, partitions_of(&pool, "heartbeat_device_days").await);
    let second = partitions::maintain(&pool, settings(4, 12)).await.unwrap();
    assert_eq!(second, MaintenanceReport::default(), "the second run creates and drops nothing");
    let after = (partitions_of(&pool, "license_heartbeats").await, partitions_of(&pool, "heartbeat_device_days").await);
    assert_eq!(after, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn partition_maintenance_from_several_instances_at_once_creates_each_partition_once(pool: PgPool) {
    // A month of missed days behind today, too (as after a long outage of every instance).
    let month_ago: NaiveDate = sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'UTC') - interval '30 days')::date")
        .fetch_one(&pool)
        .await
        .unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let created = partitions::ensure_day_partitions(&pool, month_ago, 30).await.unwrap();
                created + partitions::maintain(&pool, settings(8, 12)).await.unwrap().created
            })
        })
        .collect();
    let mut created = 0;
    for run in runs {
        created += run.await.unwrap();
    }
    assert_eq!(created, 30 + 5, "30 days back and months 4 to 8 ahead, each created by exactly one run");
    assert_eq!(partitions_of(&pool, "heartbeat_device_days").await.len(), 9);
    assert_eq!(partitions_of(&pool, "license_heartbeats").await.len(), 30 + 1 + RAW_DAYS_AHEAD as usize);
}

#[sqlx::test(migrations = "../migrations")]
async fn history_older_than_the_retention_is_detached_and_dropped_with_its_rows(pool: PgPool) {
    // Every month of history from two years ago, each with one device-day in its middle.
    let two_years_ago: NaiveDate =
        sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'UTC') - interval '24 months')::date")
            .fetch_one(&pool)
            .await
            .unwrap();
    partitions::ensure_history_partitions(&pool, two_years_ago, 24).await.unwrap();
    sqlx::query(
        "INSERT INTO heartbeat_device_days (license_id, day, device_id, hour_counts, first_slot, slots)
         SELECT gen_random_uuid(),
                (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => offs, days => 14))::date,
                gen_random_uuid(), array_fill(1, ARRAY[24]), 0, B'1'
         FROM generate_series(-24, 2) offs",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM heartbeat_device_days_default").await, 0);

    let report = partitions::maintain(&pool, settings(3, 12)).await.unwrap();

    // A month is dropped once it ended more than 12 months ago: 13 months back is gone, while
    // 12 months back ended less than 12 months ago and stays.
    let mut expected_dropped = Vec::new();
    for offset in -24..=-13 {
        expected_dropped.push(month_name(&pool, "heartbeat_device_days_", offset).await);
    }
    assert_eq!(report.dropped, expected_dropped);
    let mut expected_kept = Vec::new();
    for offset in -12..=3 {
        expected_kept.push(month_name(&pool, "heartbeat_device_days_", offset).await);
    }
    assert_eq!(partitions_of(&pool, "heartbeat_device_days").await, expected_kept);
    assert_eq!(count(&pool, "SELECT count(*) FROM heartbeat_device_days").await, 15, "the kept months keep their rows");
    let leftover: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relname = $1")
        .bind(&expected_dropped[0])
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(leftover, 0, "a dropped partition is not left behind as a detached table");
}

#[sqlx::test(migrations = "../migrations")]
async fn rows_in_the_default_partition_move_into_their_day_when_it_is_created(pool: PgPool) {
    // Sixty days ahead has no partition yet: these rows land in the default partition.
    let at = "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '60 days 5 hours'";
    insert_heartbeat(&pool, at).await;
    insert_heartbeat(&pool, at).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats_default").await, 2);

    // Creating that day directly does not fail on the rows in the default partition ...
    let sixty_ahead: NaiveDate = sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'UTC') + interval '60 days')::date")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(partitions::ensure_day_partitions(&pool, sixty_ahead, 1).await.unwrap(), 1);
    // ... and the rows now live in it.
    let partition = day_name(&pool, 60).await;
    let placed: Vec<String> =
        sqlx::query_scalar("SELECT tableoid::regclass::text FROM license_heartbeats").fetch_all(&pool).await.unwrap();
    assert_eq!(placed, [partition.clone(), partition]);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats_default").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn maintenance_reports_stray_rows_and_empties_the_default_partition(pool: PgPool) {
    insert_heartbeat(&pool, "'2031-05-17 10:00:00+00'").await;
    insert_heartbeat(&pool, "now() + interval '10 months'").await;
    let report = partitions::maintain(&pool, PartitionSettings::default()).await.unwrap();
    assert_eq!(report.stray_rows_found, 2);
    assert_eq!(report.stray_rows_left, 0);
    assert!(partitions_of(&pool, "license_heartbeats").await.contains(&"license_heartbeats_20310517".to_owned()));
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 2, "no heartbeat was lost");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_monthly_partition_of_an_upgraded_database_gives_way_to_daily_ones_only_once_empty(pool: PgPool) {
    // As before daily partitions: two monthly partitions far ahead, one of them holding a row.
    for month in ["2031-03", "2031-04"] {
        sqlx::raw_sql(&format!(
            "CREATE TABLE \"license_heartbeats_{}\" PARTITION OF license_heartbeats
             FOR VALUES FROM ('{month}-01 00:00:00+00') TO ('{month}-01 00:00:00+00'::timestamptz + interval '1 month')",
            month.replace('-', "")
        ))
        .execute(&pool)
        .await
        .unwrap();
    }
    insert_heartbeat(&pool, "'2031-03-10 08:00:00+00'").await;

    let created = partitions::ensure_day_partitions(&pool, date(2031, 3, 30), 4).await.unwrap();

    assert_eq!(created, 2, "the two April days; March keeps its monthly partition");
    let raw = partitions_of(&pool, "license_heartbeats").await;
    assert!(raw.contains(&"license_heartbeats_203103".to_owned()), "{raw:?}");
    assert!(!raw.contains(&"license_heartbeats_203104".to_owned()), "the empty month gave way: {raw:?}");
    assert!(
        raw.contains(&"license_heartbeats_20310401".to_owned())
            && raw.contains(&"license_heartbeats_20310402".to_owned())
    );
    assert_eq!(partition_of(&pool, "2031-03-31 12:00:00+00").await, "license_heartbeats_203103");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_heartbeat_through_the_api_lands_in_todays_partition(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let token = app.session(&client, &license_key, "fp").await;
    app.heartbeat(&client, &token).await;
    let (partition, expected): (String, String) = sqlx::query_as(
        "SELECT tableoid::regclass::text, 'license_heartbeats_' || to_char(received_at AT TIME ZONE 'UTC', 'YYYYMMDD') FROM license_heartbeats",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(partition, expected);
}
