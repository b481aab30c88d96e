//! API keys and dashboard users.

use serde_json::json;

use super::models::{AdminUser, ApiKey, GeneratedApiKey};
use super::{gql, ApiError};

const KEY: &str = "id name scope prefix createdBy createdAt lastUsedAt revokedAt";
const USER: &str = "id username role isDisabled totpEnabled createdAt lastLoginAt";

pub async fn api_keys() -> Result<Vec<ApiKey>, ApiError> {
    gql(&format!("query {{ apiKeys {{ {KEY} }} }}"), json!({}), "apiKeys").await
}

/// A new key; `key` is the secret, shown this once.
pub async fn generate_api_key(name: &str, scope: &str) -> Result<GeneratedApiKey, ApiError> {
    let query = format!(
        "mutation($n: String!, $s: Scope!) {{ generateApiKey(name: $n, scope: $s) {{ key apiKey {{ {KEY} }} }} }}"
    );
    gql(&query, json!({"n": name, "s": scope}), "generateApiKey").await
}

pub async fn revoke_api_key(id: &str) -> Result<ApiKey, ApiError> {
    gql(&format!("mutation($id: ID!) {{ revokeApiKey(id: $id) {{ {KEY} }} }}"), json!({"id": id}), "revokeApiKey").await
}

pub async fn admin_users() -> Result<Vec<AdminUser>, ApiError> {
    gql(&format!("query {{ adminUsers {{ {USER} }} }}"), json!({}), "adminUsers").await
}

pub async fn create_admin_user(username: &str, role: &str, password: &str) -> Result<AdminUser, ApiError> {
    let query = format!("mutation($i: CreateAdminUserInput!) {{ createAdminUser(input: $i) {{ {USER} }} }}");
    gql(&query, json!({"i": {"username": username, "role": role, "password": password}}), "createAdminUser").await
}

/// One of the user actions that take only the user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAction {
    Disable,
    Enable,
    ResetTotp,
}

pub async fn apply_user_action(id: &str, action: UserAction) -> Result<AdminUser, ApiError> {
    let field = match action {
        UserAction::Disable => "disableAdminUser",
        UserAction::Enable => "enableAdminUser",
        UserAction::ResetTotp => "resetAdminUserTotp",
    };
    gql(&format!("mutation($id: ID!) {{ {field}(id: $id) {{ {USER} }} }}"), json!({"id": id}), field).await
}

pub async fn set_role(id: &str, role: &str) -> Result<AdminUser, ApiError> {
    let query = format!("mutation($id: ID!, $r: Role!) {{ setAdminUserRole(id: $id, role: $r) {{ {USER} }} }}");
    gql(&query, json!({"id": id, "r": role}), "setAdminUserRole").await
}
