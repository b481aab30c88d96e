//! Dashboard sessions: a random 256-bit token in a `__Host-` cookie (`HttpOnly`, `Secure`,
//! `SameSite=Strict`, `Path=/`); the server keeps only its SHA-256, with idle and absolute
//! timeouts. Logging out, disabling the user or changing the password ends sessions server-side,
//! and so does their owner, who sees them listed (`myDashboardSessions`).

use std::net::IpAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::auth::{Scope, SessionInfo};
use crate::error::Result;
use crate::graphql::ids::Id;

pub const COOKIE_NAME: &str = "__Host-license-session";

/// How long dashboard sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
        }
    }
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn set_cookie(token: &str) -> String {
    format!("{COOKIE_NAME}={token}; HttpOnly; Secure; SameSite=Strict; Path=/")
}

pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0")
}

/// The session token from a `Cookie` header, if present.
pub fn token_from_cookie_header(header: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE_NAME && !value.is_empty()).then(|| value.to_owned())
    })
}

/// The most characters of a `User-Agent` kept with a session (the column's CHECK); the rest is cut.
pub const USER_AGENT_MAX_CHARS: usize = 256;

/// Where a session was started from: the client's address and its browser's `User-Agent`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
}

/// Starts a session and returns the token for the cookie. Always a fresh token: a login never
/// reuses a token the browser already had.
pub async fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    enrollment_only: bool,
    origin: Origin<'_>,
) -> Result<String> {
    let token = new_token();
    let user_agent = origin
        .user_agent
        .map(|agent| agent.chars().filter(|c| !c.is_control()).take(USER_AGENT_MAX_CHARS).collect::<String>())
        .filter(|agent| !agent.trim().is_empty());
    sqlx::query(
        "INSERT INTO admin_sessions (token_hash, user_id, kind, client_ip, user_agent) VALUES ($1, $2, $3, $4::inet, $5)",
    )
    .bind(digest(&token))
    .bind(user_id)
    .bind(if enrollment_only { "enrollment" } else { "full" })
    .bind(origin.ip.map(|ip| ip.to_string()))
    .bind(user_agent)
    .execute(conn)
    .await?;
    Ok(token)
}

/// Looks a cookie's token up and records the activity; `None` when unknown, timed out or the
/// user is disabled.
pub async fn lookup(pool: &PgPool, token: &str, policy: &SessionPolicy) -> Result<Option<SessionInfo>> {
    let row: Option<(Vec<u8>, Uuid, String, String, String)> = sqlx::query_as(
        "UPDATE admin_sessions s SET last_seen_at = now()
         FROM admin_users u
         WHERE s.token_hash = $1 AND u.id = s.user_id AND NOT u.is_disabled
           AND s.last_seen_at > now() - make_interval(secs => $2)
           AND s.created_at > now() - make_interval(secs => $3)
         RETURNING s.token_hash, u.id, u.username, u.role, s.kind",
    )
    .bind(digest(token))
    .bind(policy.idle_timeout.as_secs_f64())
    .bind(policy.absolute_timeout.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(token_hash, user_id, username, role, kind)| SessionInfo {
        token_hash,
        user_id,
        username,
        scope: if role == "admin" { Scope::Admin } else { Scope::Analyst },
        enrollment_only: kind == "enrollment",
    }))
}

/// Whether the session still holds (known, within both timeouts, user enabled), without counting
/// the check as activity: for long-lived connections that re-check their credentials.
pub async fn is_live(pool: &PgPool, token_hash: &[u8], policy: &SessionPolicy) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id
                        WHERE s.token_hash = $1 AND NOT u.is_disabled
                          AND s.last_seen_at > now() - make_interval(secs => $2)
                          AND s.created_at > now() - make_interval(secs => $3))",
    )
    .bind(token_hash)
    .bind(policy.idle_timeout.as_secs_f64())
    .bind(policy.absolute_timeout.as_secs_f64())
    .fetch_one(pool)
    .await?)
}

pub async fn end(conn: &mut PgConnection, token_hash: &[u8]) -> Result<()> {
    sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1").bind(token_hash).execute(conn).await?;
    Ok(())
}

/// Ends every session of a user, except `keep` (the caller's own, e.g. after a password change).
pub async fn end_all_for_user(conn: &mut PgConnection, user_id: Uuid, keep: Option<&[u8]>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)")
        .bind(user_id)
        .bind(keep)
        .execute(conn)
        .await?
        .rows_affected())
}

/// The most sessions of one user [`list_live`] returns, the most recently active first. A user
/// has a few; each one took a sign-in, which is throttled, so more than this is no one's desk.
pub const MAX_LISTED: i64 = 100;

/// One of a user's live sessions as its owner sees it: never the token or its digest.
#[derive(Debug, Clone, sqlx::FromRow, async_graphql::SimpleObject)]
pub struct DashboardSession {
    pub id: Id,
    pub created_at: DateTime<Utc>,
    /// The last request made with it.
    pub last_seen_at: DateTime<Utc>,
    /// The address it was signed in from.
    pub ip_address: Option<String>,
    /// The browser's `User-Agent` when it signed in (cut to 256 characters), if it sent one.
    pub user_agent: Option<String>,
    /// Whether this is the session of the request asking.
    pub current: bool,
}

/// The user's sessions that still hold (within both timeouts), the most recently active first;
/// `current` marks the one with the digest `current`.
pub async fn list_live(
    conn: &mut PgConnection,
    user_id: Uuid,
    current: &[u8],
    policy: &SessionPolicy,
) -> Result<Vec<DashboardSession>> {
    Ok(sqlx::query_as(
        "SELECT id, created_at, last_seen_at, host(client_ip) AS ip_address, user_agent, token_hash = $2 AS current
         FROM admin_sessions
         WHERE user_id = $1
           AND last_seen_at > now() - make_interval(secs => $3)
           AND created_at > now() - make_interval(secs => $4)
         ORDER BY token_hash = $2 DESC, last_seen_at DESC, id
         LIMIT $5",
    )
    .bind(user_id)
    .bind(current)
    .bind(policy.idle_timeout.as_secs_f64())
    .bind(policy.absolute_timeout.as_secs_f64())
    .bind(MAX_LISTED)
    .fetch_all(conn)
    .await?)
}

/// Ends the user's session `id`, unless it is `keep`; whether one ended. Another user's session
/// is never touched, whatever its id.
pub async fn end_one_of_user(conn: &mut PgConnection, user_id: Uuid, id: Uuid, keep: &[u8]) -> Result<bool> {
    Ok(sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1 AND id = $2 AND token_hash <> $3")
        .bind(user_id)
        .bind(id)
        .bind(keep)
        .execute(conn)
        .await?
        .rows_affected()
        == 1)
}

/// Removes sessions past either timeout; they would be refused anyway.
pub async fn purge_expired(pool: &PgPool, policy: &SessionPolicy) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM admin_sessions
         WHERE last_seen_at <= now() - make_interval(secs => $1) OR created_at <= now() - make_interval(secs => $2)",
    )
    .bind(policy.idle_timeout.as_secs_f64())
    .bind(policy.absolute_timeout.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_host_prefixed_and_locked_down() {
        let token = new_token();
        assert!(token.len() >= 43, "256 bits");
        let cookie = set_cookie(&token);
        assert!(cookie.starts_with("__Host-"));
        for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(flag), "{flag}");
        }
        assert!(!cookie.contains("Domain"), "__Host- cookies carry no Domain");
        assert_eq!(token_from_cookie_header(&format!("a=b; {COOKIE_NAME}={token}; c=d")), Some(token));
        assert_eq!(token_from_cookie_header("a=b"), None);
    }
}
