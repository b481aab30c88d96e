//! The heartbeat benchmark: what a client fleet does to the server, measured from outside.
//!
//! The real `license-server` binary is started exactly as `make run` starts it (no DATABASE_URL,
//! so on its embedded PostgreSQL; default logging and pool), and Debian's `wrk` drives it over
//! real sockets from a separate process:
//!
//! 1. **Activation rush**: 64 connections activate devices spread over many licenses (each
//!    license takes ten devices); once every device has a session, the same devices resume.
//! 2. **Heartbeats**: every live session's token in a file, shuffled per wrk thread, each request
//!    taking the next token, so the same token is sometimes in flight twice. A few hundred
//!    silent sessions time out during the run, so the cleanup works while heartbeats arrive.
//! 3. **pgbench** on the same database in the same run: the SQL of one heartbeat (key lookup,
//!    session update and heartbeat row), one heartbeat per transaction, with as many clients as
//!    wrk has connections.
//!    The ratio of the two is the figure to watch; absolute rates move with the machine.
//! 4. **Memory**: live sessions seeded up to 100,000 and heartbeated; the server's peak RSS.
//!
//! Errors are counted from every side: wrk's socket errors and non-2xx responses, responses
//! without `HeartbeatAccepted` (GraphQL errors come with 200), and the server's own counters
//! (`/metrics`). Deadlocks come from `pg_stat_database`; rows stored are counted in the table and
//! compared with the heartbeats the server acknowledged.
//!
//! Run: `make bench`. Settings (environment): BENCH_SESSIONS (5000), BENCH_CONNECTIONS (64),
//! BENCH_SECONDS (15), BENCH_ACTIVATION_SECONDS (5), BENCH_MEMORY_SESSIONS (100000; 0 skips),
//! BENCH_WRK_THREADS (2), BENCH_KEEP (set to keep the working directory and server log),
//! BENCH_SERVER (the path of another `license-server` build to measure instead of this one).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use license_server::licenses::LicenseKey;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// What `createLicense` allows at most; each license carries this many devices.
const DEVICES_PER_LICENSE: usize = 10;
/// The session timeout `make run` uses (SESSION_TIMEOUT_SECS' default).
const SESSION_TIMEOUT_SECS: i64 = 60;
/// Silent sessions that time out during the heartbeat run, so the cleanup has work.
const EXPIRING_SESSIONS: usize = 500;
/// The server under test: this build's, or BENCH_SERVER (another build, for a comparison).
fn server_binary() -> PathBuf {
    std::env::var_os("BENCH_SERVER").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_license-server")), PathBuf::from)
}

struct Settings {
    sessions: usize,
    connections: u32,
    seconds: u64,
    activation_seconds: u64,
    memory_sessions: usize,
    wrk_threads: u32,
    keep: bool,
}

impl Settings {
    fn from_env() -> Result<Self> {
        let settings = Settings {
            sessions: env_or("BENCH_SESSIONS", 5000)?,
            connections: env_or("BENCH_CONNECTIONS", 64)?,
            seconds: env_or("BENCH_SECONDS", 15)?,
            activation_seconds: env_or("BENCH_ACTIVATION_SECONDS", 5)?,
            memory_sessions: env_or("BENCH_MEMORY_SESSIONS", 100_000)?,
            wrk_threads: env_or("BENCH_WRK_THREADS", 2)?,
            keep: std::env::var_os("BENCH_KEEP").is_some(),
        };
        ensure!(
            settings.sessions > 0 && settings.connections > 0 && settings.seconds > 0 && settings.wrk_threads > 0,
            "BENCH_SESSIONS, BENCH_CONNECTIONS, BENCH_SECONDS and BENCH_WRK_THREADS must be positive"
        );
        ensure!(settings.connections >= settings.wrk_threads, "BENCH_CONNECTIONS must be at least BENCH_WRK_THREADS");
        Ok(settings)
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(raw) => raw.trim().parse().map_err(|_| anyhow::anyhow!("{name}={raw:?} is not a valid number")),
        Err(_) => Ok(default),
    }
}

