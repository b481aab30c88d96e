//! License sessions: the live ones (see `live` for the subscription), ending one, and the history
//! of ended ones.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::audit::day_start;
use super::decode::{enum_from_json, from_json};
use super::devices::DeviceRef;
use super::licenses::LicenseRef;
use super::{documents, gql, with_page, ApiError, Connection, Page};

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndReason {
    ClientEnded,
    Timeout,
    AdminTerminated,
    DeviceDeactivated,
    LicenseRevoked,
    LicenseExpired,
}

impl EndReason {
    pub const ALL: [EndReason; 6] = [
        EndReason::ClientEnded,
        EndReason::Timeout,
        EndReason::AdminTerminated,
        EndReason::DeviceDeactivated,
        EndReason::LicenseRevoked,
        EndReason::LicenseExpired,
    ];

    /// The schema's name, for `<select>` values.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::ClientEnded => "CLIENT_ENDED",
            EndReason::Timeout => "TIMEOUT",
            EndReason::AdminTerminated => "ADMIN_TERMINATED",
            EndReason::DeviceDeactivated => "DEVICE_DEACTIVATED",
            EndReason::LicenseRevoked => "LICENSE_REVOKED",
            EndReason::LicenseExpired => "LICENSE_EXPIRED",
        }
    }

    pub fn parse(name: &str) -> Option<EndReason> {
        EndReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
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
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct EndedSession {
        pub id: String,
        pub started_at: DateTime<Utc>,
        pub ended_at: DateTime<Utc>,
        pub end_reason: EndReason,
        pub device: Option<DeviceRef>,
        /// Asked for only where sessions of many licenses are listed.
        pub license: Option<LicenseRef>,
    }
}

pub async fn terminate_session(id: &str) -> Result<(), ApiError> {
    let _: Value = gql(documents::TERMINATE_SESSION, json!({"id": id}), "terminateSession").await?;
    Ok(())
}

pub async fn session_history(license_id: &str, page: &Page) -> Result<Connection<EndedSession>, ApiError> {
    gql(documents::SESSION_HISTORY, with_page(json!({"l": license_id}), page), "sessionHistory").await
}

/// The filters of the session history across licenses; empty text and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryFilter {
    pub end_reason: Option<EndReason>,
    /// Part of the license key.
    pub license_key: String,
    /// Part of the device's name or fingerprint.
    pub device: String,
    /// `YYYY-MM-DD`, inclusive, in the browser's time zone.
    pub ended_from: String,
    /// `YYYY-MM-DD`, inclusive, in the browser's time zone.
    pub ended_to: String,
}

impl HistoryFilter {
    fn to_input(&self) -> Value {
        let contains = |text: &str| (!text.trim().is_empty()).then(|| json!({"contains": text.trim()}));
        let device =
            contains(&self.device).map(|part| json!([{"deviceName": part.clone()}, {"hardwareFingerprint": part}]));
        let ended_at = json!({"gte": day_start(&self.ended_from, 0), "lt": day_start(&self.ended_to, 1)});
        json!({
            "endReason": self.end_reason.map(|reason| json!({"eq": reason})),
            "licenseKey": contains(&self.license_key),
            "or": device,
            "endedAt": ended_at,
        })
    }
}

/// One page of the ended sessions of all licenses, most recently ended first.
pub async fn all_session_history(filter: &HistoryFilter, page: &Page) -> Result<Connection<EndedSession>, ApiError> {
    gql(documents::ALL_SESSION_HISTORY, with_page(json!({"f": filter.to_input()}), page), "sessionHistory").await
}

enum_from_json!(EndReason);
