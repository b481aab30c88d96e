//! The client path is isolated from everything else: its own connections, no statement timeout
//! on them while analyst and admin statements carry one, one root field per client operation,
//! and a cost for every list and aggregate. The flood test puts it all under load at once.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use license_server::auth::Scope;
use license_server::db::{self, PoolSettings};
use serde_json::{json, Value};
use sqlx::{Connection as _, PgPool};

use crate::helpers::{connect_pools, count, spawn_app, spawn_app_with, Options, Reply, TestApp, TEST_POOLS};

/// POSTs `body` with `key` (none: anonymous); the future owns what it needs, so it can be spawned.
fn post(app: &TestApp, key: Option<&str>, body: Value) -> impl std::future::Future<Output = Reply> + Send + 'static {
    let (http, url, key) = (app.client.clone(), format!("{}/graphql", app.address), key.map(str::to_owned));
    async move {
        let mut request = http.post(url).header("Accept", crate::helpers::MODERN_ACCEPT).json(&body);
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status().as_u16();
        Reply { status, body: response.json().await.expect("response is not JSON") }
    }
}

async fn statement_timeout(connection: impl sqlx::PgExecutor<'_>) -> String {
    sqlx::query_scalar("SHOW statement_timeout").fetch_one(connection).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_general_pool_carries_the_statement_timeout_and_the_client_pool_and_maintenance_do_not(pool: PgPool) {
    let settings = PoolSettings { statement_timeout: Some(Duration::from_millis(1500)), ..TEST_POOLS };
    let pools = connect_pools(&pool, &settings).await;
    assert_eq!(statement_timeout(&pools.general).await, "1500ms");
    assert_eq!(statement_timeout(&*pools.client).await, "0", "a heartbeat never fails by timeout");
    let mut maintenance = db::unlimited_connection(&pools.general).await.unwrap();
    assert_eq!(statement_timeout(&mut maintenance).await, "0", "long background work opts out");
    maintenance.close().await.unwrap();
    assert_eq!(pools.general.options().get_max_connections(), 4);
    assert_eq!(pools.client.options().get_max_connections(), 4);

    // No pool compiles plans with JIT (the local server's default is on), and every pool prices
    // random reads as cached ones (the default is 4).
    for (name, pool) in [("general", &pools.general), ("client", &*pools.client)] {
        let jit: String = sqlx::query_scalar("SHOW jit").fetch_one(pool).await.unwrap();
        assert_eq!(jit, "off", "{name} pool");
        let random_page_cost: String = sqlx::query_scalar("SHOW random_page_cost").fetch_one(pool).await.unwrap();
        assert_eq!(random_page_cost, "1.1", "{name} pool");
    }

    let unlimited = PoolSettings { statement_timeout: None, ..TEST_POOLS };
    assert_eq!(statement_timeout(&connect_pools(&pool, &unlimited).await.general).await, "0");
    pools.close().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn an_analyst_statement_past_the_timeout_is_cancelled_as_query_timeout_while_the_client_path_waits_it_out(
    pool: PgPool,
) {
    let pools = PoolSettings { statement_timeout: Some(Duration::from_secs(1)), ..TEST_POOLS };
    let app = spawn_app_with(&pool, Options { pools: Some(pools), ..Options::default() }).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 2, 2).await;
    app.session(&client, &license_key, "device").await;

    // A statement that runs long: it waits for a lock that a transaction here holds for 2.5 s.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE licenses IN ACCESS EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
    let analyst_query = post(&app, Some(&analyst), json!({"query": "{ licenseCounts { state count } }"}));
    let validation = post(
        &app,
        Some(&client),
        json!({"query": "query($k: String!) { validateLicense(licenseKey: $k, hardwareFingerprint: \"device\") { __typename } }",
               "variables": {"k": license_key}}),
    );
    let (analyst_query, validation) = (tokio::spawn(analyst_query), tokio::spawn(validation));
    let started = Instant::now();
    let analyst_reply = analyst_query.await.unwrap();
    let cancelled_after = started.elapsed();
    tokio::time::sleep(Duration::from_millis(2500).saturating_sub(started.elapsed())).await;
    blocker.commit().await.unwrap();
    let validation = validation.await.unwrap();

    assert_eq!(analyst_reply.error_code(), "QUERY_TIMEOUT", "{}", analyst_reply.body);
    let message = analyst_reply.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("longer than the server allows"), "{message}");
    assert!(cancelled_after < Duration::from_millis(2400), "cancelled by the timeout, not by the commit");
    // The client pool has no timeout: validation waited for the lock as long as it was held.
    assert_eq!(validation.data("validateLicense")["__typename"], "LicenseValid");
}

