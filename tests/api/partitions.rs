//! Heartbeats land in their month's partition, on both sides of a month boundary.

use chrono::NaiveDate;
use license_server::auth::Scope;
use sqlx::PgPool;

use crate::helpers::spawn_app;

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
        license_server::partitions::ensure_partitions(&pool, NaiveDate::from_ymd_opt(2030, 12, 15).unwrap(), 3)
            .await
            .unwrap();
    assert_eq!(created, 3);
    assert_eq!(partition_of(&pool, "2030-12-31 23:59:59.999999+00").await, "license_heartbeats_203012");
    assert_eq!(partition_of(&pool, "2031-01-01 00:00:00+00").await, "license_heartbeats_203101");
    // A local-time boundary is not a partition boundary: 00:30 in Berlin is still December in UTC.
    assert_eq!(partition_of(&pool, "2031-01-01 00:30:00+01").await, "license_heartbeats_203012");
    assert_eq!(partition_of(&pool, "2031-02-28 12:00:00+00").await, "license_heartbeats_203102");
    // Outside every monthly partition, the row is still kept (in the default partition).
    assert_eq!(partition_of(&pool, "2040-06-01 00:00:00+00").await, "license_heartbeats_default");
}

#[sqlx::test(migrations = "../migrations")]
async fn partition_maintenance_is_idempotent_and_keeps_months_ahead(pool: PgPool) {
    license_server::partitions::ensure_current(&pool, 3).await.unwrap();
    assert_eq!(license_server::partitions::ensure_current(&pool, 3).await.unwrap(), 0, "a second run creates nothing");
    let months: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'license_heartbeats'::regclass
           AND c.relname >= 'license_heartbeats_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')
           AND c.relname <> 'license_heartbeats_default'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(months, 4, "the current month and three ahead");
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
