//! Subscriptions at `/ws`: events caused through one instance reach subscribers on another,
//! in both WebSocket protocols; unauthenticated and client connections are refused.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use license_server::admin::users::Role;
use license_server::admin::AuthSettings;
use license_server::auth::Scope;
use license_server::http::ws::REAUTHORIZE_EVERY;
use license_server::live::connection_caps::ConnectionLimits;
use license_server::live::live_sessions::REFRESH_WINDOW;
use license_server::live::subscription::MAX_SUBSCRIPTIONS_PER_CONNECTION;
use license_server::sessions::SessionSettings;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{
    age_session, create_user, eventually, session_id, spawn_app, spawn_app_with, Browser, Options, TestApp,
};

/// Longest wait for one expected message; events normally arrive within milliseconds.
const PATIENCE: Duration = Duration::from_secs(15);

pub(crate) const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";

const EVENTS: &str = "subscription($l: ID) { sessionEvents(licenseId: $l) {
    kind licenseId sessionId deviceId endReason at } }";
const LIVE: &str =
    "subscription($l: ID) { liveSessions(licenseId: $l) { id licenseId device { hardwareFingerprint } } }";

/// A WebSocket client speaking either protocol.
pub(crate) struct Subscriber {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    legacy: bool,
    /// Messages read while waiting for another subscription's, in arrival order.
    held: VecDeque<Value>,
}

/// How the server ended a connection attempt.
#[derive(Debug)]
struct Refused {
    close_code: u16,
    connection_error: Option<Value>,
}

