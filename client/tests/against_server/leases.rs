//! Leases that do not come from the server's key: altered on the way, or signed by someone else.
//! A proxy between the SDK and the server plays the attacker; the SDK takes its keys from the
//! server itself (as it would over TLS, or from keys shipped with the application).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use license_client::{verify_offline_lease, Activation, Error, Event, LeaseError, LicenseClient, Validation};
use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::harness::{expect_event, Server, SESSION_TIMEOUT};

/// What the proxy does to the leases it passes on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tamper {
    Nothing,
    /// Extends `exp` by a year and adds a feature, keeping the server's signature.
    Claims,
    /// Signs the claims with its own key, naming the server's key id.
    ForeignKeyWithServerKid,
    /// Signs the claims with its own key, under its own key id.
    ForeignKey,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    tamper: Arc<Mutex<Tamper>>,
}

impl Proxy {
    /// Starts the proxy in front of `server`; its URL.
    async fn start(server: &Server, tamper: Tamper) -> (String, Arc<Mutex<Tamper>>) {
        let proxy =
            Proxy { upstream: server.url(), http: reqwest::Client::new(), tamper: Arc::new(Mutex::new(tamper)) };
        let control = proxy.tamper.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().route("/graphql", post(forward)).with_state(proxy);
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, control)
    }
}

async fn forward(State(proxy): State<Proxy>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let mut answer: Value = proxy
        .http
        .post(format!("{}/graphql", proxy.upstream))
        .header("X-API-Key", headers["x-api-key"].as_bytes())
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tamper = *proxy.tamper.lock().unwrap();
    for field in ["activate", "heartbeat", "validateLicense"] {
        if let Some(lease) = answer["data"][field]["lease"].as_str() {
            answer["data"][field]["lease"] = Value::String(tampered(lease, tamper));
        }
    }
    Json(answer)
}

fn tampered(lease: &str, tamper: Tamper) -> String {
    let parts: Vec<&str> = lease.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 365 * 86_400);
    claims["features"].as_array_mut().unwrap().push(json!("enterprise"));
    let server_kid = jsonwebtoken::decode_header(lease).unwrap().kid.unwrap();
    match tamper {
        Tamper::Nothing => lease.to_owned(),
        Tamper::Claims => {
            format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
        }
        Tamper::ForeignKeyWithServerKid => sign_foreign(&claims, &server_kid),
        Tamper::ForeignKey => sign_foreign(&claims, "impostor-key"),
    }
}

fn sign_foreign(claims: &Value, kid: &str) -> String {
    let impostor = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(impostor.to_pkcs8_der().unwrap().as_bytes()))
        .unwrap()
}

