//! Nested reads side by side with PostGraphile 4: the same seeded database served by this
//! server's release build (the binary `make run` starts, with an analyst key) and by PostGraphile
//! with its defaults (`postgraphile -c DATABASE_URL --schema public`, installed from npm at the
//! version pinned in `postgraphile/package-lock.json`), each driven by wrk with the same nested
//! read: customers ordered by name → their licenses → their devices' fingerprint and name, at 10
//! and at 50 customers per page. Prints requests per second, p99 and errors for both, and the
//! ratio. Before timing, both answers to each page are checked to hold the same devices.
//!
//! Settings (environment): BENCH_NESTED_SECONDS (15 per case), BENCH_NESTED_CONNECTIONS (16).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use license_server::api_keys;
use license_server::auth::{Actor, Scope};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::env_or;

const OUR_QUERY: &str = "query($n: Int!) { customers(first: $n, orderBy: [{field: NAME}]) { nodes { name
    licenses { licenseKey devices { hardwareFingerprint deviceName } } } } }";

/// The same read in PostGraphile's generated schema: customers by name, then by primary key as
/// ours breaks ties by id; the active devices, as `License.devices` lists them.
const THEIR_QUERY: &str = "query($n: Int!) { allCustomers(first: $n, orderBy: [NAME_ASC, PRIMARY_KEY_ASC]) {
    nodes { name licensesByCustomerId { nodes { licenseKey
        deviceRegistrationsByLicenseId(condition: {isActive: true}) { nodes { hardwareFingerprint deviceName } } } } } } }";

const PAGES: [u64; 2] = [10, 50];

