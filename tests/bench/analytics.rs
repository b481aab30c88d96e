//! Analyst queries over a realistic data set: seeds a fresh database with `seed.sql` (thousands of
//! licenses, devices and sessions, millions of heartbeats), starts the server in-process, times a
//! set of typical analyst queries through GraphQL over HTTP, and prints the heartbeat query's plans
//! to show that only the monthly partitions in range are read; then the nested reads side by side
//! with PostGraphile (`nested_reads.rs`).
//!
//! Run: `make bench-analytics` (or `scripts/with-postgres.sh cargo bench -p license-server --bench analytics`)
//! Settings (environment): BENCH_CUSTOMERS (500), BENCH_LICENSES (2000), BENCH_SESSIONS_PER_DEVICE
//! (8), BENCH_HEARTBEATS (2000000), BENCH_REPEAT (5 timed runs per query).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use chrono::Utc;
use license_server::analytics::LICENSE_HEARTBEAT_BUCKETS_SQL;
use license_server::api_keys;
use license_server::auth::{Actor, Scope};
use license_server::compaction::{self, Budget};
use license_server::db::{PoolSettings, Pools};
use license_server::partitions::PartitionSettings;
use license_server::server::Application;
use serde_json::{json, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row as _;
use uuid::Uuid;

mod nested_reads;
mod support;

use support::env_or;

#[tokio::main]
async fn main() -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    support::in_fresh_database("license_bench_analytics", |url| async move { run(&url).await }).await
}

