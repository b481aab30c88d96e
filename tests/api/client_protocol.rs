//! What a client application gets from the server: signed leases it can verify offline, the
//! license as it may use it, refusals that say why, expiry enforced while it runs, and releasing
//! its own device.

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use license_server::auth::Scope;
use license_server::licenses::LicenseKey;
use license_server::sessions::SessionSettings;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{age_session, count, session_id, spawn_app, TestApp};
use crate::metrics::{moved, scrape};

const ACTIVATE: &str = "mutation($i: ActivateInput!) { activate(input: $i) { __typename
    ... on SessionGranted { sessionToken licenseId deviceId expiresAt serverTime lease
        license { licenseType validUntil features offlineGraceSeconds resources { type value } } }
    ... on ActivationDenied { reason } } }";
/// Compiled by the heartbeat path.
const HEARTBEAT: &str = "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename
    ... on HeartbeatAccepted { nextDeadline serverTime lease } ... on HeartbeatRefused { reason } } }";
/// The same selection through a named fragment, which the heartbeat path leaves to the executor.
const HEARTBEAT_BY_EXECUTOR: &str = "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename ...A ...R } }
    fragment A on HeartbeatAccepted { nextDeadline serverTime lease }
    fragment R on HeartbeatRefused { reason }";
const VALIDATE: &str = "query($k: String!, $f: String!) { validateLicense(licenseKey: $k, hardwareFingerprint: $f) {
    __typename ... on LicenseValid { hasLiveSession serverTime lease
        license { licenseType validUntil features offlineGraceSeconds resources { type value } } }
    ... on LicenseInvalid { reason } } }";
const END: &str = "mutation($t: UUID!) { endSession(sessionToken: $t) { __typename
    ... on SessionEnded { endedAt } ... on EndSessionRefused { reason } } }";
const RELEASE: &str = "mutation($k: String!, $f: String!) { releaseDevice(licenseKey: $k, hardwareFingerprint: $f) {
    __typename ... on DeviceReleased { releasedAt } ... on ReleaseDenied { reason message retryAfter } } }";

async fn activate(app: &TestApp, client: &str, license_key: &str, fingerprint: &str) -> Value {
    let input = json!({"i": {"licenseKey": license_key, "hardwareFingerprint": fingerprint}});
    app.gql(client, ACTIVATE, input).await.data("activate").clone()
}

async fn heartbeat(app: &TestApp, client: &str, document: &str, token: &str) -> Value {
    app.gql(client, document, json!({"t": token})).await.data("heartbeat").clone()
}

async fn validate(app: &TestApp, client: &str, license_key: &str, fingerprint: &str) -> Value {
    app.gql(client, VALIDATE, json!({"k": license_key, "f": fingerprint})).await.data("validateLicense").clone()
}

async fn release(app: &TestApp, client: &str, license_key: &str, fingerprint: &str) -> Value {
    app.gql(client, RELEASE, json!({"k": license_key, "f": fingerprint})).await.data("releaseDevice").clone()
}

/// Sets terms that the license inputs of this version do not take yet.
async fn set_terms(pool: &PgPool, license_id: &str, features: &[&str], grace: i32, max_releases: i32) {
    sqlx::query(
        "UPDATE licenses SET features = $2, offline_grace_seconds = $3, max_device_releases = $4 WHERE id = $1::uuid",
    )
    .bind(license_id)
    .bind(features)
    .bind(grace)
    .bind(max_releases)
    .execute(pool)
    .await
    .unwrap();
}

/// Ends the license's validity `seconds_ago` seconds ago.
async fn expire_license(pool: &PgPool, license_id: &str, seconds_ago: f64) {
    sqlx::query(
        "UPDATE licenses SET valid_from = now() - interval '30 days',
                valid_until = now() - make_interval(secs => $2) WHERE id = $1::uuid",
    )
    .bind(license_id)
    .bind(seconds_ago)
    .execute(pool)
    .await
    .unwrap();
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("not a time: {value}"))).unwrap().into()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies `lease` against the keys the server publishes (signature, `alg`, `kid`, `iss`,
/// `exp`, `nbf`) and returns its claims.
async fn verified(app: &TestApp, lease: &Value) -> Value {
    let lease = lease.as_str().unwrap_or_else(|| panic!("no lease: {lease}"));
    let set: JwkSet =
        app.client.get(format!("{}/.well-known/jwks.json", app.address)).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(lease).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.expect("the lease names its key");
    let jwk = set.find(&kid).unwrap_or_else(|| panic!("key {kid} is published"));
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["license-server"]);
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "sub"]);
    jsonwebtoken::decode::<Value>(lease, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims
}

