//! Signed leases: the published keys, their rotation, and offline activation, checked against a
//! real server, with the leases verified both by jsonwebtoken and by an independent
//! implementation (PyJWT).

use std::path::PathBuf;
use std::process::Command;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use license_server::auth::Scope;
use license_server::leases::{fingerprint_sha256, LeaseClaims, Leases, DEFAULT_ISSUER};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{count, spawn_app, spawn_app_with, Logs, Options, TestApp};

const ISSUE: &str = "mutation($l: ID!, $f: String!, $d: Int!) {
    issueOfflineLease(licenseId: $l, hardwareFingerprint: $f, validDays: $d) }";
const ROTATE: &str = "mutation { rotateSigningKey { kid createdAt retiredAt publishedUntil current } }";
const KEYS: &str = "{ signingKeys { kid createdAt retiredAt publishedUntil current } }";

async fn jwks(app: &TestApp) -> (reqwest::header::HeaderMap, JwkSet) {
    let response = app.client.get(format!("{}/.well-known/jwks.json", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    jwks(app).await.1.keys.into_iter().map(|k| k.common.key_id.unwrap()).collect()
}

async fn issue(app: &TestApp, admin: &str, license: &str, fingerprint: &str, days: i32) -> String {
    let reply = app.gql(admin, ISSUE, json!({"l": license, "f": fingerprint, "d": days})).await;
    reply.data("issueOfflineLease").as_str().unwrap().to_owned()
}

fn kid_of(lease: &str) -> String {
    jsonwebtoken::decode_header(lease).unwrap().kid.unwrap()
}

/// Verifies a lease with jsonwebtoken against the key set, by the `kid` in its header.
fn verify(set: &JwkSet, lease: &str, issuer: &str) -> jsonwebtoken::errors::Result<LeaseClaims> {
    let header = jsonwebtoken::decode_header(lease)?;
    assert_eq!(header.alg, Algorithm::EdDSA);
    let jwk = set.find(header.kid.as_deref().unwrap()).ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
    Ok(jsonwebtoken::decode::<LeaseClaims>(lease, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

/// A lease signed by a key the server never published, claiming `kid`.
fn foreign_lease(claims: &LeaseClaims, kid: &str) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let der = key.to_pkcs8_der().unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
}

/// The lease with its payload changed (another license) and its signature kept.
fn tampered(lease: &str) -> String {
    let parts: Vec<&str> = lease.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!(uuid::Uuid::new_v4());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

async fn license_with(app: &TestApp, admin: &str, fields: Value) -> String {
    let customer = app.create_customer(admin, &format!("{}@example.com", uuid::Uuid::new_v4())).await;
    let mut input = json!({"customerId": customer});
    input.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    app.create_license_for(admin, input).await.0
}

#[sqlx::test(migrations = "../migrations")]
async fn the_published_key_set_is_a_well_formed_jwks_of_ed25519_keys_named_by_their_thumbprint(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (headers, _) = jwks(&app).await;
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age="));
    let raw: Value =
        app.client.get(format!("{}/.well-known/jwks.json", app.address)).send().await.unwrap().json().await.unwrap();
    let keys = raw["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "the first key is created on first use: {raw}");
    let key = &keys[0];
    assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("OKP"), Some("Ed25519")), "{key}");
    assert_eq!((key["alg"].as_str(), key["use"].as_str()), (Some("EdDSA"), Some("sig")), "{key}");
    assert!(key.get("d").is_none(), "never the private half: {key}");
    let x = key["x"].as_str().unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(x).unwrap().len(), 32);
    // RFC 7638: the SHA-256 of the required members in lexicographic order, without whitespace.
    let thumbprint =
        URL_SAFE_NO_PAD.encode(Sha256::digest(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes()));
    assert_eq!(key["kid"].as_str(), Some(thumbprint.as_str()));
    assert_eq!(count(&pool, "SELECT count(*) FROM signing_keys").await, 1);
    assert_eq!(published_kids(&app).await, vec![thumbprint], "the same key on every request");
}

#[sqlx::test(migrations = "../migrations")]
async fn after_a_rotation_the_new_key_signs_and_the_old_one_stays_published_for_the_leases_it_signed(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let license = license_with(&app, &admin, json!({"deviceLimit": 3, "concurrentSessionsLimit": 1})).await;
    let before = issue(&app, &admin, &license, "air-gapped-1", 365).await;
    let old_kid = kid_of(&before);

    let rotated = app.gql(&admin, ROTATE, json!({})).await;
    let new = rotated.data("rotateSigningKey");
    let new_kid = new["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(new["current"], true);
    assert!(new["retiredAt"].is_null() && new["publishedUntil"].is_null(), "{new}");

    let after = issue(&app, &admin, &license, "air-gapped-2", 10).await;
    assert_eq!(kid_of(&after), new_kid, "the new key signs from now on");
    assert_eq!(published_kids(&app).await, vec![new_kid.clone(), old_kid.clone()], "newest first");
    let (_, set) = jwks(&app).await;
    assert!(verify(&set, &before, DEFAULT_ISSUER).is_ok(), "a lease signed before the rotation still verifies");
    assert!(verify(&set, &after, DEFAULT_ISSUER).is_ok());

    let listed = app.gql(&admin, KEYS, json!({})).await;
    let listed = listed.data("signingKeys").as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0]["kid"].as_str(), listed[0]["current"].as_bool()), (Some(new_kid.as_str()), Some(true)));
    assert_eq!((listed[1]["kid"].as_str(), listed[1]["current"].as_bool()), (Some(old_kid.as_str()), Some(false)));
    // Published at least as long as the year-long offline lease the old key signed.
    let published_until: DateTime<Utc> = listed[1]["publishedUntil"].as_str().unwrap().parse().unwrap();
    let before_exp = verify(&set, &before, DEFAULT_ISSUER).unwrap().exp;
    assert!(published_until.timestamp() >= before_exp, "{published_until} vs {before_exp}");
    let retired_at: DateTime<Utc> = listed[1]["retiredAt"].as_str().unwrap().parse().unwrap();
    assert!(retired_at <= Utc::now() + Duration::seconds(5));

    // Audited, with the keys' ids and nothing of their private halves.
    let audit: Value =
        sqlx::query_scalar("SELECT new_values FROM audit_log WHERE action = 'signing_key.rotated' AND entity_id = $1")
            .bind(&new_kid)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audit["retiredKid"], json!(old_kid));
    assert_eq!(audit["currentKid"], json!(new_kid));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retired_key_stays_published_past_the_online_leases_it_may_have_signed(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    license_with(&app, &admin, json!({"deviceLimit": 1, "concurrentSessionsLimit": 1})).await;
    sqlx::query("UPDATE licenses SET offline_grace_seconds = 86400").execute(&pool).await.unwrap();
    jwks(&app).await;
    app.gql(&admin, ROTATE, json!({})).await.data("rotateSigningKey");
    // The session timeout (60 s) + the largest offline grace (a day) + how long another
    // instance may still sign with the old key (30 s), and a margin on top.
    let published_for: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM published_until - retired_at)::float8 FROM signing_keys WHERE retired_at IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(published_for >= 86400.0 + 60.0 + 30.0, "{published_for}");
    assert!(published_for <= 86400.0 + 60.0 + 30.0 + 600.0, "not much longer: {published_for}");
}

