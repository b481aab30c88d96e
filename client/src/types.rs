//! What the server tells a client, as Rust types. Enums keep values a newer server may add as
//! `Other(..)`, so an application built today keeps working against tomorrow's server.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::lease::Lease;
use crate::session::Session;

/// What `activate` gives: a running session, or the server's reason why not.
#[derive(Debug)]
pub enum Activation {
    Licensed(Session),
    Denied(Denied),
}

/// An activation (or validation) the server turned down.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Denied {
    pub reason: DenialReason,
    /// For people, in English.
    pub message: String,
    /// With `ConcurrentLimitReached`: the earliest moment a slot may free up.
    #[serde(default)]
    pub retry_after: Option<DateTime<Utc>>,
}

/// Why the server does not grant a session (`DenialReason` in the schema).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum DenialReason {
    LicenseNotFound,
    LicenseInactive,
    LicenseNotYetValid,
    LicenseExpired,
    DeviceLimitReached,
    ConcurrentLimitReached,
    DeviceNotRegistered,
    #[serde(untagged)]
    Other(String),
}

/// Why the server refused a heartbeat: how the session actually ended
/// (`HeartbeatRefused.reason`, `SessionRefusalReason` in the schema).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum RefusalReason {
    /// The session timed out; the SDK activates again on its own.
    SessionExpired,
    SessionNotFound,
    LicenseExpired,
    LicenseRevoked,
    DeviceDeactivated,
    AdminTerminated,
    #[serde(untagged)]
    Other(String),
}

/// Why `release_device` was turned down.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ReleaseDenialReason {
    /// The license's releases per rolling 30 days are used up; see `retry_after`.
    TransferLimitReached,
    DeviceNotRegistered,
    LicenseNotFound,
    #[serde(untagged)]
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum LicenseType {
    Trial,
    Subscription,
    Perpetual,
    #[serde(untagged)]
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ResourceType {
    Domain,
    Ipv4,
    Phone,
    #[serde(untagged)]
    Other(String),
}

/// A resource allocated to the license for the client's use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub value: String,
}

/// The license as the server shows it to its client (`ClientLicense`). The signed subset
/// (type, end, features) is in the lease's claims.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientLicense {
    pub license_type: LicenseType,
    /// `None`: open-ended.
    pub valid_until: Option<DateTime<Utc>>,
    pub features: Vec<String>,
    /// How long a lease outlives the session's deadline without the server.
    pub offline_grace_seconds: i32,
    pub resources: Vec<Resource>,
}

impl ClientLicense {
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// What `validate` gives.
#[derive(Debug, Clone)]
pub enum Validation {
    Valid(Box<ValidLicense>),
    Invalid(Denied),
}

/// A license usable on this device now, with a verified lease not tied to a session.
#[derive(Debug, Clone)]
pub struct ValidLicense {
    pub license_id: Uuid,
    pub device_limit: i32,
    pub concurrent_sessions_limit: i32,
    /// Whether this device holds a live session now.
    pub has_live_session: bool,
    pub server_time: DateTime<Utc>,
    pub license: ClientLicense,
    pub lease: Lease,
}

/// What `release_device` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// The device's slot is free and its live session (if any) ended.
    Released {
        released_at: DateTime<Utc>,
    },
    Denied {
        reason: ReleaseDenialReason,
        retry_after: Option<DateTime<Utc>>,
    },
}

/// The answers as they come over the wire.
pub(crate) mod wire {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(tag = "__typename")]
    pub enum ActivationResult {
        SessionGranted(Box<SessionGranted>),
        ActivationDenied(Denied),
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SessionGranted {
        pub session_token: Uuid,
        pub license_id: Uuid,
        pub device_id: Uuid,
        pub heartbeat_interval_seconds: u32,
        pub server_time: DateTime<Utc>,
        pub lease: String,
        pub license: ClientLicense,
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "__typename")]
    pub enum HeartbeatResult {
        #[serde(rename_all = "camelCase")]
        HeartbeatAccepted {
            heartbeat_interval_seconds: u32,
            server_time: DateTime<Utc>,
            lease: String,
        },
        HeartbeatRefused {
            reason: RefusalReason,
        },
    }

    /// Either way the session is over: ended now, or ended before.
    #[derive(Debug, Deserialize)]
    #[serde(tag = "__typename")]
    pub enum EndSessionResult {
        SessionEnded,
        EndSessionRefused,
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "__typename")]
    pub enum LicenseValidation {
        LicenseValid(Box<LicenseValid>),
        LicenseInvalid(Denied),
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct LicenseValid {
        pub license_id: Uuid,
        pub device_limit: i32,
        pub concurrent_sessions_limit: i32,
        pub has_live_session: bool,
        pub server_time: DateTime<Utc>,
        pub lease: String,
        pub license: ClientLicense,
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "__typename")]
    pub enum ReleaseDeviceResult {
        #[serde(rename_all = "camelCase")]
        DeviceReleased { released_at: DateTime<Utc> },
        #[serde(rename_all = "camelCase")]
        ReleaseDenied { reason: ReleaseDenialReason, retry_after: Option<DateTime<Utc>> },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_a_newer_server_adds_are_kept_rather_than_failing_the_answer() {
        let known: RefusalReason = serde_json::from_str("\"LICENSE_REVOKED\"").unwrap();
        assert_eq!(known, RefusalReason::LicenseRevoked);
        let newer: RefusalReason = serde_json::from_str("\"SEAT_MOVED\"").unwrap();
        assert_eq!(newer, RefusalReason::Other("SEAT_MOVED".into()));
        let resource: Resource = serde_json::from_str(r#"{"type":"IPV4","value":"192.0.2.1"}"#).unwrap();
        assert_eq!(resource.kind, ResourceType::Ipv4);
    }

    #[test]
    fn a_heartbeat_answer_is_told_apart_by_its_typename() {
        let refused: wire::HeartbeatResult = serde_json::from_str(
            r#"{"__typename":"HeartbeatRefused","reason":"ADMIN_TERMINATED","message":"ended by an admin"}"#,
        )
        .unwrap();
        assert!(matches!(
            refused,
            wire::HeartbeatResult::HeartbeatRefused { reason: RefusalReason::AdminTerminated, .. }
        ));
        let accepted: wire::HeartbeatResult = serde_json::from_str(
            r#"{"__typename":"HeartbeatAccepted","heartbeatIntervalSeconds":30,"serverTime":"2026-01-01T00:00:00Z","lease":"a.b.c"}"#,
        )
        .unwrap();
        assert!(matches!(accepted, wire::HeartbeatResult::HeartbeatAccepted { heartbeat_interval_seconds: 30, .. }));
    }
}
