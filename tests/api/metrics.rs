//! `/metrics` after real traffic, and the one structured log line per request.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use license_server::auth::Scope;
use license_server::sessions::SessionSettings;
use serde_json::json;
use sqlx::{ConnectOptions, PgPool};

use crate::helpers::{eventually, spawn_app, spawn_app_with, Options, TestApp};

/// Every sample of a scrape, keyed by `name{labels}` as the exposition writes it.
pub(crate) async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let response = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let body = response.text().await.unwrap();
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').unwrap();
            (key.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn sample(samples: &HashMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// How much `key` grew between two scrapes. Counters are per process and tests run in
/// parallel, so a test asserts at least its own traffic.
pub(crate) fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, key: &str) -> f64 {
    sample(after, key) - sample(before, key)
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_count_operations_heartbeats_denials_and_live_sessions(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let before = scrape(&app).await;

    let token = app.session(&client, &license_key, "first").await;
    assert_eq!(app.heartbeat(&client, &token).await["__typename"], "HeartbeatAccepted");
    assert_eq!(app.heartbeat(&client, &uuid::Uuid::new_v4().to_string()).await["__typename"], "HeartbeatRefused");
    assert_eq!(app.activate(&client, &license_key, "second").await["reason"], "DEVICE_LIMIT_REACHED");
    let forbidden = app.gql(&client, "{ customers { totalCount } }", json!({})).await;
    assert_eq!(forbidden.error_code(), "FORBIDDEN");

    let after = scrape(&app).await;
    let counted = |key: &str| moved(&before, &after, key);
    assert!(counted(r#"license_server_graphql_operations_total{operation="mutation.heartbeat",outcome="ok"}"#) >= 2.0);
    assert!(counted(r#"license_server_graphql_operations_total{operation="mutation.activate",outcome="ok"}"#) >= 2.0);
    assert!(
        counted(r#"license_server_graphql_operations_total{operation="query.customers",outcome="FORBIDDEN"}"#) >= 1.0
    );
    assert!(
        counted(r#"license_server_graphql_operation_duration_seconds_count{operation="mutation.activate"}"#) >= 2.0
    );
    assert!(counted(r#"license_server_heartbeats_total{outcome="accepted"}"#) >= 1.0);
    assert!(counted(r#"license_server_heartbeats_total{outcome="refused"}"#) >= 1.0);
    assert!(counted(r#"license_server_activation_denials_total{reason="DEVICE_LIMIT_REACHED"}"#) >= 1.0);
    assert!(counted(r#"license_server_http_requests_total{method="POST",route="/graphql",status="200"}"#) >= 5.0);
    assert!(counted(r#"license_server_http_request_duration_seconds_count{route="/graphql"}"#) >= 5.0);
    assert_eq!(sample(&after, "license_server_live_sessions"), 1.0, "read from this test's database at scrape time");
    assert_eq!(sample(&after, "license_server_database_up"), 1.0);
    for pool in ["general", "client"] {
        let max = format!(r#"license_server_database_pool_max_connections{{pool="{pool}"}}"#);
        assert_eq!(sample(&after, &max), 4.0, "{pool}");
    }
    // A connection just used for the scrape's own count may still be on its way back to the pool,
    // so it is idle or in use; the listener's connection is in use all the time.
    let idle = sample(&after, r#"license_server_database_pool_connections{pool="general",state="idle"}"#);
    let in_use = sample(&after, r#"license_server_database_pool_connections{pool="general",state="in_use"}"#);
    assert!(in_use >= 1.0 && idle + in_use <= 4.0, "general: idle {idle}, in use {in_use}");
    // Gauges are per process and other tests scrape their own instances meanwhile, so only the
    // bound is certain for the client pool, whose connections open when first used.
    let idle = sample(&after, r#"license_server_database_pool_connections{pool="client",state="idle"}"#);
    let in_use = sample(&after, r#"license_server_database_pool_connections{pool="client",state="in_use"}"#);
    assert!(idle + in_use <= 4.0, "client: idle {idle}, in use {in_use}");
    assert!(after.contains_key(r#"license_server_database_pool_connections{pool="client",state="idle"}"#));
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_count_cleanup_runs_and_backups(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("license-server-metrics-{}", uuid::Uuid::new_v4()));
    let options = Options {
        sessions: SessionSettings::new(1, 2, 1).unwrap(),
        background: true,
        backups: Some(license_server::backups::BackupSettings { dir: dir.clone(), ..Default::default() }),
        ..Default::default()
    };
    let app = spawn_app_with(&pool, options).await;
    let admin = app.key(Scope::Admin).await;
    let before = scrape(&app).await;

    let backup = crate::backups::create_backup(&app, &admin).await;
    assert_eq!(backup["status"], "COMPLETED");
    let after = scrape(&app).await;
    assert!(moved(&before, &after, r#"license_server_backups_total{kind="manual",outcome="succeeded"}"#) >= 1.0);

    let cleaned = eventually(Duration::from_secs(10), || {
        let (app, before) = (&app, &before);
        async move { moved(before, &scrape(app).await, r#"license_server_cleanup_runs_total{outcome="ok"}"#) >= 1.0 }
    })
    .await;
    assert!(cleaned, "the cleanup runs are counted");
    let _ = std::fs::remove_dir_all(dir);
}

#[sqlx::test(migrations = "../migrations")]
async fn each_request_is_logged_once_as_json_with_its_operation_and_latency_and_no_secret(pool: PgPool) {
    let setup = spawn_app(&pool).await;
    let (admin, client) = (setup.key(Scope::Admin).await, setup.key(Scope::Client).await);
    let (_, license_key) = setup.create_license(&admin, 1, 1).await;
    drop(setup);

    let mut server = Command::new(env!("CARGO_BIN_EXE_license-server"))
        .arg("serve")
        .env("DATABASE_URL", pool.connect_options().to_url_lossy().to_string())
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("DATABASE_MAX_CONNECTIONS", "4")
        .env("BACKUP_SCHEDULE", "false")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let stderr = server.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut log = Vec::new();
    let address = loop {
        let line = lines_rx.recv_timeout(Duration::from_secs(30)).expect("server never started listening");
        log.push(line.clone());
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split('/').next().unwrap().to_owned();
        }
    };

    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .header("X-API-Key", &client)
        .json(&json!({
            "query": "mutation Activate($i: ActivateInput!) { activate(input: $i) { __typename } }",
            "operationName": "Activate",
            "variables": {"i": {"licenseKey": license_key, "hardwareFingerprint": "secret-fingerprint"}}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["activate"]["__typename"], "SessionGranted");

    let request_line = loop {
        let line = lines_rx.recv_timeout(Duration::from_secs(10)).expect("no request line was logged");
        log.push(line.clone());
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if entry["fields"]["message"] == "request" {
            break entry;
        }
    };
    assert_eq!(request_line["fields"]["operation"], "mutation.activate", "{request_line}");
    assert_eq!(request_line["fields"]["outcome"], "ok");
    assert_eq!(request_line["fields"]["route"], "/graphql");
    assert_eq!(request_line["fields"]["status"], 200);
    assert!(request_line["fields"]["latency_ms"].as_f64().unwrap() > 0.0);

    let term = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap()).await.unwrap();
    assert!(status.success());
    log.extend(lines_rx.try_iter());
    let requests = log.iter().filter(|line| line.contains(r#""message":"request""#)).count();
    assert_eq!(requests, 1, "exactly one line for the one request: {log:#?}");
    let everything = log.join("\n");
    for secret in [client.as_str(), license_key.as_str(), "secret-fingerprint"] {
        assert!(!everything.contains(secret), "the log must not contain {secret:?}");
    }
}
