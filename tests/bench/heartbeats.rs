//! Heartbeat throughput: N simulated devices heartbeat back-to-back through the real server
//! (GraphQL over HTTP, in-process, on 127.0.0.1), then pgbench runs the SQL one heartbeat costs
//! against the same database. The ratio of the two tells how much the HTTP/GraphQL path and the
//! group-commit writer add to (or save on) the bare database work.
//!
//! Run: `scripts/with-postgres.sh cargo bench -p license-server --bench heartbeats`
//! Settings (environment): BENCH_DEVICES (200), BENCH_SECONDS (10), BENCH_PGBENCH_CLIENTS (16),
//! PG_BIN_DIR (where pgbench lives; found otherwise), RUST_LOG (server logs; `warn` by default).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use license_server::api_keys;
use license_server::auth::{Actor, Scope};
use license_server::config::SessionSettings;
use license_server::state::AppState;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection as _;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

/// What `createLicense` allows at most; each license carries this many devices.
const DEVICES_PER_LICENSE: usize = 10;
/// The server's pool: fixed (not DATABASE_MAX_CONNECTIONS) so that runs stay comparable, and as
/// many connections as pgbench gets clients by default.
const POOL_CONNECTIONS: u32 = 16;
/// The server's request body limit, as `serve` uses by default.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// A request slower than this counts as an error rather than stalling the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const ACTIVATE: &str = "mutation($i: ActivateInput!) { activate(input: $i) { __typename \
    ... on SessionGranted { sessionToken } ... on ActivationDenied { reason } } }";
const HEARTBEAT: &str = "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename \
    ... on HeartbeatAccepted { nextDeadline } } }";

struct Settings {
    devices: usize,
    duration: Duration,
    pgbench_clients: u32,
}

impl Settings {
    fn from_env() -> Result<Self> {
        let devices: usize = env_or("BENCH_DEVICES", 200)?;
        let seconds: u64 = env_or("BENCH_SECONDS", 10)?;
        let pgbench_clients: u32 = env_or("BENCH_PGBENCH_CLIENTS", 16)?;
        ensure!(
            devices > 0 && seconds > 0 && pgbench_clients > 0,
            "BENCH_DEVICES, BENCH_SECONDS and BENCH_PGBENCH_CLIENTS must be positive"
        );
        Ok(Settings { devices, duration: Duration::from_secs(seconds), pgbench_clients })
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(raw) => raw.trim().parse().map_err(|_| anyhow::anyhow!("{name}={raw:?} is not a valid number")),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    let settings = Settings::from_env()?;
    let server_url = std::env::var("DATABASE_URL").context(
        "DATABASE_URL must name a PostgreSQL server where we may create a database (scripts/with-postgres.sh sets it)",
    )?;
    let database = BenchDatabase::create(&server_url).await?;
    let outcome = run(&settings, &database).await;
    // Dropped whatever happened, so failed runs leave nothing behind on a shared server.
    let dropped = database.drop().await;
    outcome?;
    dropped
}

async fn run(settings: &Settings, database: &BenchDatabase) -> Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(POOL_CONNECTIONS)
        .connect(&database.url)
        .await
        .with_context(|| format!("cannot connect to the bench database {}", database.name))?;
    let outcome = async {
        license_server::db::MIGRATOR.run(&pool).await.context("migrations failed")?;
        let http = http_phase(settings, &pool).await?;
        http.print(settings);
        pgbench_phase(settings, &pool, database, &http).await.context("the pgbench comparison failed")
    }
    .await;
    pool.close().await;
    outcome
}

// ---------------------------------------------------------------------------------------------
// The bench database
// ---------------------------------------------------------------------------------------------

/// A database of its own on the server DATABASE_URL names, so runs never touch real data and
/// concurrent runs (one per process id) never collide.
struct BenchDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl BenchDatabase {
    async fn create(server_url: &str) -> Result<Self> {
        let name = format!("license_bench_{}", std::process::id());
        let url = with_database(server_url, &name)?;
        let mut admin = PgConnection::connect(server_url)
            .await
            .with_context(|| format!("cannot connect to DATABASE_URL ({server_url})"))?;
        // A leftover from an earlier run that died with this same process id.
        sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).execute(&mut admin).await?;
        sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        admin.close().await?;
        Ok(BenchDatabase { server_url: server_url.to_owned(), name, url })
    }

    async fn drop(&self) -> Result<()> {
        let mut admin = PgConnection::connect(&self.server_url).await?;
        // FORCE: a connection the server still holds must not keep the database alive.
        sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot drop database {}", self.name))?;
        admin.close().await?;
        Ok(())
    }
}

