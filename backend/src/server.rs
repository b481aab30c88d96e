//! `license-server serve`: migrations, background work, the listener and graceful shutdown.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::task::JoinHandle;

use crate::config::ServeArgs;
use crate::db::Database;
use crate::partitions::PartitionSettings;
use crate::state::AppState;
use crate::{backups, dashboard, graphql, http, metrics, partitions, sessions};

/// Background work of one instance, coordinated with other instances through the database.
/// Aborted when dropped.
pub struct BackgroundTasks(Vec<JoinHandle<()>>);

impl BackgroundTasks {
    pub fn spawn(state: &AppState, partitions: PartitionSettings) -> Self {
        BackgroundTasks(vec![
            tokio::spawn(sessions::cleanup::run(state.pool.clone(), state.sessions)),
            tokio::spawn(partitions::run(state.pool.clone(), partitions)),
            tokio::spawn(purge_dashboard_sessions(state.pool.clone(), state.auth.sessions)),
            tokio::spawn(backups::schedule::run(state.pool.clone(), state.backups.clone())),
            tokio::spawn(backups::git_remote::run(state.pool.clone(), state.backups.clone())),
        ])
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Dashboard sessions past their timeouts are refused anyway; this keeps the table small.
async fn purge_dashboard_sessions(pool: sqlx::PgPool, policy: crate::admin::dashboard_sessions::SessionPolicy) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        ticker.tick().await;
        if let Err(err) = crate::admin::dashboard_sessions::purge_expired(&pool, &policy).await {
            tracing::warn!(error = ?err, "purging expired dashboard sessions failed");
        }
    }
}

/// The router for `state`, with the schema built around it.
pub fn app(state: AppState, max_body_bytes: usize) -> axum::Router {
    http::router(state.clone(), graphql::build(Some(state.clone())), max_body_bytes)
        .merge(metrics::router(state))
        .layer(axum::middleware::from_fn(metrics::track_requests))
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let sessions = args.session_settings().map_err(anyhow::Error::msg)?;
    let database = Database::connect(&args.database).await?;
    let result = run(&args, sessions, &database).await;
    database.shutdown().await;
    result
}

async fn run(args: &ServeArgs, sessions: crate::config::SessionSettings, database: &Database) -> anyhow::Result<()> {
    database.migrate().await?;
    partitions::maintain(&database.pool, args.partition_settings()).await?;
    let backup_settings = args.backups.settings(&args.database);
    if let Some(schedule) = &backup_settings.schedule {
        backups::schedule::check_timezone(&database.pool, &schedule.timezone).await?;
    }
    let state =
        AppState::new(database.pool.clone(), sessions).with_auth(args.auth_settings()).with_backups(backup_settings);
    let _background = BackgroundTasks::spawn(&state, args.partition_settings());
    let listener = tokio::net::TcpListener::bind(args.listen_addr)
        .await
        .with_context(|| format!("cannot listen on LISTEN_ADDR={}", args.listen_addr))?;
    let address = listener.local_addr()?;
    tracing::info!("license server listening on http://{address}/ (GraphQL at /graphql, GraphiQL at /graphiql)");
    let router = app(state, args.max_body_bytes as usize).fallback_service(dashboard::service(&args.frontend_dir));
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
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
