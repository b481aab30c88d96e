//! Devices: a license's, or all of them searched and filtered; deactivated by an admin (which
//! frees the slot).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::decode::from_json;
use super::licenses::LicenseRef;
use super::{decoded, documents, gql, with_page, ApiError, Connection, Page};

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct Device {
        pub id: String,
        pub hardware_fingerprint: String,
        pub device_name: String,
        pub device_type: String,
        pub first_activated_at: DateTime<Utc>,
        pub last_seen_at: DateTime<Utc>,
        pub is_active: bool,
        /// Asked for only where devices of many licenses are listed.
        pub license: Option<LicenseRef>,
    }
}

from_json! {
    /// A device as a session names it.
    #[derive(Clone, Debug, PartialEq)]
    pub struct DeviceRef {
        pub device_name: String,
        pub device_type: String,
        pub hardware_fingerprint: String,
    }
}

/// Every device of the license, inactive ones too.
pub async fn devices(license_id: &str) -> Result<Vec<Device>, ApiError> {
    let license: Option<Value> = gql(documents::LICENSE_DEVICES, json!({"id": license_id}), "license").await?;
    decoded(&license.ok_or_else(|| ApiError::NotFound(String::new()))?["devices"])
}

/// The filters of the device list; empty text and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceFilter {
    /// Part of the fingerprint, the name or the license key.
    pub search: String,
    /// Active or deactivated devices only.
    pub active: Option<bool>,
    /// Part of the device type.
    pub device_type: String,
    /// Seen within this many hours before the list is loaded.
    pub seen_within_hours: Option<i64>,
}

impl DeviceFilter {
    fn to_input(&self) -> Value {
        let since = self.seen_within_hours.map(|hours| (Utc::now() - chrono::Duration::hours(hours)).to_rfc3339());
        let device_type = self.device_type.trim();
        json!({
            "isActive": self.active,
            "deviceType": (!device_type.is_empty()).then(|| json!({"contains": device_type})),
            "lastSeenAt": since.map(|since| json!({"gte": since})),
        })
    }
}

/// One page of the devices of all licenses, most recently first activated first.
pub async fn all_devices(filter: &DeviceFilter, page: &Page) -> Result<Connection<Device>, ApiError> {
    let search = (!filter.search.trim().is_empty()).then(|| filter.search.trim());
    gql(documents::DEVICES, with_page(json!({"s": search, "f": filter.to_input()}), page), "devices").await
}

pub async fn deactivate_device(id: &str) -> Result<Device, ApiError> {
    gql(documents::DEACTIVATE_DEVICE, json!({"id": id}), "deactivateDevice").await
}