#[sqlx::test(migrations = "../migrations")]
async fn retired_keys_disappear_from_the_key_set_after_their_publication_ends(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let first = published_kids(&app).await;
    let new_kid = app.gql(&admin, ROTATE, json!({})).await.data("rotateSigningKey")["kid"].as_str().unwrap().to_owned();
    assert_eq!(published_kids(&app).await.len(), 2);
    sqlx::query("UPDATE signing_keys SET published_until = now() - interval '1 second' WHERE kid = $1")
        .bind(&first[0])
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(published_kids(&app).await, vec![new_kid]);
    let listed = app.gql(&admin, KEYS, json!({})).await;
    assert_eq!(listed.data("signingKeys").as_array().unwrap().len(), 2, "admins still see the retired key");
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_rotations_on_two_instances_always_leave_exactly_one_current_key(pool: PgPool) {
    let (a, b) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let admin = a.key(Scope::Admin).await;
    jwks(&a).await;
    let rotations = (0..6).map(|i| {
        let (app, admin) = (if i % 2 == 0 { &a } else { &b }, admin.clone());
        async move { app.gql(&admin, ROTATE, json!({})).await.data("rotateSigningKey")["kid"].clone() }
    });
    let kids = futures_util::future::join_all(rotations).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM signing_keys WHERE retired_at IS NULL").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM signing_keys").await, 7);
    let current: String =
        sqlx::query_scalar("SELECT kid FROM signing_keys WHERE retired_at IS NULL").fetch_one(&pool).await.unwrap();
    assert!(kids.contains(&json!(current)));
}

