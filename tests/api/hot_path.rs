//! The heartbeat hot path: never a failed heartbeat, never a deadlock, never a stall, and the
//! heartbeat path's answers equal to the GraphQL executor's.

use std::time::Duration;

use futures_util::future::join_all;
use license_server::auth::Scope;
use license_server::sessions::SessionSettings;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{age_session, count, eventually, spawn_app, spawn_app_with, Options, TestApp};
use crate::metrics::{moved, scrape};

const HEARTBEAT: &str = "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename \
    ... on HeartbeatAccepted { nextDeadline } ... on HeartbeatRefused { reason } } }";

async fn deadlocks(pool: &PgPool) -> i64 {
    // Statistics reach the shared counters when a backend goes idle; a fresh snapshot reads them.
    sqlx::query("SELECT pg_stat_clear_snapshot()").execute(pool).await.unwrap();
    sqlx::query_scalar("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// POSTs `body` as it is (a request object or a batch); the future owns everything it needs.
fn post(app: &TestApp, key: &str, body: Value) -> impl std::future::Future<Output = Value> + Send + 'static {
    let (http, url, key) = (app.client.clone(), format!("{}/graphql", app.address), key.to_owned());
    async move { http.post(url).header("X-API-Key", key).json(&body).send().await.unwrap().json().await.unwrap() }
}

#[sqlx::test(migrations = "../migrations")]
async fn thousands_of_heartbeats_with_duplicate_tokens_on_two_instances_never_fail_or_deadlock(pool: PgPool) {
    let settings = SessionSettings { cleanup_interval: Duration::from_millis(100), ..SessionSettings::default() };
    let options = Options { sessions: settings, background: true, ..Default::default() };
    let (one, two) = (spawn_app_with(&pool, options.clone()).await, spawn_app_with(&pool, options).await);
    let (admin, client) = (one.key(Scope::Admin).await, one.key(Scope::Client).await);
    let mut tokens = Vec::new();
    let mut licenses = Vec::new();
    for _ in 0..30 {
        let (_, license_key) = one.create_license(&admin, 10, 10).await;
        let devices: Vec<String> = (0..10).map(|device| format!("device-{device}")).collect();
        tokens.extend(join_all(devices.iter().map(|device| one.session(&client, &license_key, device))).await);
        licenses.push(license_key);
    }
    // Sessions the cleanup ends while the heartbeats arrive (one second before their timeout).
    let (_, doomed_license) = one.create_license(&admin, 10, 10).await;
    for device in 0..10 {
        let token = one.session(&client, &doomed_license, &format!("doomed-{device}")).await;
        age_session(&pool, &token, 59).await;
    }
    let deadlocks_before = deadlocks(&pool).await;

    // 64 clients × 50 heartbeats over 300 sessions of 30 licenses, each client in its own order:
    // the same token is in flight on several connections at once, on both instances, and
    // concurrent batches hold overlapping rows.
    let clients = (0..64).map(|worker| {
        let (instances, tokens, client) = ([&one, &two], &tokens, &client);
        async move {
            let mut answers = Vec::new();
            for beat in 0..50 {
                let token = &tokens[(worker * 37 + beat * (worker + 1) * 13) % tokens.len()];
                answers.push(instances[(worker + beat) % 2].heartbeat(client, token).await);
            }
            answers
        }
    });
    // Meanwhile the devices resume their sessions, which locks the license and session rows.
    let resumes = async {
        let mut resumed = 0;
        for round in 0..2 {
            for (i, license_key) in licenses.iter().enumerate() {
                let device = format!("device-{}", (round + i) % 10);
                let result = [&one, &two][round % 2].activate(&client, license_key, &device).await;
                assert_eq!(result["resumed"], true, "{result}");
                resumed += 1;
            }
        }
        resumed
    };
    let (answers, resumed) = tokio::join!(join_all(clients), resumes);
    let answers: Vec<Value> = answers.into_iter().flatten().collect();

    let refused: Vec<&Value> = answers.iter().filter(|a| a["__typename"] != "HeartbeatAccepted").collect();
    assert!(refused.is_empty(), "{} of {} heartbeats failed, e.g. {}", refused.len(), answers.len(), refused[0]);
    assert_eq!(answers.len(), 3200);
    assert_eq!(resumed, 60);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 3200, "every acknowledged heartbeat");
    let cleaned = eventually(Duration::from_secs(10), || {
        let pool = &pool;
        async move { count(pool, "SELECT count(*) FROM session_history WHERE end_reason = 'timeout'").await == 10 }
    })
    .await;
    assert!(cleaned, "the cleanup ended the silent sessions");
    assert_eq!(deadlocks(&pool).await, deadlocks_before, "no deadlock in the database");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_heartbeat_whose_session_row_is_held_elsewhere_is_written_once_the_row_is_free(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let token = app.session(&client, &license_key, "device").await;

    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM license_sessions WHERE session_token = $1::uuid FOR UPDATE")
        .bind(&token)
        .execute(&mut *holder)
        .await
        .unwrap();
    let pending = tokio::spawn(post(&app, &client, json!({"query": HEARTBEAT, "variables": {"t": token}})));
    // The batch skips the held row, re-forms without it a few times, then waits for it alone.
    let waiting = eventually(Duration::from_secs(10), || {
        let pool = &pool;
        async move {
            count(
                pool,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await
                == 1
        }
    })
    .await;
    assert!(waiting, "the heartbeat waits for the row");
    assert!(!pending.is_finished(), "no answer while the row is held");
    holder.commit().await.unwrap();

    let answer = pending.await.unwrap();
    assert_eq!(answer["data"]["heartbeat"]["__typename"], "HeartbeatAccepted", "{answer}");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 1);
}

/// Fails the first `failures` heartbeat statements with `code`, as a deadlock or serialization
/// failure would (a sequence, so the count survives the failed transactions).
async fn fail_heartbeat_writes(pool: &PgPool, failures: i64, code: &str) {
    sqlx::query("CREATE SEQUENCE injected_failures").execute(pool).await.unwrap();
    sqlx::query(&format!(
        "CREATE FUNCTION fail_heartbeat_write() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF nextval('injected_failures') <= {failures} THEN
                 RAISE EXCEPTION 'injected failure' USING ERRCODE = '{code}';
             END IF;
             RETURN NULL;
         END $$"
    ))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER fail_heartbeat_write AFTER INSERT ON license_heartbeats
         FOR EACH STATEMENT EXECUTE FUNCTION fail_heartbeat_write()",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_heartbeat_batch_that_deadlocks_or_fails_to_serialize_is_written_again_before_anyone_sees_an_error(
    pool: PgPool,
) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 2, 2).await;
    let token = app.session(&client, &license_key, "device").await;
    fail_heartbeat_writes(&pool, 2, "40P01").await;

    assert_eq!(app.heartbeat(&client, &token).await["__typename"], "HeartbeatAccepted");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 1);
    assert_eq!(count(&pool, "SELECT last_value FROM injected_failures").await, 3, "two failed attempts, then one");

    // A batch that keeps failing is given up after a bounded number of attempts, and what was
    // never committed is never acknowledged.
    sqlx::query("ALTER SEQUENCE injected_failures RESTART WITH 1 MAXVALUE 1000000").execute(&pool).await.unwrap();
    sqlx::query("CREATE OR REPLACE FUNCTION fail_heartbeat_write() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN PERFORM nextval('injected_failures'); RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END $$")
        .execute(&pool)
        .await
        .unwrap();
    let answer = post(&app, &client, json!({"query": HEARTBEAT, "variables": {"t": token}})).await;
    assert_eq!(answer["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR", "{answer}");
    assert_eq!(answer["errors"][0]["message"], "internal server error", "no detail is shown");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 1);
    assert_eq!(count(&pool, "SELECT last_value FROM injected_failures").await, 4, "four attempts, no more");
}

