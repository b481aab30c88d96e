//! Heartbeats land in their month's partition, on both sides of a month boundary; partition
//! maintenance creates months ahead, drops months past the retention and empties the default partition.

use chrono::NaiveDate;
use license_server::auth::Scope;
use sqlx::PgPool;

use license_server::partitions::{self, MaintenanceReport, PartitionSettings};

use crate::helpers::{count, spawn_app};

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

#[sqlx::test(migrations = "../migrations")]
async fn heartbeats_either_side_of_a_month_boundary_land_in_their_own_month(pool: PgPool) {
    let created =
        partitions::ensure_partitions(&pool, NaiveDate::from_ymd_opt(2030, 12, 15).unwrap(), 3).await.unwrap();
    assert_eq!(created, 3);
    assert_eq!(partition_of(&pool, "2030-12-31 23:59:59.999999+00").await, "license_heartbeats_203012");
    assert_eq!(partition_of(&pool, "2031-01-01 00:00:00+00").await, "license_heartbeats_203101");
    // A local-time boundary is not a partition boundary: 00:30 in Berlin is still December in UTC.
    assert_eq!(partition_of(&pool, "2031-01-01 00:30:00+01").await, "license_heartbeats_203012");
    assert_eq!(partition_of(&pool, "2031-02-28 12:00:00+00").await, "license_heartbeats_203102");
    // Outside every monthly partition, the row is still kept (in the default partition).
    assert_eq!(partition_of(&pool, "2040-06-01 00:00:00+00").await, "license_heartbeats_default");
}

/// Names of the monthly partitions, oldest first.
async fn monthly_partitions(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'license_heartbeats'::regclass AND c.relname <> 'license_heartbeats_default'
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// `license_heartbeats_YYYYMM` for the month `offset` months from now (UTC).
async fn month_name(pool: &PgPool, offset: i32) -> String {
    sqlx::query_scalar(
        "SELECT 'license_heartbeats_' || to_char((now() AT TIME ZONE 'UTC') + make_interval(months => $1), 'YYYYMM')",
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

#[sqlx::test(migrations = "../migrations")]
async fn partition_maintenance_creates_the_configured_months_ahead(pool: PgPool) {
    let settings = PartitionSettings { ahead_months: 6, retention_months: 12 };
    let report = partitions::maintain(&pool, settings).await.unwrap();
    assert_eq!(report.created, 4, "the migration created the current month and two ahead; four more are needed");
    let mut expected = Vec::new();
    for offset in 0..=6 {
        expected.push(month_name(&pool, offset).await);
    }
    assert_eq!(monthly_partitions(&pool).await, expected, "the current month and six ahead, nothing else");
}

#[sqlx::test(migrations = "../migrations")]
async fn partition_maintenance_twice_in_a_row_changes_nothing_the_second_time(pool: PgPool) {
    let settings = PartitionSettings { ahead_months: 4, retention_months: 12 };
    partitions::ensure_partitions(&pool, NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(), 2).await.unwrap();
    let first = partitions::maintain(&pool, settings).await.unwrap();
    assert_eq!(first.created, 2, "months 3 and 4 ahead");
    assert_eq!(first.dropped, ["license_heartbeats_200001", "license_heartbeats_200002"]);
    let before = monthly_partitions(&pool).await;
    let second = partitions::maintain(&pool, settings).await.unwrap();
    assert_eq!(second, MaintenanceReport::default(), "the second run creates and drops nothing");
    assert_eq!(monthly_partitions(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn partition_maintenance_from_several_instances_at_once_creates_each_month_once(pool: PgPool) {
    let settings = PartitionSettings { ahead_months: 8, retention_months: 12 };
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { partitions::maintain(&pool, settings).await })
        })
        .collect();
    let mut created = 0;
    for run in runs {
        created += run.await.unwrap().unwrap().created;
    }
    assert_eq!(created, 6, "months 3 to 8 ahead, each created by exactly one run");
    assert_eq!(monthly_partitions(&pool).await.len(), 9);
}

#[sqlx::test(migrations = "../migrations")]
async fn partitions_older_than_the_retention_are_detached_and_dropped_with_their_rows(pool: PgPool) {
    // Every month from two years ago, each with one heartbeat in its middle.
    let two_years_ago: NaiveDate =
        sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'UTC') - interval '24 months')::date")
            .fetch_one(&pool)
            .await
            .unwrap();
    partitions::ensure_partitions(&pool, two_years_ago, 24).await.unwrap();
    for offset in -24..=2 {
        insert_heartbeat(
            &pool,
            &format!("date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + make_interval(months => {offset}, days => 14)"),
        )
        .await;
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats_default").await, 0);

    let report =
        partitions::maintain(&pool, PartitionSettings { ahead_months: 3, retention_months: 12 }).await.unwrap();

    // A month is dropped once it ended more than 12 months ago: 13 months back is gone, while
    // 12 months back ended less than 12 months ago and stays.
    let mut expected_dropped = Vec::new();
    for offset in -24..=-13 {
        expected_dropped.push(month_name(&pool, offset).await);
    }
    assert_eq!(report.dropped, expected_dropped);
    let mut expected_kept = Vec::new();
    for offset in -12..=3 {
        expected_kept.push(month_name(&pool, offset).await);
    }
    assert_eq!(monthly_partitions(&pool).await, expected_kept);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 15, "the kept months keep their rows");
    let leftover: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relname = $1")
        .bind(&expected_dropped[0])
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(leftover, 0, "a dropped partition is not left behind as a detached table");
}

#[sqlx::test(migrations = "../migrations")]
async fn rows_in_the_default_partition_move_into_their_month_when_it_is_created(pool: PgPool) {
    // Six months ahead has no partition yet: these rows land in the default partition.
    let at = "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + make_interval(months => 6, days => 2)";
    insert_heartbeat(&pool, at).await;
    insert_heartbeat(&pool, at).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats_default").await, 2);

    // Creating that month directly does not fail on the rows in the default partition ...
    let six_ahead: NaiveDate = sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'UTC') + interval '6 months')::date")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(partitions::ensure_partitions(&pool, six_ahead, 1).await.unwrap(), 1);
    // ... and the rows now live in it.
    let partition = month_name(&pool, 6).await;
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
    assert!(monthly_partitions(&pool).await.contains(&"license_heartbeats_203105".to_owned()));
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 2, "no heartbeat was lost");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_heartbeat_through_the_api_lands_in_the_current_month(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let token = app.session(&client, &license_key, "fp").await;
    app.heartbeat(&client, &token).await;
    let (partition, expected): (String, String) = sqlx::query_as(
        "SELECT tableoid::regclass::text, 'license_heartbeats_' || to_char(received_at AT TIME ZONE 'UTC', 'YYYYMM') FROM license_heartbeats",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(partition, expected);
}
