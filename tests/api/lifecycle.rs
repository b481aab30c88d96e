//! The session lifecycle as a client application sees it.

use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{age_session, count, spawn_app};

#[sqlx::test(migrations = "../migrations")]
async fn a_device_activates_heartbeats_and_ends_its_session(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 2, 1).await;

    let granted = app.activate(&client, &license_key, "fp-1").await;
    assert_eq!(granted["__typename"], "SessionGranted");
    assert_eq!(granted["resumed"], false);
    assert_eq!(granted["licenseId"], license_id.as_str());
    assert_eq!(granted["heartbeatIntervalSeconds"], 30);
    assert_eq!(granted["sessionTimeoutSeconds"], 60);
    let token = granted["sessionToken"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(token).unwrap().get_version_num(), 4, "session tokens are UUID v4");

    let beat = app.heartbeat(&client, token).await;
    assert_eq!(beat["__typename"], "HeartbeatAccepted", "{beat}");
    assert_eq!(beat["heartbeatIntervalSeconds"], 30);
    let deadline: chrono::DateTime<chrono::Utc> = beat["nextDeadline"].as_str().unwrap().parse().unwrap();
    let until = deadline - chrono::Utc::now();
    assert!(until > chrono::Duration::seconds(50) && until <= chrono::Duration::seconds(61), "deadline {deadline}");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 1);

    let ended = app.end_session(&client, token).await;
    assert_eq!(ended["__typename"], "SessionEnded", "{ended}");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_sessions").await, 0);
    let reason: String = sqlx::query_scalar("SELECT end_reason FROM session_history WHERE session_token = $1::uuid")
        .bind(token)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reason, "client_ended");

    let after_end = app.heartbeat(&client, token).await;
    assert_eq!(after_end["__typename"], "HeartbeatRefused");
    assert_eq!(after_end["reason"], "SESSION_EXPIRED");
    let again = app.end_session(&client, token).await;
    assert_eq!(again["reason"], "SESSION_EXPIRED");

    // The slot is free again: the same device starts a fresh session with a new token.
    let next = app.session(&client, &license_key, "fp-1").await;
    assert_ne!(next, token);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_device_resumes_its_live_session_with_the_same_token(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;

    let first = app.activate(&client, &license_key, "laptop").await;
    let second = app.activate(&client, &license_key, "laptop").await;
    assert_eq!(second["__typename"], "SessionGranted");
    assert_eq!(second["resumed"], true);
    assert_eq!(second["sessionToken"], first["sessionToken"]);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_sessions").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_key_is_accepted_as_a_person_types_it(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let typed = license_key.replace('-', " ").to_lowercase();
    assert_eq!(app.activate(&client, &typed, "fp").await["__typename"], "SessionGranted");
}