#[sqlx::test(migrations = "../migrations")]
async fn client_operations_with_anything_but_one_root_field_are_refused_before_they_run(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 10, 10).await;
    let validate =
        |alias: &str| format!("{alias}validateLicense(licenseKey: $k, hardwareFingerprint: \"f\") {{ __typename }}");
    let activate = |alias: &str| {
        format!("{alias}activate(input: {{licenseKey: $k, hardwareFingerprint: \"{alias}x\"}}) {{ __typename }}")
    };
    let refused = [
        format!("query($k: String!) {{ {} {} }}", validate("a: "), validate("b: ")),
        format!("query($k: String!) {{ {} __typename }}", validate("")),
        format!("query($k: String!) {{ ... on Query {{ {} }} }}", validate("")),
        format!("query($k: String!) {{ ...V }} fragment V on Query {{ {} }}", validate("")),
        format!("mutation($k: String!) {{ {} {} }}", activate("one: "), activate("two: ")),
        format!("mutation($k: String!) {{ ... on Mutation {{ {} }} }}", activate("")),
    ];
    for query in &refused {
        let reply = app.gql(&client, query, json!({"k": license_key})).await;
        assert_eq!((reply.status, reply.error_code()), (400, "GRAPHQL_VALIDATION_FAILED"), "{query}: {}", reply.body);
        let message = reply.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("exactly one root field"), "{message}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 0, "nothing was activated");

    let one = app.gql(&client, &format!("query($k: String!) {{ {} }}", validate("")), json!({"k": license_key})).await;
    assert_eq!(one.data("validateLicense")["__typename"], "LicenseInvalid");
    let batch = post(
        &app,
        Some(&client),
        json!([{"query": format!("query($k: String!) {{ {} }}", validate("")), "variables": {"k": license_key}},
               {"query": format!("mutation($k: String!) {{ {} }}", activate("")), "variables": {"k": license_key}}]),
    )
    .await;
    assert_eq!(batch.body[1]["data"]["activate"]["__typename"], "SessionGranted", "{}", batch.body);
    // The rule is the public client key's; an admin key may ask for several fields at once.
    let admin_reply = app
        .gql(
            &admin,
            &format!("query($k: String!) {{ {} {} }}", validate("a: "), validate("b: ")),
            json!({"k": license_key}),
        )
        .await;
    assert_eq!(
        (admin_reply.data("a")["__typename"].as_str(), admin_reply.data("b")["__typename"].as_str()),
        (Some("LicenseInvalid"), Some("LicenseInvalid"))
    );
}

/// `heartbeatCounts` under `aliases` aliases, by `bucket` over `days` days before now; for one
/// license (read from the raw history) or for all (read from the hourly rollup).
fn aliased_heartbeat_counts(aliases: usize, bucket: &str, days: i64, one_license: bool) -> Value {
    let to = chrono::Utc::now();
    let from = to - chrono::Duration::days(days);
    let license = if one_license { format!(", licenseId: \"{}\"", uuid::Uuid::new_v4()) } else { String::new() };
    let fields: String = (0..aliases)
        .map(|i| format!("h{i}: heartbeatCounts(from: $f, to: $t, bucket: {bucket}{license}) {{ bucketStart count }} "))
        .collect();
    json!({"query": format!("query($f: DateTime!, $t: DateTime!) {{ {fields} }}"),
           "variables": {"f": from.to_rfc3339(), "t": to.to_rfc3339()}})
}

fn too_complex(reply: &Reply) -> bool {
    reply.status == 400 && reply.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("too complex"))
}