async fn run(url: &str) -> Result<()> {
    let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
    sqlx::migrate!("../migrations").run(&pool).await?;
    seed(&pool).await?;
    // The seed's statements left their deltas; the server moves them into the rollups within seconds.
    license_server::analytics::rollups::move_all(&pool).await?;
    // A running deployment has compacted the history older than the raw window; the benchmark
    // does so before it times anything, unpaced (a compaction still under way would take the CPU
    // from the queries timed, and from both servers of the nested reads).
    let started = Instant::now();
    let unpaced = Budget { paced: false, ..Budget::default() };
    let report = compaction::compact(&pool, PartitionSettings::default(), unpaced).await?;
    ensure!(report.finished, "the compaction stopped before the end: {report:?}");
    println!(
        "compacted {} heartbeats older than the raw window in {:.1} s",
        report.moved,
        started.elapsed().as_secs_f64()
    );

    let pools = Pools::connect(&pool.connect_options(), &PoolSettings::default()).await?;
    let app = Application::new(&pools, Default::default());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let endpoint = format!("http://{}/graphql", listener.local_addr()?);
    let server = tokio::spawn(async move { app.serve(listener, std::future::pending()).await });
    let analyst = api_keys::create(&pool, &Actor::cli(), None, "bench-analyst", Scope::Analyst).await?;
    // Timed back to back, the aggregates answered from the rollups would use up the analyst
    // scope's default burst: the key gets the largest rate limit there is.
    sqlx::query("UPDATE api_keys SET rate_limit_per_second = $2, rate_limit_burst = $2 WHERE id = $1")
        .bind(analyst.record.id)
        .bind(license_server::rate_limit::MAX_RATE as i32)
        .execute(&pool)
        .await?;
    let key = analyst.key;
    let repeat = env_or("BENCH_REPEAT", 5)?.max(1) as usize;

    let license: Uuid =
        sqlx::query_scalar("SELECT license_id FROM license_heartbeats GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
            .fetch_one(&pool)
            .await?;
    let now = Utc::now();
    let days_ago = |d: i64| (now - chrono::Duration::days(d)).to_rfc3339();
    let queries: Vec<(&str, &str, Value)> = vec![
        (
            "licenses: filter (type in, active, expiring) + order + customer",
            "query($until: DateTime!) { licenses(first: 50, filter: {licenseType: {in: [TRIAL, SUBSCRIPTION]}, isActive: true,
                validUntil: {lt: $until}}, orderBy: [{field: VALID_UNTIL}]) { totalCount edges { node { licenseKey validUntil customer { name } } } } }",
            json!({"until": (now + chrono::Duration::days(90)).to_rfc3339()}),
        ),
        ("licenses: text search over key and customer", "{ licenses(search: \"klinikum 12\", first: 20) { totalCount edges { node { licenseKey } } } }", json!({})),
        ("licenseCounts by type and state", "{ licenseCounts { licenseType state count } }", json!({})),
        ("licenseUsage: busiest 20", "{ licenseUsage(first: 20) { licenseKey activeDevices liveSessions } }", json!({})),
        (
            "sessionsPerDay, last 30 days",
            "query($f: DateTime!, $t: DateTime!) { sessionsPerDay(from: $f, to: $t) { day started ended endReasons { reason count } } }",
            json!({"f": days_ago(30), "t": days_ago(0)}),
        ),
        (
            "sessionsPerDay, last 365 days",
            "query($f: DateTime!, $t: DateTime!) { sessionsPerDay(from: $f, to: $t) { day started ended } }",
            json!({"f": days_ago(365), "t": days_ago(0)}),
        ),
        (
            "heartbeatCounts per day, 90 days, all licenses",
            "query($f: DateTime!, $t: DateTime!) { heartbeatCounts(from: $f, to: $t, bucket: DAY) { bucketStart count } }",
            json!({"f": days_ago(90), "t": days_ago(0)}),
        ),
        (
            "heartbeatCounts per hour, 7 days, one license",
            "query($f: DateTime!, $t: DateTime!, $l: ID!) { heartbeatCounts(from: $f, to: $t, bucket: HOUR, licenseId: $l) { bucketStart count } }",
            json!({"f": days_ago(7), "t": days_ago(0), "l": license}),
        ),
        (
            "peakConcurrentSessions, last 30 days, top 20",
            "query($f: DateTime!, $t: DateTime!) { peakConcurrentSessions(from: $f, to: $t) { licenseId peak reachedAt } }",
            json!({"f": days_ago(30), "t": days_ago(0)}),
        ),
        (
            "sessionHistory: filter (reason in, ended in range), 100",
            "query($f: DateTime!) { sessionHistory(first: 100, filter: {endReason: {in: [TIMEOUT, ADMIN_TERMINATED]}, endedAt: {gte: $f}}) { totalCount edges { node { endedAt } } } }",
            json!({"f": days_ago(14)}),
        ),
        (
            "nested: 5 customers → licenses → devices → sessions, resources",
            "{ customers(first: 5) { edges { node { name licenses { licenseKey devices { deviceName liveSession { startedAt } } liveSessions { startedAt } resources { value } } } } } }",
            json!({}),
        ),
        (
            "devices: active, seen in the last 7 days, by last seen, 100",
            "query($f: DateTime!) { devices(first: 100, filter: {isActive: true, lastSeenAt: {gte: $f}}, orderBy: [{field: LAST_SEEN_AT, direction: DESC}]) { totalCount nodes { deviceName lastSeenAt } } }",
            json!({"f": days_ago(7)}),
        ),
        ("devices: search by name", "{ devices(search: \"device 2\", first: 20) { totalCount nodes { deviceName } } }", json!({})),
        ("liveSessions: 100 with device and license", "{ liveSessions(first: 100) { totalCount nodes { device { deviceName } license { licenseKey } } } }", json!({})),
        ("resourcePoolCounts", "{ resourcePoolCounts { resourceType available allocated quarantined } }", json!({})),
    ];

    let client = reqwest::Client::new();
    println!(
        "\n{:<62} {:>10} {:>10} {:>10}",
        format!("query ({repeat} runs after one warm-up)"),
        "median",
        "min",
        "max"
    );
    for (name, query, variables) in &queries {
        let mut times = Vec::with_capacity(repeat);
        for run in 0..=repeat {
            let started = Instant::now();
            let body: Value = client
                .post(&endpoint)
                .header("X-API-Key", &key)
                .json(&json!({"query": query, "variables": variables}))
                .send()
                .await?
                .json()
                .await?;
            let elapsed = started.elapsed();
            ensure!(body.get("errors").is_none(), "{name}: {body}");
            if run > 0 {
                times.push(elapsed);
            }
        }
        times.sort_unstable();
        println!(
            "{name:<62} {:>10} {:>10} {:>10}",
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }

    print_plans(&pool, now, license).await?;
    server.abort();
    nested_reads::run(url, &pool).await?;
    pool.close().await;
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn seed(pool: &PgPool) -> Result<()> {
    let sizes = [
        ("bench.customers", env_or("BENCH_CUSTOMERS", 500)?),
        ("bench.licenses", env_or("BENCH_LICENSES", 2000)?),
        ("bench.sessions_per_device", env_or("BENCH_SESSIONS_PER_DEVICE", 8)?),
        ("bench.heartbeats", env_or("BENCH_HEARTBEATS", 2_000_000)?),
    ];
    let mut conn = pool.acquire().await?;
    for (setting, value) in sizes {
        sqlx::query("SELECT set_config($1, $2, false)")
            .bind(setting)
            .bind(value.to_string())
            .execute(&mut *conn)
            .await?;
    }
    eprintln!("seeding {sizes:?} …");
    let started = Instant::now();
    sqlx::raw_sql(include_str!("seed.sql")).execute(&mut *conn).await.context("tests/bench/seed.sql failed")?;
    let counts = sqlx::query(
        "SELECT (SELECT count(*) FROM licenses), (SELECT count(*) FROM device_registrations),
                (SELECT count(*) FROM session_history), (SELECT count(*) FROM license_sessions),
                (SELECT count(*) FROM license_heartbeats), (SELECT count(*) FROM resource_pools)",
    )
    .fetch_one(&mut *conn)
    .await?;
    println!(
        "seeded in {:.1} s: {} licenses, {} devices, {} ended sessions, {} live sessions, {} heartbeats, {} pool resources",
        started.elapsed().as_secs_f64(),
        counts.get::<i64, _>(0),
        counts.get::<i64, _>(1),
        counts.get::<i64, _>(2),
        counts.get::<i64, _>(3),
        counts.get::<i64, _>(4),
        counts.get::<i64, _>(5)
    );
    Ok(())
}

/// One license's heartbeat query's plans for the last 7 days: with bound values (pruned when
/// planning) and as a generic plan (pruned at execution: "Subplans Removed").
async fn print_plans(pool: &PgPool, now: chrono::DateTime<Utc>, license: Uuid) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let from = now - chrono::Duration::days(7);
    println!("\nEXPLAIN (ANALYZE) of heartbeatCounts(HOUR, last 7 days, one license), values bound:\n");
    let rows = sqlx::query(&format!("EXPLAIN (ANALYZE, COSTS OFF) {LICENSE_HEARTBEAT_BUCKETS_SQL}"))
        .bind(from)
        .bind(now)
        .bind("hour")
        .bind(license)
        .fetch_all(&mut *conn)
        .await?;
    for row in rows {
        println!("  {}", row.get::<String, _>(0));
    }
    println!("\nthe same as a generic plan (plan_cache_mode = force_generic_plan), pruned at execution:\n");
    sqlx::raw_sql(&format!(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE buckets(timestamptz, timestamptz, text, uuid) AS {LICENSE_HEARTBEAT_BUCKETS_SQL}"
    ))
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query(&format!(
        "EXPLAIN (ANALYZE, COSTS OFF) EXECUTE buckets('{}', '{}', 'hour', '{license}')",
        from.to_rfc3339(),
        now.to_rfc3339()
    ))
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        println!("  {}", row.get::<String, _>(0));
    }
    sqlx::raw_sql("DEALLOCATE buckets; RESET plan_cache_mode").execute(&mut *conn).await?;
    Ok(())
}
