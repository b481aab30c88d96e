//! The embedded default: with no `DATABASE_URL`, the server runs its own PostgreSQL cluster in
//! the data directory with the system's `initdb`/`pg_ctl`, reachable only on a Unix socket.
//!
//! PostgreSQL refuses to run as root; when the server is root, the cluster runs as the
//! `postgres` system user (which the Debian package creates).
//!
//! The cluster is private to its owner: the data directory and the socket's directory are 0700,
//! the socket itself 0700 (`unix_socket_permissions`), and every connection must give the
//! password (`scram-sha-256`, the only line of `pg_hba.conf`), which the server generates once and
//! keeps in `<data-dir>/postgres.password` (0600, owned by the server's user: when the server is
//! root, not even other processes of the `postgres` user can read it). A cluster made by an older
//! version (`--auth=trust`, directories as the umask left them) is brought to this state when it
//! starts.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Output;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore as _;
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection};
use tokio::process::Command;

const DATABASE: &str = "license_server";
const SUPERUSER: &str = "postgres";
/// Only names the socket file; nothing listens on TCP.
const PORT: u16 = 5432;
/// The superuser's password, in the data directory.
const PASSWORD_FILE: &str = "postgres.password";
/// The whole of the cluster's `pg_hba.conf`.
const HBA: &str = "# Written by the license server (embedded_pg.rs): connections only on the Unix socket, each with\n\
                   # the password the server keeps in postgres.password beside the cluster's directory.\n\
                   local all all scram-sha-256\n";
/// Only the owner may enter.
const PRIVATE: u32 = 0o700;

pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    cluster_dir: PathBuf,
    socket_dir: PathBuf,
    password: String,
    run_as_postgres: bool,
    /// Whether this process started the cluster (and so stops it); a cluster found running
    /// belongs to whoever started it, e.g. a server while the CLI creates a key.
    started_here: bool,
}

/// The directory holding the PostgreSQL programs `tools` (all of them): `PG_BIN_DIR`,
/// `pg_config --bindir`, Debian's versioned directories (newest first, so that `pg_dump` is never
/// older than the server it dumps), or `PATH`. `package` is the Debian package to suggest.
pub fn find_pg_bin_dir(tools: &[&str], package: &str) -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| tools.iter().all(|tool| dir.join(tool).is_file());
    if let Some(dir) = std::env::var_os("PG_BIN_DIR").map(PathBuf::from) {
        if has_tools(&dir) {
            return Ok(dir);
        }
        bail!("PG_BIN_DIR={} does not contain {}", dir.display(), tools.join(" and "));
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(out) = std::process::Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, dir)| dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|dir| has_tools(dir)).with_context(|| {
        format!(
            "the PostgreSQL programs {} were not found. Install them with `apt-get install {package}`, \
             or set PG_BIN_DIR to the directory holding them",
            tools.join(", ")
        )
    })
}

/// Where `initdb` and `pg_ctl` live.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    find_pg_bin_dir(&["initdb", "pg_ctl"], "postgresql")
        .context("the embedded PostgreSQL needs the server binaries; or set DATABASE_URL to use an existing server")
}

