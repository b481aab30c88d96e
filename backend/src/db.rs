//! Connecting to PostgreSQL: the configured URL, or the embedded cluster.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context as _;
use clap::Args;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::secret::SecretString;

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL. Without it the server runs its own cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// Where the embedded PostgreSQL cluster lives when DATABASE_URL is not set.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Maximum connections in the database pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,
}

use crate::embedded_pg::EmbeddedPostgres;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pool plus, when no URL was given, the embedded cluster it talks to (stopped on `shutdown`).
pub struct Database {
    pub pool: PgPool,
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
        // A backstop: a transaction left open by mistake is ended by the server instead of
        // holding its row locks (and the hot path behind them) for good.
        let options = options.options([("idle_in_transaction_session_timeout", "60s")]);
        let pool = PgPoolOptions::new()
            .max_connections(args.database_max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .context("cannot connect to PostgreSQL (check DATABASE_URL)")?;
        Ok(Database { pool, embedded })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await.context("applying database migrations failed")
    }

    pub async fn shutdown(self) {
        self.pool.close().await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
    }
}