async fn open(app: &TestApp, protocol: &str, headers: &[(&'static str, String)]) -> Subscriber {
    try_open(app, protocol, headers).await.unwrap_or_else(|refused| panic!("WebSocket upgrade failed: {refused:?}"))
}

/// The handshake's answer when it was not upgraded: status, `Retry-After` and the body.
#[derive(Debug)]
pub(crate) struct HandshakeRefused {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: Value,
}

pub(crate) async fn try_open(
    app: &TestApp,
    protocol: &str,
    headers: &[(&'static str, String)],
) -> Result<Subscriber, HandshakeRefused> {
    let url = format!("{}/ws", app.address.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, response)) => {
            assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
            Ok(Subscriber { socket, legacy: protocol == LEGACY_WS, held: VecDeque::new() })
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(HandshakeRefused {
            status: response.status().as_u16(),
            retry_after: response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()),
            body: serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap_or(Value::Null),
        }),
        Err(err) => panic!("WebSocket handshake failed: {err}"),
    }
}

async fn connect(app: &TestApp, protocol: &str, init_payload: Value) -> Result<Subscriber, Refused> {
    connect_with_headers(app, protocol, init_payload, &[]).await
}

async fn connect_with_headers(
    app: &TestApp,
    protocol: &str,
    init_payload: Value,
    headers: &[(&'static str, String)],
) -> Result<Subscriber, Refused> {
    let mut subscriber = open(app, protocol, headers).await;
    subscriber.send(json!({"type": "connection_init", "payload": init_payload})).await;
    let mut connection_error = None;
    loop {
        match subscriber.next_frame().await {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                match message["type"].as_str() {
                    Some("connection_ack") => return Ok(subscriber),
                    Some("connection_error") => connection_error = Some(message["payload"].clone()),
                    _ => panic!("unexpected message before the acknowledgement: {message}"),
                }
            }
            Message::Close(frame) => {
                let close_code = frame.map(|f| u16::from(f.code)).unwrap_or(u16::from(CloseCode::Status));
                return Err(Refused { close_code, connection_error });
            }
            _ => {}
        }
    }
}

pub(crate) async fn connect_with_key(app: &TestApp, protocol: &str, key: &str) -> Subscriber {
    connect(app, protocol, json!({"apiKey": key})).await.expect("the connection was refused")
}

impl Subscriber {
    async fn send(&mut self, message: Value) {
        self.socket.send(Message::text(message.to_string())).await.unwrap();
    }

    /// Waits for the server to close the connection; returns the close code.
    async fn closed(&mut self, patience: Duration) -> u16 {
        loop {
            let frame = tokio::time::timeout(patience, self.socket.next()).await.expect("the connection stayed open");
            match frame {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)).unwrap_or(1005),
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("WebSocket error instead of a close frame: {err}"),
                None => panic!("the socket ended without a close frame"),
            }
        }
    }

    async fn next_frame(&mut self) -> Message {
        tokio::time::timeout(PATIENCE, self.socket.next())
            .await
            .expect("no message from the server in time")
            .expect("the server closed the socket")
            .expect("WebSocket error")
    }

    pub(crate) async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        self.send(json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}})).await;
    }

    /// The next protocol message that is not a keep-alive.
    pub(crate) async fn next_message(&mut self) -> Value {
        loop {
            if let Message::Text(text) = self.next_frame().await {
                let message: Value = serde_json::from_str(&text).unwrap();
                if !matches!(message["type"].as_str(), Some("ka" | "ping" | "pong")) {
                    return message;
                }
            }
        }
    }

    /// The next message for subscription `id`; messages for others are held for later.
    async fn next_for(&mut self, id: &str) -> Value {
        if let Some(at) = self.held.iter().position(|m| m["id"] == id) {
            return self.held.remove(at).unwrap();
        }
        loop {
            let message = self.next_message().await;
            if message["id"] == id {
                return message;
            }
            self.held.push_back(message);
        }
    }

    /// The payload of the next result for subscription `id` (data or errors).
    async fn next_result(&mut self, id: &str) -> Value {
        let message = self.next_for(id).await;
        let result_type = if self.legacy { "data" } else { "next" };
        assert_eq!(message["type"], result_type, "expected a result, got {message}");
        assert_eq!(message["id"], id, "{message}");
        message["payload"].clone()
    }

    async fn next_data(&mut self, id: &str, field: &str) -> Value {
        let payload = self.next_result(id).await;
        assert!(payload.get("errors").is_none(), "unexpected errors: {payload}");
        payload["data"][field].clone()
    }

    async fn next_event(&mut self, id: &str) -> Value {
        self.next_data(id, "sessionEvents").await
    }

    /// Subscribes to `sessionEvents` and waits until the server holds the subscription: a
    /// `liveSessions` subscription opened after it on the same connection answers with its
    /// first list only once both streams have been started. Returns that first list.
    async fn subscribe_to_events(&mut self, license_id: &str) -> Value {
        self.subscribe("events", EVENTS, json!({"l": license_id})).await;
        self.subscribe("live", LIVE, json!({"l": license_id})).await;
        self.next_data("live", "liveSessions").await
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn session_events_caused_through_one_instance_reach_a_subscriber_on_another(pool: PgPool) {
    let (watched, acting) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let (admin, client) = (acting.key(Scope::Admin).await, acting.key(Scope::Client).await);
    let (license_id, license_key) = acting.create_license(&admin, 3, 3).await;
    let analyst = acting.key(Scope::Analyst).await;
    let mut subscriber = connect_with_key(&watched, TRANSPORT_WS, &analyst).await;
    assert_eq!(subscriber.subscribe_to_events(&license_id).await, json!([]));

    let token = acting.session(&client, &license_key, "laptop").await;
    let laptop = session_id(&pool, &token).await;
    let registered = subscriber.next_event("events").await;
    assert_eq!(registered["kind"], "DEVICE_REGISTERED");
    assert_eq!(registered["licenseId"], license_id.as_str());
    let started = subscriber.next_event("events").await;
    assert_eq!(started["kind"], "STARTED");
    assert_eq!(started["sessionId"], laptop.as_str());
    assert_eq!(started["deviceId"], registered["deviceId"]);

    assert_eq!(acting.session(&client, &license_key, "laptop").await, token, "the same device resumes");
    let resumed = subscriber.next_event("events").await;
    assert_eq!((resumed["kind"].as_str(), resumed["sessionId"].as_str()), (Some("RESUMED"), Some(laptop.as_str())));

    assert_eq!(acting.end_session(&client, &token).await["__typename"], "SessionEnded");
    let ended = subscriber.next_event("events").await;
    assert_eq!(ended["kind"], "ENDED");
    assert_eq!(ended["endReason"], "CLIENT_ENDED");
    assert_eq!(ended["sessionId"], laptop.as_str());

    let second = session_id(&pool, &acting.session(&client, &license_key, "desktop").await).await;
    let desktop = subscriber.next_event("events").await["deviceId"].as_str().unwrap().to_owned();
    assert_eq!(subscriber.next_event("events").await["sessionId"], second.as_str());
    acting
        .gql(&admin, "mutation($id: ID!) { terminateSession(id: $id) { id } }", json!({"id": second}))
        .await
        .data("terminateSession");
    let terminated = subscriber.next_event("events").await;
    assert_eq!(
        (terminated["kind"].as_str(), terminated["endReason"].as_str(), terminated["sessionId"].as_str()),
        (Some("ENDED"), Some("ADMIN_TERMINATED"), Some(second.as_str()))
    );

    let third = session_id(&pool, &acting.session(&client, &license_key, "desktop").await).await;
    assert_eq!(subscriber.next_event("events").await["kind"], "STARTED");
    acting
        .gql(&admin, "mutation($id: ID!) { deactivateDevice(id: $id) { id } }", json!({"id": desktop}))
        .await
        .data("deactivateDevice");
    let deactivated = subscriber.next_event("events").await;
    assert_eq!(
        (deactivated["kind"].as_str(), deactivated["deviceId"].as_str()),
        (Some("DEVICE_DEACTIVATED"), Some(desktop.as_str()))
    );
    let ended = subscriber.next_event("events").await;
    assert_eq!(
        (ended["kind"].as_str(), ended["endReason"].as_str(), ended["sessionId"].as_str()),
        (Some("ENDED"), Some("DEVICE_DEACTIVATED"), Some(third.as_str()))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_timeout_filed_by_another_instance_is_announced(pool: PgPool) {
    let watched = spawn_app(&pool).await;
    let sessions = SessionSettings::new(30, 60, 1).unwrap();
    let cleaning = spawn_app_with(&pool, Options { sessions, background: true, ..Default::default() }).await;
    let (admin, client) = (cleaning.key(Scope::Admin).await, cleaning.key(Scope::Client).await);
    let (license_id, license_key) = cleaning.create_license(&admin, 2, 2).await;
    let token = cleaning.session(&client, &license_key, "quiet").await;
    let quiet = session_id(&pool, &token).await;
    let mut subscriber = connect_with_key(&watched, TRANSPORT_WS, &admin).await;
    let live = subscriber.subscribe_to_events(&license_id).await;
    assert_eq!(live[0]["id"], quiet.as_str());

    age_session(&pool, &token, 120).await;
    let ended = subscriber.next_event("events").await;
    assert_eq!(ended["kind"], "ENDED");
    assert_eq!(ended["endReason"], "TIMEOUT");
    assert_eq!(ended["sessionId"], quiet.as_str());
    assert_eq!(subscriber.next_data("live", "liveSessions").await, json!([]), "the live list empties");
}

#[sqlx::test(migrations = "../migrations")]
async fn live_sessions_sends_the_current_list_then_the_new_list_after_every_change(pool: PgPool) {
    let (watched, acting) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let (admin, client) = (acting.key(Scope::Admin).await, acting.key(Scope::Client).await);
    let (license_id, license_key) = acting.create_license(&admin, 3, 3).await;
    let (_, other_key) = acting.create_license(&admin, 1, 1).await;
    let first_token = acting.session(&client, &license_key, "first").await;
    let first = session_id(&pool, &first_token).await;
    let mut subscriber = connect_with_key(&watched, TRANSPORT_WS, &admin).await;
    subscriber.subscribe("live", LIVE, json!({"l": license_id})).await;
    let initial = subscriber.next_data("live", "liveSessions").await;
    assert_eq!(initial.as_array().unwrap().len(), 1);
    assert_eq!(initial[0]["id"], first.as_str());
    assert_eq!(initial[0]["device"]["hardwareFingerprint"], "first");

    // A session on another license changes nothing here; the next list is the one below.
    acting.session(&client, &other_key, "elsewhere").await;
    let second = session_id(&pool, &acting.session(&client, &license_key, "second").await).await;
    let both = subscriber.next_data("live", "liveSessions").await;
    let ids: Vec<&str> = both.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);

    acting.end_session(&client, &first_token).await;
    let remaining = subscriber.next_data("live", "liveSessions").await;
    assert_eq!(remaining.as_array().unwrap().len(), 1);
    assert_eq!(remaining[0]["id"], second.as_str());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_legacy_graphql_ws_protocol_delivers_the_same_events(pool: PgPool) {
    let (watched, acting) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let (admin, client) = (acting.key(Scope::Admin).await, acting.key(Scope::Client).await);
    let (license_id, license_key) = acting.create_license(&admin, 2, 2).await;
    let mut subscriber = connect_with_key(&watched, LEGACY_WS, &admin).await;
    assert_eq!(subscriber.subscribe_to_events(&license_id).await, json!([]));

    let token = acting.session(&client, &license_key, "legacy").await;
    assert_eq!(subscriber.next_event("events").await["kind"], "DEVICE_REGISTERED");
    assert_eq!(subscriber.next_event("events").await["sessionId"], session_id(&pool, &token).await.as_str());
    acting.end_session(&client, &token).await;
    assert_eq!(subscriber.next_event("events").await["endReason"], "CLIENT_ENDED");

    subscriber.send(json!({"id": "events", "type": "stop"})).await;
    let completed = subscriber.next_for("events").await;
    assert_eq!((completed["type"].as_str(), completed["id"].as_str()), (Some("complete"), Some("events")));
}

#[sqlx::test(migrations = "../migrations")]
async fn connections_without_a_valid_key_are_refused_with_4401(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let revoked = app.key(Scope::Admin).await;
    sqlx::query("UPDATE api_keys SET revoked_at = now()").execute(&pool).await.unwrap();
    let malformed = "AF-2026-NOTAKEY";
    for payload in [json!({}), json!({"apiKey": malformed}), json!({"apiKey": revoked})] {
        let refused = connect(&app, TRANSPORT_WS, payload.clone()).await.err().expect("a connection was accepted");
        assert_eq!(refused.close_code, 4401, "{payload}");
    }

    let refused = connect(&app, LEGACY_WS, json!({})).await.err().expect("a legacy connection was accepted");
    assert_eq!(refused.close_code, 4401);
    let error = refused.connection_error.expect("the legacy protocol announces the refusal");
    assert!(error["message"].as_str().unwrap().contains("Unauthorized"), "{error}");
}

#[sqlx::test(migrations = "../migrations")]
async fn client_keys_may_not_subscribe_and_are_refused_with_4403(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let client = app.key(Scope::Client).await;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let refused = connect(&app, protocol, json!({"apiKey": client})).await.err().expect("a client key subscribed");
        assert_eq!(refused.close_code, 4403, "{protocol}");
    }
    // Analysts may: they read everything.
    let analyst = app.key(Scope::Analyst).await;
    connect_with_key(&app, TRANSPORT_WS, &analyst).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn an_operation_checking_credentials_twice_is_refused_over_websocket_too(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let mut subscriber = connect_with_key(&app, TRANSPORT_WS, &admin).await;
    let twice = "mutation { a: changePassword(currentPassword: \"guess one\", newPassword: \"a new long password\")
                            b: changePassword(currentPassword: \"guess two\", newPassword: \"a new long password\") }";
    subscriber.subscribe("twice", twice, json!({})).await;
    let answer = subscriber.next_for("twice").await.to_string();
    assert!(answer.contains("ONE_CREDENTIAL_CHECK_PER_OPERATION"), "{answer}");
    assert!(!answer.contains("FORBIDDEN"), "refused before the fields ran: {answer}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_connection_holds_a_bounded_number_of_subscriptions(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let mut subscriber = connect_with_key(&app, TRANSPORT_WS, &admin).await;
    for n in 0..MAX_SUBSCRIPTIONS_PER_CONNECTION {
        subscriber.subscribe(&format!("s{n}"), LIVE, json!({})).await;
        assert_eq!(subscriber.next_data(&format!("s{n}"), "liveSessions").await, json!([]));
    }
    subscriber.subscribe("one-too-many", LIVE, json!({})).await;
    let refused = subscriber.next_result("one-too-many").await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS", "{refused}");
    assert_eq!(subscriber.next_for("one-too-many").await["type"], "complete");

    subscriber.send(json!({"id": "s0", "type": "complete"})).await;
    subscriber.subscribe("freed", LIVE, json!({})).await;
    assert_eq!(
        subscriber.next_data("freed", "liveSessions").await,
        json!([]),
        "a completed subscription frees its slot"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lost_database_connection_refreshes_live_lists_and_interrupts_event_streams(pool: PgPool) {
    let (watched, acting) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let (admin, client) = (acting.key(Scope::Admin).await, acting.key(Scope::Client).await);
    let (license_id, license_key) = acting.create_license(&admin, 2, 2).await;
    let mut subscriber = connect_with_key(&watched, TRANSPORT_WS, &admin).await;
    assert_eq!(subscriber.subscribe_to_events(&license_id).await, json!([]));

    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(killed, [true, true], "each instance has one listener connection");

    // Both streams speak up instead of going silent, in whichever order.
    let (mut interrupted, mut refreshed) = (false, false);
    while !(interrupted && refreshed) {
        let message = subscriber.next_message().await;
        match (message["type"].as_str(), message["id"].as_str()) {
            (Some("next"), Some("events")) => {
                assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "EVENTS_INTERRUPTED");
                assert_eq!(subscriber.next_message().await, json!({"type": "complete", "id": "events"}));
                interrupted = true;
            }
            (Some("next"), Some("live")) => {
                assert_eq!(message["payload"]["data"]["liveSessions"], json!([]));
                refreshed = true;
            }
            _ => panic!("unexpected message {message}"),
        }
    }

    // The listener is back: changes reach the live list again.
    let token = acting.session(&client, &license_key, "after-reconnect").await;
    let live = subscriber.next_data("live", "liveSessions").await;
    assert_eq!(live[0]["id"], session_id(&pool, &token).await.as_str());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_session_cookie_authenticates_connections_from_the_servers_own_pages(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "anna", Role::Analyst, "correct horse battery").await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.login("anna", "correct horse battery").await.data("login")["__typename"], "LoginSucceeded");
    let cookie = browser.cookie.clone().expect("a session cookie");

    let own_page = [("Cookie", cookie.clone()), ("Origin", app.address.clone())];
    let mut subscriber = connect_with_headers(&app, TRANSPORT_WS, json!({}), &own_page).await.expect("refused");
    subscriber.subscribe("live", LIVE, json!({})).await;
    assert_eq!(subscriber.next_data("live", "liveSessions").await, json!([]));

    // The same cookie sent by another site's page is worth nothing.
    let cross_site = [("Cookie", cookie), ("Origin", "http://evil.example".to_owned())];
    let refused = connect_with_headers(&app, TRANSPORT_WS, json!({}), &cross_site).await.err().expect("hijacked");
    assert_eq!(refused.close_code, 4401);

    // An admin who has not enrolled in 2FA yet may only enroll.
    create_user(&pool, "root", Role::Admin, "correct horse battery").await;
    let mut admin = Browser::new(&app);
    assert_eq!(admin.login("root", "correct horse battery").await.data("login")["totpEnrollmentRequired"], true);
    let enrolling = [("Cookie", admin.cookie.clone().unwrap()), ("Origin", app.address.clone())];
    let refused = connect_with_headers(&app, TRANSPORT_WS, json!({}), &enrolling).await.err().expect("accepted");
    assert_eq!(refused.close_code, 4403);
}

#[sqlx::test(migrations = "../migrations")]
async fn revoking_the_key_or_logging_out_closes_an_open_connection_with_4401(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let analyst = app.key(Scope::Analyst).await;
    let mut by_key = connect_with_key(&app, TRANSPORT_WS, &analyst).await;
    create_user(&pool, "anna", Role::Analyst, "correct horse battery").await;
    let mut browser = Browser::new(&app);
    browser.login("anna", "correct horse battery").await;
    let own_page = [("Cookie", browser.cookie.clone().unwrap()), ("Origin", app.address.clone())];
    let mut by_cookie = connect_with_headers(&app, LEGACY_WS, json!({}), &own_page).await.expect("refused");

    sqlx::query("UPDATE api_keys SET revoked_at = now()").execute(&pool).await.unwrap();
    assert_eq!(browser.gql("mutation { logout }", json!({})).await.data("logout"), true);

    let patience = REAUTHORIZE_EVERY * 2;
    let (key_closed, cookie_closed) = tokio::join!(by_key.closed(patience), by_cookie.closed(patience));
    assert_eq!((key_closed, cookie_closed), (4401, 4401));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_websocket_message_over_64_kib_ends_the_connection_before_anything_is_read(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let analyst = app.key(Scope::Analyst).await;
    let mut subscriber = open(&app, TRANSPORT_WS, &[]).await;
    let oversized =
        json!({"type": "connection_init", "payload": {"apiKey": analyst, "padding": "x".repeat(100 * 1024)}});
    // The server may already have closed while the message was still being written.
    let _ = subscriber.socket.send(Message::text(oversized.to_string())).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match subscriber.socket.next().await {
                Some(Ok(Message::Text(text))) => panic!("the oversized message was answered: {text}"),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection ends");
    // A message of ordinary size is served as before.
    connect_with_key(&app, TRANSPORT_WS, &analyst).await;
}

/// Handshake headers of a client at `address` behind a trusted proxy.
fn forwarded_for(address: &str) -> [(&'static str, String); 1] {
    [("X-Forwarded-For", address.to_owned())]
}

#[sqlx::test(migrations = "../migrations")]
async fn a_handshake_over_the_per_address_cap_is_refused_with_429_until_a_connection_of_that_address_closes(
    pool: PgPool,
) {
    let auth = AuthSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..AuthSettings::default() };
    let websockets = ConnectionLimits { total: 100, per_address: 2, per_key: 100 };
    let app = spawn_app_with(&pool, Options { auth, websockets, ..Default::default() }).await;
    let admin = app.key(Scope::Admin).await;
    let from_one = forwarded_for("198.51.100.1");
    let init = json!({"apiKey": admin});
    let mut first = connect_with_headers(&app, TRANSPORT_WS, init.clone(), &from_one).await.expect("refused");
    let _second = connect_with_headers(&app, LEGACY_WS, init.clone(), &from_one).await.expect("refused");

    let refused = try_open(&app, TRANSPORT_WS, &from_one).await.err().expect("a third connection was upgraded");
    assert_eq!((refused.status, refused.retry_after.as_deref()), (429, Some("5")), "{refused:?}");
    let extensions = &refused.body["errors"][0]["extensions"];
    assert_eq!((extensions["code"].as_str(), extensions["retryAfter"].as_u64()), (Some("RATE_LIMITED"), Some(5)));
    assert_eq!(extensions["limit"], "wsConnectionsPerAddress");

    // Another address has slots of its own.
    connect_with_headers(&app, TRANSPORT_WS, init.clone(), &forwarded_for("198.51.100.2")).await.expect("refused");

    first.socket.close(None).await.unwrap();
    let reopened = eventually(PATIENCE, || async { try_open(&app, TRANSPORT_WS, &from_one).await.is_ok() }).await;
    assert!(reopened, "a closed connection gives its slot back");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_handshake_over_the_instance_cap_is_refused_with_503_until_any_connection_ends(pool: PgPool) {
    let websockets = ConnectionLimits { total: 2, per_address: 100, per_key: 100 };
    let app = spawn_app_with(&pool, Options { websockets, ..Default::default() }).await;
    let admin = app.key(Scope::Admin).await;
    let _first = connect_with_key(&app, TRANSPORT_WS, &admin).await;
    // Not yet authenticated: a connection counts from its handshake on.
    let unauthenticated = open(&app, TRANSPORT_WS, &[]).await;

    let refused = try_open(&app, TRANSPORT_WS, &[]).await.err().expect("a third connection was upgraded");
    assert_eq!((refused.status, refused.retry_after.as_deref()), (503, Some("5")), "{refused:?}");
    assert_eq!(refused.body["errors"][0]["extensions"]["limit"], "wsConnections");

    // Gone without a close frame: the slot comes back all the same.
    drop(unauthenticated);
    let admitted = eventually(PATIENCE, || async { try_open(&app, TRANSPORT_WS, &[]).await.is_ok() }).await;
    assert!(admitted, "a dropped connection gives its slot back");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_over_its_connection_cap_is_closed_with_4429_until_one_of_its_connections_closes(pool: PgPool) {
    let websockets = ConnectionLimits { total: 100, per_address: 100, per_key: 2 };
    let app = spawn_app_with(&pool, Options { websockets, ..Default::default() }).await;
    let (analyst, admin) = (app.key(Scope::Analyst).await, app.key(Scope::Admin).await);
    let mut first = connect_with_key(&app, TRANSPORT_WS, &analyst).await;
    let _second = connect_with_key(&app, TRANSPORT_WS, &analyst).await;

    let refused = connect(&app, TRANSPORT_WS, json!({"apiKey": analyst})).await.err().expect("a third was accepted");
    assert_eq!(refused.close_code, 4429);
    let refused = connect(&app, LEGACY_WS, json!({"apiKey": analyst})).await.err().expect("a third was accepted");
    assert_eq!(refused.close_code, 4429);
    let error = refused.connection_error.expect("the legacy protocol announces the refusal");
    assert!(error["message"].as_str().unwrap().contains("Too many connections"), "{error}");

    // Other callers are not affected.
    connect_with_key(&app, TRANSPORT_WS, &admin).await;

    first.socket.close(None).await.unwrap();
    let reopened =
        eventually(PATIENCE, || async { connect(&app, TRANSPORT_WS, json!({"apiKey": analyst})).await.is_ok() }).await;
    assert!(reopened, "a closed connection gives the key's slot back");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_burst_of_events_is_read_a_few_times_for_all_live_sessions_subscribers_together(pool: PgPool) {
    const SUBSCRIBERS: usize = 8;
    const DEVICES: usize = 10;
    // Each device: registered, started, resumed; and the other license's device.
    const EVENTS: usize = 3 * DEVICES + 2;
    let reads = Arc::new(AtomicUsize::new(0));
    // Only the read of the live list mentions this function (the re-authorisation does not).
    let counting = Options {
        statements: Some(reads.clone()),
        statements_containing: Some("session_is_live("),
        ..Default::default()
    };
    let (watched, acting) = (spawn_app_with(&pool, counting).await, spawn_app(&pool).await);
    let (admin, client) = (acting.key(Scope::Admin).await, acting.key(Scope::Client).await);
    let (license_id, license_key) = acting.create_license(&admin, DEVICES as i32, DEVICES as i32).await;
    let (_, other_key) = acting.create_license(&admin, 1, 1).await;
    let mut subscribers = Vec::new();
    for n in 0..SUBSCRIBERS {
        let mut subscriber = connect_with_key(&watched, TRANSPORT_WS, &admin).await;
        // Half of them watch the license, half all licenses.
        let license = if n % 2 == 0 { json!(license_id) } else { Value::Null };
        subscriber
            .subscribe("live", "subscription($l: ID) { liveSessions(licenseId: $l) { id } }", json!({"l": license}))
            .await;
        assert_eq!(subscriber.next_data("live", "liveSessions").await, json!([]));
        subscribers.push(subscriber);
    }
    let (before, started) = (reads.load(Ordering::SeqCst), Instant::now());

    // Started, then resumed; and one session of another license, which only half of them see.
    for _round in 0..2 {
        for device in 0..DEVICES {
            acting.session(&client, &license_key, &format!("device-{device}")).await;
        }
    }
    acting.session(&client, &other_key, "elsewhere").await;
    let expected: Vec<String> = sqlx::query_scalar("SELECT id::text FROM license_sessions ORDER BY started_at, id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(expected.len(), DEVICES + 1);
    let other_id: String = sqlx::query_scalar("SELECT id::text FROM license_sessions WHERE license_id <> $1::uuid")
        .bind(&license_id)
        .fetch_one(&pool)
        .await
        .unwrap();

    for (n, subscriber) in subscribers.iter_mut().enumerate() {
        let wanted: Vec<&str> =
            expected.iter().map(String::as_str).filter(|id| n % 2 == 1 || *id != other_id).collect();
        loop {
            let list = subscriber.next_data("live", "liveSessions").await;
            let ids: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
            if ids == wanted {
                break;
            }
        }
    }
    let (reads, elapsed) = (reads.load(Ordering::SeqCst) - before, started.elapsed());
    assert!(reads >= 1, "the list was never read");
    assert!(reads * 6 <= SUBSCRIBERS * EVENTS, "{reads} reads for {SUBSCRIBERS} subscribers and {EVENTS} events");
    // At most one read per window, the first at once and the last after the burst.
    let windows = elapsed.as_millis().div_ceil(REFRESH_WINDOW.as_millis()) as usize;
    assert!(reads <= windows + 1, "{reads} reads in {elapsed:?}: more than one per {REFRESH_WINDOW:?}");
}