/// `url` naming `database` instead; user, host, port and query parameters are kept.
fn with_database(url: &str, database: &str) -> Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").context("DATABASE_URL must be a postgres:// URL")? + 3;
    let authority_end = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    Ok(url)
}

// ---------------------------------------------------------------------------------------------
// Phase 1: heartbeats through the real server
// ---------------------------------------------------------------------------------------------

struct HttpFigures {
    client_key: String,
    elapsed: Duration,
    /// Latencies of accepted heartbeats, sorted.
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
    rows_recorded: i64,
}

impl HttpFigures {
    fn heartbeats_per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self, settings: &Settings) {
        println!("heartbeats through GraphQL over HTTP (in-process server, 127.0.0.1)");
        println!("  devices:           {}", settings.devices);
        println!("  duration:          {:.2} s", self.elapsed.as_secs_f64());
        println!("  heartbeats total:  {} accepted", self.latencies.len());
        println!("  heartbeats/s:      {:.1}", self.heartbeats_per_second());
        println!("  latency p50:       {:.2} ms", millis(percentile(&self.latencies, 0.50)));
        println!("  latency p99:       {:.2} ms", millis(percentile(&self.latencies, 0.99)));
        println!("  latency max:       {:.2} ms", millis(self.latencies.last().copied().unwrap_or_default()));
        println!("  errors:            {}", self.errors);
        if let Some(error) = &self.first_error {
            println!("  first error:       {error}");
        }
        println!("  rows written:      {} in license_heartbeats", self.rows_recorded);
    }
}

async fn http_phase(settings: &Settings, pool: &PgPool) -> Result<HttpFigures> {
    let server = RunningServer::start(pool.clone()).await?;
    let outcome = drive_devices(settings, pool, &server).await;
    // Stopped before pgbench runs, so that phase has the database to itself.
    server.stop().await;
    let mut figures = outcome?;
    figures.rows_recorded = sqlx::query_scalar("SELECT count(*) FROM license_heartbeats").fetch_one(pool).await?;
    Ok(figures)
}

async fn drive_devices(settings: &Settings, pool: &PgPool, server: &RunningServer) -> Result<HttpFigures> {
    let admin_key = api_keys::create(pool, &Actor::cli(), None, "bench-admin", Scope::Admin).await?.key;
    let client_key = api_keys::create(pool, &Actor::cli(), None, "bench-client", Scope::Client).await?.key;
    let graphql = GraphqlClient::new(&server.endpoint, settings.devices)?;

    let license_keys = create_licenses(&graphql, &admin_key, settings.devices.div_ceil(DEVICES_PER_LICENSE)).await?;
    eprintln!("activating {} devices on {} licenses …", settings.devices, license_keys.len());
    let tokens = activate_devices(&graphql, &client_key, &license_keys, settings.devices).await?;

    eprintln!("heartbeating for {} s …", settings.duration.as_secs());
    // Every device starts its loop only once all are activated, so the measured window holds
    // heartbeats alone and all devices share one deadline.
    let started = Instant::now();
    let deadline = started + settings.duration;
    let mut devices = JoinSet::new();
    for token in tokens {
        devices.spawn(heartbeat_until(graphql.clone(), client_key.clone(), token, deadline));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    while let Some(report) = devices.join_next().await {
        let report = report.context("a device task panicked")?;
        latencies.extend(report.latencies);
        errors += report.errors;
        first_error = first_error.or(report.first_error);
    }
    // Until the last in-flight heartbeat came back, not the nominal deadline.
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(HttpFigures { client_key, elapsed, latencies, errors, first_error, rows_recorded: 0 })
}

/// One customer and `count` licenses of ten devices each, created over GraphQL as an admin would.
async fn create_licenses(graphql: &GraphqlClient, admin_key: &str, count: usize) -> Result<Vec<String>> {
    let data = graphql
        .execute(
            admin_key,
            r#"mutation { createCustomer(input: {name: "Bench", email: "bench@example.com"}) { id } }"#,
            json!({}),
        )
        .await
        .map_err(|e| anyhow::anyhow!("createCustomer: {e}"))?;
    let customer_id = data["createCustomer"]["id"].clone();
    ensure!(customer_id.is_string(), "createCustomer returned no id: {data}");

    let create = "mutation($id: ID!) { \
        createLicense(input: {customerId: $id, deviceLimit: 10, concurrentSessionsLimit: 10}) { id licenseKey } }";
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        let data = graphql
            .execute(admin_key, create, json!({ "id": customer_id }))
            .await
            .map_err(|e| anyhow::anyhow!("createLicense: {e}"))?;
        let key = data["createLicense"]["licenseKey"]
            .as_str()
            .with_context(|| format!("createLicense returned no key: {data}"))?;
        keys.push(key.to_owned());
    }
    Ok(keys)
}