fn main() -> Result<()> {
    let settings = Settings::from_env()?;
    let tools = Tools::find()?;
    let workdir = std::env::temp_dir().join(format!("license-bench-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut server = Server::start(&workdir)?;
    let outcome = runtime.block_on(run(&settings, &tools, &server, &workdir));
    let stopped = server.stop();
    if settings.keep {
        eprintln!("kept {} (server log: {})", workdir.display(), server.log.display());
    } else {
        let _ = std::fs::remove_dir_all(&workdir);
    }
    outcome?;
    stopped
}

async fn run(settings: &Settings, tools: &Tools, server: &Server, workdir: &Path) -> Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(server.database_options()?)
        .await
        .context("cannot connect to the server's embedded PostgreSQL")?;
    let client_key = server.create_api_key("bench-client", "client")?;
    println!("heartbeat benchmark: {} (started as `make run` starts it)", server_binary().display());
    println!(
        "  machine: {} cores; wrk: {} threads, {} connections",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        settings.wrk_threads,
        settings.connections
    );

    let devices = seed_licenses(&pool, settings.sessions).await?;
    let device_file = workdir.join("devices.txt");
    std::fs::write(&device_file, devices.join("\n") + "\n")?;
    let rush = tools.wrk(settings, "activate.lua", settings.activation_seconds, &device_file, &client_key, server)?;
    let live = live_sessions(&pool).await?;
    println!();
    println!("activation rush ({} devices on {} licenses)", devices.len(), devices.len().div_ceil(10));
    rush.print_rate("activations/s");
    println!(
        "  new sessions:        {}   resumed: {}   failed: {}",
        rush.get("new_sessions"),
        rush.get("resumed"),
        rush.get("failed")
    );
    // A rush shorter than one pass over the fleet leaves devices without a session; the
    // heartbeat run still gets the fleet size it was asked for.
    let missing = settings.sessions.saturating_sub(usize::try_from(live)?);
    if missing > 0 {
        println!("  sessions seeded:     {missing} (devices the rush did not reach)");
        seed_sessions(&pool, missing, 0).await?;
    }

    let live = live_sessions(&pool).await?;
    seed_sessions(&pool, EXPIRING_SESSIONS, SESSION_TIMEOUT_SECS - 5).await?;
    let heartbeats = heartbeat_run(settings, tools, server, &pool, workdir, &client_key, settings.seconds).await?;
    println!();
    println!("heartbeats ({live} live sessions, {EXPIRING_SESSIONS} more timing out during the run)");
    heartbeats.print();

    let pgbench_tps = tools.pgbench(settings, server, &pool, workdir, &client_key).await?;
    let ratio = heartbeats.rate() / pgbench_tps;
    println!();
    println!("pgbench, the SQL of one heartbeat, one heartbeat per transaction, same database");
    println!("  clients:             {}, {} s", settings.connections, settings.seconds);
    println!("  pgbench TPS:         {pgbench_tps:.0}");
    println!("  heartbeats/s ÷ pgbench TPS: {ratio:.2}");

    if settings.memory_sessions > 0 {
        let live = live_sessions(&pool).await?;
        let missing = settings.memory_sessions.saturating_sub(usize::try_from(live)?);
        seed_sessions(&pool, missing, 0).await?;
        let memory = heartbeat_run(settings, tools, server, &pool, workdir, &client_key, 10).await?;
        println!();
        println!("memory: {} live sessions heartbeating", live_sessions(&pool).await?);
        memory.print();
    }

    println!();
    println!(
        "summary: {:.0} heartbeats/s, p99 {:.1} ms, {} errors, {} deadlocks, {:.2} × pgbench ({pgbench_tps:.0} TPS); \
         activations {:.0}/s, p99 {:.1} ms",
        heartbeats.rate(),
        heartbeats.wrk.millis("p99_us"),
        heartbeats.errors(),
        heartbeats.deadlocks,
        ratio,
        rush.rate(),
        rush.millis("p99_us"),
    );
    pool.close().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The server, as `make run` starts it
// ---------------------------------------------------------------------------------------------

struct Server {
    child: Child,
    data_dir: PathBuf,
    log: PathBuf,
    base_url: String,
}

impl Server {
    fn start(workdir: &Path) -> Result<Self> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
        let data_dir = workdir.join("data");
        let log = workdir.join("server.log");
        let child = Command::new(server_binary())
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .env("DATA_DIR", &data_dir)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("FRONTEND_DIR", workdir.join("no-dashboard"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("cannot start license-server")?;
        let mut server = Server { child, data_dir, log, base_url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("license-server exited ({status}) during start-up:\n{}", server.log_tail());
            }
            if http_get(&server.base_url, "/readyz").is_ok_and(|(status, _)| status == 200) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                let _ = server.stop();
                bail!("license-server was not ready within two minutes:\n{}", server.log_tail());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The embedded cluster's Unix socket, as the superuser the server runs it with (and its password).
    fn database_options(&self) -> Result<PgConnectOptions> {
        license_server::embedded_pg::server_database_options(&self.data_dir)
    }

    fn create_api_key(&self, name: &str, scope: &str) -> Result<String> {
        let output = Command::new(server_binary())
            .args(["api-key", "create", "--name", name, "--scope", scope])
            .env_remove("DATABASE_URL")
            .env("DATA_DIR", &self.data_dir)
            .output()?;
        ensure!(output.status.success(), "api-key create failed: {}", String::from_utf8_lossy(&output.stderr));
        Ok(String::from_utf8(output.stdout)?.trim().to_owned())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds the server process has used (user + system).
    fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(self.pid())
    }

    /// CPU seconds the embedded PostgreSQL (the postmaster and its backends) has used, including
    /// backends that have exited since it started.
    fn database_cpu_seconds(&self) -> f64 {
        let Some(postmaster) = std::fs::read_to_string(self.data_dir.join("postgres/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
        else {
            return 0.0;
        };
        let children: f64 = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| stat_fields(*pid).get(1).and_then(|ppid| ppid.parse::<u32>().ok()) == Some(postmaster))
            .map(process_cpu_seconds)
            .sum();
        // cutime and cstime: the backends that have exited.
        let fields = stat_fields(postmaster);
        let exited: f64 = fields.get(13..15).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
        process_cpu_seconds(postmaster) + children + exited / 100.0
    }

    /// SIGTERM, as an operator stops it: the server drains and stops its PostgreSQL.
    fn stop(&mut self) -> Result<()> {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        bail!("license-server did not stop within a minute of SIGTERM")
    }

    /// The server's own counters: `name{labels}` → value.
    fn metrics(&self) -> Result<HashMap<String, f64>> {
        let (status, body) = http_get(&self.base_url, "/metrics")?;
        ensure!(status == 200, "/metrics answered {status}");
        Ok(body
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.stop();
        }
    }
}

/// `/proc/PID/stat` after the command name (which is in parentheses and may hold spaces): the
/// process state is field 0, the parent 1, utime 11, stime 12, cutime 13, cstime 14.
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().map(str::to_owned).collect()
}

fn process_cpu_seconds(pid: u32) -> f64 {
    let fields = stat_fields(pid);
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

/// A minimal HTTP/1.1 GET over a fresh socket; the bench needs no client library for this.
fn http_get(base_url: &str, path: &str) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let address = base_url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no HTTP status")?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------------------

/// Licenses for `devices` devices, ten per license, created directly in the database; returns
/// the `licenseKey fingerprint` lines, ordered so that neighbours belong to different licenses.
async fn seed_licenses(pool: &PgPool, devices: usize) -> Result<Vec<String>> {
    let licenses = devices.div_ceil(DEVICES_PER_LICENSE);
    let keys: Vec<String> = (0..licenses).map(|_| LicenseKey::generate().as_str().to_owned()).collect();
    sqlx::query(
        "WITH customer AS (
             INSERT INTO customers (name, email) VALUES ('Bench fleet', 'fleet-' || gen_random_uuid() || '@example.com')
             RETURNING id)
         INSERT INTO licenses (license_key, customer_id, device_limit, concurrent_sessions_limit)
         SELECT key, customer.id, 10, 10 FROM unnest($1::text[]) AS key, customer",
    )
    .bind(&keys)
    .execute(pool)
    .await?;
    let mut lines = Vec::with_capacity(devices);
    for device in 0..DEVICES_PER_LICENSE {
        for (license, key) in keys.iter().enumerate() {
            if lines.len() < devices && license * DEVICES_PER_LICENSE + device < devices {
                lines.push(format!("{key} bench-{license:06}-{device:02}"));
            }
        }
    }
    Ok(lines)
}

/// `count` sessions on new licenses and devices, written in SQL (the fastest way to a large
/// fleet), whose last heartbeat was `age_secs` ago.
async fn seed_sessions(pool: &PgPool, count: usize, age_secs: i64) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let keys: Vec<String> =
        (0..count.div_ceil(DEVICES_PER_LICENSE)).map(|_| LicenseKey::generate().as_str().to_owned()).collect();
    sqlx::query(
        "WITH customer AS (
             INSERT INTO customers (name, email) VALUES ('Bench seeded fleet', 'seed-' || gen_random_uuid() || '@example.com')
             RETURNING id),
         licenses AS (
             INSERT INTO licenses (license_key, customer_id, device_limit, concurrent_sessions_limit)
             SELECT key, customer.id, 10, 10 FROM unnest($1::text[]) AS key, customer
             RETURNING id),
         devices AS (
             INSERT INTO device_registrations (license_id, hardware_fingerprint)
             SELECT l.id, 'seeded-' || gen_random_uuid() FROM licenses l, generate_series(1, 10)
             RETURNING id, license_id)
         INSERT INTO license_sessions (session_token, license_id, device_id, last_heartbeat_at)
         SELECT gen_random_uuid(), d.license_id, d.id, now() - make_interval(secs => $2)
         FROM (SELECT * FROM devices LIMIT $3) d",
    )
    .bind(&keys)
    .bind(age_secs as f64)
    .bind(i64::try_from(count)?)
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE license_sessions").execute(pool).await?;
    Ok(())
}

async fn live_sessions(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM license_sessions WHERE last_heartbeat_at > now() - make_interval(secs => $1)",
    )
    .bind(SESSION_TIMEOUT_SECS as f64)
    .fetch_one(pool)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// A heartbeat run
// ---------------------------------------------------------------------------------------------

struct HeartbeatFigures {
    wrk: WrkFigures,
    /// Heartbeats the server acknowledged (its `heartbeats{outcome="accepted"}` counter).
    acknowledged: f64,
    /// Heartbeat operations the server answered with an error code.
    server_errors: f64,
    /// Rows added to `license_heartbeats` during the run.
    rows_stored: i64,
    deadlocks: i64,
    sessions_timed_out: f64,
    peak_rss_kib: u64,
    cpu_seconds: f64,
    database_cpu_seconds: f64,
    log_bytes: u64,
}

impl HeartbeatFigures {
    fn rate(&self) -> f64 {
        self.wrk.rate()
    }

    fn errors(&self) -> f64 {
        self.wrk.errors() as f64 + self.server_errors
    }

    fn print(&self) {
        self.wrk.print_rate("heartbeats/s");
        println!(
            "  errors:              {} (socket {}, non-2xx {}, not accepted {}, server-side error codes {})",
            self.errors(),
            self.wrk.get("socket_errors"),
            self.wrk.get("http_errors"),
            self.wrk.get("failed"),
            self.server_errors
        );
        if let Some(first) = self.wrk.first_failure.as_deref() {
            println!("  first failure:       {first}");
        }
        println!("  deadlocks:           {}", self.deadlocks);
        // A request the client abandons at the end of the run may still be written: more rows
        // than acknowledgements is fine, fewer would be a lost heartbeat.
        println!(
            "  rows stored:         {} for {} acknowledged ({})",
            self.rows_stored,
            self.acknowledged,
            if self.rows_stored as f64 >= self.acknowledged { "none lost" } else { "HEARTBEATS LOST" }
        );
        println!("  sessions timed out:  {} by the cleanup during the run", self.sessions_timed_out);
        println!("  server RSS (peak):   {:.1} MB", self.peak_rss_kib as f64 / 1024.0);
        let requests = self.wrk.get("requests").max(1) as f64;
        println!(
            "  server CPU:          {:.0} µs per heartbeat ({:.0} % of a core)",
            self.cpu_seconds * 1e6 / requests,
            self.cpu_seconds * 100.0 / self.wrk.seconds()
        );
        println!(
            "  database CPU:        {:.0} µs per heartbeat ({:.0} % of a core)",
            self.database_cpu_seconds * 1e6 / requests,
            self.database_cpu_seconds * 100.0 / self.wrk.seconds()
        );
        println!("  server log:          {:.0} bytes per heartbeat", self.log_bytes as f64 / requests);
    }
}

async fn heartbeat_run(
    settings: &Settings,
    tools: &Tools,
    server: &Server,
    pool: &PgPool,
    workdir: &Path,
    client_key: &str,
    seconds: u64,
) -> Result<HeartbeatFigures> {
    let tokens: Vec<String> = sqlx::query_scalar(
        "SELECT session_token::text FROM license_sessions
         WHERE last_heartbeat_at > now() - make_interval(secs => $1 - 10)",
    )
    .bind(SESSION_TIMEOUT_SECS as f64)
    .fetch_all(pool)
    .await?;
    let token_file = workdir.join("tokens.txt");
    std::fs::write(&token_file, tokens.join("\n") + "\n")?;

    settle(pool).await?;
    let before = Snapshot::take(server, pool).await?;
    let sampler = RssSampler::start(server.pid());
    let wrk = tools.wrk(settings, "heartbeat.lua", seconds, &token_file, client_key, server)?;
    let peak_rss_kib = sampler.stop();
    // The cleanup runs every 10 s; let the last batch land before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = Snapshot::take(server, pool).await?;
    Ok(HeartbeatFigures {
        wrk,
        acknowledged: after.metric("license_server_heartbeats_total{outcome=\"accepted\"}")
            - before.metric("license_server_heartbeats_total{outcome=\"accepted\"}"),
        server_errors: after.heartbeat_errors() - before.heartbeat_errors(),
        rows_stored: after.rows - before.rows,
        deadlocks: after.deadlocks - before.deadlocks,
        sessions_timed_out: after.metric("license_server_sessions_timed_out_total")
            - before.metric("license_server_sessions_timed_out_total"),
        peak_rss_kib,
        cpu_seconds: after.cpu_seconds - before.cpu_seconds,
        database_cpu_seconds: after.database_cpu_seconds - before.database_cpu_seconds,
        log_bytes: after.log_bytes.saturating_sub(before.log_bytes),
    })
}

/// Starts a measured phase from the same state each time: no checkpoint or vacuum of earlier
/// writes running into it, fresh statistics.
async fn settle(pool: &PgPool) -> Result<()> {
    sqlx::query("VACUUM (ANALYZE) license_sessions").execute(pool).await?;
    sqlx::query("CHECKPOINT").execute(pool).await?;
    Ok(())
}

/// Counters read before and after a run.
struct Snapshot {
    metrics: HashMap<String, f64>,
    rows: i64,
    deadlocks: i64,
    cpu_seconds: f64,
    database_cpu_seconds: f64,
    log_bytes: u64,
}

impl Snapshot {
    async fn take(server: &Server, pool: &PgPool) -> Result<Self> {
        let (rows, deadlocks): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM license_heartbeats),
                    (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database())",
        )
        .fetch_one(pool)
        .await?;
        Ok(Snapshot {
            metrics: server.metrics()?,
            rows,
            deadlocks,
            cpu_seconds: server.cpu_seconds(),
            database_cpu_seconds: server.database_cpu_seconds(),
            log_bytes: std::fs::metadata(&server.log).map_or(0, |m| m.len()),
        })
    }

    fn metric(&self, name: &str) -> f64 {
        self.metrics.get(name).copied().unwrap_or(0.0)
    }

    /// `graphql_operations_total{operation="mutation.heartbeat",outcome=…}` for every outcome but ok.
    fn heartbeat_errors(&self) -> f64 {
        self.metrics
            .iter()
            .filter(|(name, _)| {
                name.starts_with("license_server_graphql_operations_total{")
                    && name.contains("operation=\"mutation.heartbeat\"")
                    && !name.contains("outcome=\"ok\"")
            })
            .map(|(_, value)| value)
            .sum()
    }
}

