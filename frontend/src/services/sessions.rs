//! License sessions: the live ones (see `live` for the subscription), ending one, and the history
//! of ended ones.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::devices::DeviceRef;
use super::licenses::LicenseRef;
use super::{documents, gql, with_page, ApiError, Connection, Page};

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndReason {
    ClientEnded,
    Timeout,
    AdminTerminated,
    DeviceDeactivated,
    LicenseRevoked,
    LicenseExpired,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSession {
    pub id: String,
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
    pub end_reason: EndReason,
    pub device: Option<DeviceRef>,
}

pub async fn terminate_session(id: &str) -> Result<(), ApiError> {
    let _: Value = gql(documents::TERMINATE_SESSION, json!({"id": id}), "terminateSession").await?;
    Ok(())
}

pub async fn session_history(license_id: &str, page: &Page) -> Result<Connection<EndedSession>, ApiError> {
    gql(documents::SESSION_HISTORY, with_page(json!({"l": license_id}), page), "sessionHistory").await
}