/// Replaces every RFC 3339 timestamp and every lease in `value` by a marker (two heartbeats
/// never share one; `client_protocol.rs` compares the leases of both paths claim by claim).
fn without_timestamps(value: &Value) -> Value {
    match value {
        Value::String(text) if chrono::DateTime::parse_from_rfc3339(text).is_ok() => json!("<timestamp>"),
        Value::String(text) if jsonwebtoken::decode_header(text).is_ok() => json!("<lease>"),
        Value::Array(items) => Value::Array(items.iter().map(without_timestamps).collect()),
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), without_timestamps(v))).collect())
        }
        other => other.clone(),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_heartbeat_path_answers_every_document_exactly_as_the_executor_does(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 3, 3).await;
    let live = app.session(&client, &license_key, "live").await;
    let ended = app.session(&client, &license_key, "ended").await;
    assert_eq!(app.end_session(&client, &ended).await["__typename"], "SessionEnded");
    let unknown = uuid::Uuid::new_v4().to_string();

    let documents = [
        HEARTBEAT.to_owned(),
        "mutation Beat($t: UUID!) { beat: heartbeat(sessionToken: $t) { kind: __typename \
         ... on HeartbeatAccepted { deadline: nextDeadline every: heartbeatIntervalSeconds } \
         ... on HeartbeatRefused { why: reason message } } }"
            .to_owned(),
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { ... on HeartbeatRefused { message reason } \
         ... { __typename } ... on HeartbeatAccepted { heartbeatIntervalSeconds nextDeadline } } }"
            .to_owned(),
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { ... on HeartbeatResult { __typename } } }".to_owned(),
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename ... on HeartbeatAccepted { lease \
         nextDeadline at: serverTime again: nextDeadline heartbeatIntervalSeconds } ... on HeartbeatRefused { reason } } }"
            .to_owned(),
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { ... on HeartbeatAccepted { serverTime } } }".to_owned(),
        // Not compiled (a named fragment, a repeated key, a directive): the executor answers.
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { ...F } } fragment F on HeartbeatAccepted { nextDeadline }"
            .to_owned(),
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename __typename } }".to_owned(),
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) @skip(if: false) { __typename } }".to_owned(),
        // Errors: a wrong variable type, an unknown field, a second operation without a name.
        "mutation($t: String!) { heartbeat(sessionToken: $t) { __typename } }".to_owned(),
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename nope } }".to_owned(),
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename } } mutation B { __typename }".to_owned(),
    ];
    let before = scrape(&app).await;
    let mut compiled = 0;
    for document in &documents {
        for token in [&live, &ended, &unknown] {
            let requests = [
                json!({"query": document, "variables": {"t": token}}),
                json!({"query": document.replace("$t: UUID!", "").replace("$t", &format!("\"{token}\"")).replace("()", "")}),
                json!({"query": document, "variables": {"t": token.to_uppercase()}}),
                json!({"query": document, "variables": {"t": 42}}),
                json!({"query": document, "variables": {"t": token, "extra": 1}}),
            ];
            for request in requests {
                let single = post(&app, &client, request.clone()).await;
                let batched = post(&app, &client, json!([request])).await;
                assert_eq!(
                    without_timestamps(&single),
                    without_timestamps(&batched[0]),
                    "the same answer for {request} alone and in a batch"
                );
                if single["data"]["heartbeat"]["__typename"] == "HeartbeatAccepted" {
                    compiled += 1;
                }
            }
        }
    }
    let after = scrape(&app).await;
    let answered = moved(&before, &after, "license_server_heartbeat_path_answers_total");
    // Five compiled documents × three tokens × (variable, literal, upper-case variable); the one
    // without fields for `HeartbeatRefused` is left to the executor.
    assert!(compiled >= 5, "live sessions were accepted ({compiled})");
    assert!(answered >= 45.0, "the heartbeat path answered the compiled documents ({answered})");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_request_whose_client_hangs_up_still_runs_to_its_end_and_leaves_no_transaction_open(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 10, 10).await;
    let (_, busy_license) = app.create_license(&admin, 10, 10).await;
    let token = app.session(&client, &license_key, "steady").await;

    // Activations of a license whose row is held wait inside their transactions; their clients
    // give up meanwhile. Then others hang up at every point of the way (1 to 20 ms).
    let mut holder = pool.begin().await.unwrap();
    let held = sqlx::query("SELECT 1 FROM licenses WHERE license_key = $1 FOR UPDATE")
        .bind(&busy_license)
        .execute(&mut *holder)
        .await
        .unwrap();
    assert_eq!(held.rows_affected(), 1);
    let impatient = reqwest::Client::new();
    let activation = |key: &str, device: String, patience: u64| {
        let request = impatient
            .post(format!("{}/graphql", app.address))
            .header("X-API-Key", &client)
            .timeout(Duration::from_millis(patience))
            .json(&json!({
                "query": "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }",
                "variables": {"i": {"licenseKey": key, "hardwareFingerprint": device}}
            }));
        async move { request.send().await.is_ok() }
    };
    let waiting = join_all((0..8).map(|i| activation(&busy_license, format!("waiting-{i}"), 300))).await;
    assert!(waiting.iter().all(|answered| !answered), "the clients gave up while the license was held");
    holder.commit().await.unwrap();
    join_all((0..200).map(|i| activation(&license_key, format!("device-{}", i % 9), 1 + i % 20))).await;

    let settled = eventually(Duration::from_secs(10), || {
        let pool = &pool;
        async move {
            count(
                pool,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')",
            )
            .await
                == 0
        }
    })
    .await;
    assert!(settled, "every transaction ended although its client had gone");
    // What the abandoned activations did is committed, and the rows they touched are free.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM device_registrations WHERE hardware_fingerprint LIKE 'waiting-%'").await,
        8
    );
    assert_eq!(app.heartbeat(&client, &token).await["__typename"], "HeartbeatAccepted");
    assert_eq!(app.activate(&client, &busy_license, "after").await["__typename"], "SessionGranted");
}
