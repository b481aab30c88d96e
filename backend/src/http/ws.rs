//! `/ws`: GraphQL subscriptions over WebSockets, in both the `graphql-transport-ws` protocol and
//! the legacy `graphql-ws` (subscriptions-transport-ws) one.
//!
//! The `connection_init` message is read here, before the GraphQL machinery sees the socket, so a
//! connection that cannot authenticate is refused with the protocol's own close code: 4401
//! (Unauthorized) without valid credentials, 4403 (Forbidden) for a `client` key, 4408 when no
//! `connection_init` arrives in time, 4429 when the caller (API key or dashboard user) already
//! holds its maximum of connections. Under the legacy protocol a `connection_error` message
//! precedes the close. Over the instance's or the client address's cap the handshake itself is
//! refused (503 or 429 with `Retry-After`, see [`caps`]). Credentials: `{"apiKey": "AF-…"}` in
//! the payload, else the dashboard's session cookie from the handshake, which counts only when
//! the handshake's `Origin` is this server (no cross-site WebSocket hijacking). A session that
//! must enroll in 2FA first gets 4403.
//!
//! Accepted connections carry their caller and their subscription slots as connection data; the
//! init message is then replayed to `async-graphql`, which acknowledges it. Every
//! [`REAUTHORIZE_EVERY`] the credentials are checked again (without counting as activity of the
//! dashboard session): a revoked key, a logged-out or timed-out session or a disabled user closes
//! the connection with 4401.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use async_graphql::http::{WebSocketProtocols, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::Data;
use async_graphql::ErrorExtensions;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{ConnectInfo, FromRequestParts, State, WebSocketUpgrade};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{future, stream, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::identity;
use crate::admin::dashboard_sessions;
use crate::app::AppState;
use crate::auth::{Caller, Scope};
use crate::live::connection_caps::{Full, KeySlot};
use crate::live::subscription::SubscriptionSlots;
use crate::schema::AppSchema;

/// Largest message (and frame) a client may send: the protocol's messages are small, and nothing
/// larger is buffered, before authentication or after (axum's default would be 64 MiB).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// How long a new connection may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an open connection's credentials are checked again.
pub const REAUTHORIZE_EVERY: Duration = Duration::from_secs(10);
/// What a handshake refused for a full cap is told to wait before trying again.
const RETRY_CONNECTING_AFTER: Duration = Duration::from_secs(5);
/// The close code when the caller already holds its maximum of connections.
pub const TOO_MANY_CONNECTIONS: u16 = 4429;

#[derive(Clone)]
struct WsState {
    app: AppState,
    schema: AppSchema,
}

/// The `/ws` route.
pub fn router(app: AppState, schema: AppSchema) -> Router {
    Router::new().route("/ws", get(upgrade)).with_state(WsState { app, schema })
}

async fn upgrade(State(state): State<WsState>, request: axum::extract::Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => {
            return (status, "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws").into_response()
        }
    };
    let Some(legacy) = requested_protocol(&parts).map(|p| p == WebSocketProtocols::SubscriptionsTransportWS) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    // Browsers always send `Origin` with a WebSocket handshake; the cookie counts only when it
    // names this server.
    let via_proxy = identity::is_trusted_proxy(peer, &state.app.auth.trusted_proxies);
    let session_token = (identity::origin_matches_host(&parts.headers, via_proxy) == Some(true))
        .then(|| identity::session_cookie(&parts.headers))
        .flatten();
    let ip = super::client_ip(&state.app, &parts.headers, peer);
    // A handshake pays its unit from the address's bucket like every HTTP request.
    if let Some(refused) = super::admit(&state.app, ip, super::MediaType::Json) {
        return refused;
    }
    let slots = match state.app.ws_connections.admit(ip) {
        Ok(slots) => slots,
        Err(full) => return connections_full(full),
    };
    let handshake = Handshake { ip, session_token };
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // The slots live as long as the connection, and are given back if the upgrade never completes.
        .on_upgrade(move |socket| async move {
            serve(socket, state, protocol, legacy, handshake).await;
            drop(slots);
        })
}