/// A client that talks GraphQL through the proxy and takes its keys from the server.
async fn client_through(server: &Server, proxy_url: &str) -> LicenseClient {
    LicenseClient::builder(proxy_url, server.key(Scope::Client).await)
        .jwks_url(format!("{}/.well-known/jwks.json", server.url()))
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lease_altered_on_the_way_fails_the_activation(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (_, license_key) = server.license(&admin, json!({})).await;
    let (proxy, _) = Proxy::start(&server, Tamper::Claims).await;
    let client = client_through(&server, &proxy).await;
    let result = client.activate(&license_key, "pc-1", "PC").await;
    assert!(matches!(result, Err(Error::InvalidLease(LeaseError::BadSignature))), "{result:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lease_signed_by_a_foreign_key_is_rejected_whichever_key_id_it_names(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (_, license_key) = server.license(&admin, json!({})).await;

    let (proxy, _) = Proxy::start(&server, Tamper::ForeignKeyWithServerKid).await;
    let result = client_through(&server, &proxy).await.activate(&license_key, "pc-1", "PC").await;
    assert!(matches!(result, Err(Error::InvalidLease(LeaseError::BadSignature))), "{result:?}");

    let (proxy, _) = Proxy::start(&server, Tamper::ForeignKey).await;
    let result = client_through(&server, &proxy).await.activate(&license_key, "pc-1", "PC").await;
    assert!(
        matches!(&result, Err(Error::InvalidLease(LeaseError::UnknownKey(kid))) if kid == "impostor-key"),
        "{result:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn forged_heartbeat_leases_cannot_keep_a_client_licensed(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (_, license_key) = server.license(&admin, json!({})).await;
    let (proxy, tamper) = Proxy::start(&server, Tamper::Nothing).await;
    let client = client_through(&server, &proxy).await;
    let Activation::Licensed(session) = client.activate(&license_key, "pc-1", "PC").await.unwrap() else {
        panic!("denied")
    };
    let mut events = session.events();
    expect_event(&mut events, Duration::from_secs(5), |e| matches!(e, Event::LeaseRenewed { .. })).await;

    *tamper.lock().unwrap() = Tamper::ForeignKey;
    expect_event(&mut events, Duration::from_secs(5), |e| matches!(e, Event::LeaseRejected(LeaseError::UnknownKey(_))))
        .await;
    expect_event(&mut events, SESSION_TIMEOUT * 3, |e| matches!(e, Event::Expired)).await;
    assert!(!session.is_licensed(), "forged leases extend nothing");
    assert!(!session.lease().claims().has_feature("enterprise"));
}

#[sqlx::test(migrations = "../migrations")]
async fn validation_hands_out_a_verified_lease_not_tied_to_a_session(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (license_id, license_key) = server.license(&admin, json!({"features": ["pro", "export"]})).await;
    let client = server.client().await;
    let Activation::Licensed(_session) = client.activate(&license_key, "pc-1", "PC").await.unwrap() else {
        panic!("denied")
    };
    let Validation::Valid(valid) = client.validate(&license_key, "pc-1").await.unwrap() else { panic!("not valid") };
    assert_eq!(valid.license_id.to_string(), license_id);
    assert!(valid.has_live_session);
    assert_eq!(valid.license.features, ["pro", "export"]);
    assert_eq!(valid.lease.claims().session_id, None);
    assert!(valid.lease.claims().has_feature("export"));
    let again = client.verify_lease(valid.lease.as_str(), "pc-1").await.unwrap();
    assert_eq!(again.claims(), valid.lease.claims());
    let other_device = client.verify_lease(valid.lease.as_str(), "pc-2").await;
    assert!(matches!(other_device, Err(Error::InvalidLease(LeaseError::WrongDevice))), "{other_device:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_offline_lease_verifies_on_an_air_gapped_machine_with_the_key_set_alone(pool: PgPool) {
    let server = Server::start(&pool).await;
    let admin = server.key(Scope::Admin).await;
    let (license_id, _) = server.license(&admin, json!({"features": ["pro"]})).await;
    let lease = server
        .gql(
            &admin,
            "mutation($id: ID!, $fp: String!) { issueOfflineLease(licenseId: $id, hardwareFingerprint: $fp, validDays: 7) }",
            json!({"id": license_id, "fp": "air-gapped-1"}),
        )
        .await["issueOfflineLease"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwks = reqwest::get(format!("{}/.well-known/jwks.json", server.url())).await.unwrap().text().await.unwrap();
    drop(server);

    let verified = verify_offline_lease(&format!("{lease}\n"), &jwks, "air-gapped-1").unwrap();
    assert_eq!(verified.claims().sub.to_string(), license_id);
    assert_eq!(verified.claims().session_id, None);
    assert!(verified.claims().has_feature("pro"));
    let days = (verified.claims().exp - verified.claims().iat) as f64 / 86_400.0;
    assert!((6.9..=7.0).contains(&days), "valid for the days asked: {days}");
    assert_eq!(verify_offline_lease(&lease, &jwks, "another-pc").unwrap_err(), LeaseError::WrongDevice);
    let (signed, signature) = lease.rsplit_once('.').unwrap();
    let mut signature: Vec<char> = signature.chars().collect();
    signature[10] = if signature[10] == 'A' { 'B' } else { 'A' };
    let altered = format!("{signed}.{}", signature.into_iter().collect::<String>());
    assert_eq!(verify_offline_lease(&altered, &jwks, "air-gapped-1").unwrap_err(), LeaseError::BadSignature);
}
