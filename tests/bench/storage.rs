//! Storage per heartbeat, raw and compacted: simulates a fleet over several days, runs the
//! compaction, and prints the table-and-index bytes per heartbeat before and after (and per
//! device-day), ending with `bytes per heartbeat: N` (the long-term figure).
//!
//! 1. A fresh database (on DATABASE_URL's server), migrated; licenses of ten devices each.
//! 2. **History in SQL**: BENCH_DAYS whole UTC days before the raw window, each device online
//!    one or two stretches a day (between 2 and 12 hours in all), a heartbeat every 30 s with
//!    ±2 s of jitter and now and then one missed.
//! 3. **The last stretch through the server**: the server runs in-process on a real socket; every
//!    device activates over HTTP, then BENCH_CONNECTIONS connections send heartbeats as clients
//!    do (the GraphQL mutation, a client key) for BENCH_SECONDS, once with nothing else running
//!    and once while the compaction moves the history; heartbeats/s, p99 and errors of both.
//! 4. The compaction finishes; sizes are read from `pg_total_relation_size` of every partition
//!    after `VACUUM`; the long-term figure counts the device-days and the sums per hour.
//!
//! Run: `make bench-storage` (or `scripts/with-postgres.sh cargo bench -p license-server --bench storage`).
//! Settings (environment): BENCH_DEVICES (2000), BENCH_DAYS (4), BENCH_CONNECTIONS (16),
//! BENCH_SECONDS (15).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use license_server::api_keys;
use license_server::auth::{Actor, Scope};
use license_server::compaction::{self, Budget, CompactionReport};
use license_server::db::{PoolSettings, Pools};
use license_server::licenses::LicenseKey;
use license_server::partitions::{self, PartitionSettings};
use license_server::server::Application;
use serde_json::{json, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};

mod support;

use support::env_or;

#[tokio::main]
async fn main() -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,sqlx=error".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    support::in_fresh_database("license_bench_storage", |url| async move { run(&url).await }).await
}

/// Table-and-index bytes of every partition of `table`, and its rows.
async fn size(pool: &PgPool, table: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_partition_tree($1::regclass)",
    )
    .bind(table)
    .fetch_one(pool)
    .await?)
}

