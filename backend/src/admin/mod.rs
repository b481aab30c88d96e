//! Dashboard identity: admin users, passwords, TOTP, sign-in throttling and cookie sessions.

pub mod dashboard_sessions;
pub mod login;
pub mod one_credential_check;
pub mod passwords;
pub mod throttle;
pub mod totp;
pub mod users;

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
