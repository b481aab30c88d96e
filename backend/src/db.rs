//! Connecting to PostgreSQL: the configured URL, or the embedded cluster; and the two pools of an
//! instance.
//!
//! **The client path has connections of its own.** Heartbeats, activation, validation, ending a
//! session, the API-key check in front of them and the session cleanup use the client pool;
//! everything else (dashboard sign-in, admin and analyst queries, `LISTEN`, backups, partition
//! maintenance) uses the general pool. However many logins or analyst queries wait for a
//! general connection, none of them can take one the client path needs.
//!
//! **Only the general pool has a statement timeout.** A statement on it that runs longer than
//! STATEMENT_TIMEOUT_SECS is cancelled by PostgreSQL (reported as `QUERY_TIMEOUT`); work that
//! legitimately runs longer (migrations, partition maintenance) runs on a connection of its own
//! without the limit ([`unlimited_connection`]), as do `pg_dump` and `pg_restore`. The client
//! pool sets no limit at all (`statement_timeout = 0`, whatever the role's default): a heartbeat
//! never fails by timeout.
//!
//! **A read replica, if configured** (DATABASE_READ_URL), gets a third pool, used only for what
//! `crate::read_replica` routes there: analysts' and the dashboard's read-only operations.
//!
//! **TLS** follows `sslmode` (and `sslrootcert`) in the URLs, as with libpq: sqlx is built with
//! rustls; `prefer`, the default, uses TLS when the server offers it, without checking its
//! certificate; `verify-ca` and `verify-full` check it against `sslrootcert` (and the Web PKI
//! roots). Unix sockets never use TLS.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, PgConnection, PgPool};

use crate::embedded_pg::EmbeddedPostgres;
use crate::secret::SecretString;

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL. Without it the server runs its own cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// Where the embedded PostgreSQL cluster lives when DATABASE_URL is not set.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Maximum connections of the general pool (dashboard, admin and analyst work, background jobs).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = PoolSettings::DEFAULT.max_connections, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,
    /// Maximum connections of the client pool (heartbeats, activation, validation, end, cleanup),
    /// which nothing else may use.
    #[arg(long, env = "DATABASE_CLIENT_CONNECTIONS", default_value_t = PoolSettings::DEFAULT.client_connections, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub database_client_connections: u32,
    /// Longest a statement on the general pool may run, in seconds (0: no limit). The client
    /// pool never has one.
    #[arg(long, env = "STATEMENT_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(0..=86400))]
    pub statement_timeout_secs: u32,
    /// Longest a request waits for a pooled connection before it fails, in seconds.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub database_acquire_timeout_secs: u32,
    /// PostgreSQL URL of a read replica (a streaming standby of DATABASE_URL): analysts' and the
    /// dashboard's read-only operations read there.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<SecretString>,
    /// Maximum connections of the read replica's pool.
    #[arg(long, env = "DATABASE_READ_MAX_CONNECTIONS", default_value_t = PoolSettings::DEFAULT.read_connections, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_read_max_connections: u32,
}

impl DatabaseArgs {
    pub fn pool_settings(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.database_max_connections,
            client_connections: self.database_client_connections,
            read_connections: self.database_read_max_connections,
            statement_timeout: (self.statement_timeout_secs > 0)
                .then(|| Duration::from_secs(self.statement_timeout_secs.into())),
            acquire_timeout: Duration::from_secs(self.database_acquire_timeout_secs.into()),
        }
    }
}

/// How the two pools are sized and limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Size of the general pool.
    pub max_connections: u32,
    /// Size of the client pool. The heartbeat writer writes one batch at a time (its
    /// `MAX_IN_FLIGHT`) plus the odd heartbeat whose row was held; the cleanup takes one; the
    /// rest serves activations, validations, ends and API-key checks, each a short transaction.
    pub client_connections: u32,
    /// Size of the read replica's pool, when there is one.
    pub read_connections: u32,
    /// `statement_timeout` of the general (and read replica's) pool's connections; `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// How long acquiring a connection from either pool may wait.
    pub acquire_timeout: Duration,
}

impl PoolSettings {
    pub const DEFAULT: PoolSettings = PoolSettings {
        max_connections: 20,
        client_connections: 10,
        read_connections: 20,
        statement_timeout: Some(Duration::from_secs(15)),
        acquire_timeout: Duration::from_secs(10),
    };
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings::DEFAULT
    }
}

/// The client path's pool, a type of its own so that resolvers take it from the GraphQL context
/// by type (`ctx.data_unchecked::<ClientPool>()`) and nothing picks it up by accident.
#[derive(Debug, Clone)]
pub struct ClientPool(PgPool);

impl std::ops::Deref for ClientPool {
    type Target = PgPool;

    fn deref(&self) -> &PgPool {
        &self.0
    }
}

/// An instance's two pools on one database, and the read replica's if there is one.
#[derive(Debug, Clone)]
pub struct Pools {
    /// Everything but the client path; statements carry the statement timeout.
    pub general: PgPool,
    /// The client path only; no statement timeout.
    pub client: ClientPool,
    /// The read replica (DATABASE_READ_URL); statements carry the statement timeout.
    pub read: Option<PgPool>,
}

