//! Outages: a client stays licensed on its last lease, and carries on when the server is back.

use std::time::Duration;

use license_client::{Activation, Event};
use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::harness::{count, expect_event, Server, SESSION_TIMEOUT};

#[sqlx::test(migrations = "../migrations")]
async fn a_client_stays_licensed_through_an_outage_longer_than_the_session_timeout_and_starts_again_after(
    pool: PgPool,
) {
    let mut server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (license_id, license_key) = server.license(&admin, json!({"offlineGraceSeconds": 60})).await;
    let client = server.client().await;
    let Activation::Licensed(session) = client.activate(&license_key, "laptop-1", "Laptop").await.unwrap() else {
        panic!("denied")
    };
    let mut events = session.events();
    expect_event(&mut events, Duration::from_secs(5), |e| matches!(e, Event::LeaseRenewed { .. })).await;
    let first_session = session.lease().claims().session_id.expect("a session's lease names it");
    assert!(session.lease().claims().exp - session.lease().claims().iat >= 60, "the grace is in the lease");

    server.stop().await;
    expect_event(&mut events, Duration::from_secs(5), |e| matches!(e, Event::Offline(_))).await;
    tokio::time::sleep(SESSION_TIMEOUT * 2).await;
    assert!(session.is_licensed(), "licensed on the last lease while the server is away");

    server.resume().await;
    expect_event(&mut events, Duration::from_secs(5), |e| matches!(e, Event::Online)).await;
    expect_event(&mut events, Duration::from_secs(5), |e| matches!(e, Event::Reactivated)).await;
    expect_event(&mut events, Duration::from_secs(5), |e| matches!(e, Event::LeaseRenewed { .. })).await;
    assert!(session.is_licensed());
    let second_session = session.lease().claims().session_id.unwrap();
    assert_ne!(second_session, first_session, "the timed-out session was replaced by a new one");
    let live = count(
        &pool,
        "SELECT count(*) FROM license_sessions WHERE license_id = $1::uuid AND session_is_live(last_heartbeat_at, 2)",
        &license_id,
    )
    .await;
    assert_eq!(live, 1, "one live session: the new one");
    session.end().await.unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn without_offline_grace_the_license_expires_with_the_session_and_comes_back_with_the_server(pool: PgPool) {
    let mut server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (_, license_key) = server.license(&admin, json!({})).await;
    let client = server.client().await;
    let Activation::Licensed(session) = client.activate(&license_key, "laptop-1", "Laptop").await.unwrap() else {
        panic!("denied")
    };
    let mut events = session.events();
    assert!(session.is_licensed());

    server.stop().await;
    expect_event(&mut events, SESSION_TIMEOUT * 3, |e| matches!(e, Event::Expired)).await;
    assert!(!session.is_licensed(), "no lease left: not licensed");

    server.resume().await;
    expect_event(&mut events, Duration::from_secs(5), |e| matches!(e, Event::LeaseRenewed { .. })).await;
    assert!(session.is_licensed(), "licensed again once the server answers");
}
