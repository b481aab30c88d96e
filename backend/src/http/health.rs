//! Liveness (`/healthz`), readiness (`/readyz`) and `/metrics`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::read_replica::ReplicaStatus;
use crate::{metrics, sessions};

pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .with_state(app)
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers within two seconds. With a read replica, the answer also says
/// whether it serves reads; an instance whose replica is down is still ready (its reads go to the
/// primary).
async fn readyz(State(app): State<AppState>) -> Response {
    let check = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&app.pool);
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(_)) => match &app.replica {
            None => (StatusCode::OK, "ready").into_response(),
            Some(replica) => {
                (StatusCode::OK, format!("ready\n{}", replica_line(replica.status().await))).into_response()
            }
        },
        Ok(Err(err)) => {
            tracing::warn!(error = ?err, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Body::from("database unreachable")).into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Body::from("database did not answer in time")).into_response(),
    }
}

fn replica_line(status: ReplicaStatus) -> String {
    match status {
        ReplicaStatus::Serving { last_replayed: Some(age) } => format!(
            "read replica: serving reads (its last replayed transaction committed {:.1} s ago)",
            age.as_secs_f64()
        ),
        ReplicaStatus::Serving { last_replayed: None } => "read replica: serving reads".to_owned(),
        ReplicaStatus::Unreachable => "read replica: unreachable, reads go to the primary".to_owned(),
    }
}

/// Live sessions and pool use are read at each scrape; the counters are kept as they happen.
async fn scrape(State(app): State<AppState>) -> Response {
    let live = sessions::count_live(&app.pool, &app.sessions)
        .await
        .inspect_err(|err| tracing::warn!(error = ?err, "metrics: counting live sessions failed"))
        .ok();
    let mut pools = vec![("general", &app.pool), ("client", &*app.client_pool)];
    pools.extend(app.replica.as_ref().map(|replica| ("read", replica.pool())));
    metrics::render(live, &pools)
}
