//! `/ws`: GraphQL subscriptions over WebSockets, in both the `graphql-transport-ws` protocol and
//! the legacy `graphql-ws` (subscriptions-transport-ws) one.
//!
//! The `connection_init` message is read here, before the GraphQL machinery sees the socket, so a
//! connection that cannot authenticate is refused with the protocol's own close code: 4401
//! (Unauthorized) without valid credentials, 4403 (Forbidden) for a `client` key, 4408 when no
//! `connection_init` arrives in time. Under the legacy protocol a `connection_error` message
//! precedes the close. Accepted connections carry their caller and their subscription slots as
//! connection data; the init message is then replayed to `async-graphql`, which acknowledges it.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use async_graphql::http::{WebSocketProtocols, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{ConnectInfo, FromRequestParts, State, WebSocketUpgrade};
use axum::http::{header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{future, stream, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::subscription::SubscriptionSlots;
use crate::api_keys;
use crate::auth::{Caller, Scope};
use crate::graphql::AppSchema;
use crate::state::AppState;

/// How long a new connection may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

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
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| serve(socket, state, protocol, legacy, ip))
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

async fn authenticate(state: &WsState, init: &InitMessage, ip: Option<IpAddr>) -> Result<Caller, Refusal> {
    if init.kind != "connection_init" {
        return Err(UNAUTHORIZED);
    }
    let Some(key) = init.payload.as_ref().and_then(|p| p.api_key.as_deref()) else {
        return Err(UNAUTHORIZED);
    };
    match api_keys::authenticate(&state.app.pool, key.trim(), ip).await {
        Ok(Some(caller)) if caller.scope == Scope::Client => {
            Err(Refusal { code: 4403, message: "Forbidden: client keys may not subscribe" })
        }
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => Err(UNAUTHORIZED),
        Err(err) => {
            tracing::error!(error = ?err, "authenticating a WebSocket connection failed");
            Err(Refusal { code: 1011, message: "internal server error" })
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

async fn serve(socket: WebSocket, state: WsState, protocol: GraphQLProtocol, legacy: bool, ip: Option<IpAddr>) {
    let (sink, mut stream) = socket.split();
    let init_text = match tokio::time::timeout(INIT_TIMEOUT, next_text(&mut stream)).await {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(_) => {
            return refuse(sink, legacy, Refusal { code: 4408, message: "Connection initialisation timeout" }).await;
        }
    };
    let caller = match serde_json::from_str::<InitMessage>(&init_text) {
        Ok(init) => authenticate(&state, &init, ip).await,
        Err(_) => Err(Refusal { code: 4400, message: "the first message must be connection_init" }),
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(refusal) => return refuse(sink, legacy, refusal).await,
    };
    let mut data = Data::default();
    data.insert(caller);
    data.insert(SubscriptionSlots::default());
    let replayed = stream::once(future::ready(Ok(Message::Text(init_text.into())))).chain(stream);
    GraphQLWebSocket::new_with_pair(sink, replayed, state.schema, protocol)
        .on_connection_init(move |_| future::ready(Ok(data)))
        .serve()
        .await;
}
