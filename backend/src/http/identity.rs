//! Who is calling and from where, for HTTP requests and WebSocket handshakes alike: the client's
//! address, whether a browser request comes from this server's own pages, the dashboard session
//! cookie, and the one credential resolver (an API key, else a dashboard session).

use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use ipnet::IpNet;

use crate::admin::dashboard_sessions;
use crate::api_keys;
use crate::app::AppState;
use crate::auth::Caller;

/// Whether the peer is one of the trusted proxies, whose `X-Forwarded-*` headers are believed.
pub(crate) fn is_trusted_proxy(peer: Option<IpAddr>, trusted: &[IpNet]) -> bool {
    peer.is_some_and(|peer| trusted.iter().any(|net| net.contains(&peer)))
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub(crate) fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| is_trusted_proxy(Some(*ip), trusted);
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    Some(forwarded.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer))
}

/// Whether `Origin` names the host the request was sent to; `None` without an `Origin`. The host
/// is `X-Forwarded-Host` only when a trusted proxy sent the request: anyone else could name any
/// host there.
pub(crate) fn origin_matches_host(headers: &HeaderMap, via_trusted_proxy: bool) -> Option<bool> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())?;
    let forwarded = via_trusted_proxy.then(|| headers.get("x-forwarded-host")).flatten();
    let host = forwarded.or_else(|| headers.get(header::HOST)).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/'));
    Some(origin_host.is_some_and(|h| h.eq_ignore_ascii_case(host)))
}

/// Whether a browser says the request comes from our own pages: `Sec-Fetch-Site`, else
/// `Origin` against `Host`. `None` when the request carries neither (not a browser).
pub(crate) fn same_origin(headers: &HeaderMap, via_trusted_proxy: bool) -> Option<bool> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return Some(matches!(site, "same-origin" | "none"));
    }
    origin_matches_host(headers, via_trusted_proxy)
}

/// The dashboard session token from the request's cookies.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(dashboard_sessions::token_from_cookie_header)
}

/// The caller an API key names (when one was presented, it alone counts: `None` if it is
/// malformed, unknown or revoked), else the dashboard session, else nobody. Keys are checked on
/// the client pool: client applications activate and validate with a key, and that one short
/// lookup must not wait behind sign-ins or analyst queries on the general pool.
pub(crate) async fn resolve(
    app: &AppState,
    api_key: Option<&str>,
    session_token: Option<&str>,
    ip: Option<IpAddr>,
) -> crate::Result<Option<Caller>> {
    if let Some(key) = api_key {
        return api_keys::authenticate(&app.client_pool, &app.limits, key, ip).await;
    }
    let Some(token) = session_token else { return Ok(None) };
    let session = dashboard_sessions::lookup(&app.pool, token, &app.auth.sessions).await?;
    Ok(session.map(|session| Caller::from_session(session, ip)))
}
