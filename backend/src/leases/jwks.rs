//! `GET /.well-known/jwks.json`: the public keys that verify leases.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jsonwebtoken::jwk::JwkSet;
use sqlx::PgPool;

use super::{public_jwk, Leases};
use crate::error::Result;

/// How long clients and proxies may cache the key set. A client that meets an unknown `kid`
/// fetches it again at once, so a rotation never waits for this.
const MAX_AGE_SECS: u32 = 300;

pub fn router(leases: Leases) -> Router {
    Router::new().route("/.well-known/jwks.json", get(jwks)).with_state(leases)
}

/// Every published key: the current one and each retired key until the leases it signed have
/// all expired. The current key is created first if this is the first start.
pub async fn key_set(leases: &Leases) -> Result<JwkSet> {
    leases.current_kid().await?;
    published(&leases.pool).await
}

async fn published(pool: &PgPool) -> Result<JwkSet> {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, public_key FROM signing_keys
         WHERE retired_at IS NULL OR published_until > now()
         ORDER BY created_at DESC, kid",
    )
    .fetch_all(pool)
    .await?;
    Ok(JwkSet { keys: rows.into_iter().map(|(kid, public_key)| public_jwk(&public_key, Some(kid))).collect() })
}

async fn jwks(State(leases): State<Leases>) -> Response {
    match key_set(&leases).await {
        Ok(set) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_str(&format!("public, max-age={MAX_AGE_SECS}")).expect("ascii"),
                ),
            ],
            serde_json::to_string(&set).unwrap_or_default(),
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = ?err, "reading the published signing keys failed");
            (StatusCode::SERVICE_UNAVAILABLE, "the signing keys cannot be read now").into_response()
        }
    }
}
