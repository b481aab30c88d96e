//! The dashboard's static files (built by scripts/build-frontend.sh) at `/`.
//!
//! Files are served as they are; any other path the API does not claim gets `index.html`, so the
//! single-page application's own routes (`/licenses/…`) survive a reload. Responses carry
//! `Cache-Control: no-cache`: the file names carry no hash, so browsers revalidate
//! (`Last-Modified`) and pick up a new build at once.

use std::path::Path;

use axum::http::{header, HeaderValue, StatusCode};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// The router for everything outside the API; use it as the fallback service.
pub fn service(dir: &Path) -> Router {
    let index = dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(
            frontend_dir = %dir.display(),
            "no dashboard at FRONTEND_DIR (run scripts/build-frontend.sh); serving the API only"
        );
        return Router::new().fallback(|| async {
            (StatusCode::NOT_FOUND, "the dashboard has not been built: run scripts/build-frontend.sh")
        });
    }
    Router::new()
        .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
}