/// The general pool on the primary, for the few reads that must see the latest writes whatever
/// the operation reads from otherwise (sign-in state: `me`, the user's own dashboard sessions).
#[derive(Debug, Clone)]
pub struct PrimaryPool(pub PgPool);

impl Pools {
    /// Both pools on the database `options` names. `serve` (through [`Database::connect`]), the
    /// tests and the benchmarks all build them here.
    pub async fn connect(options: &PgConnectOptions, settings: &PoolSettings) -> anyhow::Result<Pools> {
        // A backstop: a transaction left open by mistake is ended by the server instead of
        // holding its row locks (and the hot path behind them) for good.
        let options = backstop(options);
        let general = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(with_statement_timeout(&options, settings))
            .await
            .context("cannot connect to PostgreSQL (check DATABASE_URL)")?;
        let client = PgPoolOptions::new()
            .max_connections(settings.client_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(without_statement_timeout(&options));
        Ok(Pools { general, client: ClientPool(client), read: None })
    }

    /// Adds the read replica's pool on the database `options` names. It connects only once used,
    /// so a replica that is down does not stop start-up (reads go to the primary meanwhile).
    /// Its sessions are read-only: a write that reached it by mistake fails instead of landing
    /// on a database that is not the primary.
    pub fn with_read_replica(mut self, options: &PgConnectOptions, settings: &PoolSettings) -> Pools {
        let options = backstop(options).options([("default_transaction_read_only", "on")]);
        let read = PgPoolOptions::new()
            .max_connections(settings.read_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(with_statement_timeout(&options, settings));
        self.read = Some(read);
        self
    }

    pub async fn close(&self) {
        self.general.close().await;
        self.client.close().await;
        if let Some(read) = &self.read {
            read.close().await;
        }
    }
}

/// A backstop: a transaction left open by mistake is ended by the server instead of holding its
/// row locks (and the hot path behind them) for good.
///
/// And no JIT compilation: every statement here is bounded by indexes and limits and runs in
/// milliseconds, while a plan whose estimate passes `jit_above_cost` (a generic plan over a
/// partitioned history, say) spent some 90 ms compiling before a 5 ms execution.
///
/// And random reads priced as the cached reads they are (`random_page_cost` 1.1, PostgreSQL's
/// default of 4 prices a disk seek): a license server's tables are small enough to stay in memory,
/// and with the default the planner read a page's few devices per license through a bitmap
/// rather than their index, which cost the nested reads some 20 % of their throughput.
fn backstop(options: &PgConnectOptions) -> PgConnectOptions {
    options.clone().options([
        ("idle_in_transaction_session_timeout", "60s"),
        ("jit", "off"),
        ("random_page_cost", "1.1"),
    ])
}

/// `options` with the configured statement timeout.
fn with_statement_timeout(options: &PgConnectOptions, settings: &PoolSettings) -> PgConnectOptions {
    let timeout = settings.statement_timeout.map_or_else(|| "0".to_owned(), |t| format!("{}ms", t.as_millis()));
    options.clone().options([("statement_timeout", timeout.as_str())])
}

/// `options` with `statement_timeout = 0`, whatever it said before (the last `-c` wins).
fn without_statement_timeout(options: &PgConnectOptions) -> PgConnectOptions {
    options.clone().options([("statement_timeout", "0")])
}

/// A connection of its own (not from `pool`, not counted in it) to `pool`'s database, without
/// the statement timeout: for background work that legitimately runs long.
pub async fn unlimited_connection(pool: &PgPool) -> sqlx::Result<PgConnection> {
    without_statement_timeout(&pool.connect_options()).connect().await
}

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The pools plus, when no URL was given, the embedded cluster they talk to (stopped on `shutdown`).
pub struct Database {
    /// The general pool (the CLI commands use it, too).
    pub pool: PgPool,
    /// The client path's pool; it connects only once used.
    pub client_pool: ClientPool,
    /// The read replica's pool (DATABASE_READ_URL); it connects only once used.
    pub read_pool: Option<PgPool>,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    pub async fn connect(args: &DatabaseArgs) -> anyhow::Result<Self> {
        let (options, embedded) = match &args.database_url {
            Some(url) => {
                (PgConnectOptions::from_str(url.expose()).context("DATABASE_URL is not a valid PostgreSQL URL")?, None)
            }
            None => {
                let embedded = EmbeddedPostgres::start(&args.data_dir).await?;
                (embedded.connect_options(), Some(embedded))
            }
        };
        let settings = args.pool_settings();
        let mut pools = Pools::connect(&options, &settings).await?;
        if let Some(url) = &args.database_read_url {
            let options =
                PgConnectOptions::from_str(url.expose()).context("DATABASE_READ_URL is not a valid PostgreSQL URL")?;
            pools = pools.with_read_replica(&options, &settings);
        }
        let Pools { general, client, read } = pools;
        Ok(Database { pool: general, client_pool: client, read_pool: read, embedded })
    }

    pub fn pools(&self) -> Pools {
        Pools { general: self.pool.clone(), client: self.client_pool.clone(), read: self.read_pool.clone() }
    }

    pub async fn shutdown(self) {
        self.pools().close().await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
    }
}
