//! Aggregates for analysts, over data placed at known moments in the past.

use license_server::analytics::{rollups, HEARTBEAT_BUCKETS_SQL, LICENSE_HEARTBEAT_BUCKETS_SQL};
use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::helpers::{age_session, spawn_app, TestApp};

/// A license with one registered device; returns `(license id, device id)`.
async fn license_with_device(app: &TestApp, admin: &str, client: &str) -> (Uuid, Uuid) {
    let (license, key) = app.create_license(admin, 5, 5).await;
    let token = app.session(client, &key, "device").await;
    let device: Uuid = sqlx::query_scalar("SELECT device_id FROM license_sessions WHERE session_token = $1::uuid")
        .bind(&token)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (license.parse().unwrap(), device)
}

/// Files an ended session with the given times (UTC, `YYYY-MM-DD HH:MM`).
async fn ended_session(pool: &PgPool, (license, device): (Uuid, Uuid), start: &str, end: &str, reason: &str) {
    sqlx::query(
        "INSERT INTO session_history (id, session_token, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason)
         VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, ($3 || '+00')::timestamptz, ($4 || '+00')::timestamptz, ($4 || '+00')::timestamptz, $5)",
    )
    .bind(license)
    .bind(device)
    .bind(start)
    .bind(end)
    .bind(reason)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn licenses_are_counted_by_type_and_state(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let customer = app.create_customer(&admin, "counts@example.com").await;
    let base = json!({"customerId": customer, "deviceLimit": 1, "concurrentSessionsLimit": 1});
    let with = |extra: Value| {
        let mut input = base.clone();
        input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        input
    };
    app.create_license_for(&admin, with(json!({"licenseType": "TRIAL"}))).await;
    app.create_license_for(&admin, with(json!({"licenseType": "TRIAL"}))).await;
    app.create_license_for(
        &admin,
        with(json!({"validFrom": "2020-01-01T00:00:00Z", "validUntil": "2021-01-01T00:00:00Z"})),
    )
    .await;
    app.create_license_for(&admin, with(json!({"licenseType": "PERPETUAL", "validFrom": "2099-01-01T00:00:00Z"})))
        .await;
    let (revoked, _) = app.create_license_for(&admin, with(json!({}))).await;
    app.gql(&admin, "mutation($id: ID!) { deactivateLicense(id: $id) { id } }", json!({"id": revoked}))
        .await
        .data("deactivateLicense");

    let reply = app.gql(&analyst, "{ licenseCounts { licenseType state count } }", json!({})).await;
    assert_eq!(
        reply.data("licenseCounts"),
        &json!([
            {"licenseType": "PERPETUAL", "state": "PENDING", "count": 1},
            {"licenseType": "SUBSCRIPTION", "state": "EXPIRED", "count": 1},
            {"licenseType": "SUBSCRIPTION", "state": "INACTIVE", "count": 1},
            {"licenseType": "TRIAL", "state": "ACTIVE", "count": 2},
        ])
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn usage_shows_active_devices_and_only_truly_live_sessions_per_license(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let (busy, key) = app.create_license(&admin, 4, 3).await;
    app.session(&client, &key, "a").await;
    app.session(&client, &key, "b").await;
    let silent = app.session(&client, &key, "c").await;
    age_session(&pool, &silent, 3600).await; // past the timeout, not yet filed by the cleanup
    let (idle, _) = app.create_license(&admin, 1, 1).await;

    let reply = app
        .gql(
            &analyst,
            "{ licenseUsage { licenseId deviceLimit activeDevices concurrentSessionsLimit liveSessions } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reply.data("licenseUsage"),
        &json!([
            {"licenseId": busy, "deviceLimit": 4, "activeDevices": 3, "concurrentSessionsLimit": 3, "liveSessions": 2},
            {"licenseId": idle, "deviceLimit": 1, "activeDevices": 0, "concurrentSessionsLimit": 1, "liveSessions": 0},
        ])
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn usage_lists_the_licenses_closest_to_a_limit_first_by_share_not_by_count(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    // Most sessions live, but 3 of 10 of each limit: 30 %.
    let (roomy, roomy_key) = app.create_license(&admin, 10, 10).await;
    for device in ["r1", "r2", "r3"] {
        app.session(&client, &roomy_key, device).await;
    }
    // Its one session slot taken: 100 %.
    let (full, full_key) = app.create_license(&admin, 1, 1).await;
    app.session(&client, &full_key, "f1").await;
    // No session live, but 3 of 4 device slots taken: 75 %.
    let (devices, devices_key) = app.create_license(&admin, 4, 4).await;
    for device in ["d1", "d2", "d3"] {
        let token = app.session(&client, &devices_key, device).await;
        app.end_session(&client, &token).await;
    }
    let (unused, _) = app.create_license(&admin, 1, 1).await;

    let reply = app.gql(&analyst, "{ licenseUsage { licenseId activeDevices liveSessions } }", json!({})).await;
    assert_eq!(
        reply.data("licenseUsage"),
        &json!([
            {"licenseId": full, "activeDevices": 1, "liveSessions": 1},
            {"licenseId": devices, "activeDevices": 3, "liveSessions": 0},
            {"licenseId": roomy, "activeDevices": 3, "liveSessions": 3},
            {"licenseId": unused, "activeDevices": 0, "liveSessions": 0},
        ])
    );
    let first_two = app.gql(&analyst, "{ licenseUsage(first: 2) { licenseId } }", json!({})).await;
    assert_eq!(first_two.data("licenseUsage"), &json!([{"licenseId": full}, {"licenseId": devices}]));
}

#[sqlx::test(migrations = "../migrations")]
async fn sessions_are_counted_per_day_with_their_end_reasons(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let one = license_with_device(&app, &admin, &client).await;
    let other = license_with_device(&app, &admin, &client).await;
    ended_session(&pool, one, "2026-01-10 08:00", "2026-01-10 09:00", "client_ended").await;
    ended_session(&pool, one, "2026-01-10 10:00", "2026-01-10 11:00", "timeout").await;
    ended_session(&pool, one, "2026-01-10 23:00", "2026-01-11 01:00", "timeout").await;
    ended_session(&pool, other, "2026-01-11 12:00", "2026-01-11 13:00", "admin_terminated").await;
    ended_session(&pool, one, "2026-01-09 12:00", "2026-01-09 13:00", "timeout").await; // out of range

    let query =
        "query($l: ID) { sessionsPerDay(from: \"2026-01-10T00:00:00Z\", to: \"2026-01-12T00:00:00Z\", licenseId: $l) {
        day started ended endReasons { reason count } } }";
    let reply = app.gql(&analyst, query, json!({})).await;
    assert_eq!(
        reply.data("sessionsPerDay"),
        &json!([
            {"day": "2026-01-10", "started": 3, "ended": 2, "endReasons": [{"reason": "CLIENT_ENDED", "count": 1}, {"reason": "TIMEOUT", "count": 1}]},
            {"day": "2026-01-11", "started": 1, "ended": 2, "endReasons": [{"reason": "ADMIN_TERMINATED", "count": 1}, {"reason": "TIMEOUT", "count": 1}]},
        ])
    );
    let per_license = app.gql(&analyst, query, json!({"l": other.0})).await;
    assert_eq!(
        per_license.data("sessionsPerDay"),
        &json!([{"day": "2026-01-11", "started": 1, "ended": 1, "endReasons": [{"reason": "ADMIN_TERMINATED", "count": 1}]}])
    );
}

/// The text of `EXPLAIN (ANALYZE, …)` of a statement already bound or prepared.
async fn plan_text(
    conn: &mut PgConnection,
    explain: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> String {
    let rows = explain.fetch_all(conn).await.unwrap();
    rows.iter().map(|row| row.get::<String, _>(0)).collect::<Vec<_>>().join("\n")
}

#[sqlx::test(migrations = "../migrations")]
async fn heartbeats_are_counted_per_hour_or_day_reading_only_the_partitions_in_range(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let one = license_with_device(&app, &admin, &client).await;
    let other = license_with_device(&app, &admin, &client).await;
    sqlx::query(
        "SELECT ensure_heartbeat_partitions('2026-01-01', 3), ensure_heartbeat_history_partitions('2026-01-01', 3)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for ((license, device), at) in [
        (one, "2026-01-15 10:05"),
        (one, "2026-01-15 10:40"),
        (one, "2026-01-15 11:10"),
        (other, "2026-02-03 09:00"),
        (other, "2026-02-03 17:00"),
        (one, "2026-03-01 00:00"),
    ] {
        sqlx::query("INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at) VALUES (gen_random_uuid(), $1, $2, ($3 || '+00')::timestamptz)")
            .bind(license)
            .bind(device)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
    }

    let query = "query($f: DateTime!, $t: DateTime!, $b: TimeBucket!, $l: ID) {
        heartbeatCounts(from: $f, to: $t, bucket: $b, licenseId: $l) { bucketStart count } }";
    let hourly =
        app.gql(&analyst, query, json!({"f": "2026-01-15T00:00:00Z", "t": "2026-01-16T00:00:00Z", "b": "HOUR"})).await;
    assert_eq!(
        hourly.data("heartbeatCounts"),
        &json!([{"bucketStart": "2026-01-15T10:00:00+00:00", "count": 2}, {"bucketStart": "2026-01-15T11:00:00+00:00", "count": 1}])
    );
    let daily =
        app.gql(&analyst, query, json!({"f": "2026-01-01T00:00:00Z", "t": "2026-03-01T00:00:00Z", "b": "DAY"})).await;
    assert_eq!(
        daily.data("heartbeatCounts"),
        &json!([{"bucketStart": "2026-01-15T00:00:00+00:00", "count": 3}, {"bucketStart": "2026-02-03T00:00:00+00:00", "count": 2}]),
        "the end of the range is exclusive"
    );
    let for_one = app
        .gql(
            &analyst,
            query,
            json!({"f": "2026-01-01T00:00:00Z", "t": "2026-04-01T00:00:00Z", "b": "DAY", "l": other.0}),
        )
        .await;
    assert_eq!(for_one.data("heartbeatCounts"), &json!([{"bucketStart": "2026-02-03T00:00:00+00:00", "count": 2}]));

    for (from, to, bucket) in [
        ("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", "DAY"),
        ("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "HOUR"),
    ] {
        let reply = app.gql(&analyst, query, json!({"f": from, "t": to, "b": bucket})).await;
        assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", "to"), "{from} {to} {bucket}");
    }

    // The resolver's own statements, with bound values, plan only the raw day and (for one
    // license) the compacted month in range...
    let mut conn = pool.acquire().await.unwrap();
    let day = |at: &str| chrono::DateTime::parse_from_rfc3339(at).unwrap();
    let explain = format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {HEARTBEAT_BUCKETS_SQL}");
    let bound = sqlx::query(&explain).bind(day("2026-01-15T00:00:00Z")).bind(day("2026-01-16T00:00:00Z")).bind("hour");
    let plan = plan_text(&mut conn, bound).await;
    assert!(plan.contains("license_heartbeats_20260115"), "{plan}");
    assert!(plan.contains("heartbeat_compacted_hours"), "{plan}");
    for other in [
        "license_heartbeats_20260114",
        "license_heartbeats_20260116",
        "license_heartbeats_default",
        "heartbeat_device_days",
    ] {
        assert!(!plan.contains(other), "{other} was read:\n{plan}");
    }
    let explain = format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {LICENSE_HEARTBEAT_BUCKETS_SQL}");
    let bound = sqlx::query(&explain)
        .bind(day("2026-01-15T00:00:00Z"))
        .bind(day("2026-01-16T00:00:00Z"))
        .bind("hour")
        .bind(one.0);
    let plan = plan_text(&mut conn, bound).await;
    assert!(plan.contains("license_heartbeats_20260115"), "{plan}");
    assert!(plan.contains("heartbeat_device_days_202601"), "{plan}");
    for other_partition in [
        "license_heartbeats_20260114",
        "license_heartbeats_20260116",
        "license_heartbeats_202602",
        "license_heartbeats_default",
        "heartbeat_device_days_202602",
        "heartbeat_device_days_default",
    ] {
        assert!(!plan.contains(other_partition), "{other_partition} was read:\n{plan}");
    }
    // ...and generic plans (values unknown when planning) prune the others at execution.
    sqlx::raw_sql(&format!(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE buckets(timestamptz, timestamptz, text) AS {HEARTBEAT_BUCKETS_SQL};
         PREPARE license_buckets(timestamptz, timestamptz, text, uuid) AS {LICENSE_HEARTBEAT_BUCKETS_SQL}"
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    let generic = sqlx::query(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE buckets('2026-02-03+00', '2026-02-04+00', 'day')",
    );
    let plan = plan_text(&mut conn, generic).await;
    assert!(plan.contains("Subplans Removed"), "{plan}");
    assert!(plan.contains("license_heartbeats_20260203"), "{plan}");
    for other_partition in ["license_heartbeats_20260202", "license_heartbeats_20260204", "license_heartbeats_202601"] {
        assert!(!plan.contains(other_partition), "{other_partition} was read:\n{plan}");
    }
    let execute = format!(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE license_buckets('2026-02-03+00', '2026-02-04+00', 'day', '{}')",
        other.0
    );
    let plan = plan_text(&mut conn, sqlx::query(&execute)).await;
    assert!(plan.contains("Subplans Removed"), "{plan}");
    assert!(plan.contains("license_heartbeats_20260203"), "{plan}");
    assert!(plan.contains("heartbeat_device_days_202602"), "{plan}");
    for other_partition in [
        "license_heartbeats_20260202",
        "license_heartbeats_20260204",
        "license_heartbeats_202601",
        "heartbeat_device_days_202601",
        "heartbeat_device_days_202603",
    ] {
        assert!(!plan.contains(other_partition), "{other_partition} was read:\n{plan}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn peak_concurrency_counts_overlapping_sessions_and_not_back_to_back_ones(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let busy = license_with_device(&app, &admin, &client).await;
    let serial = license_with_device(&app, &admin, &client).await;
    ended_session(&pool, busy, "2026-01-10 10:00", "2026-01-10 11:00", "client_ended").await;
    ended_session(&pool, busy, "2026-01-10 10:30", "2026-01-10 10:45", "client_ended").await;
    ended_session(&pool, busy, "2026-01-10 10:40", "2026-01-10 12:00", "timeout").await;
    ended_session(&pool, busy, "2026-01-10 11:00", "2026-01-10 11:30", "timeout").await;
    ended_session(&pool, serial, "2026-01-10 10:00", "2026-01-10 10:30", "client_ended").await;
    ended_session(&pool, serial, "2026-01-10 10:30", "2026-01-10 11:00", "client_ended").await;

    let query =
        "query($f: DateTime!, $t: DateTime!) { peakConcurrentSessions(from: $f, to: $t) { licenseId peak reachedAt } }";
    // From the sessions' deltas, then from the daily rollup.
    for moved in [false, true] {
        if moved {
            assert!(rollups::move_all(&pool).await.unwrap().peak_deltas > 0);
        }
        let reply = app.gql(&analyst, query, json!({"f": "2026-01-10T09:00:00Z", "t": "2026-01-10T13:00:00Z"})).await;
        assert_eq!(
            reply.data("peakConcurrentSessions"),
            &json!([
                {"licenseId": busy.0.to_string(), "peak": 3, "reachedAt": "2026-01-10T10:40:00+00:00"},
                {"licenseId": serial.0.to_string(), "peak": 1, "reachedAt": "2026-01-10T10:00:00+00:00"},
            ]),
            "moved: {moved}"
        );
        // A range that starts inside the sessions counts those already running at its start.
        let late = app.gql(&analyst, query, json!({"f": "2026-01-10T11:15:00Z", "t": "2026-01-10T13:00:00Z"})).await;
        assert_eq!(
            late.data("peakConcurrentSessions"),
            &json!([{"licenseId": busy.0.to_string(), "peak": 2, "reachedAt": "2026-01-10T11:15:00+00:00"}]),
            "moved: {moved}"
        );
        // Whole days: the day's peak, first reached at 10:40.
        let day = app.gql(&analyst, query, json!({"f": "2026-01-09T00:00:00Z", "t": "2026-01-11T00:00:00Z"})).await;
        assert_eq!(
            day.data("peakConcurrentSessions")[0],
            json!({"licenseId": busy.0.to_string(), "peak": 3, "reachedAt": "2026-01-10T10:40:00+00:00"}),
            "moved: {moved}"
        );
    }
}