/// One server under test: its process, where it answers, and its log.
struct Served {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl Served {
    /// Starts `command` (told its port by `port`), waiting until `/graphql` answers a query.
    async fn start(
        name: &'static str,
        mut command: Command,
        port: u16,
        workdir: &Path,
        key: Option<&str>,
    ) -> Result<Self> {
        let log = workdir.join(format!("{name}.log"));
        let child = command
            .current_dir(workdir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(workdir.join(format!("{name}.err")))?)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let mut served = Served { child, endpoint: format!("http://127.0.0.1:{port}/graphql"), log };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = served.child.try_wait()? {
                bail!("{name} exited ({status}) during start-up; see {}", served.log.display());
            }
            if post(&served.endpoint, key, &json!({"query": "{ __typename }"})).await.is_ok() {
                return Ok(served);
            }
            if Instant::now() > deadline {
                bail!("{name} did not answer within two minutes; see {}", served.log.display());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// POSTs `body`, failing on anything but 200 with `data` and no `errors`.
async fn post(endpoint: &str, key: Option<&str>, body: &Value) -> Result<Value> {
    let mut request = reqwest::Client::new().post(endpoint).json(body);
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    let response = request.send().await?;
    let status = response.status();
    let reply: Value = response.json().await?;
    ensure!(status == 200 && reply.get("errors").is_none() && reply.get("data").is_some(), "{status}: {reply}");
    Ok(reply)
}

/// How many devices an answer lists: `nodes` at each level under the root field.
fn devices(reply: &Value, root: &str, licenses: &str, devices: &str) -> usize {
    let nodes = |value: &Value| value["nodes"].as_array().cloned().unwrap_or_default();
    let customers = reply["data"][root]["nodes"].as_array().cloned().unwrap_or_default();
    customers
        .iter()
        .flat_map(|c| {
            let listed = &c[licenses];
            if listed.is_array() {
                listed.as_array().cloned().unwrap_or_default()
            } else {
                nodes(listed)
            }
        })
        .map(|l| {
            let listed = &l[devices];
            if listed.is_array() {
                listed.as_array().map_or(0, Vec::len)
            } else {
                nodes(listed).len()
            }
        })
        .sum()
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(program)).find(|p| p.is_file())
}

/// PostGraphile's command, installed by `npm ci` from the committed lock file into the
/// (git-ignored) `node_modules` beside it when missing.
fn postgraphile() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bench/postgraphile");
    let bin = dir.join("node_modules/.bin/postgraphile");
    if !bin.is_file() {
        let npm = on_path("npm").context("npm is needed to install PostGraphile (Debian: apt-get install npm)")?;
        eprintln!("installing PostGraphile (npm ci in {}) …", dir.display());
        let status = Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .context("cannot run npm")?;
        ensure!(status.success() && bin.is_file(), "npm ci in {} failed", dir.display());
    }
    Ok(bin)
}

/// wrk's figures for one case.
struct Figures {
    per_second: f64,
    p99_ms: f64,
    errors: u64,
}

fn wrk(wrk: &Path, endpoint: &str, body_file: &Path, key: Option<&str>) -> Result<Figures> {
    let seconds = env_or("BENCH_NESTED_SECONDS", 15)?;
    let connections = env_or("BENCH_NESTED_CONNECTIONS", 16)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bench/wrk/graphql_read.lua");
    let output = Command::new(wrk)
        .args(["-t", "2", "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
        .arg(&script)
        .arg(endpoint)
        .arg("--")
        .arg(body_file)
        .arg(key.unwrap_or("-"))
        .output()
        .context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "wrk failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let value = |name: &str| -> f64 {
        stdout.lines().find_map(|line| line.strip_prefix(&format!("bench {name} "))?.trim().parse().ok()).unwrap_or(0.0)
    };
    if let Some(first) = stdout.lines().find_map(|line| line.strip_prefix("bench first_failure ")) {
        eprintln!("first failure: {first}");
    }
    ensure!(value("requests") > 0.0, "wrk printed no figures:\n{stdout}");
    Ok(Figures {
        per_second: value("requests") / (value("duration_us") / 1e6),
        p99_ms: value("p99_us") / 1000.0,
        errors: (value("failed") + value("socket_errors")) as u64,
    })
}

/// `url` with `sslmode=disable` unless it names a mode: both servers reach the database the way
/// `make run`'s embedded cluster is reached, and PostGraphile's client by default, without TLS.
fn without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        return url.to_owned();
    }
    format!("{url}{}sslmode=disable", if url.contains('?') { '&' } else { '?' })
}

/// Runs the comparison on the seeded database at `database_url`.
pub async fn run(database_url: &str, pool: &PgPool) -> Result<()> {
    let database_url = &without_tls(database_url);
    let wrk_bin = on_path("wrk").context("wrk is needed for the nested reads (scripts/setup.sh bench installs it)")?;
    let postgraphile = postgraphile()?;
    let workdir = std::env::temp_dir().join(format!("license-bench-nested-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    let key = api_keys::create(pool, &Actor::cli(), None, "bench-nested-analyst", Scope::Analyst).await?.key;

    let our_port = free_port()?;
    let mut ours = Command::new(env!("CARGO_BIN_EXE_license-server"));
    ours.arg("serve")
        .env("DATABASE_URL", database_url)
        .env("LISTEN_ADDR", format!("127.0.0.1:{our_port}"))
        .env("FRONTEND_DIR", workdir.join("no-dashboard"))
        .env("BACKUP_SCHEDULE", "false")
        .env("BACKUP_DIR", workdir.join("backups"))
        // PostGraphile limits nothing; the analyst's bucket would otherwise decide the figures.
        .env("RATE_LIMIT_ANALYST_KEY", "10000000/10000000")
        .env_remove("RUST_LOG");
    let ours = Served::start("license-server", ours, our_port, &workdir, Some(&key)).await?;
    let their_port = free_port()?;
    let mut theirs = Command::new(&postgraphile);
    theirs.args(["-c", database_url, "--schema", "public", "--port", &their_port.to_string()]);
    let theirs = Served::start("postgraphile", theirs, their_port, &workdir, None).await?;

    println!(
        "\nnested reads, wrk {} connections × {} s per case (customers by name → licenses → devices' fingerprint and name):\n",
        env_or("BENCH_NESTED_CONNECTIONS", 16)?,
        env_or("BENCH_NESTED_SECONDS", 15)?
    );
    println!(
        "{:<28} {:>12} {:>10} {:>8}   {:>12} {:>10} {:>8}   {:>6}",
        "page", "this req/s", "p99", "errors", "PG req/s", "p99", "errors", "ratio"
    );
    for page in PAGES {
        let our_body = json!({"query": OUR_QUERY, "variables": {"n": page}});
        let their_body = json!({"query": THEIR_QUERY, "variables": {"n": page}});
        let our_devices =
            devices(&post(&ours.endpoint, Some(&key), &our_body).await?, "customers", "licenses", "devices");
        let their_devices = devices(
            &post(&theirs.endpoint, None, &their_body).await?,
            "allCustomers",
            "licensesByCustomerId",
            "deviceRegistrationsByLicenseId",
        );
        ensure!(
            our_devices == their_devices && our_devices > 0,
            "{page} customers: {our_devices} devices here, {their_devices} from PostGraphile"
        );
        let (our_file, their_file) =
            (workdir.join(format!("ours-{page}.json")), workdir.join(format!("theirs-{page}.json")));
        std::fs::write(&our_file, our_body.to_string())?;
        std::fs::write(&their_file, their_body.to_string())?;
        let o = wrk(&wrk_bin, &ours.endpoint, &our_file, Some(&key))?;
        let t = wrk(&wrk_bin, &theirs.endpoint, &their_file, None)?;
        println!(
            "{:<28} {:>12.0} {:>7.1} ms {:>8}   {:>12.0} {:>7.1} ms {:>8}   {:>6.2}",
            format!("{page} customers ({our_devices} devices)"),
            o.per_second,
            o.p99_ms,
            o.errors,
            t.per_second,
            t.p99_ms,
            t.errors,
            o.per_second / t.per_second
        );
    }
    drop((ours, theirs));
    let _ = std::fs::remove_dir_all(&workdir);
    Ok(())
}
