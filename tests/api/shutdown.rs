//! `serve` (the real binary) shuts down gracefully: a request in flight when SIGTERM arrives
//! still gets its answer, and nothing it did is lost.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use license_server::auth::Scope;
use sqlx::{ConnectOptions, PgPool};

use crate::helpers::{count, spawn_app};

#[sqlx::test(migrations = "../migrations")]
async fn sigterm_lets_in_flight_requests_finish(pool: PgPool) {
    let setup = spawn_app(&pool).await;
    let (admin, client) = (setup.key(Scope::Admin).await, setup.key(Scope::Client).await);
    let (license_id, license_key) = setup.create_license(&admin, 1, 1).await;
    drop(setup);

    let url = pool.connect_options().to_url_lossy().to_string();
    let mut server = Command::new(env!("CARGO_BIN_EXE_license-server"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("BACKUP_SCHEDULE", "false")
        .env("DATABASE_MAX_CONNECTIONS", "4")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let address = loop {
        let line = log.next().expect("server exited before listening").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split('/').next().unwrap().to_owned();
        }
    };

    // Hold the license lock so that the activation below stays in flight.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM licenses WHERE id = $1::uuid FOR UPDATE")
        .bind(&license_id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let request = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("http://{address}/graphql"))
            .header("X-API-Key", client)
            .json(&serde_json::json!({
                "query": "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }",
                "variables": {"i": {"licenseKey": license_key, "hardwareFingerprint": "fp"}}
            }))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    });
    let waiting = crate::helpers::eventually(Duration::from_secs(10), || async {
        count(&pool, "SELECT count(*) FROM pg_locks WHERE NOT granted").await > 0
    })
    .await;
    assert!(waiting, "the activation never reached the lock");

    let term = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(term.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.try_wait().unwrap().is_none(), "the server must wait for the request in flight");

    blocker.commit().await.unwrap();
    let answer = request.await.unwrap();
    assert_eq!(answer["data"]["activate"]["__typename"], "SessionGranted", "{answer}");
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap()).await.unwrap();
    assert!(status.success(), "the server exits cleanly after draining: {status}");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_sessions").await, 1);
}
