//! GraphiQL at `/graphiql`, served whole by this server: no other host is named in the page or
//! allowed by its Content-Security-Policy, so it works offline and runs no third party's code
//! on the API's origin.
//!
//! The browser builds of GraphiQL, React and ReactDOM are committed in `backend/graphiql/`
//! (versions pinned by its `package.json` and `package-lock.json`, SHA-256 in `SHA256SUMS`,
//! refreshed by its `refresh.sh`) and compiled into the binary. Each file is served under a name
//! carrying its content hash (`/graphiql/assets/graphiql.min-<hash>.js`), cached for a year, and
//! the page names it with its Subresource Integrity digest.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The page's policy: its own scripts and styles only (no inline code, no `eval`), fonts and
/// icons from the stylesheet's `data:` URLs, requests to this origin, and no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

struct Asset {
    file: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($file:literal, $content_type:literal) => {
        Asset { file: $file, content_type: $content_type, bytes: include_bytes!(concat!("../../graphiql/", $file)) }
    };
}

/// In the order the page loads them: scripts are deferred, so they run in this order.
const ASSETS: [Asset; 6] = [
    asset!("graphiql.min.css", "text/css; charset=utf-8"),
    asset!("page.css", "text/css; charset=utf-8"),
    asset!("react.production.min.js", "text/javascript; charset=utf-8"),
    asset!("react-dom.production.min.js", "text/javascript; charset=utf-8"),
    asset!("graphiql.min.js", "text/javascript; charset=utf-8"),
    asset!("boot.js", "text/javascript; charset=utf-8"),
];

const PAGE_TEMPLATE: &str = include_str!("../../graphiql/index.html");

struct Site {
    page: String,
    /// Assets by their content-hashed name.
    assets: HashMap<String, &'static Asset>,
}

static SITE: LazyLock<Site> = LazyLock::new(|| {
    let mut tags = Vec::new();
    let mut assets = HashMap::new();
    for asset in &ASSETS {
        let digest = Sha256::digest(asset.bytes);
        let (stem, extension) = asset.file.rsplit_once('.').unwrap_or((asset.file, ""));
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12]);
        let name = format!("{stem}-{hash}.{extension}");
        let integrity = format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest));
        tags.push(match extension {
            "css" => format!(r#"<link rel="stylesheet" href="/graphiql/assets/{name}" integrity="{integrity}">"#),
            _ => format!(r#"<script defer src="/graphiql/assets/{name}" integrity="{integrity}"></script>"#),
        });
        assets.insert(name, asset);
    }
    Site { page: PAGE_TEMPLATE.replace("{{assets}}", &tags.join("\n")), assets }
});

pub fn router() -> Router {
    Router::new().route("/graphiql", get(page)).route("/graphiql/assets/{name}", get(asset))
}

const NOSNIFF: (HeaderName, HeaderValue) = (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            NOSNIFF,
        ],
        SITE.page.as_str(),
    )
        .into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    match SITE.assets.get(&name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                (header::CACHE_CONTROL, IMMUTABLE),
                NOSNIFF,
            ],
            asset.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::ASSETS;

    /// The committed third-party files are the ones `refresh.sh` recorded.
    #[test]
    fn the_embedded_graphiql_build_matches_its_recorded_sha256_sums() {
        let sums = include_str!("../../graphiql/SHA256SUMS");
        let mut checked = 0;
        for line in sums.lines() {
            let (hex, file) = line.split_once("  ").expect("sha256sum's format");
            let asset = ASSETS.iter().find(|a| a.file == file).unwrap_or_else(|| panic!("{file} is not served"));
            let digest: Vec<u8> =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            assert_eq!(Sha256::digest(asset.bytes).as_slice(), digest, "{file}");
            checked += 1;
        }
        assert_eq!(checked, 4, "graphiql, its stylesheet, react and react-dom");
    }
}
