//! The limits hold under truly parallel requests against two server instances sharing one
//! database. Each scenario repeats on fresh licenses so that a race has many chances to show.

use futures_util::future::join_all;
use license_server::auth::Scope;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{count, spawn_app, TestApp};

const ROUNDS: usize = 8;

/// Fires `devices.len()` activations at once, alternating between the instances.
async fn activate_all(instances: [&TestApp; 2], client: &str, license_key: &str, devices: &[String]) -> Vec<Value> {
    join_all(devices.iter().enumerate().map(|(i, device)| instances[i % 2].activate(client, license_key, device))).await
}

fn tally<'a>(results: &'a [Value], typename: &str, reason: Option<&str>) -> Vec<&'a Value> {
    results
        .iter()
        .filter(|r| r["__typename"] == typename && reason.is_none_or(|reason| r["reason"] == reason))
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn fifty_parallel_activations_against_a_concurrent_limit_of_three_grant_exactly_three(pool: PgPool) {
    let (one, two) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let (admin, client) = (one.key(Scope::Admin).await, one.key(Scope::Client).await);
    for round in 0..ROUNDS {
        let (license_id, license_key) = one.create_license(&admin, 10, 3).await;
        let devices: Vec<String> = (0..50).map(|i| format!("r{round}-{i}")).collect();
        let results = activate_all([&one, &two], &client, &license_key, &devices).await;

        assert_eq!(tally(&results, "SessionGranted", None).len(), 3, "round {round}");
        let denials = tally(&results, "ActivationDenied", Some("CONCURRENT_LIMIT_REACHED"));
        assert_eq!(denials.len(), 47, "round {round}: 47 typed denials");
        for denial in denials {
            assert_eq!(
                denial["liveSessions"].as_array().unwrap().len(),
                3,
                "a denial lists the sessions holding the slots"
            );
        }
        let live: i64 = sqlx::query_scalar("SELECT count(*) FROM license_sessions WHERE license_id = $1::uuid")
            .bind(&license_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(live, 3, "round {round}: exactly three live sessions");
        // A denied activation changes nothing: only the three admitted devices are registered.
        let registered: i64 =
            sqlx::query_scalar("SELECT count(*) FROM device_registrations WHERE license_id = $1::uuid")
                .bind(&license_id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(registered, 3, "round {round}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn fifty_parallel_new_devices_against_a_device_limit_of_five_register_exactly_five(pool: PgPool) {
    let (one, two) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let (admin, client) = (one.key(Scope::Admin).await, one.key(Scope::Client).await);
    for round in 0..ROUNDS {
        let (license_id, license_key) = one.create_license(&admin, 5, 5).await;
        let devices: Vec<String> = (0..50).map(|i| format!("r{round}-{i}")).collect();
        let results = activate_all([&one, &two], &client, &license_key, &devices).await;
        assert_eq!(tally(&results, "SessionGranted", None).len(), 5, "round {round}");
        assert_eq!(tally(&results, "ActivationDenied", Some("DEVICE_LIMIT_REACHED")).len(), 45, "round {round}");
        let registered: i64 =
            sqlx::query_scalar("SELECT count(*) FROM device_registrations WHERE license_id = $1::uuid AND is_active")
                .bind(&license_id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(registered, 5, "round {round}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_activations_of_the_same_device_yield_one_session(pool: PgPool) {
    let (one, two) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let (admin, client) = (one.key(Scope::Admin).await, one.key(Scope::Client).await);
    for round in 0..ROUNDS {
        let (license_id, license_key) = one.create_license(&admin, 1, 1).await;
        let devices: Vec<String> = vec![format!("same-{round}"); 20];
        let results = activate_all([&one, &two], &client, &license_key, &devices).await;
        let granted = tally(&results, "SessionGranted", None);
        assert_eq!(granted.len(), 20, "round {round}: the same device is never denied its own session");
        let tokens: std::collections::HashSet<&str> =
            granted.iter().map(|g| g["sessionToken"].as_str().unwrap()).collect();
        assert_eq!(tokens.len(), 1, "round {round}: one token for all");
        assert_eq!(
            granted.iter().filter(|g| g["resumed"] == false).count(),
            1,
            "round {round}: started once, resumed otherwise"
        );
        let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM license_sessions WHERE license_id = $1::uuid")
            .bind(&license_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(sessions, 1);
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, ROUNDS as i64);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_acknowledged_heartbeat_from_parallel_clients_is_in_the_database(pool: PgPool) {
    let (one, two) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let (admin, client) = (one.key(Scope::Admin).await, one.key(Scope::Client).await);
    let (_, license_key) = one.create_license(&admin, 10, 10).await;
    let mut tokens = Vec::new();
    for device in 0..10 {
        tokens.push(one.session(&client, &license_key, &format!("d{device}")).await);
    }
    let beats = join_all((0..200).map(|i| {
        let app = if i % 2 == 0 { &one } else { &two };
        app.heartbeat(&client, &tokens[i % tokens.len()])
    }))
    .await;
    let acknowledged = beats.iter().filter(|b| b["__typename"] == "HeartbeatAccepted").count();
    assert_eq!(acknowledged, 200);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 200);
}

/// An activation that waited for its license's lock decides at the time it got the lock, not at
/// its transaction's start: here the device's own session passes its deadline while the
/// activation waits, and the admission holding the lock meanwhile (another device, seeing that
/// session dead) takes the only concurrent slot. Deciding with the stale start time would revive
/// the dead session and leave two live sessions on a limit of one.
#[sqlx::test(migrations = "../migrations")]
async fn an_activation_that_waited_for_the_license_lock_decides_at_the_time_it_got_it(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 2, 1).await;
    let token = app.session(&client, &license_key, "device-a").await;
    // One second of the 60-second timeout left.
    crate::helpers::age_session(&pool, &token, 59).await;

    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM licenses WHERE id = $1::uuid FOR NO KEY UPDATE")
        .bind(&license_id)
        .execute(&mut *other)
        .await
        .unwrap();
    let admit_other = async {
        // The activation below has begun and waits for the lock; its session's deadline passes.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let device: uuid::Uuid = sqlx::query_scalar(
            "INSERT INTO device_registrations (license_id, hardware_fingerprint, device_name, device_type)
             VALUES ($1::uuid, 'device-b', 'Device B', 'test') RETURNING id",
        )
        .bind(&license_id)
        .fetch_one(&mut *other)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO license_sessions (session_token, license_id, device_id, started_at, last_heartbeat_at)
             VALUES (gen_random_uuid(), $1::uuid, $2, clock_timestamp(), clock_timestamp())",
        )
        .bind(&license_id)
        .bind(device)
        .execute(&mut *other)
        .await
        .unwrap();
        other.commit().await.unwrap();
    };
    let (resumed, ()) = tokio::join!(app.activate(&client, &license_key, "device-a"), admit_other);

    assert_eq!(resumed["__typename"], "ActivationDenied", "{resumed}");
    assert_eq!(resumed["reason"], "CONCURRENT_LIMIT_REACHED", "{resumed}");
    let live = count(
        &pool,
        &format!("SELECT count(*) FROM license_sessions WHERE license_id = '{license_id}' AND session_is_live(last_heartbeat_at, 60)"),
    )
    .await;
    assert_eq!(live, 1, "one live session on a concurrent limit of one");
}
