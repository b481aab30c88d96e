//! Dashboard users: their roles, creating them, disabling and enabling, resetting their 2FA.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::decode::{enum_from_json, from_json};
use super::documents::{self, Document};
use super::{gql, ApiError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Analyst,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::Analyst];

    /// The schema's name, for `<select>` values.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Analyst => "ANALYST",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct AdminUser {
        pub id: String,
        pub username: String,
        pub role: Role,
        pub is_disabled: bool,
        pub totp_enabled: bool,
        pub created_at: DateTime<Utc>,
        pub last_login_at: Option<DateTime<Utc>>,
    }
}

pub async fn admin_users() -> Result<Vec<AdminUser>, ApiError> {
    gql(documents::ADMIN_USERS, json!({}), "adminUsers").await
}

pub async fn create_admin_user(username: &str, role: Role, password: &str) -> Result<AdminUser, ApiError> {
    let input = json!({"username": username, "role": role, "password": password});
    gql(documents::CREATE_ADMIN_USER, json!({"i": input}), "createAdminUser").await
}

/// One of the user actions that take only the user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAction {
    Disable,
    Enable,
    ResetTotp,
}

pub async fn apply_user_action(id: &str, action: UserAction) -> Result<AdminUser, ApiError> {
    let (document, field): (Document, &str) = match action {
        UserAction::Disable => (documents::DISABLE_ADMIN_USER, "disableAdminUser"),
        UserAction::Enable => (documents::ENABLE_ADMIN_USER, "enableAdminUser"),
        UserAction::ResetTotp => (documents::RESET_ADMIN_USER_TOTP, "resetAdminUserTotp"),
    };
    gql(document, json!({"id": id}), field).await
}

pub async fn set_role(id: &str, role: Role) -> Result<AdminUser, ApiError> {
    gql(documents::SET_ADMIN_USER_ROLE, json!({"id": id, "r": role}), "setAdminUserRole").await
}

enum_from_json!(Role);