#[sqlx::test(migrations = "../migrations")]
async fn when_the_concurrent_limit_is_reached_a_new_session_is_denied_and_nobody_is_kicked_out(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 3, 2).await;
    let a = app.session(&client, &license_key, "a").await;
    let b = app.session(&client, &license_key, "b").await;

    let denied = app.activate(&client, &license_key, "c").await;
    assert_eq!(denied["__typename"], "ActivationDenied");
    assert_eq!(denied["reason"], "CONCURRENT_LIMIT_REACHED");
    let live = denied["liveSessions"].as_array().unwrap();
    assert_eq!(live.len(), 2);
    let mut names: Vec<&str> = live.iter().map(|s| s["deviceName"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Device a", "Device b"]);
    assert!(live.iter().all(|s| s.get("sessionToken").is_none()));
    assert_eq!(denied["retryAfter"], live[0]["expiresAt"], "the oldest session's expiry is when a slot may free");

    // Both holders are untouched, and the denied device was not even registered.
    for token in [&a, &b] {
        assert_eq!(app.heartbeat(&client, token).await["__typename"], "HeartbeatAccepted");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn when_every_device_slot_is_taken_a_new_device_is_denied(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 2, 2).await;
    let a = app.session(&client, &license_key, "a").await;
    app.session(&client, &license_key, "b").await;
    assert_eq!(app.end_session(&client, &a).await["__typename"], "SessionEnded");

    // A session slot is free, but device "a" still holds its device slot.
    let denied = app.activate(&client, &license_key, "c").await;
    assert_eq!(denied["reason"], "DEVICE_LIMIT_REACHED", "{denied}");
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 2);
    // A registered device is never refused a device slot.
    assert_eq!(app.activate(&client, &license_key, "a").await["__typename"], "SessionGranted");
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_inactive_expired_and_future_licenses_are_denied(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);

    let unknown = license_server::licenses::LicenseKey::generate();
    assert_eq!(app.activate(&client, unknown.as_str(), "fp").await["reason"], "LICENSE_NOT_FOUND");

    let (inactive_id, inactive_key) = app.create_license(&admin, 1, 1).await;
    app.gql(&admin, "mutation($id: ID!) { deactivateLicense(id: $id) { isActive } }", json!({"id": inactive_id}))
        .await
        .data("deactivateLicense");
    assert_eq!(app.activate(&client, &inactive_key, "fp").await["reason"], "LICENSE_INACTIVE");

    let customer = app.create_customer(&admin, "time@example.com").await;
    let (_, expired_key) = app
        .create_license_for(
            &admin,
            json!({"customerId": customer, "deviceLimit": 1, "concurrentSessionsLimit": 1,
            "validFrom": "2020-01-01T00:00:00Z", "validUntil": "2021-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(app.activate(&client, &expired_key, "fp").await["reason"], "LICENSE_EXPIRED");

    let (_, future_key) = app
        .create_license_for(
            &admin,
            json!({"customerId": customer, "deviceLimit": 1, "concurrentSessionsLimit": 1,
            "validFrom": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(app.activate(&client, &future_key, "fp").await["reason"], "LICENSE_NOT_YET_VALID");

    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_sessions").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_late_heartbeat_is_refused_and_never_revives_the_session(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 2, 1).await;
    let token = app.session(&client, &license_key, "quiet").await;
    age_session(&pool, &token, 61).await;

    let late = app.heartbeat(&client, &token).await;
    assert_eq!(late["__typename"], "HeartbeatRefused");
    assert_eq!(late["reason"], "SESSION_EXPIRED");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 0);

    // Not live any more, even before the cleanup ran: another device takes the only slot.
    let other = app.activate(&client, &license_key, "other").await;
    assert_eq!(other["__typename"], "SessionGranted", "{other}");
    // And the expired one stays refused.
    assert_eq!(app.heartbeat(&client, &token).await["reason"], "SESSION_EXPIRED");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_session_of_the_same_device_is_filed_and_a_new_one_started(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let old = app.session(&client, &license_key, "same").await;
    age_session(&pool, &old, 120).await;

    let new = app.activate(&client, &license_key, "same").await;
    assert_eq!(new["resumed"], false);
    assert_ne!(new["sessionToken"].as_str().unwrap(), old);
    let (reason, overdue): (String, bool) = sqlx::query_as(
        "SELECT end_reason, ended_at = last_heartbeat_at + interval '60 seconds' FROM session_history WHERE session_token = $1::uuid",
    )
    .bind(&old)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(reason, "timeout");
    assert!(overdue, "a timed-out session ends at its deadline");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_session_token_is_refused_as_not_found(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let client = app.key(Scope::Client).await;
    let token = uuid::Uuid::new_v4().to_string();
    assert_eq!(app.heartbeat(&client, &token).await["reason"], "SESSION_NOT_FOUND");
    assert_eq!(app.end_session(&client, &token).await["reason"], "SESSION_NOT_FOUND");
}

#[sqlx::test(migrations = "../migrations")]
async fn validate_license_tells_whether_this_device_may_use_the_license(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 1, 1).await;
    let query = "query($k: String!, $f: String!) { validateLicense(licenseKey: $k, hardwareFingerprint: $f) {
        __typename ... on LicenseValid { licenseId hasLiveSession deviceLimit } ... on LicenseInvalid { reason message } } }";

    let before = app.gql(&client, query, json!({"k": license_key, "f": "fp"})).await;
    assert_eq!(before.data("validateLicense")["reason"], "DEVICE_NOT_REGISTERED");
    let token = app.session(&client, &license_key, "fp").await;
    let during = app.gql(&client, query, json!({"k": license_key, "f": "fp"})).await;
    assert_eq!(during.data("validateLicense")["__typename"], "LicenseValid");
    assert_eq!(during.data("validateLicense")["licenseId"], license_id.as_str());
    assert_eq!(during.data("validateLicense")["hasLiveSession"], true);
    app.end_session(&client, &token).await;
    let after = app.gql(&client, query, json!({"k": license_key, "f": "fp"})).await;
    assert_eq!(after.data("validateLicense")["hasLiveSession"], false);

    let unknown = license_server::licenses::LicenseKey::generate().to_string();
    let missing = app.gql(&client, query, json!({"k": unknown, "f": "fp"})).await;
    assert_eq!(missing.data("validateLicense")["reason"], "LICENSE_NOT_FOUND");
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_client_input_is_a_bad_user_input_error_that_changes_nothing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let activate = "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }";

    let mut typo = license_key.clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let cases = [
        (json!({"licenseKey": String::from_utf8(typo).unwrap(), "hardwareFingerprint": "fp"}), "licenseKey"),
        (json!({"licenseKey": "not-a-key", "hardwareFingerprint": "fp"}), "licenseKey"),
        (json!({"licenseKey": license_key, "hardwareFingerprint": "   "}), "hardwareFingerprint"),
        (json!({"licenseKey": license_key, "hardwareFingerprint": "x".repeat(300)}), "hardwareFingerprint"),
        (json!({"licenseKey": license_key, "hardwareFingerprint": "fp", "deviceName": "n".repeat(201)}), "deviceName"),
    ];
    for (input, field) in cases {
        let reply = app.gql(&client, activate, json!({"i": input})).await;
        assert_eq!(reply.error_code(), "BAD_USER_INPUT", "{input}");
        assert_eq!(reply.error_field(), field, "{input}");
    }
    let bad_token = app.gql(&client, "mutation { heartbeat(sessionToken: \"nope\") { __typename } }", json!({})).await;
    assert_eq!(bad_token.error_code(), "BAD_USER_INPUT");
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_heartbeat_checks_its_api_key_like_any_request(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client, analyst) =
        (app.key(Scope::Admin).await, app.key(Scope::Client).await, app.key(Scope::Analyst).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let token = app.session(&client, &license_key, "fp").await;
    let beat = "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename } }";

    let unknown = app.gql("AF-2026-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", beat, json!({"t": token})).await;
    assert_eq!((unknown.status, unknown.error_code()), (401, "UNAUTHENTICATED"));
    let wrong_scope = app.gql(&analyst, beat, json!({"t": token})).await;
    assert_eq!(wrong_scope.error_code(), "FORBIDDEN");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 0, "refused heartbeats are not recorded");

    sqlx::query("UPDATE api_keys SET last_used_at = NULL").execute(&pool).await.unwrap();
    let accepted = app.gql(&client, beat, json!({"t": token})).await;
    assert_eq!(accepted.data("heartbeat")["__typename"], "HeartbeatAccepted");
    let used: i64 =
        count(&pool, "SELECT count(*) FROM api_keys WHERE scope = 'client' AND last_used_at IS NOT NULL").await;
    assert_eq!(used, 1, "the key's last use is kept");

    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM api_keys WHERE scope = 'client'").fetch_one(&pool).await.unwrap();
    license_server::api_keys::revoke(&pool, &license_server::auth::Actor::cli(), None, id).await.unwrap();
    let revoked = app.gql(&client, beat, json!({"t": token})).await;
    assert_eq!((revoked.status, revoked.error_code()), (401, "UNAUTHENTICATED"));
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, 1);
}
