//! The read replica (DATABASE_READ_URL) against a real streaming replica the test starts:
//! `pg_basebackup -R -X stream` from a primary cluster of its own. Pausing the replica's replay
//! shows where each read comes from: what was written meanwhile is on the primary only.

use std::str::FromStr;
use std::time::{Duration, Instant};

use license_server::admin::users::Role;
use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::clusters::Cluster;
use crate::helpers::{create_user, eventually, spawn_app_with, Browser, Logs, Options, TestApp};

const CUSTOMERS: &str = "query($s: String) { customers(search: $s) { edges { node { name } } } }";

/// The names of the customers `key`'s caller finds by `search`.
async fn customer_names(app: &TestApp, key: &str, search: &str) -> Vec<String> {
    let reply = app.gql(key, CUSTOMERS, json!({"s": search})).await;
    names(reply.data("customers"))
}

fn names(customers: &Value) -> Vec<String> {
    customers["edges"].as_array().unwrap().iter().map(|e| e["node"]["name"].as_str().unwrap().to_owned()).collect()
}

async fn create_customer(app: &TestApp, admin: &str, name: &str) {
    let reply = app
        .gql(
            admin,
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
            json!({"i": {"name": name, "email": format!("{}@example.com", uuid::Uuid::new_v4())}}),
        )
        .await;
    reply.data("createCustomer");
}

async fn readyz(app: &TestApp) -> String {
    app.client.get(format!("{}/readyz", app.address)).send().await.unwrap().text().await.unwrap()
}

/// A primary with `wal_level = replica` and a streaming replica of it, the schema migrated.
async fn primary_and_replica() -> (Cluster, Cluster, PgPool) {
    let mut primary = Cluster::create(
        "primary",
        "local all all trust\nlocal replication all trust\n\
         host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
    );
    primary.start(&[("wal_level", "replica")]);
    let options = PgConnectOptions::from_str(&primary.url("127.0.0.1", "")).unwrap();
    let pool = PgPoolOptions::new().max_connections(4).connect_with(options).await.unwrap();
    license_server::db::MIGRATOR.run(&pool).await.unwrap();
    let replica = Cluster::replica_of(&primary);
    (primary, replica, pool)
}

/// How long the replica takes to show rows written on the primary, `rounds` times over.
async fn replay_delays(pool: &PgPool, replica: &PgPool, rounds: usize) -> Vec<Duration> {
    let mut delays = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let id: uuid::Uuid = sqlx::query_scalar("INSERT INTO customers (name, email) VALUES ($1, $2) RETURNING id")
            .bind(format!("Lag probe {round}"))
            .bind(format!("lag-{round}@example.com"))
            .fetch_one(pool)
            .await
            .unwrap();
        let written = Instant::now();
        loop {
            let seen: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)")
                .bind(id)
                .fetch_one(replica)
                .await
                .unwrap();
            if seen {
                break;
            }
            assert!(written.elapsed() < Duration::from_secs(10), "the replica never replayed round {round}");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        delays.push(written.elapsed());
    }
    delays.sort();
    delays
}

#[tokio::test]
async fn analysts_read_from_the_replica_while_writes_the_client_path_and_own_writes_use_the_primary() {
    let (_primary, mut replica, pool) = primary_and_replica().await;
    let replica_options = PgConnectOptions::from_str(&replica.url("127.0.0.1", "")).unwrap();
    let on_replica = PgPoolOptions::new().max_connections(1).connect_with(replica.socket_options()).await.unwrap();

    let delays = replay_delays(&pool, &on_replica, 50).await;
    eprintln!(
        "replica replay delay over {} writes: median {:?}, p90 {:?}, max {:?}",
        delays.len(),
        delays[delays.len() / 2],
        delays[delays.len() * 9 / 10],
        delays[delays.len() - 1]
    );

    let logs = Logs::default();
    let app = spawn_app_with(
        &pool,
        Options { read_replica: Some(replica_options), logs: Some(logs.clone()), ..Options::default() },
    )
    .await;
    let (admin, other_admin, analyst, client) = (
        app.key(Scope::Admin).await,
        app.key(Scope::Admin).await,
        app.key(Scope::Analyst).await,
        app.key(Scope::Client).await,
    );
    create_user(&pool, "ana", Role::Analyst, "correct horse battery").await;
    let (_, license_key) = app.create_license(&admin, 3, 2).await;
    create_customer(&app, &admin, "Replayed Before").await;
    let replayed = eventually(Duration::from_secs(10), || async {
        customer_names(&app, &analyst, "Replayed").await == ["Replayed Before"]
    })
    .await;
    assert!(replayed, "analysts see what the replica replayed");
    assert!(readyz(&app).await.contains("read replica: serving reads"), "{}", readyz(&app).await);

    sqlx::query("SELECT pg_wal_replay_pause()").execute(&on_replica).await.unwrap();
    let paused = eventually(Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, String>("SELECT pg_get_wal_replay_pause_state()").fetch_one(&on_replica).await.unwrap()
            == "paused"
    })
    .await;
    assert!(paused);

    // An admin's change is on the primary only; the admin reads it back from there.
    create_customer(&app, &admin, "Written While Paused").await;
    assert_eq!(customer_names(&app, &admin, "Paused").await, ["Written While Paused"], "read-your-writes");
    // Everyone else reads from the replica, which has not replayed it.
    assert!(customer_names(&app, &analyst, "Paused").await.is_empty(), "analysts read from the replica");
    assert!(customer_names(&app, &other_admin, "Paused").await.is_empty(), "other admins' reads too");

    // A dashboard user signs in and sees their new session (sign-in state is on the primary),
    // while the pages they read come from the replica.
    let mut browser = Browser::new(&app);
    assert_eq!(browser.login("ana", "correct horse battery").await.data("login")["__typename"], "LoginSucceeded");
    let mine = browser.gql("{ me { username } myDashboardSessions { current } }", json!({})).await;
    assert_eq!(mine.data("me")["username"], "ana");
    assert_eq!(mine.data("myDashboardSessions"), &json!([{"current": true}]));
    let seen = browser.gql(CUSTOMERS, json!({"s": "Paused"})).await;
    assert!(names(seen.data("customers")).is_empty(), "the dashboard's read-only pages read from the replica");

    // The client path works on the primary, replica or not.
    let token = app.session(&client, &license_key, "replica-laptop").await;
    assert_eq!(app.heartbeat(&client, &token).await["__typename"], "HeartbeatAccepted");
    // Mutations from analysts are refused as ever.
    let refused = app
        .gql(
            &analyst,
            "mutation { createCustomer(input: {name: \"No\", email: \"no@example.com\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(refused.error_code(), "FORBIDDEN");

    sqlx::query("SELECT pg_wal_replay_resume()").execute(&on_replica).await.unwrap();
    let caught_up = eventually(Duration::from_secs(10), || async {
        customer_names(&app, &analyst, "Paused").await == ["Written While Paused"]
    })
    .await;
    assert!(caught_up, "once replayed, analysts see it");

    // The replica goes down: reads fall back to the primary, with a warning, and /readyz says so.
    on_replica.close().await;
    replica.stop();
    assert_eq!(customer_names(&app, &analyst, "Paused").await, ["Written While Paused"], "analysts are not failed");
    assert_eq!(customer_names(&app, &analyst, "Replayed").await, ["Replayed Before"]);
    let status = readyz(&app).await;
    assert!(status.starts_with("ready\n") && status.contains("read replica: unreachable"), "{status}");
    assert!(logs.text().contains("the read replica does not answer"), "the outage is logged");
}
