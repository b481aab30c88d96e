//! The dashboard's static files (built by scripts/build-frontend.sh) at `/`.
//!
//! Files are served as they are; any other path the API does not claim gets `index.html`, so the
//! single-page application's own routes (`/licenses/…`) survive a reload.
//!
//! The build names the wasm module, the scripts and the stylesheet after their content
//! (`license_dashboard_bg-<16 hex digits>.wasm`) and puts a gzip and a brotli copy beside each
//! file; the copy the browser accepts (`Accept-Encoding`, brotli preferred) is served, with
//! `Vary: Accept-Encoding`. Content-hashed files never change under their name, so they are
//! cached for a year (`immutable`); everything else, `index.html` above all (also as the fallback
//! for the application's routes), carries `no-cache`, so browsers revalidate it and pick up a new
//! build at once. A content-hashed name that is not there is a 404, never `index.html`: a page of
//! an old build asking for its old files must not cache HTML under a script's name for a year.

use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

/// `Cache-Control` of content-hashed files.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

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
    let files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(ServeFile::new(index).precompressed_br().precompressed_gzip());
    Router::new().fallback_service(files).layer(middleware::from_fn_with_state(dir.to_owned(), cache_headers))
}

/// Sets `Cache-Control` and `Vary` by whether the path names a content-hashed file, and answers
/// 404 for a content-hashed name that is not there.
async fn cache_headers(State(dir): State<PathBuf>, request: Request, next: Next) -> Response {
    let hashed = content_hashed_file(request.uri().path()).map(str::to_owned);
    if let Some(name) = &hashed {
        if !dir.join(name).is_file() {
            return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, NO_CACHE)]).into_response();
        }
    }
    let mut response = next.run(request).await;
    let cache = if hashed.is_some() && response.status().is_success() { IMMUTABLE } else { NO_CACHE };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, cache);
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// The file name when `path` is a content-hashed file of the build: one path segment
/// `<name>-<16 lowercase hex digits>.<js|wasm|css>`, the name of letters, digits and `_`.
pub fn content_hashed_file(path: &str) -> Option<&str> {
    let name = path.strip_prefix('/')?;
    let (stem, extension) = name.rsplit_once('.')?;
    let (base, hash) = stem.rsplit_once('-')?;
    let well_formed = matches!(extension, "js" | "wasm" | "css")
        && !base.is_empty()
        && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && hash.len() == 16
        && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    well_formed.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::content_hashed_file;

    #[test]
    fn only_the_builds_content_hashed_names_count_as_hashed() {
        assert_eq!(
            content_hashed_file("/license_dashboard_bg-0123456789abcdef.wasm"),
            Some("license_dashboard_bg-0123456789abcdef.wasm")
        );
        assert_eq!(content_hashed_file("/styles-0123456789abcdef.css"), Some("styles-0123456789abcdef.css"));
        for path in [
            "/index.html",
            "/styles.css",
            "/licenses/0123456789abcdef.js",
            "/../secret-0123456789abcdef.js",
            "/boot-0123456789ABCDEF.js",
            "/boot-0123456789abcde.js",
            "/-0123456789abcdef.js",
            "/boot-0123456789abcdef.html",
            "/boot-0123456789abcdef.js.gz",
        ] {
            assert_eq!(content_hashed_file(path), None, "{path}");
        }
    }
}
