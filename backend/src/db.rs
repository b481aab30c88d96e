//! Connecting to PostgreSQL: the configured URL, or the embedded cluster.

use std::str::FromStr;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::config::DatabaseArgs;
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