async fn run(url: &str) -> Result<()> {
    let devices = env_or("BENCH_DEVICES", 2000)?.max(10);
    let days = env_or("BENCH_DAYS", 4)?.max(1);
    let connections = env_or("BENCH_CONNECTIONS", 16)?.max(1);
    let seconds = env_or("BENCH_SECONDS", 15)?.max(1);
    let settings = PartitionSettings::default();

    let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
    sqlx::migrate!("../migrations").run(&pool).await?;
    println!("heartbeat storage benchmark: {devices} devices, {days} days of history before the raw window");
    println!(
        "  machine: {} cores, shared with whatever else runs (figures of the load move with it)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let keys = seed_fleet(&pool, devices).await?;
    let started = Instant::now();
    let history = seed_history(&pool, settings, days).await?;
    println!("  history written in SQL: {history} heartbeats in {:.0} s", started.elapsed().as_secs_f64());

    let pools = Pools::connect(&pool.connect_options(), &PoolSettings::default()).await?;
    let app = Application::new(&pools, Default::default());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let endpoint = format!("http://{}/graphql", listener.local_addr()?);
    let server = tokio::spawn(async move { app.serve(listener, std::future::pending()).await });
    let client_key = api_keys::create(&pool, &Actor::cli(), None, "bench-client", Scope::Client).await?.key;
    let http = reqwest::Client::builder().pool_max_idle_per_host(connections as usize).build()?;
    let tokens = activate(&http, &endpoint, &client_key, &keys).await?;
    println!("  activated over HTTP: {} sessions", tokens.len());

    let quiet = load(&http, &endpoint, &client_key, &tokens, connections, seconds).await;
    sqlx::query("VACUUM ANALYZE license_heartbeats").execute(&pool).await?;
    let raw_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM license_heartbeats").fetch_one(&pool).await?;
    let raw_bytes = size(&pool, "license_heartbeats").await?;

    let compacting = Arc::new(AtomicBool::new(true));
    let compaction_started = Instant::now();
    let compaction = tokio::spawn({
        let (pool, compacting) = (pool.clone(), compacting.clone());
        async move {
            let report = compaction::compact(&pool, settings, Budget::default()).await;
            compacting.store(false, Ordering::SeqCst);
            (report, compaction_started.elapsed())
        }
    });
    let busy = load(&http, &endpoint, &client_key, &tokens, connections, seconds).await;
    let overlapped = compaction_started.elapsed();
    let still_running = compacting.load(Ordering::SeqCst);
    let (report, took): (license_server::Result<CompactionReport>, Duration) = compaction.await?;
    let report = report?;
    server.abort();

    sqlx::query("VACUUM ANALYZE heartbeat_device_days, heartbeat_compacted_hours").execute(&pool).await?;
    sqlx::query("VACUUM ANALYZE license_heartbeats").execute(&pool).await?;
    let (device_days, compacted): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT (license_id, day, device_id)), coalesce(sum(n), 0)::bigint
         FROM heartbeat_device_days, unnest(hour_counts) n",
    )
    .fetch_one(&pool)
    .await?;
    let device_day_bytes = size(&pool, "heartbeat_device_days").await?;
    // The sums per hour (all licenses) that the compaction keeps beside the device-days.
    let hour_bytes: i64 =
        sqlx::query_scalar("SELECT pg_total_relation_size('heartbeat_compacted_hours')").fetch_one(&pool).await?;
    let long_term_bytes = device_day_bytes + hour_bytes;
    let raw_left: i64 = sqlx::query_scalar("SELECT count(*) FROM license_heartbeats").fetch_one(&pool).await?;
    ensure!(compacted == report.moved, "compacted {compacted} heartbeats but moved {}", report.moved);
    ensure!(compacted + raw_left >= raw_rows + busy.accepted, "heartbeats were lost");

    println!();
    println!("heartbeat load over HTTP ({connections} connections, {seconds} s each, in-process reqwest clients)");
    quiet.print("without compaction");
    busy.print("while compacting");
    println!(
        "  compaction: {} heartbeats in {} batches, {:.1} s ({} during the loaded run of {:.0} s)",
        report.moved,
        report.batches,
        took.as_secs_f64(),
        if still_running { "running all along".to_owned() } else { format!("{:.1} s of it", took.as_secs_f64()) },
        overlapped.as_secs_f64()
    );
    println!();
    println!("storage (table and index bytes, after VACUUM)");
    println!(
        "  raw, before:         {raw_rows} heartbeats, {raw_bytes} bytes, {:.1} bytes per heartbeat",
        raw_bytes as f64 / raw_rows.max(1) as f64
    );
    println!(
        "  compacted:           {compacted} heartbeats in {device_days} device-days, {device_day_bytes} bytes, \
         {:.1} bytes per device-day ({:.0} heartbeats per device-day)",
        device_day_bytes as f64 / device_days.max(1) as f64,
        compacted as f64 / device_days.max(1) as f64
    );
    println!("  sums per hour:       {hour_bytes} bytes (heartbeat_compacted_hours, all licenses)");
    println!("  raw, left in window: {raw_left} heartbeats (the loaded runs')");
    println!("  dropped raw partitions: {}", report.dropped.len());
    println!("bytes per heartbeat: {:.2}", long_term_bytes as f64 / compacted.max(1) as f64);
    Ok(())
}

/// Licenses of ten devices for `devices` devices, each device registered; returns the
/// `(license key, fingerprint)` of every device.
async fn seed_fleet(pool: &PgPool, devices: u64) -> Result<Vec<(String, String)>> {
    let keys: Vec<String> = (0..devices.div_ceil(10)).map(|_| LicenseKey::generate().as_str().to_owned()).collect();
    Ok(sqlx::query_as(
        "WITH customer AS (
             INSERT INTO customers (name, email) VALUES ('Storage fleet', 'fleet@example.com') RETURNING id),
         licenses AS (
             INSERT INTO licenses (license_key, customer_id, device_limit, concurrent_sessions_limit)
             SELECT key, customer.id, 10, 10 FROM unnest($1::text[]) AS key, customer
             RETURNING id, license_key)
         INSERT INTO device_registrations (license_id, hardware_fingerprint)
         SELECT l.id, 'storage-' || l.license_key || '-' || n FROM licenses l, generate_series(1, 10) n
         RETURNING (SELECT license_key FROM licenses WHERE id = license_id), hardware_fingerprint",
    )
    .bind(&keys)
    .fetch_all(pool)
    .await?)
}

