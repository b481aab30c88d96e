//! The shapes the dashboard reads from the API (camelCase, as the schema names them).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    pub nodes: Vec<T>,
    pub total_count: i64,
    pub page_info: PageInfo,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Analyst,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub is_disabled: bool,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "__typename")]
pub enum LoginResult {
    #[serde(rename_all = "camelCase")]
    LoginSucceeded { user: AdminUser, totp_enrollment_required: bool },
    #[serde(rename_all = "camelCase")]
    TotpRequired { challenge: String },
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_code_svg: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRef {
    pub id: String,
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub is_test: bool,
    pub created_at: DateTime<Utc>,
    /// As the server wrote it: sent back unchanged as `expectedUpdatedAt` with an edit.
    pub updated_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LicenseType {
    Trial,
    Subscription,
    Perpetual,
}

impl LicenseType {
    pub const ALL: [LicenseType; 3] = [LicenseType::Trial, LicenseType::Subscription, LicenseType::Perpetual];

    pub fn as_str(self) -> &'static str {
        match self {
            LicenseType::Trial => "TRIAL",
            LicenseType::Subscription => "SUBSCRIPTION",
            LicenseType::Perpetual => "PERPETUAL",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    pub id: String,
    pub license_key: String,
    pub license_type: LicenseType,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub device_limit: i32,
    pub concurrent_sessions_limit: i32,
    pub notes: String,
    pub created_at: DateTime<Utc>,
    /// As the server wrote it: sent back unchanged as `expectedUpdatedAt` with an edit.
    pub updated_at: String,
    pub customer: Option<CustomerRef>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    pub hardware_fingerprint: String,
    pub device_name: String,
    pub device_type: String,
    pub first_activated_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub is_active: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRef {
    pub id: String,
    pub license_key: String,
    pub customer: Option<CustomerRef>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRef {
    pub device_name: String,
    pub device_type: String,
    pub hardware_fingerprint: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSession {
    pub id: String,
    pub session_token: String,
    pub license_id: String,
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_ip: Option<String>,
    pub device: Option<DeviceRef>,
    pub license: Option<LicenseRef>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndedSession {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub end_reason: String,
    pub device: Option<DeviceRef>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedApiKey {
    pub key: String,
    pub api_key: ApiKey,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub actor_type: String,
    pub actor_name: String,
    pub client_ip: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub old_values: Option<Value>,
    pub new_values: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    pub id: String,
    pub file_name: String,
    /// `MANUAL` or `SCHEDULED`.
    pub kind: String,
    /// `RUNNING`, `COMPLETED` or `FAILED`.
    pub status: String,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// `NOT_CONFIGURED`, `PENDING`, `PUSHED` or `FAILED`.
    pub push_status: String,
    pub push_error: Option<String>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub pruned_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BackupVerification {
    pub ok: bool,
    pub problem: Option<String>,
    pub backup: Backup,
}
