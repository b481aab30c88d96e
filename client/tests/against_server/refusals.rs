//! What the server refuses reaches the application as typed events within one heartbeat.

use std::time::Duration;

use license_client::{Activation, DenialReason, Error, Event, RefusalReason, Release, ReleaseDenialReason};
use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::harness::{count, expect_event, Server, HEARTBEAT_INTERVAL};

/// One heartbeat interval, and a margin for a busy machine.
const WITHIN_ONE_HEARTBEAT: Duration = Duration::from_millis(HEARTBEAT_INTERVAL.as_millis() as u64 + 2000);

#[sqlx::test(migrations = "../migrations")]
async fn a_revoked_license_is_reported_within_one_heartbeat_and_ends_the_licensed_state(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (license_id, license_key) = server.license(&admin, json!({"offlineGraceSeconds": 3600})).await;
    let client = server.client().await;
    let Activation::Licensed(session) = client.activate(&license_key, "pc-1", "PC").await.unwrap() else {
        panic!("denied")
    };
    let mut events = session.events();
    assert!(session.is_licensed());

    server.gql(&admin, "mutation($id: ID!) { deactivateLicense(id: $id) { id } }", json!({"id": license_id})).await;
    expect_event(&mut events, WITHIN_ONE_HEARTBEAT, |e| matches!(e, Event::Refused(RefusalReason::LicenseRevoked)))
        .await;
    assert!(!session.is_licensed(), "a revoked license is not licensed, however long its lease would last");
    assert!(events.recv().await.is_none(), "the session stops after a refusal");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_session_an_admin_ends_or_a_device_an_admin_deactivates_is_reported_with_its_reason(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (_, license_key) = server.license(&admin, json!({"concurrentSessionsLimit": 2})).await;
    let client = server.client().await;

    let Activation::Licensed(first) = client.activate(&license_key, "pc-1", "PC 1").await.unwrap() else {
        panic!("denied")
    };
    let mut events = first.events();
    let session_id = first.lease().claims().session_id.unwrap();
    server.gql(&admin, "mutation($id: ID!) { terminateSession(id: $id) { id } }", json!({"id": session_id})).await;
    expect_event(&mut events, WITHIN_ONE_HEARTBEAT, |e| matches!(e, Event::Refused(RefusalReason::AdminTerminated)))
        .await;
    assert!(!first.is_licensed());

    let Activation::Licensed(second) = client.activate(&license_key, "pc-2", "PC 2").await.unwrap() else {
        panic!("denied")
    };
    let mut events = second.events();
    server
        .gql(&admin, "mutation($id: ID!) { deactivateDevice(id: $id) { id } }", json!({"id": second.device_id()}))
        .await;
    expect_event(&mut events, WITHIN_ONE_HEARTBEAT, |e| matches!(e, Event::Refused(RefusalReason::DeviceDeactivated)))
        .await;
    assert!(!second.is_licensed());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_denied_activation_says_why_and_a_malformed_key_is_a_typed_error(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (license_id, license_key) =
        server.license(&admin, json!({"deviceLimit": 1, "concurrentSessionsLimit": 1})).await;
    let client = server.client().await;
    let Activation::Licensed(_held) = client.activate(&license_key, "pc-1", "PC 1").await.unwrap() else {
        panic!("denied")
    };
    let Activation::Denied(denied) = client.activate(&license_key, "pc-2", "PC 2").await.unwrap() else {
        panic!("a second device on a one-device license")
    };
    assert_eq!(denied.reason, DenialReason::DeviceLimitReached);

    server.gql(&admin, "mutation($id: ID!) { deactivateLicense(id: $id) { id } }", json!({"id": license_id})).await;
    let Activation::Denied(denied) = client.activate(&license_key, "pc-1", "PC 1").await.unwrap() else {
        panic!("activated a deactivated license")
    };
    assert_eq!(denied.reason, DenialReason::LicenseInactive);

    let malformed = client.activate("not-a-key", "pc-1", "PC 1").await;
    assert!(matches!(&malformed, Err(Error::Server { code, .. }) if code == "BAD_USER_INPUT"), "{malformed:?}");
    assert!(!malformed.unwrap_err().is_transient(), "retrying a malformed key cannot help");
}

#[sqlx::test(migrations = "../migrations")]
async fn ending_or_dropping_a_session_frees_its_slot_at_once(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (license_id, license_key) = server.license(&admin, json!({"concurrentSessionsLimit": 1})).await;
    let client = server.client().await;
    let live = "SELECT count(*) FROM license_sessions WHERE license_id = $1::uuid";

    let Activation::Licensed(session) = client.activate(&license_key, "pc-1", "PC 1").await.unwrap() else {
        panic!("denied")
    };
    session.end().await.unwrap();
    assert_eq!(count(&pool, live, &license_id).await, 0, "ended at once");

    let Activation::Licensed(session) = client.activate(&license_key, "pc-2", "PC 2").await.unwrap() else {
        panic!("the slot was not freed by end()")
    };
    drop(session);
    let mut freed = false;
    for _ in 0..50 {
        if count(&pool, live, &license_id).await == 0 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "dropping the session ends it on the server");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_device_releases_itself_once_and_then_is_no_longer_registered(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (_, license_key) = server.license(&admin, json!({"deviceLimit": 1, "concurrentSessionsLimit": 1})).await;
    let client = server.client().await;
    let Activation::Licensed(old_pc) = client.activate(&license_key, "old-pc", "Old PC").await.unwrap() else {
        panic!("denied")
    };
    let mut events = old_pc.events();

    let released = client.release_device(&license_key, "old-pc").await.unwrap();
    assert!(matches!(released, Release::Released { .. }), "{released:?}");
    expect_event(&mut events, WITHIN_ONE_HEARTBEAT, |e| matches!(e, Event::Refused(_))).await;
    assert!(!old_pc.is_licensed(), "the released device's session ended");
    let Activation::Licensed(_new_pc) = client.activate(&license_key, "new-pc", "New PC").await.unwrap() else {
        panic!("the released slot is not free")
    };
    let again = client.release_device(&license_key, "old-pc").await.unwrap();
    assert_eq!(again, Release::Denied { reason: ReleaseDenialReason::DeviceNotRegistered, retry_after: None });
}
