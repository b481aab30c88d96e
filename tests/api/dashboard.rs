//! The dashboard's files at `/`: served as they are, `index.html` for the app's own routes, and
//! the API routes untouched; the build's precompressed copies chosen by `Accept-Encoding`, its
//! content-hashed files cached for a year and everything else revalidated.

use license_server::auth::Scope;
use license_server::server::Application;
use sqlx::PgPool;

use crate::helpers::{connect_pools, TEST_POOLS};

#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_is_served_at_the_root_with_index_html_for_its_own_routes(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("license-dashboard-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>dashboard</title>").unwrap();
    std::fs::write(dir.join("app.js"), "export default 1;").unwrap();
    let pools = connect_pools(&pool, &TEST_POOLS).await;
    let app = Application::new(&pools, Default::default()).with_dashboard(&dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { app.serve(listener, std::future::pending()).await.unwrap() });
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("http://{address}{path}")).send();

    let root = get("/").await.unwrap();
    assert_eq!(root.status(), 200);
    assert_eq!(root.headers()["cache-control"], "no-cache");
    assert!(root.text().await.unwrap().contains("<title>dashboard</title>"));
    let script = get("/app.js").await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let deep_link = get("/licenses/0d4f7c52-5f0e-4c57-9a57-0c6d3b1f0e11").await.unwrap();
    assert_eq!(deep_link.status(), 200);
    assert!(deep_link.text().await.unwrap().contains("<title>dashboard</title>"));

    // The API keeps its own routes and answers.
    assert_eq!(get("/healthz").await.unwrap().text().await.unwrap(), "ok");
    let key = license_server::api_keys::create(&pool, &license_server::auth::Actor::cli(), None, "t", Scope::Analyst)
        .await
        .unwrap()
        .key;
    let reply = client
        .post(format!("http://{address}/graphql"))
        .header("X-API-Key", key)
        .json(&serde_json::json!({"query": "{ liveSessions { totalCount nodes { id } } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.json::<serde_json::Value>().await.unwrap()["data"]["liveSessions"],
        serde_json::json!({"totalCount": 0, "nodes": []})
    );
    server.abort();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn precompressed_copies_are_chosen_by_accept_encoding_and_hashed_files_are_cached_for_a_year(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("license-dashboard-precompressed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // Each copy says which it is, so the test sees which one was sent.
    let script = "boot-0123456789abcdef.js";
    for (name, body) in [
        ("index.html".to_owned(), "<!doctype html><title>identity</title>"),
        ("index.html.gz".to_owned(), "gzip index"),
        ("index.html.br".to_owned(), "brotli index"),
        (script.to_owned(), "export default 'identity';"),
        (format!("{script}.gz"), "gzip script"),
        (format!("{script}.br"), "brotli script"),
    ] {
        std::fs::write(dir.join(name), body).unwrap();
    }
    let pools = connect_pools(&pool, &TEST_POOLS).await;
    let app = Application::new(&pools, Default::default()).with_dashboard(&dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { app.serve(listener, std::future::pending()).await.unwrap() });
    let client = reqwest::Client::new();
    let get = |path: &str, accept: Option<&str>| {
        let request = client.get(format!("http://{address}{path}"));
        match accept {
            Some(accept) => request.header("accept-encoding", accept),
            None => request,
        }
        .send()
    };
    let header = |response: &reqwest::Response, name: &str| {
        response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    };

    let year = "public, max-age=31536000, immutable";
    let path = format!("/{script}");
    for (accept, encoding, body) in [
        (Some("gzip, deflate, br"), "br", "brotli script"),
        (Some("br;q=0.5, gzip;q=1"), "gzip", "gzip script"),
        (Some("gzip"), "gzip", "gzip script"),
        (Some("identity"), "", "export default 'identity';"),
        (None, "", "export default 'identity';"),
    ] {
        let response = get(&path, accept).await.unwrap();
        assert_eq!(response.status(), 200, "{accept:?}");
        assert_eq!(header(&response, "content-encoding"), encoding, "{accept:?}");
        assert!(header(&response, "content-type").contains("javascript"), "the script's type, whatever the encoding");
        assert_eq!(header(&response, "cache-control"), year, "{accept:?}");
        assert_eq!(header(&response, "vary").to_ascii_lowercase(), "accept-encoding");
        assert_eq!(response.text().await.unwrap(), body, "{accept:?}");
    }

    // index.html, at the root and as the fallback for the application's routes: revalidated.
    for path in ["/", "/index.html", "/licenses/0d4f7c52-5f0e-4c57-9a57-0c6d3b1f0e11"] {
        for (accept, encoding, body) in [
            (Some("br, gzip"), "br", "brotli index"),
            (Some("gzip"), "gzip", "gzip index"),
            (None, "", "<!doctype html><title>identity</title>"),
        ] {
            let response = get(path, accept).await.unwrap();
            assert_eq!(response.status(), 200, "{path} {accept:?}");
            assert_eq!(header(&response, "content-encoding"), encoding, "{path} {accept:?}");
            assert!(header(&response, "content-type").starts_with("text/html"), "{path}");
            assert_eq!(header(&response, "cache-control"), "no-cache", "{path} {accept:?}");
            assert_eq!(header(&response, "vary").to_ascii_lowercase(), "accept-encoding");
            assert_eq!(response.text().await.unwrap(), body, "{path} {accept:?}");
        }
    }

    // A content-hashed name of another build is a 404, never index.html cached for a year.
    let stale = get("/boot-fedcba9876543210.js", Some("br")).await.unwrap();
    assert_eq!(stale.status(), 404);
    assert_eq!(header(&stale, "cache-control"), "no-cache");
    server.abort();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_dashboard_build_leaves_the_api_alone_and_answers_404() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let router = license_server::dashboard::service(std::path::Path::new("/nonexistent/dashboard"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let response = reqwest::get(format!("http://{address}/")).await.unwrap();
        assert_eq!(response.status(), 404);
        assert!(response.text().await.unwrap().contains("scripts/build-frontend.sh"));
        server.abort();
    });
}
