//! Liveness (`/healthz`), readiness (`/readyz`) and `/metrics`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
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

/// Ready when the database answers within two seconds.
async fn readyz(State(app): State<AppState>) -> Response {
    let check = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&app.pool);
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = ?err, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Body::from("database unreachable")).into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Body::from("database did not answer in time")).into_response(),
    }
}

/// Live sessions and pool use are read at each scrape; the counters are kept as they happen.
async fn scrape(State(app): State<AppState>) -> Response {
    let live = sessions::count_live(&app.pool, &app.sessions)
        .await
        .inspect_err(|err| tracing::warn!(error = ?err, "metrics: counting live sessions failed"))
        .ok();
    metrics::render(live, &[("general", &app.pool), ("client", &app.client_pool)])
}