/// Reads the server's RSS every 100 ms on a thread of its own; `stop` returns the peak.
struct RssSampler {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            loop {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let rss = status
                    .lines()
                    .find_map(|line| line.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0);
                peak = peak.max(rss);
                if stopped.recv_timeout(Duration::from_millis(100)).is_ok() {
                    return peak;
                }
            }
        });
        RssSampler { stop, thread }
    }

    fn stop(self) -> u64 {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// The tools: wrk and pgbench
// ---------------------------------------------------------------------------------------------

struct Tools {
    wrk: PathBuf,
    pgbench: PathBuf,
    scripts: PathBuf,
}

impl Tools {
    fn find() -> Result<Self> {
        let wrk = which("wrk").context("wrk was not found: `make bench` installs it (apt-get install wrk)")?;
        let pgbench = license_server::embedded_pg::find_pg_bin_dir(&["pgbench"], "postgresql")?.join("pgbench");
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bench/wrk");
        Ok(Tools { wrk, pgbench, scripts })
    }

    fn wrk(
        &self,
        settings: &Settings,
        script: &str,
        seconds: u64,
        input: &Path,
        api_key: &str,
        server: &Server,
    ) -> Result<WrkFigures> {
        let output = Command::new(&self.wrk)
            .args(["-t", &settings.wrk_threads.to_string()])
            .args(["-c", &settings.connections.to_string()])
            .args(["-d", &format!("{seconds}s")])
            .args(["--timeout", "10s"])
            .arg("-s")
            .arg(self.scripts.join(script))
            .arg(format!("{}/graphql", server.base_url))
            .arg("--")
            .arg(input)
            .arg(api_key)
            .output()
            .context("cannot run wrk")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        ensure!(output.status.success(), "wrk failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
        let mut figures = WrkFigures { values: HashMap::new(), first_failure: None };
        for line in stdout.lines() {
            let Some(rest) = line.strip_prefix("bench ") else { continue };
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            if name == "first_failure" {
                figures.first_failure = Some(value.to_owned());
            } else if let Ok(value) = value.parse() {
                figures.values.insert(name.to_owned(), value);
            }
        }
        ensure!(figures.values.contains_key("requests"), "wrk printed no figures:\n{stdout}");
        Ok(figures)
    }

    /// pgbench on the SQL of one heartbeat, one heartbeat per transaction: the bare database's
    /// rate, the reference the server's batched path is measured against.
    async fn pgbench(
        &self,
        settings: &Settings,
        server: &Server,
        pool: &PgPool,
        workdir: &Path,
        client_key: &str,
    ) -> Result<f64> {
        sqlx::query("DROP TABLE IF EXISTS bench_tokens").execute(pool).await?;
        sqlx::query("CREATE TABLE bench_tokens (n serial PRIMARY KEY, token uuid NOT NULL)").execute(pool).await?;
        let filled = sqlx::query(
            "INSERT INTO bench_tokens (token) SELECT session_token FROM license_sessions
             WHERE last_heartbeat_at > now() - make_interval(secs => $1)",
        )
        .bind(SESSION_TIMEOUT_SECS as f64)
        .execute(pool)
        .await?
        .rows_affected();
        sqlx::query("ANALYZE bench_tokens").execute(pool).await?;
        ensure!(filled > 0, "no live session is left for pgbench");
        settle(pool).await?;
        let digest: String = Sha256::digest(client_key.as_bytes()).iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
        // The bare database work of one heartbeat, as a server without batching would do it:
        // the API-key lookup, then the session's update and the heartbeat row in one statement,
        // one commit per heartbeat.
        let statements = format!(
            "SELECT id, scope FROM api_keys WHERE key_digest = decode('{digest}', 'hex') AND revoked_at IS NULL;\n\
             WITH touched AS (UPDATE license_sessions s SET last_heartbeat_at = greatest(s.last_heartbeat_at, now()) \
             FROM bench_tokens b WHERE b.n = :n AND s.session_token = b.token \
             AND s.last_heartbeat_at > now() - make_interval(secs => {SESSION_TIMEOUT_SECS}) \
             RETURNING s.id, s.license_id, s.device_id) \
             INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at) \
             SELECT id, license_id, device_id, now() FROM touched;"
        );
        let script = workdir.join("heartbeat.pgbench");
        std::fs::write(&script, format!("\\set n random(1, {filled})\n{statements}\n"))?;
        let output = Command::new(&self.pgbench)
            .arg("-n")
            .args(["-c", &settings.connections.to_string()])
            .args(["-j", &settings.wrk_threads.to_string()])
            .args(["-T", &settings.seconds.to_string()])
            .arg("-f")
            .arg(&script)
            .args(["-h", &server.data_dir.join("run").to_string_lossy(), "-U", "postgres", "license_server"])
            .env("PGPASSWORD", license_server::embedded_pg::superuser_password(&server.data_dir)?)
            .output()
            .context("cannot run pgbench")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        ensure!(output.status.success(), "pgbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
        stdout
            .lines()
            .rev()
            .find_map(|line| line.trim().strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no `tps = ` in pgbench's output:\n{stdout}"))
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|path| path.is_file())
}

/// The `bench name value` lines a wrk script's `done()` prints.
struct WrkFigures {
    values: HashMap<String, i64>,
    first_failure: Option<String>,
}

impl WrkFigures {
    fn get(&self, name: &str) -> i64 {
        self.values.get(name).copied().unwrap_or(0)
    }

    fn seconds(&self) -> f64 {
        self.get("duration_us") as f64 / 1e6
    }

    fn rate(&self) -> f64 {
        self.get("requests") as f64 / self.seconds().max(1e-9)
    }

    fn millis(&self, name: &str) -> f64 {
        self.get(name) as f64 / 1000.0
    }

    /// Socket errors plus responses that were not the expected answer (non-2xx included).
    fn errors(&self) -> i64 {
        self.get("socket_errors") + self.get("failed")
    }

    fn print_rate(&self, what: &str) {
        println!("  {what:<20} {:.0} ({} requests in {:.1} s)", self.rate(), self.get("requests"), self.seconds());
        println!(
            "  latency:             p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.millis("p50_us"),
            self.millis("p99_us"),
            self.millis("p99.9_us"),
            self.millis("max_us")
        );
    }
}