/// The handshake refused for a full cap: 503 when the instance is full (another instance may
/// have room), 429 when the client's address is; both with `Retry-After` and a GraphQL error
/// body as every rate limit answers (`RATE_LIMITED`, `retryAfter`, `limit`).
fn connections_full(full: Full) -> Response {
    let (status, limit) = match full {
        Full::Instance => (StatusCode::SERVICE_UNAVAILABLE, "wsConnections"),
        Full::Address => (StatusCode::TOO_MANY_REQUESTS, "wsConnectionsPerAddress"),
    };
    let error = crate::Error::RateLimited { limit, retry_after: RETRY_CONNECTING_AFTER }.extend();
    let body = json!({ "errors": [{ "message": error.message, "extensions": error.extensions }] });
    let headers = [
        (header::RETRY_AFTER, HeaderValue::from(crate::error::whole_seconds(RETRY_CONNECTING_AFTER))),
        (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
    ];
    (status, headers, body.to_string()).into_response()
}

/// What the handshake told about the client.
struct Handshake {
    ip: Option<IpAddr>,
    /// The dashboard session cookie, when the handshake came from this server's own pages.
    session_token: Option<String>,
}

/// The protocol `GraphQLProtocol` picked, by the same rule (the first one known).
fn requested_protocol(parts: &Parts) -> Option<WebSocketProtocols> {
    parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

#[derive(Deserialize)]
struct InitMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<InitPayload>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct InitPayload {
    api_key: Option<String>,
}

struct Refusal {
    code: u16,
    message: &'static str,
}

const UNAUTHORIZED: Refusal =
    Refusal { code: 4401, message: "Unauthorized: connection_init must carry a valid analyst or admin apiKey" };

const INTERNAL: Refusal = Refusal { code: 1011, message: "internal server error" };

async fn authenticate(state: &WsState, init: &InitMessage, handshake: &Handshake) -> Result<Caller, Refusal> {
    if init.kind != "connection_init" {
        return Err(UNAUTHORIZED);
    }
    let internal = |err: crate::Error| {
        tracing::error!(error = ?err, "authenticating a WebSocket connection failed");
        INTERNAL
    };
    let key = init.payload.as_ref().and_then(|p| p.api_key.as_deref()).map(str::trim);
    let caller =
        identity::resolve(&state.app, key, handshake.session_token.as_deref(), handshake.ip).await.map_err(internal)?;
    match caller {
        None => Err(UNAUTHORIZED),
        Some(caller) if caller.scope == Scope::Client => {
            Err(Refusal { code: 4403, message: "Forbidden: client keys may not subscribe" })
        }
        Some(caller) if caller.session.as_ref().is_some_and(|s| s.enrollment_only) => {
            Err(Refusal { code: 4403, message: "Forbidden: set up two-factor authentication first" })
        }
        Some(caller) => Ok(caller),
    }
}

/// A slot of the caller's API key or dashboard user, or the refusal when it holds its maximum.
fn admit_caller(state: &WsState, caller: &Caller) -> Result<KeySlot, Refusal> {
    let id = caller.actor.id.as_deref().unwrap_or(&caller.actor.name);
    state.app.ws_connections.admit_key(format!("{}:{id}", caller.actor.kind.as_str())).ok_or(Refusal {
        code: TOO_MANY_CONNECTIONS,
        message: "Too many connections: this API key or user already holds its maximum",
    })
}

/// Whether the caller's key or dashboard session is still good.
async fn still_authorized(state: &WsState, caller: &Caller) -> crate::Result<bool> {
    if let Some(session) = &caller.session {
        return dashboard_sessions::is_live(&state.app.pool, &session.token_hash, &state.app.auth.sessions).await;
    }
    let Some(key_id) = caller.actor.id.as_deref().and_then(|id| id.parse::<uuid::Uuid>().ok()) else {
        return Ok(false);
    };
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NULL)")
        .bind(key_id)
        .fetch_one(&state.app.pool)
        .await?)
}

/// Returns once the caller's credentials no longer hold.
async fn revoked(state: &WsState, caller: &Caller) {
    let mut ticker = tokio::time::interval(REAUTHORIZE_EVERY);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match still_authorized(state, caller).await {
            Ok(true) => {}
            Ok(false) => return,
            // A database hiccup is not a revocation; the next round decides.
            Err(err) => tracing::warn!(error = ?err, "re-checking a WebSocket connection's credentials failed"),
        }
    }
}

/// The next text frame, skipping pings; `None` once the client closes or fails.
async fn next_text(stream: &mut SplitStream<WebSocket>) -> Option<String> {
    while let Some(message) = stream.next().await {
        match message.ok()? {
            Message::Text(text) => return Some(text.to_string()),
            Message::Binary(bytes) => return String::from_utf8(bytes.to_vec()).ok(),
            Message::Close(_) => return None,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    None
}

async fn refuse(mut sink: SplitSink<WebSocket, Message>, legacy: bool, refusal: Refusal) {
    if legacy {
        let error = json!({"type": "connection_error", "payload": {"message": refusal.message}});
        let _ = sink.send(Message::Text(error.to_string().into())).await;
    }
    let frame = CloseFrame { code: refusal.code, reason: refusal.message.into() };
    let _ = sink.send(Message::Close(Some(frame))).await;
    let _ = sink.close().await;
}

async fn serve(socket: WebSocket, state: WsState, protocol: GraphQLProtocol, legacy: bool, handshake: Handshake) {
    let (sink, mut stream) = socket.split();
    let init_text = match tokio::time::timeout(INIT_TIMEOUT, next_text(&mut stream)).await {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(_) => {
            return refuse(sink, legacy, Refusal { code: 4408, message: "Connection initialisation timeout" }).await;
        }
    };
    let caller = match serde_json::from_str::<InitMessage>(&init_text) {
        Ok(init) => authenticate(&state, &init, &handshake).await,
        Err(_) => Err(Refusal { code: 4400, message: "the first message must be connection_init" }),
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(refusal) => return refuse(sink, legacy, refusal).await,
    };
    let _key_slot = match admit_caller(&state, &caller) {
        Ok(slot) => slot,
        Err(refusal) => return refuse(sink, legacy, refusal).await,
    };
    let mut data = Data::default();
    data.insert(caller.clone());
    data.insert(SubscriptionSlots::default());
    let mut sink = sink;
    let mut replayed = stream::once(future::ready(Ok(Message::Text(init_text.into())))).chain(stream);
    let graphql = GraphQLWebSocket::new_with_pair(&mut sink, &mut replayed, state.schema.clone(), protocol)
        .on_connection_init(move |_| future::ready(Ok(data)))
        .serve();
    let revoked = matches!(
        future::select(std::pin::pin!(graphql), std::pin::pin!(revoked(&state, &caller))).await,
        future::Either::Right(_)
    );
    if revoked {
        refuse(sink, legacy, Refusal { code: 4401, message: "Unauthorized: the credentials are no longer valid" })
            .await;
    }
}