/// Activates every device at once (as a fleet coming online would) and returns their session tokens.
async fn activate_devices(
    graphql: &GraphqlClient,
    client_key: &str,
    license_keys: &[String],
    devices: usize,
) -> Result<Vec<Uuid>> {
    let mut activations = JoinSet::new();
    for device in 0..devices {
        let (graphql, client_key) = (graphql.clone(), client_key.to_owned());
        let input = json!({
            "licenseKey": license_keys[device / DEVICES_PER_LICENSE],
            "hardwareFingerprint": format!("bench-fingerprint-{device:06}"),
            "deviceName": format!("bench device {device}"),
        });
        activations.spawn(async move {
            let data = graphql
                .execute(&client_key, ACTIVATE, json!({ "i": input }))
                .await
                .map_err(|e| anyhow::anyhow!("activate: {e}"))?;
            let result = &data["activate"];
            ensure!(result["__typename"] == "SessionGranted", "device {device} was not activated: {result}");
            let token = result["sessionToken"].as_str().context("SessionGranted without a token")?;
            Ok(token.parse::<Uuid>()?)
        });
    }
    let mut tokens = Vec::with_capacity(devices);
    while let Some(token) = activations.join_next().await {
        tokens.push(token.context("an activation task panicked")??);
    }
    Ok(tokens)
}

#[derive(Default)]
struct DeviceReport {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// One device: heartbeats back-to-back (no 30 s interval: this measures capacity, not a fleet's
/// steady state) until `deadline`. Only accepted heartbeats count towards throughput and latency.
async fn heartbeat_until(graphql: GraphqlClient, client_key: String, token: Uuid, deadline: Instant) -> DeviceReport {
    let mut report = DeviceReport::default();
    let variables = json!({ "t": token });
    while Instant::now() < deadline {
        let sent = Instant::now();
        let outcome = graphql.execute(&client_key, HEARTBEAT, variables.clone()).await;
        let latency = sent.elapsed();
        let refusal = match outcome {
            Ok(data) if data["heartbeat"]["__typename"] == "HeartbeatAccepted" => None,
            Ok(data) => Some(format!("heartbeat not accepted: {}", data["heartbeat"])),
            Err(error) => Some(error),
        };
        match refusal {
            None => report.latencies.push(latency),
            Some(error) => {
                report.errors += 1;
                report.first_error.get_or_insert(error);
            }
        }
    }
    report
}

/// POSTs GraphQL to the server; one shared connection pool for every simulated device.
#[derive(Clone)]
struct GraphqlClient {
    http: reqwest::Client,
    endpoint: String,
}

impl GraphqlClient {
    fn new(endpoint: &str, devices: usize) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(devices)
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(GraphqlClient { http, endpoint: endpoint.to_owned() })
    }

    /// The response's `data`, or why the request failed: transport error, non-200 status or
    /// GraphQL `errors`.
    async fn execute(&self, api_key: &str, query: &str, variables: Value) -> std::result::Result<Value, String> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("Content-Type", "application/json")
            .header("X-API-Key", api_key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| format!("HTTP {status}, unreadable body: {e}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {status}: {body}"));
        }
        if let Some(errors) = body.get("errors") {
            return Err(format!("GraphQL errors: {errors}"));
        }
        Ok(body["data"].clone())
    }
}

