//! API keys: generated (the secret shown once), listed, revoked.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::decode::{enum_from_json, from_json};
use super::{documents, gql, ApiError};

/// What a key may do; dashboard roles map onto the same permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Scope {
    Client,
    Analyst,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Client, Scope::Analyst, Scope::Admin];

    /// The schema's name, for `<select>` values.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Client => "CLIENT",
            Scope::Analyst => "ANALYST",
            Scope::Admin => "ADMIN",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The text key of its label.
    pub fn label_key(self) -> &'static str {
        match self {
            Scope::Client => "scope.client",
            Scope::Analyst => "scope.analyst",
            Scope::Admin => "scope.admin",
        }
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct ApiKey {
        pub id: String,
        pub name: String,
        pub scope: Scope,
        pub prefix: String,
        pub created_by: String,
        pub created_at: DateTime<Utc>,
        pub last_used_at: Option<DateTime<Utc>>,
        pub revoked_at: Option<DateTime<Utc>>,
        pub rate_limit: RateLimit,
    }
}

from_json! {
    /// The token bucket a key is charged to, per server instance, in units of cost per second.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct RateLimit {
        pub per_second: i64,
        pub burst: i64,
        /// Set for this key; otherwise its scope's default.
        pub custom: bool,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct GeneratedApiKey {
        pub key: String,
        pub api_key: ApiKey,
    }
}

pub async fn api_keys() -> Result<Vec<ApiKey>, ApiError> {
    gql(documents::API_KEYS, json!({}), "apiKeys").await
}

/// A new key; `key` is the secret, shown this once.
pub async fn generate_api_key(name: &str, scope: Scope) -> Result<GeneratedApiKey, ApiError> {
    gql(documents::GENERATE_API_KEY, json!({"n": name, "s": scope}), "generateApiKey").await
}

pub async fn revoke_api_key(id: &str) -> Result<ApiKey, ApiError> {
    gql(documents::REVOKE_API_KEY, json!({"id": id}), "revokeApiKey").await
}

/// Gives the key its own rate limit; the server checks the numbers (errors name `perSecond`/`burst`).
pub async fn set_api_key_rate_limit(id: &str, per_second: i64, burst: i64) -> Result<ApiKey, ApiError> {
    gql(
        documents::SET_API_KEY_RATE_LIMIT,
        json!({"id": id, "perSecond": per_second, "burst": burst}),
        "setApiKeyRateLimit",
    )
    .await
}

/// Back to the scope's default rate limit.
pub async fn clear_api_key_rate_limit(id: &str) -> Result<ApiKey, ApiError> {
    gql(documents::CLEAR_API_KEY_RATE_LIMIT, json!({"id": id}), "clearApiKeyRateLimit").await
}

enum_from_json!(Scope);
