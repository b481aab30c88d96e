//! `license-server serve`: migrations, background work, the listener and graceful shutdown, and the
//! one application builder that `serve`, the tests and the benchmarks share.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::app::{AppState, Settings};
use crate::config::ServeArgs;
use crate::db::Database;
use crate::{backups, dashboard, http, metrics, partitions, sessions};

/// One instance: its state, its router and, once started, its background work. `serve`, the
/// tests and the benchmarks all build the server through this, so what they run is the same.
pub struct Application {
    pub state: AppState,
    settings: Settings,
    frontend_dir: Option<PathBuf>,
}

impl Application {
    /// Needs a running Tokio runtime (the heartbeat writer and the event listener start here).
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        Application { state: AppState::new(pool, &settings), settings, frontend_dir: None }
    }

    /// Serves the built dashboard from `dir` for every path no other route takes.
    pub fn with_dashboard(mut self, dir: impl Into<PathBuf>) -> Self {
        self.frontend_dir = Some(dir.into());
        self
    }

    /// The whole HTTP surface: GraphQL, WebSocket, health, metrics and, if set, the dashboard.
    pub fn router(&self) -> Router {
        let router = http::router(self.state.clone(), self.state.schema(), self.settings.max_body_bytes)
            .layer(axum::middleware::from_fn(metrics::track_requests));
        match &self.frontend_dir {
            Some(dir) => router.fallback_service(dashboard::service(dir)),
            None => router,
        }
    }

    /// The instance's background work (cleanup, partitions, sign-in purge, backups),
    /// coordinated with other instances through the database; aborted when the result is dropped.
    pub fn start_background(&self) -> BackgroundTasks {
        let state = &self.state;
        BackgroundTasks(vec![
            tokio::spawn(sessions::cleanup::run(state.pool.clone(), state.sessions)),
            tokio::spawn(partitions::run(state.pool.clone(), self.settings.partitions)),
            tokio::spawn(purge_sign_in_leftovers(state.pool.clone(), state.auth.sessions)),
            tokio::spawn(backups::schedule::run(state.pool.clone(), state.backups.clone())),
            tokio::spawn(backups::git_remote::run(state.pool.clone(), state.backups.clone())),
        ])
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router().into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Background work of one instance. Aborted when dropped.
pub struct BackgroundTasks(Vec<JoinHandle<()>>);

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Expired dashboard sessions, spent throttle counters and old sign-in challenges are refused or
/// ignored anyway; this keeps their tables small (`admin::purge`). Every instance runs it, at
/// start and then every ten minutes; deleting twice is harmless.
async fn purge_sign_in_leftovers(pool: PgPool, policy: crate::admin::dashboard_sessions::SessionPolicy) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        ticker.tick().await;
        if let Err(err) = crate::admin::purge(&pool, &policy).await {
            tracing::warn!(error = ?err, "purging sign-in leftovers failed");
        }
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.settings().map_err(anyhow::Error::msg)?;
    let database = Database::connect(&args.database).await?;
    let result = run(&args, settings, &database).await;
    database.shutdown().await;
    result
}

async fn run(args: &ServeArgs, settings: Settings, database: &Database) -> anyhow::Result<()> {
    database.migrate().await?;
    partitions::maintain(&database.pool, settings.partitions).await?;
    if let Some(schedule) = &settings.backups.schedule {
        backups::schedule::check_timezone(&database.pool, &schedule.timezone).await?;
    }
    let app = Application::new(database.pool.clone(), settings).with_dashboard(&args.frontend_dir);
    let _background = app.start_background();
    let listener = TcpListener::bind(args.listen_addr)
        .await
        .with_context(|| format!("cannot listen on LISTEN_ADDR={}", args.listen_addr))?;
    let address = listener.local_addr()?;
    tracing::info!("license server listening on http://{address}/ (GraphQL at /graphql, GraphiQL at /graphiql)");
    app.serve(listener, shutdown_signal()).await?;
    tracing::info!("in-flight requests finished; shutting down");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
