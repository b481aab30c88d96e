//! Dashboard identity: admin users, passwords, TOTP, sign-in throttling and cookie sessions, and
//! each user's own account.

pub mod account;
pub mod dashboard_sessions;
pub mod login;
pub mod one_credential_check;
pub mod passwords;
pub mod recovery_codes;
pub mod throttle;
pub mod totp;
pub mod users;

use sqlx::PgPool;

/// How dashboard sign-in behaves.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub sessions: dashboard_sessions::SessionPolicy,
    /// Admins must use 2FA; until they enroll, their session can only enroll.
    pub require_admin_totp: bool,
    /// Peers whose `X-Forwarded-For` is believed (nginx in front of the server).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            sessions: dashboard_sessions::SessionPolicy::default(),
            require_admin_totp: true,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Deletes what sign-in no longer needs: dashboard sessions past their timeouts, throttle
/// counters with nothing left to count, and sign-in challenges that are used or expired. Each
/// would be refused or ignored anyway; this keeps the tables as small as the live state.
/// Returns how many rows went.
pub async fn purge(pool: &PgPool, sessions: &dashboard_sessions::SessionPolicy) -> crate::Result<u64> {
    let challenges = sqlx::query("DELETE FROM login_challenges WHERE used_at IS NOT NULL OR expires_at <= now()")
        .execute(pool)
        .await?
        .rows_affected();
    Ok(dashboard_sessions::purge_expired(pool, sessions).await? + throttle::purge(pool).await? + challenges)
}