#[sqlx::test(migrations = "../migrations")]
async fn offline_leases_issued_during_rotations_stay_verifiable_until_they_expire(pool: PgPool) {
    let (a, b) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let admin = a.key(Scope::Admin).await;
    let license = license_with(&a, &admin, json!({"deviceLimit": 10, "concurrentSessionsLimit": 1})).await;
    // One lease before: the rotations below retire its key for certain.
    let first = issue(&a, &admin, &license, "air-gapped-first", 3000).await;
    let issuances = (0..8).map(|i| {
        let (app, admin, license) = (if i % 2 == 0 { &a } else { &b }, admin.clone(), license.clone());
        async move { issue(app, &admin, &license, &format!("air-gapped-{i}"), 3000).await }
    });
    let rotations = (0..4).map(|i| {
        let (app, admin) = (if i % 2 == 0 { &b } else { &a }, admin.clone());
        async move { app.gql(&admin, ROTATE, json!({})).await.data("rotateSigningKey")["kid"].clone() }
    });
    let (mut leases, _) = futures_util::future::join(
        futures_util::future::join_all(issuances),
        futures_util::future::join_all(rotations),
    )
    .await;
    leases.push(first);
    let (_, set) = jwks(&a).await;
    for lease in &leases {
        let exp = verify(&set, lease, DEFAULT_ISSUER).expect("published now").exp;
        // And for as long as the lease lives: its key is current or published past its expiry.
        let (current, published_until): (bool, Option<DateTime<Utc>>) =
            sqlx::query_as("SELECT retired_at IS NULL, published_until FROM signing_keys WHERE kid = $1")
                .bind(kid_of(lease))
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(
            current || published_until.is_some_and(|until| until.timestamp() >= exp),
            "{published_until:?} < {exp}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn another_instance_signs_with_the_new_key_once_it_has_read_it_again(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let other = Leases::new(pool.clone(), DEFAULT_ISSUER);
    let old_kid = other.current_kid().await.unwrap();
    let new_kid = app.gql(&admin, ROTATE, json!({})).await.data("rotateSigningKey")["kid"].as_str().unwrap().to_owned();
    assert_eq!(other.current_kid().await.unwrap(), old_kid, "until its refresh, an instance keeps its key");
    other.refresh().await.unwrap();
    assert_eq!(other.current_kid().await.unwrap(), new_kid);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_offline_lease_carries_the_license_and_device_and_counts_as_one_of_its_devices(pool: PgPool) {
    let app =
        spawn_app_with(&pool, Options { lease_issuer: Some("acme-licensing".into()), ..Options::default() }).await;
    let admin = app.key(Scope::Admin).await;
    let valid_until = Utc::now() + Duration::days(20);
    let license = license_with(
        &app,
        &admin,
        json!({"deviceLimit": 2, "concurrentSessionsLimit": 1, "licenseType": "PERPETUAL",
               "validUntil": valid_until.to_rfc3339()}),
    )
    .await;
    sqlx::query("UPDATE licenses SET features = '{pro,export}', offline_grace_seconds = 3600 WHERE id = $1::uuid")
        .bind(&license)
        .execute(&pool)
        .await
        .unwrap();
    let started = Utc::now().timestamp();
    let lease = issue(&app, &admin, &license, "  air-gapped-7  ", 7).await;
    let (_, set) = jwks(&app).await;
    assert!(verify(&set, &lease, DEFAULT_ISSUER).is_err(), "the issuer is the configured one");
    let claims = verify(&set, &lease, "acme-licensing").unwrap();

    let device: (uuid::Uuid, bool, String) = sqlx::query_as(
        "SELECT id, is_active, hardware_fingerprint FROM device_registrations WHERE license_id = $1::uuid",
    )
    .bind(&license)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(claims.sub.to_string(), license);
    assert_eq!(claims.device_id, device.0);
    assert!(device.1, "the device holds a slot");
    assert_eq!(device.2, "air-gapped-7", "trimmed like activation trims it");
    assert_eq!(claims.session_id, None);
    let raw: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(lease.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert!(raw.get("session_id").is_none(), "{raw}");
    assert_eq!(claims.fingerprint_sha256, fingerprint_sha256("air-gapped-7"));
    assert_eq!(
        claims.fingerprint_sha256,
        Sha256::digest(b"air-gapped-7").iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    assert_eq!(claims.license_type, "perpetual");
    assert_eq!(claims.features, vec!["pro", "export"]);
    assert_eq!(
        claims.valid_until.as_deref().map(|v| v.parse::<DateTime<Utc>>().unwrap().timestamp()),
        Some(valid_until.timestamp())
    );
    assert!(claims.iat >= started - 5 && claims.iat <= Utc::now().timestamp());
    assert_eq!(claims.nbf, claims.iat);
    // Seven days, without the license's offline grace on top.
    assert_eq!(claims.exp, claims.iat + 7 * 86400);

    // Never past the license's end.
    let long = verify(&set, &issue(&app, &admin, &license, "air-gapped-8", 3650).await, "acme-licensing").unwrap();
    assert_eq!(long.exp, valid_until.timestamp());
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations WHERE is_active").await, 2);

    // Issuing again for a registered device takes no further slot.
    let again = verify(&set, &issue(&app, &admin, &license, "air-gapped-7", 1).await, "acme-licensing").unwrap();
    assert_eq!(again.device_id, device.0);
    assert_ne!(again.jti, claims.jti);

    // Audited without the lease itself.
    let audit: Vec<Value> = sqlx::query_scalar(
        "SELECT new_values FROM audit_log WHERE action = 'license.offline_lease_issued' AND entity_id = $1 ORDER BY id",
    )
    .bind(&license)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[0]["deviceId"], json!(device.0));
    assert_eq!(audit[0]["validDays"], 7);
    let everything: String =
        sqlx::query_scalar("SELECT string_agg(audit_log::text, ' ') FROM audit_log").fetch_one(&pool).await.unwrap();
    assert!(!everything.contains(lease.split('.').nth(2).unwrap()), "no lease in the audit log");
}

#[sqlx::test(migrations = "../migrations")]
async fn offline_activation_is_refused_when_every_device_slot_is_taken(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license, key) = app.create_license(&admin, 1, 1).await;
    app.session(&client, &key, "online-pc").await;
    let refused = app.gql(&admin, ISSUE, json!({"l": license, "f": "air-gapped", "d": 30})).await;
    assert_eq!(refused.error_code(), "BAD_USER_INPUT", "{}", refused.body);
    assert_eq!(refused.error_field(), "licenseId");
    assert_eq!(refused.body["errors"][0]["extensions"]["reason"], "DEVICE_LIMIT_REACHED");
    assert!(refused.body["errors"][0]["message"].as_str().unwrap().contains("device slots"), "{}", refused.body);
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'license.offline_lease_issued'").await, 0);

    // The registered device itself may have one, and a freed slot takes another.
    issue(&app, &admin, &license, "online-pc", 30).await;
    let device: String =
        sqlx::query_scalar("SELECT id::text FROM device_registrations").fetch_one(&pool).await.unwrap();
    app.gql(&admin, "mutation($id: ID!) { deactivateDevice(id: $id) { id } }", json!({"id": device}))
        .await
        .data("deactivateDevice");
    issue(&app, &admin, &license, "air-gapped", 30).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations WHERE is_active").await, 1);
    // And activation sees the slot taken by the offline device.
    let denied = app.activate(&client, &key, "online-pc").await;
    assert_eq!(denied["reason"], "DEVICE_LIMIT_REACHED", "{denied}");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_offline_activation_requests_are_refused_with_typed_errors_and_change_nothing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let license = license_with(&app, &admin, json!({"deviceLimit": 2, "concurrentSessionsLimit": 1})).await;
    let inactive = license_with(&app, &admin, json!({"deviceLimit": 2, "concurrentSessionsLimit": 1})).await;
    app.gql(&admin, "mutation($id: ID!) { deactivateLicense(id: $id) { id } }", json!({"id": inactive}))
        .await
        .data("deactivateLicense");
    let expired = license_with(
        &app,
        &admin,
        json!({"deviceLimit": 2, "concurrentSessionsLimit": 1,
               "validFrom": (Utc::now() - Duration::days(10)).to_rfc3339(),
               "validUntil": (Utc::now() - Duration::days(1)).to_rfc3339()}),
    )
    .await;
    let future = license_with(
        &app,
        &admin,
        json!({"deviceLimit": 2, "concurrentSessionsLimit": 1, "validFrom": (Utc::now() + Duration::days(1)).to_rfc3339()}),
    )
    .await;
    jwks(&app).await;
    let keys_before: Vec<(String, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT kid, offline_leases_until FROM signing_keys").fetch_all(&pool).await.unwrap();
    let audit_before = count(&pool, "SELECT count(*) FROM audit_log").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let long = "x".repeat(257);
    let cases: Vec<(Value, &str, &str, Option<&str>)> = vec![
        (json!({"l": license, "f": "fp", "d": 0}), "BAD_USER_INPUT", "validDays", None),
        (json!({"l": license, "f": "fp", "d": -5}), "BAD_USER_INPUT", "validDays", None),
        (json!({"l": license, "f": "fp", "d": 3651}), "BAD_USER_INPUT", "validDays", None),
        (json!({"l": license, "f": "fp", "d": i32::MAX}), "BAD_USER_INPUT", "validDays", None),
        (json!({"l": license, "f": "   ", "d": 30}), "BAD_USER_INPUT", "hardwareFingerprint", None),
        (json!({"l": license, "f": long, "d": 30}), "BAD_USER_INPUT", "hardwareFingerprint", None),
        (json!({"l": "not-an-id", "f": "fp", "d": 30}), "BAD_USER_INPUT", "licenseId", None),
        (json!({"l": unknown, "f": "fp", "d": 30}), "NOT_FOUND", "licenseId", None),
        (json!({"l": inactive, "f": "fp", "d": 30}), "BAD_USER_INPUT", "licenseId", Some("LICENSE_INACTIVE")),
        (json!({"l": expired, "f": "fp", "d": 30}), "BAD_USER_INPUT", "licenseId", Some("LICENSE_EXPIRED")),
        (json!({"l": future, "f": "fp", "d": 30}), "BAD_USER_INPUT", "licenseId", Some("LICENSE_NOT_YET_VALID")),
    ];
    for (variables, code, field, reason) in cases {
        let reply = app.gql(&admin, ISSUE, variables.clone()).await;
        assert_eq!(reply.error_code(), code, "{variables}: {}", reply.body);
        assert_eq!(reply.error_field(), field, "{variables}: {}", reply.body);
        if let Some(reason) = reason {
            assert_eq!(reply.body["errors"][0]["extensions"]["reason"], reason, "{}", reply.body);
        }
        assert!(reply.body["data"].is_null(), "{}", reply.body);
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log").await, audit_before);
    let keys_after: Vec<(String, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT kid, offline_leases_until FROM signing_keys").fetch_all(&pool).await.unwrap();
    assert_eq!(keys_after, keys_before);
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_see_rotate_or_issue_with_the_signing_keys(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let license = license_with(&app, &admin, json!({"deviceLimit": 2, "concurrentSessionsLimit": 1})).await;
    jwks(&app).await;
    for scope in [Scope::Client, Scope::Analyst] {
        let key = app.key(scope).await;
        for (query, variables) in
            [(ROTATE, json!({})), (KEYS, json!({})), (ISSUE, json!({"l": license, "f": "fp", "d": 30}))]
        {
            let reply = app.gql(&key, query, variables).await;
            assert_eq!(reply.error_code(), "FORBIDDEN", "{scope:?} {query}: {}", reply.body);
        }
    }
    let anonymous = app.gql("", ROTATE, json!({})).await;
    assert_ne!(anonymous.status, 200, "{}", anonymous.body);
    assert_eq!(count(&pool, "SELECT count(*) FROM signing_keys").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn no_response_audit_row_or_log_line_shows_a_private_key(pool: PgPool) {
    let logs = Logs::default();
    let app = spawn_app_with(&pool, Options { logs: Some(logs.clone()), ..Options::default() }).await;
    let admin = app.key(Scope::Admin).await;
    let license = license_with(&app, &admin, json!({"deviceLimit": 2, "concurrentSessionsLimit": 1})).await;
    let mut responses = String::new();
    responses.push_str(&issue(&app, &admin, &license, "fp-1", 30).await);
    responses.push_str(&app.gql(&admin, ROTATE, json!({})).await.body.to_string());
    responses.push_str(&issue(&app, &admin, &license, "fp-2", 30).await);
    responses.push_str(&app.gql(&admin, KEYS, json!({})).await.body.to_string());
    responses.push_str(&app.gql(&admin, ISSUE, json!({"l": license, "f": "fp-3", "d": 0})).await.body.to_string());
    responses.push_str(&serde_json::to_string(&jwks(&app).await.1).unwrap());
    let audit: String =
        sqlx::query_scalar("SELECT string_agg(audit_log::text, ' ') FROM audit_log").fetch_one(&pool).await.unwrap();
    let private_keys: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT private_key FROM signing_keys").fetch_all(&pool).await.unwrap();
    assert_eq!(private_keys.len(), 2);
    let logged = logs.text();
    for der in private_keys {
        // The 32-byte seed inside the PKCS#8 document, in every encoding it could leak in.
        let seed = &ed25519_dalek::SigningKey::from_pkcs8_der(&der).unwrap().to_bytes();
        let encodings = [
            URL_SAFE_NO_PAD.encode(seed),
            base64::engine::general_purpose::STANDARD.encode(&der),
            base64::engine::general_purpose::STANDARD.encode(seed),
            seed.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            format!("{seed:?}").replace(' ', ""),
        ];
        for encoded in encodings {
            for (what, text) in [("responses", &responses), ("audit log", &audit), ("logs", &logged)] {
                assert!(!text.replace(' ', "").contains(&encoded), "a private key in the {what}");
            }
        }
    }
}

/// A Python with PyJWT and `cryptography`, in a virtual environment made once in the test
/// target directory (scripts/setup.sh installs python3 and its venv module).
fn python_with_pyjwt() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pyjwt-venv");
    let python = venv.join("bin/python");
    let ready = |python: &PathBuf| {
        Command::new(python).args(["-c", "import jwt, cryptography"]).status().is_ok_and(|s| s.success())
    };
    if !ready(&python) {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3 runs");
        assert!(made.success(), "python3 -m venv failed (Debian: apt-get install python3-venv)");
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "pyjwt>=2.8", "cryptography"])
            .status()
            .expect("pip runs");
        assert!(installed.success(), "pip install pyjwt cryptography failed");
    }
    python
}

/// Each lease as PyJWT judges it against the server's published keys.
async fn verify_with_pyjwt(app: &TestApp, issuer: &str, leases: &[&str]) -> Vec<Value> {
    let python = python_with_pyjwt();
    let url = format!("{}/.well-known/jwks.json", app.address);
    let mut args =
        vec![concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/api/verify_leases.py").to_owned(), url, issuer.to_owned()];
    args.extend(leases.iter().map(|l| l.to_string()));
    let output = tokio::task::spawn_blocking(move || Command::new(python).args(args).output().unwrap()).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn pyjwt_verifies_leases_against_the_published_keys_across_a_rotation_and_rejects_forgeries(pool: PgPool) {
    let app =
        spawn_app_with(&pool, Options { lease_issuer: Some("acme-licensing".into()), ..Options::default() }).await;
    let admin = app.key(Scope::Admin).await;
    let license = license_with(&app, &admin, json!({"deviceLimit": 3, "concurrentSessionsLimit": 1})).await;
    sqlx::query("UPDATE licenses SET features = '{pro}' WHERE id = $1::uuid")
        .bind(&license)
        .execute(&pool)
        .await
        .unwrap();
    let before = issue(&app, &admin, &license, "air-gapped-1", 30).await;
    let old_kid = kid_of(&before);
    let new_kid = app.gql(&admin, ROTATE, json!({})).await.data("rotateSigningKey")["kid"].as_str().unwrap().to_owned();
    let after = issue(&app, &admin, &license, "air-gapped-2", 2).await;
    let (_, set) = jwks(&app).await;
    let claims = verify(&set, &after, "acme-licensing").unwrap();
    let forged_current = foreign_lease(&claims, &new_kid);
    let forged_unknown = foreign_lease(&claims, "not-a-published-kid");

    let verdicts = verify_with_pyjwt(
        &app,
        "acme-licensing",
        &[&before, &after, &tampered(&after), &forged_current, &forged_unknown],
    )
    .await;
    assert_eq!(verdicts.len(), 5);
    let (old, new) = (&verdicts[0], &verdicts[1]);
    assert_eq!(old["valid"], true, "{old}");
    assert_eq!(old["kid"], json!(old_kid));
    assert_eq!(new["valid"], true, "{new}");
    assert_eq!(new["kid"], json!(new_kid));
    let device: String =
        sqlx::query_scalar("SELECT id::text FROM device_registrations WHERE hardware_fingerprint = 'air-gapped-2'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let c = &new["claims"];
    assert_eq!(c["iss"], "acme-licensing");
    assert_eq!(c["sub"], json!(license));
    assert_eq!(c["device_id"], json!(device));
    assert!(c.get("session_id").is_none(), "{c}");
    assert_eq!(c["fingerprint_sha256"], json!(fingerprint_sha256("air-gapped-2")));
    assert_eq!(c["license_type"], "subscription");
    assert_eq!(c["valid_until"], Value::Null);
    assert_eq!(c["features"], json!(["pro"]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 2 * 86400);
    assert_eq!(verdicts[2]["error"], "InvalidSignatureError", "tampered: {}", verdicts[2]);
    assert_eq!(verdicts[3]["error"], "InvalidSignatureError", "foreign key, known kid: {}", verdicts[3]);
    assert_eq!(verdicts[4]["valid"], false, "foreign key, unknown kid: {}", verdicts[4]);
    assert_eq!(verdicts[4]["error"], "PyJWKClientError");

    // Another issuer's view of the same lease: refused.
    let wrong_issuer = verify_with_pyjwt(&app, DEFAULT_ISSUER, &[&after]).await;
    assert_eq!(wrong_issuer[0]["error"], "InvalidIssuerError", "{}", wrong_issuer[0]);
}
