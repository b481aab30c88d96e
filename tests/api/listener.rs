//! The listener under slow clients: a connection that does not deliver its request headers in
//! time is closed (slowloris), while requests that do are served as ever.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with, Options, TestApp};

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);

async fn app_with_short_header_timeout(pool: &PgPool) -> TestApp {
    spawn_app_with(pool, Options { header_read_timeout: Some(HEADER_READ_TIMEOUT), ..Default::default() }).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection; returns what it sent, or `None` if it kept the
/// connection open for `patience`.
async fn until_closed(stream: &mut TcpStream, patience: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(patience, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_that_sends_half_a_request_line_or_nothing_is_disconnected_after_the_header_timeout(pool: PgPool) {
    let app = app_with_short_header_timeout(&pool).await;
    let started = Instant::now();
    let mut half_line = connect(&app).await;
    half_line.write_all(b"POST /graphql HT").await.unwrap();
    let mut silent = connect(&app).await;

    // Meanwhile the server answers everyone else.
    let health = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(health.status(), 200);

    for (name, stream) in [("half a request line", &mut half_line), ("nothing", &mut silent)] {
        let answer = until_closed(stream, HEADER_READ_TIMEOUT * 10).await;
        let answer = answer.unwrap_or_else(|| panic!("a client that sent {name} was kept connected"));
        assert!(answer.is_empty(), "a client that sent {name} got an answer: {}", String::from_utf8_lossy(&answer));
    }
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT, "closed before the timeout: {:?}", started.elapsed());
}

#[sqlx::test(migrations = "../migrations")]
async fn headers_that_arrive_slowly_but_within_the_timeout_are_served(pool: PgPool) {
    let app = app_with_short_header_timeout(&pool).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(HEADER_READ_TIMEOUT / 2).await;
    stream.write_all(b"Host: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let answer = until_closed(&mut stream, HEADER_READ_TIMEOUT * 10).await.expect("the connection stayed open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_body_that_does_not_arrive_in_time_is_answered_408(pool: PgPool) {
    let app = app_with_short_header_timeout(&pool).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    // The headers promise 100 bytes; ten arrive, then nothing.
    stream
        .write_all(
            b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"query\":",
        )
        .await
        .unwrap();
    let answer = until_closed(&mut stream, Duration::from_secs(15)).await.expect("the connection was kept open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT, "answered before the timeout: {:?}", started.elapsed());
    // A body sent whole is served as ever.
    let reply =
        app.client.post(format!("{}/graphql", app.address)).json(&serde_json::json!({"query": "{ __typename }"}));
    assert_eq!(reply.send().await.unwrap().status(), 200);
}
