//! Signed leases: the keys that sign them (rotated by admins) and offline activation.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::decode::from_json;
use super::{documents, gql, ApiError};

from_json! {
    /// A lease signing key; its private half never leaves the server.
    #[derive(Clone, Debug, PartialEq)]
    pub struct SigningKey {
        pub kid: String,
        pub created_at: DateTime<Utc>,
        pub retired_at: Option<DateTime<Utc>>,
        /// Until when a retired key stays published for the leases it signed.
        pub published_until: Option<DateTime<Utc>>,
        pub current: bool,
    }
}

pub async fn signing_keys() -> Result<Vec<SigningKey>, ApiError> {
    gql(documents::SIGNING_KEYS, json!({}), "signingKeys").await
}

/// A new key signs from now on; the old one stays published until its leases have expired.
pub async fn rotate_signing_key() -> Result<SigningKey, ApiError> {
    gql(documents::ROTATE_SIGNING_KEY, json!({}), "rotateSigningKey").await
}

/// A lease (compact JWS) for an air-gapped machine; errors name `hardwareFingerprint`,
/// `validDays` or `licenseId` (the license refuses: device slots taken, expired, inactive).
pub async fn issue_offline_lease(
    license_id: &str,
    hardware_fingerprint: &str,
    valid_days: i32,
) -> Result<String, ApiError> {
    gql(
        documents::ISSUE_OFFLINE_LEASE,
        json!({"licenseId": license_id, "hardwareFingerprint": hardware_fingerprint, "validDays": valid_days}),
        "issueOfflineLease",
    )
    .await
}