/// The production router on an ephemeral port of 127.0.0.1, served exactly as `serve` does.
struct RunningServer {
    endpoint: String,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    async fn start(pool: PgPool) -> Result<Self> {
        let state = AppState::new(pool, SessionSettings::default());
        let app = license_server::server::app(state, MAX_BODY_BYTES);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let endpoint = format!("http://{}/graphql", listener.local_addr()?);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(RunningServer { endpoint, shutdown, task })
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        let mut task = self.task;
        // Graceful shutdown waits for open connections; a bench must not hang on one.
        match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => eprintln!("server stopped with an error: {error}"),
            Ok(Err(error)) => eprintln!("server task failed: {error}"),
            Err(_) => task.abort(),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank: the smallest value with at least p of all values at or below it.
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Phase 2: pgbench on the SQL of one heartbeat
// ---------------------------------------------------------------------------------------------

async fn pgbench_phase(settings: &Settings, pool: &PgPool, database: &BenchDatabase, http: &HttpFigures) -> Result<()> {
    let Some(pgbench) = find_pgbench() else {
        println!("pgbench: not found, comparison skipped");
        println!("  (looked in PG_BIN_DIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin and PATH)");
        return Ok(());
    };
    let sessions = fill_bench_tokens(pool).await?;
    ensure!(sessions > 0, "no live session is left to heartbeat in pgbench");

    let workdir = std::env::temp_dir().join(format!("license-bench-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    let script = workdir.join("heartbeat.sql");
    std::fs::write(&script, pgbench_script(&http.client_key, sessions))?;
    let output = run_pgbench(&pgbench, settings, &script, &database.url).await;
    let _ = std::fs::remove_dir_all(&workdir);
    let output = output?;
    let tps = parse_tps(&output).with_context(|| format!("no `tps = ` in pgbench's output:\n{output}"))?;

    println!("pgbench on the SQL of one heartbeat (key lookup + heartbeat write, one commit per heartbeat)");
    println!("  pgbench:           {}", pgbench.display());
    println!(
        "  clients:           {} over {sessions} live sessions, {} s",
        settings.pgbench_clients,
        settings.duration.as_secs()
    );
    println!("  pgbench TPS:       {tps:.1}");
    println!("  GraphQL heartbeats/s ÷ pgbench TPS: {:.2}", http.heartbeats_per_second() / tps);
    Ok(())
}

/// Numbers the live sessions 1..=n so that pgbench, which only has integer variables, can pick a
/// random one. Returns n.
async fn fill_bench_tokens(pool: &PgPool) -> Result<i64> {
    sqlx::query("CREATE TABLE bench_tokens (n serial PRIMARY KEY, token uuid NOT NULL)").execute(pool).await?;
    let filled = sqlx::query(
        "INSERT INTO bench_tokens (token)
         SELECT session_token FROM license_sessions
         WHERE last_heartbeat_at > now() - make_interval(secs => 60)",
    )
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE bench_tokens").execute(pool).await?;
    Ok(i64::try_from(filled.rows_affected())?)
}

/// What the server runs for one heartbeat request: the API-key lookup (its `last_used_at` update
/// fires at most once a minute, so it is left out) and the group-commit write for a batch of one.
/// Each statement runs in its own transaction, as pgbench does without BEGIN/COMMIT.
fn pgbench_script(client_key: &str, sessions: i64) -> String {
    let digest: String = Sha256::digest(client_key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "\\set n random(1, {sessions})\n\
         SELECT id, name, scope FROM api_keys WHERE key_digest = decode('{digest}', 'hex') AND revoked_at IS NULL;\n\
         WITH touched AS (UPDATE license_sessions s SET last_heartbeat_at = greatest(s.last_heartbeat_at, now()) \
         FROM bench_tokens b WHERE b.n = :n AND s.session_token = b.token \
         AND s.last_heartbeat_at > now() - make_interval(secs => 60) \
         RETURNING s.id, s.license_id, s.device_id) \
         INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at) \
         SELECT id, license_id, device_id, now() FROM touched;\n"
    )
}

async fn run_pgbench(pgbench: &Path, settings: &Settings, script: &Path, database_url: &str) -> Result<String> {
    let output = tokio::process::Command::new(pgbench)
        .arg("-n")
        .args(["-c", &settings.pgbench_clients.to_string()])
        .args(["-j", &settings.pgbench_clients.min(2).to_string()])
        .args(["-T", &settings.duration.as_secs().to_string()])
        .arg("-f")
        .arg(script)
        // A connection string is accepted where the database name goes.
        .arg(database_url)
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run {}", pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("pgbench failed ({}):\n{stdout}{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    Ok(stdout)
}

/// The last `tps = X` line: pgbench before 14 printed two (including, then excluding the time to
/// connect); the later one is the comparable figure. Newer versions print only one.
fn parse_tps(output: &str) -> Option<f64> {
    output.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("tps = ")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// PG_BIN_DIR, then `pg_config --bindir`, then the newest Debian-style installation, then PATH.
fn find_pgbench() -> Option<PathBuf> {
    let in_dir = |dir: PathBuf| Some(dir.join("pgbench")).filter(|candidate| candidate.is_file());
    std::env::var_os("PG_BIN_DIR")
        .and_then(|dir| in_dir(dir.into()))
        .or_else(|| pg_config_bindir().and_then(in_dir))
        .or_else(|| newest_debian_bindir().and_then(in_dir))
        .or_else(|| std::env::split_paths(&std::env::var_os("PATH")?).find_map(in_dir))
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = StdCommand::new("pg_config").arg("--bindir").output().ok()?;
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `/usr/lib/postgresql/<version>/bin` of the highest version installed.
fn newest_debian_bindir() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: f64 = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, bin)| bin)
}
