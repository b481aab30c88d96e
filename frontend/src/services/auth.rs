//! Signing in and out, and two-factor enrollment (the admin-identity contract).

use serde_json::json;

use super::models::{AdminUser, LoginResult, TotpEnrollment};
use super::{gql, ApiError};

const USER: &str = "id username role isDisabled totpEnabled createdAt lastLoginAt";

fn login_result_selection() -> String {
    format!(
        "__typename ... on LoginSucceeded {{ totpEnrollmentRequired user {{ {USER} }} }} ... on TotpRequired {{ challenge }}"
    )
}

/// The signed-in user, or `None` when nobody is.
pub async fn me() -> Result<Option<AdminUser>, ApiError> {
    match gql(&format!("query {{ me {{ {USER} }} }}"), json!({}), "me").await {
        Err(ApiError::Unauthenticated) => Ok(None),
        other => other,
    }
}

pub async fn login(username: &str, password: &str) -> Result<LoginResult, ApiError> {
    let query = format!(
        "mutation($u: String!, $p: String!) {{ login(username: $u, password: $p) {{ {} }} }}",
        login_result_selection()
    );
    gql(&query, json!({"u": username, "p": password}), "login").await
}

pub async fn verify_totp(challenge: &str, code: &str) -> Result<LoginResult, ApiError> {
    let query = format!(
        "mutation($c: String!, $code: String!) {{ verifyTotp(challenge: $c, code: $code) {{ {} }} }}",
        login_result_selection()
    );
    gql(&query, json!({"c": challenge, "code": code}), "verifyTotp").await
}

pub async fn redeem_recovery_code(challenge: &str, code: &str) -> Result<LoginResult, ApiError> {
    let query = format!(
        "mutation($c: String!, $code: String!) {{ useRecoveryCode(challenge: $c, code: $code) {{ {} }} }}",
        login_result_selection()
    );
    gql(&query, json!({"c": challenge, "code": code}), "useRecoveryCode").await
}

pub async fn logout() -> Result<bool, ApiError> {
    gql("mutation { logout }", json!({}), "logout").await
}

pub async fn enroll_totp() -> Result<TotpEnrollment, ApiError> {
    gql("mutation { enrollTotp { secret otpauthUri qrCodeSvg } }", json!({}), "enrollTotp").await
}

/// Turns 2FA on; returns the recovery codes, shown once.
pub async fn confirm_totp(code: &str) -> Result<Vec<String>, ApiError> {
    gql("mutation($code: String!) { confirmTotp(code: $code) }", json!({"code": code}), "confirmTotp").await
}
