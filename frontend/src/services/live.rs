//! Live data over `/ws` in the `graphql-transport-ws` protocol. The browser sends the session
//! cookie with the WebSocket handshake; `connection_init` carries no credentials.

use futures_util::future::{AbortHandle, Abortable};
use futures_util::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use gloo_timers::future::TimeoutFuture;
use serde_json::{json, Value};
use yew::Callback;

use super::sessions::LiveSession;
use super::{decoded, documents};

/// What a live view shows.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveUpdate {
    /// The current list of live sessions.
    Sessions(Vec<LiveSession>),
    /// The connection dropped; it is being re-established.
    Reconnecting,
    /// The server refused the connection (signed out, or not allowed).
    Refused,
}

/// Stops the subscription (and closes its socket) when dropped.
pub struct LiveSubscription(AbortHandle);

impl Drop for LiveSubscription {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn socket_url() -> String {
    let location = web_sys::window().expect("a browser window").location();
    let scheme = if location.protocol().unwrap_or_default() == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{}/ws", location.host().unwrap_or_default())
}

/// Keeps `on_update` informed about the live sessions (of one license, or all), reconnecting
/// with a growing pause whenever the connection drops.
pub fn live_sessions(license_id: Option<String>, on_update: Callback<LiveUpdate>) -> LiveSubscription {
    let (handle, registration) = AbortHandle::new_pair();
    let task = async move {
        let mut pause_ms = 500;
        loop {
            match run_once(license_id.as_deref(), &on_update).await {
                Outcome::Refused => {
                    on_update.emit(LiveUpdate::Refused);
                    return;
                }
                Outcome::Dropped { delivered } => {
                    if delivered {
                        pause_ms = 500;
                    }
                    on_update.emit(LiveUpdate::Reconnecting);
                    TimeoutFuture::new(pause_ms).await;
                    pause_ms = (pause_ms * 2).min(10_000);
                }
            }
        }
    };
    wasm_bindgen_futures::spawn_local(async move {
        let _ = Abortable::new(task, registration).await;
    });
    LiveSubscription(handle)
}

enum Outcome {
    Refused,
    Dropped { delivered: bool },
}

async fn run_once(license_id: Option<&str>, on_update: &Callback<LiveUpdate>) -> Outcome {
    let Ok(socket) = WebSocket::open_with_protocol(&socket_url(), "graphql-transport-ws") else {
        return Outcome::Dropped { delivered: false };
    };
    let (mut sink, mut stream) = socket.split();
    if sink.send(Message::Text(json!({"type": "connection_init", "payload": {}}).to_string())).await.is_err() {
        return Outcome::Dropped { delivered: false };
    }
    let mut delivered = false;
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Bytes(_)) => continue,
            // 4401/4403: not signed in (any more), or not allowed.
            Err(WebSocketError::ConnectionClose(close)) if matches!(close.code, 4401 | 4403) => {
                return Outcome::Refused;
            }
            Err(_) => break,
        };
        let Ok(message) = serde_json::from_str::<Value>(&text) else { continue };
        match message["type"].as_str() {
            Some("connection_ack") => {
                let subscribe = json!({"id": "live", "type": "subscribe", "payload": {
                    "query": documents::LIVE_SESSIONS.text(),
                    "variables": {"l": license_id},
                }});
                if sink.send(Message::Text(subscribe.to_string())).await.is_err() {
                    break;
                }
            }
            Some("ping") => {
                let _ = sink.send(Message::Text(json!({"type": "pong"}).to_string())).await;
            }
            Some("next") => {
                if let Ok(sessions) = decoded::<Vec<LiveSession>>(&message["payload"]["data"]["liveSessions"]) {
                    delivered = true;
                    on_update.emit(LiveUpdate::Sessions(sessions));
                }
            }
            Some("error") => return Outcome::Refused,
            _ => {}
        }
    }
    Outcome::Dropped { delivered }
}
