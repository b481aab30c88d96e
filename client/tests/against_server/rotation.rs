//! Key rotation: leases signed by a key the client has not seen yet make it fetch the key set
//! again, and the application never notices.

use std::time::Duration;

use license_client::{Activation, Event};
use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::harness::{events_during, Server};

#[sqlx::test(migrations = "../migrations")]
async fn a_rotated_signing_key_is_fetched_on_its_first_lease_and_the_client_stays_licensed(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (_, license_key) = server.license(&admin, json!({})).await;
    let client = server.client().await;
    let Activation::Licensed(session) = client.activate(&license_key, "pc-1", "PC").await.unwrap() else {
        panic!("denied")
    };
    let mut events = session.events();
    let first_kid = session.lease().key_id().to_owned();

    server.gql(&admin, "mutation { rotateSigningKey { __typename } }", json!({})).await;
    // Every instance picks up the new key within its refresh period (10 s); this one at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut renewed_with_new_key = false;
    while !renewed_with_new_key && tokio::time::Instant::now() < deadline {
        let seen = events_during(&mut events, Duration::from_secs(1)).await;
        assert!(
            seen.iter().all(|e| matches!(e, Event::LeaseRenewed { .. })),
            "nothing but renewals across a rotation: {seen:?}"
        );
        renewed_with_new_key = session.lease().key_id() != first_kid;
    }
    assert!(renewed_with_new_key, "leases are signed with the new key");
    assert!(session.is_licensed());

    let more = events_during(&mut events, Duration::from_secs(2)).await;
    assert!(more.iter().any(|e| matches!(e, Event::LeaseRenewed { .. })), "{more:?}");
    assert!(more.iter().all(|e| matches!(e, Event::LeaseRenewed { .. })), "{more:?}");
    assert!(session.is_licensed());
}
