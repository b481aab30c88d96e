//! The signed-in user's own account: the password rules and a new password, recovery codes and
//! turning 2FA off, and their own dashboard sessions.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::decode::from_json;
use super::users::AdminUser;
use super::{auth, documents, gql, ApiError};

from_json! {
    /// What a new password must be, as the server enforces it.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct PasswordPolicy {
        pub min_length: usize,
        pub max_length: usize,
    }
}

from_json! {
    /// One of the user's own live dashboard sessions.
    #[derive(Clone, Debug, PartialEq)]
    pub struct DashboardSession {
        pub id: String,
        pub created_at: DateTime<Utc>,
        pub last_seen_at: DateTime<Utc>,
        pub ip_address: Option<String>,
        pub user_agent: Option<String>,
        pub current: bool,
    }
}

/// The field a rejected password or code is reported on (see [`rejected_credentials`]).
pub const CODE_FIELD: &str = "code";

pub async fn password_policy() -> Result<PasswordPolicy, ApiError> {
    gql(documents::PASSWORD_POLICY, json!({}), "passwordPolicy").await
}

pub async fn my_dashboard_sessions() -> Result<Vec<DashboardSession>, ApiError> {
    gql(documents::MY_DASHBOARD_SESSIONS, json!({}), "myDashboardSessions").await
}

pub async fn end_dashboard_session(id: &str) -> Result<bool, ApiError> {
    gql(documents::END_DASHBOARD_SESSION, json!({"id": id}), "endDashboardSession").await
}

/// Ends every other session of the user; returns how many ended.
pub async fn end_other_dashboard_sessions() -> Result<i32, ApiError> {
    gql(documents::END_OTHER_DASHBOARD_SESSIONS, json!({}), "endOtherDashboardSessions").await
}

/// Changes the password; the user's other sessions end. A wrong current password is an
/// [`ApiError::Invalid`] on `currentPassword`, a new one against the rules on `newPassword`.
pub async fn change_password(current: &str, new: &str) -> Result<bool, ApiError> {
    gql(documents::CHANGE_PASSWORD, json!({"current": current, "new": new}), "changePassword").await
}

/// Ten new recovery codes (shown once) in place of the old ones.
pub async fn regenerate_recovery_codes(password: &str, code: &str) -> Result<Vec<String>, ApiError> {
    let variables = json!({"password": password, "code": code});
    let result = gql(documents::REGENERATE_RECOVERY_CODES, variables, "regenerateRecoveryCodes").await;
    rejected_credentials(result).await
}

/// Turns 2FA off; the user's other sessions end.
pub async fn disable_totp(password: &str, code: &str) -> Result<AdminUser, ApiError> {
    let result = gql(documents::DISABLE_TOTP, json!({"password": password, "code": code}), "disableTotp").await;
    rejected_credentials(result).await
}

/// The server answers a wrong password or code of a signed-in user with `UNAUTHENTICATED`, as it
/// answers a session that has ended: `me` tells which. The first becomes an
/// [`ApiError::Invalid`] on [`CODE_FIELD`], for the form to show beside the code.
async fn rejected_credentials<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    match result {
        Err(ApiError::Unauthenticated) if matches!(auth::me().await, Ok(Some(_))) => {
            Err(ApiError::Invalid { field: Some(CODE_FIELD.to_owned()), message: String::new() })
        }
        other => other,
    }
}
