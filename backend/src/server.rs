//! `license-server serve`: migrations, background work, the listener and graceful shutdown, and the
//! one application builder that `serve`, the tests and the benchmarks share.

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;

use anyhow::Context as _;
use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tower::Layer;

use crate::app::{AppState, Settings};
use crate::config::ServeArgs;
use crate::db::{Database, Pools};
use crate::{analytics, backups, compaction, dashboard, http, metrics, partitions, sessions};

/// One instance: its state, its router and, once started, its background work. `serve`, the
/// tests and the benchmarks all build the server through this, so what they run is the same.
pub struct Application {
    pub state: AppState,
    settings: Settings,
    frontend_dir: Option<PathBuf>,
}

impl Application {
    /// Needs a running Tokio runtime (the heartbeat writer and the event listener start here).
    /// `pools` come from [`Pools::connect`], as `serve` makes them.
    pub fn new(pools: &Pools, settings: Settings) -> Self {
        Application { state: AppState::new(pools, &settings), settings, frontend_dir: None }
    }

    /// Serves the built dashboard from `dir` for every path no other route takes.
    pub fn with_dashboard(mut self, dir: impl Into<PathBuf>) -> Self {
        self.frontend_dir = Some(dir.into());
        self
    }

    /// The whole HTTP surface: GraphQL, WebSocket, health, metrics and, if set, the dashboard.
    pub fn router(&self) -> Router {
        let router = http::router(
            self.state.clone(),
            self.state.schema(),
            self.settings.max_body_bytes,
            self.settings.header_read_timeout,
        )
        .layer(axum::middleware::from_fn(metrics::track_requests));
        match &self.frontend_dir {
            Some(dir) => router.fallback_service(dashboard::service(dir)),
            None => router,
        }
    }

    /// The instance's background work (cleanup, partitions, heartbeat compaction, analytics
    /// rollups, sign-in purge, backups),
    /// coordinated with other instances through the database; aborted when the result is dropped.
    pub fn start_background(&self) -> BackgroundTasks {
        let state = &self.state;
        BackgroundTasks(vec![
            tokio::spawn(sessions::cleanup::run(state.client_pool.clone(), state.sessions)),
            tokio::spawn(partitions::run(state.pool.clone(), self.settings.partitions)),
            tokio::spawn(compaction::run(state.pool.clone(), self.settings.partitions)),
            tokio::spawn(analytics::rollups::run(state.pool.clone())),
            tokio::spawn(purge_sign_in_leftovers(state.pool.clone(), state.auth.sessions)),
            tokio::spawn(backups::schedule::run(state.pool.clone(), state.backups.clone())),
            tokio::spawn(backups::git_remote::run(state.pool.clone(), state.backups.clone())),
            tokio::spawn(crate::rate_limit::run_upkeep(state.limits.clone())),
            tokio::spawn(crate::leases::run_refresh(state.leases.clone())),
        ])
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish.
    ///
    /// HTTP/1 with upgrades (WebSockets), the peer's address as `ConnectInfo<SocketAddr>`, and a
    /// deadline for a request's headers (`header_read_timeout`, which also bounds how long a
    /// kept-alive connection may sit idle): a client that opens connections and sends its
    /// headers slowly, or nothing at all, cannot hold them open. Upgraded connections are on
    /// their own once upgraded; shutdown waits for requests in flight, not for WebSockets.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(self.settings.header_read_timeout);
        // Dropping `stop` asks every connection to finish; each holds a clone of `open`, so
        // `all_closed` yields `None` once they have.
        let (stop, stopped) = watch::channel(());
        let (open, mut all_closed) = mpsc::channel::<Infallible>(1);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        accept_failed(err).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let service = TowerToHyperService::new(Extension(ConnectInfo(peer)).layer(router.clone()));
            let connection = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
            let (mut stopped, open) = (stopped.clone(), open.clone());
            tokio::spawn(async move {
                let mut connection = std::pin::pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    _ = stopped.changed() => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(err) = result {
                    // Timeouts and clients that hang up: theirs, not ours.
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
                drop(open);
            });
        }
        drop(listener);
        drop(stop);
        drop(open);
        all_closed.recv().await;
        Ok(())
    }
}

/// Errors of `accept` that concern one connection are skipped; others (out of file descriptors)
/// get a pause, so that the loop does not spin until they pass.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
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
    backups::pre_migration::migrate(&database.pool, &settings.backups).await?;
    backups::jobs::recover(&database.pool, &settings.backups)
        .await
        .context("marking interrupted backup jobs failed")?;
    partitions::maintain(&database.pool, settings.partitions).await?;
    if let Some(schedule) = &settings.backups.schedule {
        backups::schedule::check_timezone(&database.pool, &schedule.timezone).await?;
    }
    backups::encryption::check_at_start(&settings.backups)?;
    let app = Application::new(&database.pools(), settings).with_dashboard(&args.frontend_dir);
    // The first start creates the signing key, before any client can ask for a lease.
    app.state.leases.refresh().await.context("reading or creating the lease signing key")?;
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