/// The claims every lease of this device carries, whatever it was issued for.
fn assert_holder(claims: &Value, license_id: &str, device_id: &str, fingerprint: &str, features: &[&str]) {
    assert_eq!(claims["iss"], "license-server");
    assert_eq!(claims["sub"], license_id);
    assert_eq!(claims["device_id"], device_id);
    assert_eq!(claims["fingerprint_sha256"], sha256_hex(fingerprint));
    assert_eq!(claims["license_type"], "subscription");
    assert_eq!(claims["features"], json!(features));
    assert_eq!(claims["iat"], claims["nbf"]);
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
}

#[sqlx::test(migrations = "../migrations")]
async fn grants_heartbeats_and_validations_carry_verifiable_leases_and_the_license(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 3, 3).await;
    set_terms(&pool, &license_id, &["pro", "export.pdf"], 600, 3).await;
    let import = "mutation($v: [String!]!) { importResources(type: DOMAIN, values: $v) { added } }";
    app.gql(&admin, import, json!({"v": ["b.example.com", "a.example.com", "spare.example.com"]})).await;
    let allocate = "mutation($l: ID!) { allocateResources(licenseId: $l, type: DOMAIN, count: 2) { __typename } }";
    app.gql(&admin, allocate, json!({"l": license_id})).await;

    let fingerprint = "laptop-7f3a";
    let granted = activate(&app, &client, &license_key, fingerprint).await;
    assert_eq!(granted["__typename"], "SessionGranted", "{granted}");
    let license = &granted["license"];
    assert_eq!(license["licenseType"], "SUBSCRIPTION");
    assert_eq!(license["validUntil"], Value::Null);
    assert_eq!(license["features"], json!(["pro", "export.pdf"]));
    assert_eq!(license["offlineGraceSeconds"], 600);
    let allocated: Vec<String> =
        sqlx::query_scalar("SELECT value FROM resource_pools WHERE license_id = $1::uuid ORDER BY value")
            .bind(&license_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(allocated.len(), 2);
    let resources: Vec<Value> = allocated.iter().map(|value| json!({"type": "DOMAIN", "value": value})).collect();
    assert_eq!(license["resources"], json!(resources), "the allocated domains, not the spare one");

    let device_id = granted["deviceId"].as_str().unwrap();
    let token = granted["sessionToken"].as_str().unwrap();
    let session = session_id(&pool, token).await;
    let features = ["pro", "export.pdf"];
    let claims = verified(&app, &granted["lease"]).await;
    assert_holder(&claims, &license_id, device_id, fingerprint, &features);
    assert_eq!(claims["session_id"], session.as_str());
    assert_eq!(claims["valid_until"], Value::Null);
    assert_eq!(claims["exp"], (time(&granted["expiresAt"]).timestamp() + 600));
    let server_time = time(&granted["serverTime"]);
    assert!((Utc::now() - server_time).num_seconds().abs() < 5);
    assert_eq!(claims["iat"], server_time.timestamp());

    // Both heartbeat paths: each lease verifies and runs to the new deadline plus the grace.
    let mut jtis = vec![claims["jti"].clone()];
    for document in [HEARTBEAT, HEARTBEAT_BY_EXECUTOR] {
        let accepted = heartbeat(&app, &client, document, token).await;
        assert_eq!(accepted["__typename"], "HeartbeatAccepted", "{accepted}");
        let claims = verified(&app, &accepted["lease"]).await;
        assert_holder(&claims, &license_id, device_id, fingerprint, &features);
        assert_eq!(claims["session_id"], session.as_str());
        assert_eq!(claims["exp"], time(&accepted["nextDeadline"]).timestamp() + 600);
        assert_eq!(claims["iat"], time(&accepted["serverTime"]).timestamp());
        jtis.push(claims["jti"].clone());
    }

    // Validation: a lease without a session, to the live session's deadline plus the grace.
    let valid = validate(&app, &client, &license_key, fingerprint).await;
    assert_eq!(valid["__typename"], "LicenseValid", "{valid}");
    assert_eq!(valid["hasLiveSession"], true);
    assert_eq!(valid["license"], *license);
    let claims = verified(&app, &valid["lease"]).await;
    assert_holder(&claims, &license_id, device_id, fingerprint, &features);
    assert!(claims.get("session_id").is_none(), "{claims}");
    let deadline: DateTime<Utc> = sqlx::query_scalar(
        "SELECT session_deadline(last_heartbeat_at, 60) FROM license_sessions WHERE session_token = $1::uuid",
    )
    .bind(token)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(claims["exp"], deadline.timestamp() + 600);
    jtis.push(claims["jti"].clone());

    // Without a live session: the session timeout from now, plus the grace.
    assert_eq!(app.end_session(&client, token).await["__typename"], "SessionEnded");
    let valid = validate(&app, &client, &license_key, fingerprint).await;
    assert_eq!(valid["hasLiveSession"], false);
    let claims = verified(&app, &valid["lease"]).await;
    assert_eq!(claims["exp"], time(&valid["serverTime"]).timestamp() + 60 + 600);
    jtis.push(claims["jti"].clone());
    let distinct: std::collections::HashSet<String> = jtis.iter().map(|j| j.to_string()).collect();
    assert_eq!(distinct.len(), jtis.len(), "every lease has its own jti");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lease_never_outlives_its_license(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 1, 1).await;
    set_terms(&pool, &license_id, &[], 86_400, 3).await;
    let valid_until: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE licenses SET valid_until = now() + interval '10 minutes' WHERE id = $1::uuid RETURNING valid_until",
    )
    .bind(&license_id)
    .fetch_one(&pool)
    .await
    .unwrap();

    let granted = activate(&app, &client, &license_key, "pc").await;
    let claims = verified(&app, &granted["lease"]).await;
    assert_eq!(claims["exp"], valid_until.timestamp(), "capped by validUntil, not deadline + a day");
    assert_eq!(time(&claims["valid_until"]).timestamp(), valid_until.timestamp());
    assert_eq!(time(&granted["license"]["validUntil"]), valid_until);
    let token = granted["sessionToken"].as_str().unwrap();
    for document in [HEARTBEAT, HEARTBEAT_BY_EXECUTOR] {
        let claims = verified(&app, &heartbeat(&app, &client, document, token).await["lease"]).await;
        assert_eq!(claims["exp"], valid_until.timestamp());
    }
    let claims = verified(&app, &validate(&app, &client, &license_key, "pc").await["lease"]).await;
    assert_eq!(claims["exp"], valid_until.timestamp());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_heartbeat_path_answers_leases_and_server_time_as_the_executor_does(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 1, 1).await;
    set_terms(&pool, &license_id, &["pro"], 30, 3).await;
    let token = app.session(&client, &license_key, "pc").await;

    // Counters are per process (tests run in parallel): this asserts at least this test's answer.
    let before = scrape(&app).await;
    let fast = heartbeat(&app, &client, HEARTBEAT, &token).await;
    let after = scrape(&app).await;
    let path = "license_server_heartbeat_path_answers_total";
    assert!(moved(&before, &after, path) >= 1.0, "the heartbeat path answered the compiled document");
    // A named fragment is never compiled (see hot_path.rs): the executor answers this one.
    let general = heartbeat(&app, &client, HEARTBEAT_BY_EXECUTOR, &token).await;

    // The same fields in the same order, and leases that differ only where two heartbeats do.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&fast), keys(&general));
    let (mut a, mut b) = (verified(&app, &fast["lease"]).await, verified(&app, &general["lease"]).await);
    for claims in [&mut a, &mut b] {
        let claims = claims.as_object_mut().unwrap();
        for varying in ["jti", "iat", "nbf", "exp"] {
            assert!(claims.remove(varying).is_some());
        }
    }
    assert_eq!(a, b);
}

