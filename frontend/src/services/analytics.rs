//! The aggregates the overview shows: licenses by state and type, usage against the limits,
//! sessions per day, heartbeats per hour or day, and peak concurrency.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use super::decode::{enum_from_json, from_json};
use super::licenses::LicenseType;
use super::sessions::EndReason;
use super::{documents, gql, ApiError};

/// Where a license stands today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseState {
    Active,
    Pending,
    Expired,
    Inactive,
}

impl LicenseState {
    pub const ALL: [LicenseState; 4] =
        [LicenseState::Active, LicenseState::Pending, LicenseState::Expired, LicenseState::Inactive];

    /// The schema's name, for `data-` attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseState::Active => "ACTIVE",
            LicenseState::Pending => "PENDING",
            LicenseState::Expired => "EXPIRED",
            LicenseState::Inactive => "INACTIVE",
        }
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct LicenseCount {
        pub license_type: LicenseType,
        pub state: LicenseState,
        pub count: i64,
    }
}

from_json! {
    /// Devices and live sessions of one license against its limits.
    #[derive(Clone, Debug, PartialEq)]
    pub struct LicenseUsage {
        pub license_id: String,
        pub license_key: String,
        pub device_limit: i32,
        pub active_devices: i64,
        pub concurrent_sessions_limit: i32,
        pub live_sessions: i64,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct ReasonCount {
        pub reason: EndReason,
        pub count: i64,
    }
}

from_json! {
    /// Sessions started and ended on one UTC day.
    #[derive(Clone, Debug, PartialEq)]
    pub struct SessionDay {
        pub day: NaiveDate,
        pub started: i64,
        pub ended: i64,
        pub end_reasons: Vec<ReasonCount>,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeBucket {
    Hour,
    Day,
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct HeartbeatBucket {
        /// The start of the hour or day (UTC).
        pub bucket_start: DateTime<Utc>,
        pub count: i64,
    }
}

from_json! {
    /// The most sessions one license had live at once.
    #[derive(Clone, Debug, PartialEq)]
    pub struct PeakConcurrency {
        pub license_id: String,
        pub peak: i64,
        pub reached_at: DateTime<Utc>,
    }
}

pub async fn license_counts() -> Result<Vec<LicenseCount>, ApiError> {
    gql(documents::LICENSE_COUNTS, json!({}), "licenseCounts").await
}

/// The `first` licenses closest to their device or session limit.
pub async fn license_usage(first: i32) -> Result<Vec<LicenseUsage>, ApiError> {
    gql(documents::LICENSE_USAGE, json!({"first": first}), "licenseUsage").await
}

/// Days without sessions are left out.
pub async fn sessions_per_day(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<SessionDay>, ApiError> {
    gql(documents::SESSIONS_PER_DAY, json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()}), "sessionsPerDay").await
}

/// Buckets without heartbeats are left out.
pub async fn heartbeat_counts(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: TimeBucket,
) -> Result<Vec<HeartbeatBucket>, ApiError> {
    gql(
        documents::HEARTBEAT_COUNTS,
        json!({"from": from.to_rfc3339(), "to": to.to_rfc3339(), "bucket": bucket}),
        "heartbeatCounts",
    )
    .await
}

/// The highest peak of any one license in `[from, to)`, if any session was live then.
pub async fn peak_concurrency(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Option<PeakConcurrency>, ApiError> {
    let peaks: Vec<PeakConcurrency> = gql(
        documents::PEAK_CONCURRENT_SESSIONS,
        json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()}),
        "peakConcurrentSessions",
    )
    .await?;
    Ok(peaks.into_iter().next())
}

enum_from_json!(LicenseState);