async fn run(cmd: &mut Command, what: &str) -> anyhow::Result<Output> {
    let output = cmd.output().await.with_context(|| format!("could not run {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

fn id_of(args: &[&str]) -> anyhow::Result<u32> {
    let out = std::process::Command::new("id").args(args).output().context("could not run `id`")?;
    if !out.status.success() {
        bail!("`id {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// The superuser's password from `file`, made (256 random bits) and stored 0600 on first use.
/// The superuser on the cluster's Unix socket in `socket_dir`.
fn socket_options(socket_dir: &Path, password: &str, database: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        // A Unix socket carries no TLS: a PGSSLMODE=require meant for another server (sqlx
        // reads it here, as libpq does) must not stop the embedded cluster.
        .ssl_mode(PgSslMode::Disable)
        .socket(socket_dir)
        .port(PORT)
        .username(SUPERUSER)
        .password(password)
        .database(database)
}

/// The superuser's password of the embedded cluster in `data_dir`, for another process of its
/// owner (the heartbeat benchmark's seeding and pgbench) next to a server that runs the cluster.
pub fn superuser_password(data_dir: &Path) -> anyhow::Result<String> {
    let file = data_dir.join(PASSWORD_FILE);
    let password = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(password.trim().to_owned())
}

/// How another process of the owner connects to the server's database in the embedded cluster
/// of `data_dir` (which a server started): its Unix socket, as the superuser, with the password.
pub fn server_database_options(data_dir: &Path) -> anyhow::Result<PgConnectOptions> {
    Ok(socket_options(&data_dir.join("run"), &superuser_password(data_dir)?, DATABASE))
}

fn read_or_create_password(file: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(file) {
        Ok(password) if !password.trim().is_empty() => {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
            return Ok(password.trim().to_owned());
        }
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", file.display())),
    }
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    // Written whole under another name, then renamed: a reader never sees half a password.
    let partial = file.with_extension("password.partial");
    let _ = std::fs::remove_file(&partial);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    out.write_all(password.as_bytes())?;
    out.sync_all()?;
    std::fs::rename(&partial, file)?;
    Ok(password)
}

impl EmbeddedPostgres {
    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        if self.run_as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.arg("-u").arg(SUPERUSER).arg("--").arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let cluster_dir = data_dir.join("postgres");
        let socket_dir = data_dir.join("run");
        std::fs::create_dir_all(&socket_dir)?;
        if std::fs::metadata(&data_dir)?.permissions().mode() & 0o1000 != 0 {
            bail!(
                "the data directory {} is a shared one (sticky bit, like /tmp): choose a directory of its own",
                data_dir.display()
            );
        }
        for dir in [&data_dir, &socket_dir] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE))
                .with_context(|| format!("cannot make {} private (0700)", dir.display()))?;
        }
        let password = read_or_create_password(&data_dir.join(PASSWORD_FILE))?;
        let run_as_postgres = id_of(&["-u"])? == 0;
        let mut embedded =
            EmbeddedPostgres { bin_dir, cluster_dir, socket_dir, password, run_as_postgres, started_here: false };
        if run_as_postgres {
            embedded.hand_over_to_postgres_user(&data_dir).await?;
        }
        if !embedded.cluster_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %embedded.cluster_dir.display(), "creating the embedded PostgreSQL cluster");
            // Trusted only until `require_password` below, which runs before anything else
            // connects; until then only the owner can reach the socket (0700 directory).
            run(
                embedded.command("initdb").arg("-D").arg(&embedded.cluster_dir).args([
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]),
                "initdb",
            )
            .await?;
        }
        let running = embedded
            .command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&embedded.cluster_dir)
            .output()
            .await?
            .status
            .success();
        if !running {
            let options = format!(
                "-c listen_addresses='' -c unix_socket_permissions=0700 -k {} -p {PORT}",
                embedded.socket_dir.display()
            );
            run(
                embedded
                    .command("pg_ctl")
                    .arg("start")
                    .arg("-D")
                    .arg(&embedded.cluster_dir)
                    .arg("-l")
                    .arg(data_dir.join("postgres.log"))
                    .args(["-w", "-t", "60", "-o", &options]),
                "pg_ctl start",
            )
            .await
            .with_context(|| format!("see {}", data_dir.join("postgres.log").display()))?;
            embedded.started_here = true;
            tracing::info!(socket = %embedded.socket_dir.display(), "embedded PostgreSQL started");
        }
        embedded.require_password().await?;
        embedded.create_database().await?;
        Ok(embedded)
    }

    /// Sets the superuser's password and makes the cluster ask for it, if its `pg_hba.conf` is
    /// not ours yet (a new cluster, or one made by an older version, which trusted every local
    /// user). Idempotent: a start interrupted half-way does it again.
    async fn require_password(&self) -> anyhow::Result<()> {
        let hba = self.cluster_dir.join("pg_hba.conf");
        if std::fs::read_to_string(&hba).is_ok_and(|current| current == HBA) {
            return Ok(());
        }
        tracing::info!(hba = %hba.display(), "the embedded PostgreSQL now requires its password");
        let mut conn = self.options("postgres").connect().await.context("cannot connect to the embedded PostgreSQL")?;
        // Utility statements take no parameters: the password goes in as a quoted literal.
        let literal = self.password.replace('\'', "''");
        sqlx::query(&format!("ALTER ROLE {SUPERUSER} PASSWORD '{literal}'")).execute(&mut conn).await?;
        // Rewriting in place keeps the file's owner (the cluster's user) and mode.
        std::fs::write(&hba, HBA).with_context(|| format!("cannot write {}", hba.display()))?;
        let reloaded: bool = sqlx::query_scalar("SELECT pg_reload_conf()").fetch_one(&mut conn).await?;
        if !reloaded {
            bail!("the embedded PostgreSQL did not reload {}", hba.display());
        }
        conn.close().await?;
        Ok(())
    }

    async fn hand_over_to_postgres_user(&self, data_dir: &Path) -> anyhow::Result<()> {
        let uid = id_of(&["-u", SUPERUSER]).context(
            "running as root, the embedded PostgreSQL needs the `postgres` system user (apt-get install postgresql)",
        )?;
        let gid = id_of(&["-g", SUPERUSER])?;
        for dir in [data_dir, &self.socket_dir] {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
        }
        let reachable = Command::new("runuser")
            .args(["-u", SUPERUSER, "--", "test", "-w"])
            .arg(data_dir)
            .status()
            .await
            .context("could not run runuser")?
            .success();
        if !reachable {
            bail!(
                "the embedded PostgreSQL runs as user `postgres` when the server runs as root, and that user cannot \
                 reach {}: choose a --data-dir it can reach (e.g. /var/lib/license-server) or set DATABASE_URL",
                data_dir.display()
            );
        }
        Ok(())
    }

    fn options(&self, database: &str) -> PgConnectOptions {
        socket_options(&self.socket_dir, &self.password, database)
    }

    async fn create_database(&self) -> anyhow::Result<()> {
        let mut conn = self.options("postgres").connect().await.with_context(|| {
            format!(
                "cannot connect to the embedded PostgreSQL (if {PASSWORD_FILE} in the data directory was lost: \
                 put `local all all trust` in {} alone, and the next start sets a new password)",
                self.cluster_dir.join("pg_hba.conf").display()
            )
        })?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut conn)
            .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {DATABASE}")).execute(&mut conn).await?;
        }
        conn.close().await?;
        Ok(())
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        self.options(DATABASE)
    }

    /// Stops the cluster if this process started it.
    pub async fn stop(self) {
        if !self.started_here {
            return;
        }
        let result = run(
            self.command("pg_ctl").arg("stop").arg("-D").arg(&self.cluster_dir).args(["-m", "fast", "-w"]),
            "pg_ctl stop",
        )
        .await;
        match result {
            Ok(_) => tracing::info!("embedded PostgreSQL stopped"),
            Err(err) => tracing::error!(error = ?err, "stopping the embedded PostgreSQL failed"),
        }
    }
}