/// `days` whole UTC days of heartbeats ending where the raw window begins, written straight
/// into the raw table; returns how many.
async fn seed_history(pool: &PgPool, settings: PartitionSettings, days: u64) -> Result<i64> {
    let cutoff = partitions::compaction_cutoff(pool, settings).await?;
    let first_day = (cutoff - chrono::Duration::days(i64::try_from(days)?)).date_naive();
    partitions::ensure_day_partitions(pool, first_day, u32::try_from(days)?).await?;
    partitions::ensure_history_partitions(pool, first_day, 2).await?;
    let mut total = 0;
    for day in 0..days {
        let day = first_day + chrono::Duration::days(i64::try_from(day)?);
        // Per device: a stretch starting between 06:00 and 12:00 of 1 to 8 hours, and on
        // every other day a second one in the evening of up to 4 hours; 1 % of beats missed.
        let written = sqlx::query(
            "WITH stretches AS (
                 SELECT d.license_id, d.id AS device_id, s.start, s.beats
                 FROM device_registrations d
                 CROSS JOIN LATERAL (
                     SELECT $1::date + time '06:00' + random() * interval '6 hours' AS start,
                            (120 + random() * 840)::integer AS beats
                     UNION ALL
                     SELECT $1::date + time '18:00' + random() * interval '1 hour', (random() * 480)::integer
                     WHERE random() < 0.5) s)
             INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
             SELECT s.device_id, s.license_id, s.device_id,
                    (s.start + i * interval '30 seconds' + (random() * 4 - 2) * interval '1 second') AT TIME ZONE 'UTC'
             FROM stretches s CROSS JOIN LATERAL generate_series(0, s.beats - 1) i
             WHERE random() >= 0.01",
        )
        .bind(day)
        .execute(pool)
        .await?;
        total += i64::try_from(written.rows_affected())?;
    }
    Ok(total)
}

async fn gql(http: &reqwest::Client, endpoint: &str, key: &str, query: &str, variables: Value) -> Result<Value> {
    let response = http
        .post(endpoint)
        .header("X-API-Key", key)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await?;
    ensure!(response.status().is_success(), "HTTP {}", response.status());
    Ok(response.json().await?)
}

/// Activates every device over HTTP, 32 at a time; returns the session tokens.
async fn activate(
    http: &reqwest::Client,
    endpoint: &str,
    key: &str,
    devices: &[(String, String)],
) -> Result<Vec<String>> {
    let query =
        "mutation($i: ActivateInput!) { activate(input: $i) { __typename ... on SessionGranted { sessionToken } } }";
    let mut tokens = Vec::with_capacity(devices.len());
    for chunk in devices.chunks(32) {
        let replies = futures_util::future::join_all(chunk.iter().map(|(license, fingerprint)| {
            gql(http, endpoint, key, query, json!({"i": {"licenseKey": license, "hardwareFingerprint": fingerprint}}))
        }))
        .await;
        for reply in replies {
            let reply = reply?;
            let token = reply["data"]["activate"]["sessionToken"]
                .as_str()
                .with_context(|| format!("activation refused: {reply}"))?;
            tokens.push(token.to_owned());
        }
    }
    Ok(tokens)
}

struct LoadFigures {
    accepted: i64,
    errors: i64,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl LoadFigures {
    fn print(&self, label: &str) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let p99 = sorted.get(sorted.len().saturating_sub(1) * 99 / 100).copied().unwrap_or_default();
        println!(
            "  {label:<20} {:.0} heartbeats/s, p99 {:.1} ms, {} errors",
            self.accepted as f64 / self.seconds,
            p99.as_secs_f64() * 1000.0,
            self.errors
        );
    }
}

/// `connections` clients sending heartbeats for the sessions in turn for `seconds`.
async fn load(
    http: &reqwest::Client,
    endpoint: &str,
    key: &str,
    tokens: &[String],
    connections: u64,
    seconds: u64,
) -> LoadFigures {
    let query =
        "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename ... on HeartbeatAccepted { nextDeadline } } }";
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (http, endpoint, key) = (http.clone(), endpoint.to_owned(), key.to_owned());
            let mine: Vec<String> =
                tokens.iter().skip(worker as usize).step_by(connections as usize).cloned().collect();
            tokio::spawn(async move {
                let (mut accepted, mut errors, mut latencies) = (0, 0, Vec::new());
                for token in mine.iter().cycle() {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let sent = Instant::now();
                    let reply = gql(&http, &endpoint, &key, query, json!({"t": token})).await;
                    latencies.push(sent.elapsed());
                    match reply {
                        Ok(reply) if reply["data"]["heartbeat"]["__typename"] == "HeartbeatAccepted" => accepted += 1,
                        _ => errors += 1,
                    }
                }
                (accepted, errors, latencies)
            })
        })
        .collect();
    let mut figures = LoadFigures { accepted: 0, errors: 0, seconds: 0.0, latencies: Vec::new() };
    for worker in workers {
        match worker.await {
            Ok((accepted, errors, latencies)) => {
                figures.accepted += accepted;
                figures.errors += errors;
                figures.latencies.extend(latencies);
            }
            Err(_) => figures.errors += 1,
        }
    }
    figures.seconds = started.elapsed().as_secs_f64();
    figures
}