#[sqlx::test(migrations = "../migrations")]
async fn heartbeats_and_ends_of_ended_sessions_say_why_they_ended(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 5, 5).await;

    let ended = app.session(&client, &license_key, "ended").await;
    app.end_session(&client, &ended).await;
    let timed_out = app.session(&client, &license_key, "timed-out").await;
    age_session(&pool, &timed_out, 61).await;
    let terminated = app.session(&client, &license_key, "terminated").await;
    let id = session_id(&pool, &terminated).await;
    app.gql(&admin, "mutation($id: ID!) { terminateSession(id: $id) { id } }", json!({"id": id}))
        .await
        .data("terminateSession");
    let deactivated = activate(&app, &client, &license_key, "deactivated").await;
    let device = "mutation($id: ID!) { deactivateDevice(id: $id) { isActive } }";
    app.gql(&admin, device, json!({"id": deactivated["deviceId"]})).await.data("deactivateDevice");
    let deactivated = deactivated["sessionToken"].as_str().unwrap().to_owned();
    let released = app.session(&client, &license_key, "released").await;
    assert_eq!(release(&app, &client, &license_key, "released").await["__typename"], "DeviceReleased");
    let unknown = uuid::Uuid::new_v4().to_string();

    let (other_id, other_key) = app.create_license(&admin, 1, 1).await;
    let revoked = app.session(&client, &other_key, "revoked").await;
    let revoke = "mutation($id: ID!) { deactivateLicense(id: $id) { isActive } }";
    app.gql(&admin, revoke, json!({"id": other_id})).await.data("deactivateLicense");
    let (third_id, third_key) = app.create_license(&admin, 1, 1).await;
    let expired = app.session(&client, &third_key, "expired").await;
    expire_license(&pool, &third_id, 1.0).await;

    let cases = [
        (&ended, "SESSION_EXPIRED"),
        (&timed_out, "SESSION_EXPIRED"),
        (&terminated, "ADMIN_TERMINATED"),
        (&deactivated, "DEVICE_DEACTIVATED"),
        (&released, "DEVICE_DEACTIVATED"),
        (&revoked, "LICENSE_REVOKED"),
        (&expired, "LICENSE_EXPIRED"),
        (&unknown, "SESSION_NOT_FOUND"),
    ];
    for (token, reason) in cases {
        for document in [HEARTBEAT, HEARTBEAT_BY_EXECUTOR] {
            let refused = heartbeat(&app, &client, document, token).await;
            assert_eq!(refused, json!({"__typename": "HeartbeatRefused", "reason": reason}), "{document}");
        }
        let end = app.gql(&client, END, json!({"t": token})).await.data("endSession").clone();
        assert_eq!(end, json!({"__typename": "EndSessionRefused", "reason": reason}));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_heartbeat_after_valid_until_ends_the_session_with_license_expired(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 2, 2).await;
    let fast = app.session(&client, &license_key, "fast").await;
    let general = app.session(&client, &license_key, "general").await;
    assert_eq!(heartbeat(&app, &client, HEARTBEAT, &fast).await["__typename"], "HeartbeatAccepted");
    let beats = count(&pool, "SELECT count(*) FROM license_heartbeats").await;
    // Their last heartbeats 10 s ago, the license's end 2 s ago: still live, but unlicensed.
    age_session(&pool, &fast, 10).await;
    age_session(&pool, &general, 10).await;
    expire_license(&pool, &license_id, 2.0).await;

    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await.unwrap();
    listener.listen(license_server::sessions::events::CHANNEL).await.unwrap();
    for (document, token) in [(HEARTBEAT, &fast), (HEARTBEAT_BY_EXECUTOR, &general)] {
        let refused = heartbeat(&app, &client, document, token).await;
        assert_eq!(refused["reason"], "LICENSE_EXPIRED", "{refused}");
        let event: Value = serde_json::from_str(listener.recv().await.unwrap().payload()).unwrap();
        assert_eq!(event["kind"], "ENDED");
        assert_eq!(event["endReason"], "license_expired");
        assert_eq!(event["sessionId"], session_id(&pool, token).await.as_str());
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM license_sessions").await, 0, "both sessions ended");
    assert_eq!(count(&pool, "SELECT count(*) FROM license_heartbeats").await, beats, "no heartbeat recorded");
    let at_license_end = count(
        &pool,
        "SELECT count(*) FROM session_history h JOIN licenses l ON l.id = h.license_id
         WHERE h.end_reason = 'license_expired' AND h.ended_at = l.valid_until",
    )
    .await;
    assert_eq!(at_license_end, 2, "filed as license_expired, ending when the license did");
    let audited = count(
        &pool,
        "SELECT count(*) FROM audit_log WHERE action = 'session.ended' AND actor_type = 'system'
           AND new_values->>'endReason' = 'license_expired'",
    )
    .await;
    assert_eq!(audited, 2);
    // Refused again from the history, and no new session for the expired license.
    assert_eq!(heartbeat(&app, &client, HEARTBEAT, &fast).await["reason"], "LICENSE_EXPIRED");
    assert_eq!(activate(&app, &client, &license_key, "fast").await["reason"], "LICENSE_EXPIRED");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cleanup_ends_live_sessions_of_licenses_that_expired_once_whatever_the_instances(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (expiring_id, expiring_key) = app.create_license(&admin, 3, 3).await;
    let (_, valid_key) = app.create_license(&admin, 1, 1).await;
    let mut doomed = Vec::new();
    for device in ["a", "b", "c"] {
        doomed.push(app.session(&client, &expiring_key, device).await);
    }
    let kept = app.session(&client, &valid_key, "kept").await;
    expire_license(&pool, &expiring_id, 5.0).await;

    let settings = SessionSettings::default();
    let cleanup = || license_server::sessions::cleanup::end_timed_out_sessions(&pool, &settings);
    let (first, second) = tokio::join!(cleanup(), cleanup());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.license_expired + second.license_expired, 3, "each session ended once");
    assert_eq!(first.timed_out + second.timed_out, 0, "none of them had timed out");
    assert_eq!(count(&pool, "SELECT count(*) FROM session_history WHERE end_reason = 'license_expired'").await, 3);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'session.ended'").await, 3);
    assert_eq!(heartbeat(&app, &client, HEARTBEAT, &doomed[0]).await["reason"], "LICENSE_EXPIRED");
    assert_eq!(heartbeat(&app, &client, HEARTBEAT, &kept).await["__typename"], "HeartbeatAccepted");
    assert_eq!(cleanup().await.unwrap().total(), 0, "nothing left to end");
}

#[sqlx::test(migrations = "../migrations")]
async fn release_device_frees_the_slot_and_ends_the_live_session(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let old = app.session(&client, &license_key, "old-pc").await;
    assert_eq!(app.activate(&client, &license_key, "new-pc").await["reason"], "DEVICE_LIMIT_REACHED");

    let released = release(&app, &client, &license_key.to_lowercase(), " old-pc ").await;
    assert_eq!(released["__typename"], "DeviceReleased", "{released}");
    assert!((Utc::now() - time(&released["releasedAt"])).num_seconds().abs() < 5);
    assert_eq!(heartbeat(&app, &client, HEARTBEAT, &old).await["reason"], "DEVICE_DEACTIVATED");
    assert_eq!(count(&pool, "SELECT count(*) FROM session_history WHERE end_reason = 'device_deactivated'").await, 1);
    assert_eq!(app.activate(&client, &license_key, "new-pc").await["__typename"], "SessionGranted");

    let (actor, is_active): (String, bool) = sqlx::query_as(
        "SELECT a.actor_type || ':' || a.actor_name, d.is_active FROM audit_log a
         JOIN device_registrations d ON d.id::text = a.entity_id WHERE a.action = 'device.released'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(actor, "api_key:test Client", "audited with the client's key as actor");
    assert!(!is_active);
    assert_eq!(count(&pool, "SELECT count(*) FROM device_releases WHERE NOT by_admin").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn release_device_is_bounded_per_rolling_30_days_but_admins_are_not(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 3, 3).await;
    set_terms(&pool, &license_id, &[], 0, 2).await;
    for device in ["a", "b", "c"] {
        app.session(&client, &license_key, device).await;
    }
    // An admin's deactivation is not counted against the clients.
    let c: String = sqlx::query_scalar("SELECT id::text FROM device_registrations WHERE hardware_fingerprint = 'c'")
        .fetch_one(&pool)
        .await
        .unwrap();
    app.gql(&admin, "mutation($id: ID!) { deactivateDevice(id: $id) { isActive } }", json!({"id": c})).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM device_releases WHERE by_admin").await, 1);

    let first = release(&app, &client, &license_key, "a").await;
    assert_eq!(first["__typename"], "DeviceReleased");
    assert_eq!(release(&app, &client, &license_key, "b").await["__typename"], "DeviceReleased");
    let d = app.session(&client, &license_key, "d").await;

    let state = |pool: PgPool| async move {
        let row: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM device_registrations WHERE is_active),
                    (SELECT count(*) FROM license_sessions), (SELECT count(*) FROM device_releases),
                    (SELECT count(*) FROM audit_log)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        row
    };
    let before = state(pool.clone()).await;
    let denied = release(&app, &client, &license_key, "d").await;
    assert_eq!(denied["reason"], "TRANSFER_LIMIT_REACHED", "{denied}");
    assert_eq!(
        time(&denied["retryAfter"]),
        time(&first["releasedAt"]) + chrono::Duration::days(30),
        "when the oldest release leaves the window"
    );
    assert_eq!(state(pool.clone()).await, before, "a refusal changes nothing");
    assert_eq!(heartbeat(&app, &client, HEARTBEAT, &d).await["__typename"], "HeartbeatAccepted");

    // Once the oldest release is 30 days old, one more is allowed.
    sqlx::query(
        "UPDATE device_releases SET released_at = released_at - interval '30 days'
         WHERE released_at = (SELECT min(released_at) FROM device_releases WHERE NOT by_admin)",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(release(&app, &client, &license_key, "d").await["__typename"], "DeviceReleased");

    // A license that allows no releases has no moment to retry at.
    set_terms(&pool, &license_id, &[], 0, 0).await;
    app.session(&client, &license_key, "e").await;
    let never = release(&app, &client, &license_key, "e").await;
    assert_eq!(never["reason"], "TRANSFER_LIMIT_REACHED");
    assert_eq!(never["retryAfter"], Value::Null);
}

#[sqlx::test(migrations = "../migrations")]
async fn release_device_refuses_unknown_licenses_and_devices_and_callers_without_the_right(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let analyst = app.key(Scope::Analyst).await;
    let (_, license_key) = app.create_license(&admin, 2, 2).await;
    app.session(&client, &license_key, "pc").await;
    let audit_rows = count(&pool, "SELECT count(*) FROM audit_log").await;

    let unknown_key = LicenseKey::generate();
    let denied = release(&app, &client, unknown_key.as_str(), "pc").await;
    assert_eq!(denied["reason"], "LICENSE_NOT_FOUND");
    assert_eq!(denied["retryAfter"], Value::Null);
    assert_eq!(release(&app, &client, &license_key, "other").await["reason"], "DEVICE_NOT_REGISTERED");
    assert_eq!(release(&app, &client, &license_key, "pc").await["__typename"], "DeviceReleased");
    assert_eq!(release(&app, &client, &license_key, "pc").await["reason"], "DEVICE_NOT_REGISTERED", "already released");

    let malformed = app.gql(&client, RELEASE, json!({"k": "not-a-key", "f": "pc"})).await;
    assert_eq!(malformed.error_code(), "BAD_USER_INPUT");
    let empty = app.gql(&client, RELEASE, json!({"k": license_key, "f": "  "})).await;
    assert_eq!(empty.error_code(), "BAD_USER_INPUT");
    let forbidden = app.gql(&analyst, RELEASE, json!({"k": license_key, "f": "pc"})).await;
    assert_eq!(forbidden.error_code(), "FORBIDDEN");
    assert_eq!(count(&pool, "SELECT count(*) FROM device_releases").await, 1);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_log").await,
        audit_rows + 2,
        "only the one release wrote (device.released and session.ended)"
    );
}