#[sqlx::test(migrations = "../migrations")]
async fn aggregates_and_lists_cost_what_they_read_so_aliased_year_long_aggregates_are_refused(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let analyst = app.key(Scope::Analyst).await;

    let refused = post(&app, Some(&analyst), aliased_heartbeat_counts(10, "HOUR", 365, false)).await;
    assert!(too_complex(&refused), "{}", refused.body);
    // A bucket weighs its selection like any list's row, under a limit of 50,000 (since list
    // costs estimate rows read), and one license's heartbeats weigh their days of history on top
    // (the rollup serves all licenses only): ten months of one license's hourly buckets weigh
    // 45,880 and pass, eleven do not.
    let accepted = post(&app, Some(&analyst), aliased_heartbeat_counts(10, "HOUR", 31, true)).await;
    assert_eq!(accepted.data("h9"), &json!([]), "ten months of one license's hourly history: {}", accepted.body);
    let refused = post(&app, Some(&analyst), aliased_heartbeat_counts(11, "HOUR", 31, true)).await;
    assert!(too_complex(&refused), "eleven months of one license's hourly history: {}", refused.body);
    let refused = post(&app, Some(&analyst), aliased_heartbeat_counts(2, "DAY", 365, true)).await;
    assert!(too_complex(&refused), "two years of one license's raw history: {}", refused.body);
    let accepted = post(&app, Some(&analyst), aliased_heartbeat_counts(1, "DAY", 365, true)).await;
    assert_eq!(accepted.data("h0"), &json!([]), "one year by day is one ordinary call");
    let accepted = post(&app, Some(&analyst), aliased_heartbeat_counts(2, "DAY", 365, false)).await;
    assert_eq!(accepted.data("h1"), &json!([]), "two years of the hourly rollup by day read a few thousand rows");

    let year = "query($f: DateTime!, $t: DateTime!) {
        a: peakConcurrentSessions(from: $f, to: $t) { licenseId peak reachedAt }
        b: peakConcurrentSessions(from: $f, to: $t) { licenseId peak reachedAt } }";
    let to = chrono::Utc::now();
    let year_range = json!({"f": (to - chrono::Duration::days(365)).to_rfc3339(), "t": to.to_rfc3339()});
    assert!(too_complex(&post(&app, Some(&analyst), json!({"query": year, "variables": year_range})).await));

    // What a dashboard asks at once: a week by hour, a month by day, the busiest licenses, counts.
    let dashboard = "query($w: DateTime!, $m: DateTime!, $t: DateTime!) {
        heartbeatCounts(from: $w, to: $t, bucket: HOUR) { bucketStart count }
        sessionsPerDay(from: $m, to: $t) { day started ended endReasons { reason count } }
        peakConcurrentSessions(from: $m, to: $t) { licenseId peak reachedAt }
        licenseUsage(first: 20) { licenseKey activeDevices liveSessions deviceLimit }
        licenseCounts { licenseType state count }
        resourcePoolCounts { resourceType available allocated quarantined } }";
    let variables = json!({"w": (to - chrono::Duration::days(7)).to_rfc3339(),
                           "m": (to - chrono::Duration::days(30)).to_rfc3339(), "t": to.to_rfc3339()});
    let reply = post(&app, Some(&analyst), json!({"query": dashboard, "variables": variables})).await;
    assert_eq!(reply.data("licenseCounts"), &json!([]), "{}", reply.body);

    // Lists without a limit of their own weigh an estimate each, so lists nested in a full page
    // add up: a hundred institutions with their contacts' details and every note's versions with
    // two fields (67,200; with one field, 37,200, it fits the limit of 50,000).
    let nested = "{ institutions(first: 100) { nodes { name
        contacts { name phones { number } emails { email } notes { versions { body editedAt } } } } } }";
    let reply = post(&app, Some(&analyst), json!({"query": nested})).await;
    assert!(too_complex(&reply), "{}", reply.body);
    let page = "{ institutions(first: 20) { nodes { name contacts { name phones { number } } } } }";
    let reply = post(&app, Some(&analyst), json!({"query": page})).await;
    assert_eq!(reply.data("institutions")["nodes"], json!([]));
}

