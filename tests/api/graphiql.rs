//! GraphiQL at /graphiql comes whole from the server: the page names no other host, its policy
//! allows none, and every file it loads is served here, pinned by its content and integrity.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::spawn_app;

/// The values of `attribute="…"` in `html`, in order.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!(" {attribute}=\"");
    html.match_indices(&marker).map(|(at, _)| html[at + marker.len()..].split('"').next().unwrap()).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn graphiql_is_served_from_the_server_itself_with_pinned_assets_and_no_other_host(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let response = app.client.get(format!("{}/graphiql", app.address)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(header("content-type").starts_with("text/html"));
    let csp = header("content-security-policy");
    for directive in ["default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("http") && !csp.contains("unsafe"), "no other host, no inline code: {csp}");
    let page = response.text().await.unwrap();
    assert!(!page.contains("http:") && !page.contains("https:") && !page.contains("//"), "{page}");
    assert!(!page.contains("<script>") && !page.contains("<style"), "no inline code: {page}");

    let sources: Vec<&str> =
        attribute_values(&page, "src").into_iter().chain(attribute_values(&page, "href")).collect();
    let integrities = attribute_values(&page, "integrity");
    let assets: Vec<&str> = sources.iter().copied().filter(|s| *s != "data:,").collect();
    assert_eq!(assets.len(), 6, "react, react-dom, graphiql, its stylesheet, the page's own script and style: {page}");
    assert_eq!(integrities.len(), assets.len(), "every asset has its integrity digest");
    for path in &assets {
        assert!(path.starts_with("/graphiql/assets/"), "{path}");
        let response = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable", "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
        let media = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            media.starts_with(if path.ends_with(".css") { "text/css" } else { "text/javascript" }),
            "{path}: {media}"
        );
        let digest = Sha256::digest(response.bytes().await.unwrap());
        let integrity = format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest));
        assert!(integrities.contains(&integrity.as_str()), "{path}: {integrity} not in {integrities:?}");
    }
    for file in ["react.production.min", "react-dom.production.min", "graphiql.min", "boot", "page"] {
        assert!(
            assets.iter().any(|path| path.starts_with(&format!("/graphiql/assets/{file}-"))),
            "{file} in {assets:?}"
        );
    }

    // Only the build's own names exist: no guessing at other files, no path tricks.
    for path in ["/graphiql/assets/graphiql.min.js", "/graphiql/assets/..%2FCargo.toml", "/graphiql/assets/x"] {
        let response = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }
}
