//! Signing in and out, and two-factor enrollment (the admin-identity contract).

use serde_json::json;

use super::decode::{field, from_json, typename, FromJson};
use super::users::AdminUser;
use super::{documents, gql, ApiError};

#[derive(Clone, Debug, PartialEq)]
pub enum LoginResult {
    LoginSucceeded { user: AdminUser, totp_enrollment_required: bool },
    TotpRequired { challenge: String },
}

impl FromJson for LoginResult {
    fn from_json(json: &serde_json::Value) -> Option<Self> {
        match typename(json)? {
            "LoginSucceeded" => Some(LoginResult::LoginSucceeded {
                user: field(json, "user")?,
                totp_enrollment_required: field(json, "totp_enrollment_required")?,
            }),
            "TotpRequired" => Some(LoginResult::TotpRequired { challenge: field(json, "challenge")? }),
            _ => None,
        }
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct TotpEnrollment {
        pub secret: String,
        pub otpauth_uri: String,
        pub qr_code_svg: String,
    }
}

/// The signed-in user, or `None` when nobody is.
pub async fn me() -> Result<Option<AdminUser>, ApiError> {
    match gql(documents::ME, json!({}), "me").await {
        Err(ApiError::Unauthenticated) => Ok(None),
        other => other,
    }
}

pub async fn login(username: &str, password: &str) -> Result<LoginResult, ApiError> {
    gql(documents::LOGIN, json!({"u": username, "p": password}), "login").await
}

pub async fn verify_totp(challenge: &str, code: &str) -> Result<LoginResult, ApiError> {
    gql(documents::VERIFY_TOTP, json!({"c": challenge, "code": code}), "verifyTotp").await
}

pub async fn redeem_recovery_code(challenge: &str, code: &str) -> Result<LoginResult, ApiError> {
    gql(documents::USE_RECOVERY_CODE, json!({"c": challenge, "code": code}), "useRecoveryCode").await
}

pub async fn logout() -> Result<bool, ApiError> {
    gql(documents::LOGOUT, json!({}), "logout").await
}

pub async fn enroll_totp() -> Result<TotpEnrollment, ApiError> {
    gql(documents::ENROLL_TOTP, json!({}), "enrollTotp").await
}

/// Turns 2FA on; returns the recovery codes, shown once.
pub async fn confirm_totp(code: &str) -> Result<Vec<String>, ApiError> {
    gql(documents::CONFIRM_TOTP, json!({"code": code}), "confirmTotp").await
}