/// One device's client traffic for `period`: heartbeats through the heartbeat path and through
/// the executor, resumes and validations, each timed. Returns every answer with its latency.
async fn device_traffic(app: &TestApp, client: &str, license_key: &str, period: Duration) -> Vec<(Value, Duration)> {
    let token = app.session(client, license_key, "device").await;
    // A fragment keeps this one off the heartbeat path's compiled plans: the executor answers it.
    let executor_heartbeat = "mutation($t: UUID!) { heartbeat(sessionToken: $t) { ...Beat } }
        fragment Beat on HeartbeatResult { __typename }";
    let validate =
        "query($k: String!) { validateLicense(licenseKey: $k, hardwareFingerprint: \"device\") { __typename } }";
    let mut answers = Vec::new();
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < period {
        let sent = Instant::now();
        let answer = match round % 8 {
            3 => app.gql(client, executor_heartbeat, json!({"t": token})).await.data("heartbeat").clone(),
            5 => app.activate(client, license_key, "device").await,
            7 => app.gql(client, validate, json!({"k": license_key})).await.data("validateLicense").clone(),
            _ => app.heartbeat(client, &token).await,
        };
        answers.push((answer, sent.elapsed()));
        round += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    answers
}

#[sqlx::test(migrations = "../migrations")]
async fn heartbeats_activations_and_validations_never_wait_for_a_pool_flooded_by_logins_and_analysts(pool: PgPool) {
    const DEVICES: usize = 20;
    const LOGINS: usize = 60;
    const ANALYSTS: usize = 8;
    const FLOOD: Duration = Duration::from_secs(5);
    let acquire_timeout = Duration::from_secs(3);
    let pools = PoolSettings { acquire_timeout, ..TEST_POOLS };
    let app = spawn_app_with(&pool, Options { pools: Some(pools), ..Options::default() }).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let mut license_keys = Vec::new();
    for _ in 0..DEVICES {
        license_keys.push(app.create_license(&admin, 1, 1).await.1);
    }
    // History for the analysts to scan: 300,000 heartbeats over the last 60 days.
    sqlx::query(
        "INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
         SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), now() - random() * interval '60 days'
         FROM generate_series(1, 300000)",
    )
    .execute(&pool)
    .await
    .unwrap();

    // The flood, from threads of its own so that it runs in parallel with the devices' clients.
    let flood = {
        let (address, analyst) = (app.address.clone(), analyst.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let http = reqwest::Client::new();
                let until = Instant::now() + FLOOD;
                let login = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { __typename } }";
                let to = chrono::Utc::now();
                let expensive = json!({
                    "query": "query($f: DateTime!, $t: DateTime!) {
                        heartbeatCounts(from: $f, to: $t, bucket: DAY) { bucketStart count }
                        peakConcurrentSessions(from: $f, to: $t) { peak } }",
                    "variables": {"f": (to - chrono::Duration::days(60)).to_rfc3339(), "t": to.to_rfc3339()}});
                let mut tasks = Vec::new();
                for worker in 0..LOGINS + ANALYSTS {
                    let (http, url, analyst, expensive) =
                        (http.clone(), format!("{address}/graphql"), analyst.clone(), expensive.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut sent = 0;
                        while Instant::now() < until {
                            let request = if worker < LOGINS {
                                let name = format!("intruder-{}", uuid::Uuid::new_v4());
                                http.post(&url).json(&json!({"query": login, "variables": {"u": name, "p": "guess"}}))
                            } else {
                                http.post(&url).header("X-API-Key", &analyst).json(&expensive)
                            };
                            // Failures of the flood itself (pool timeouts) are not this test's concern.
                            let _ = request.timeout(Duration::from_secs(30)).send().await;
                            sent += 1;
                        }
                        sent
                    }));
                }
                join_all(tasks).await.into_iter().map(Result::unwrap).sum::<usize>()
            })
        })
    };

    let traffic = join_all(license_keys.iter().map(|key| device_traffic(&app, &client, key, FLOOD))).await;
    let flooded = flood.join().unwrap();

    let answers: Vec<&(Value, Duration)> = traffic.iter().flatten().collect();
    let slowest = answers.iter().map(|(_, latency)| *latency).max().unwrap();
    eprintln!("{} client operations during a flood of {flooded} requests; slowest {slowest:?}", answers.len());
    assert!(flooded > LOGINS + ANALYSTS, "the flood ran: {flooded} requests");
    assert!(answers.len() >= DEVICES * 5, "every device kept sending: {}", answers.len());
    for (answer, _) in &answers {
        let expected = ["HeartbeatAccepted", "SessionGranted", "LicenseValid"];
        assert!(expected.contains(&answer["__typename"].as_str().unwrap_or("")), "{answer}");
    }
    assert!(
        slowest < acquire_timeout,
        "a client operation took {slowest:?}, as long as waiting for a connection may ({acquire_timeout:?})"
    );
}
