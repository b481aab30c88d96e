//! A license's devices: listed, and deactivated by an admin (which frees the slot).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{documents, gql, ApiError};

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

/// A device as a session names it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRef {
    pub device_name: String,
    pub device_type: String,
    pub hardware_fingerprint: String,
}

/// Every device of the license, inactive ones too.
pub async fn devices(license_id: &str) -> Result<Vec<Device>, ApiError> {
    #[derive(Deserialize)]
    struct WithDevices {
        devices: Vec<Device>,
    }
    let license: Option<WithDevices> = gql(documents::LICENSE_DEVICES, json!({"id": license_id}), "license").await?;
    license.map(|l| l.devices).ok_or_else(|| ApiError::NotFound(String::new()))
}

pub async fn deactivate_device(id: &str) -> Result<Device, ApiError> {
    gql(documents::DEACTIVATE_DEVICE, json!({"id": id}), "deactivateDevice").await
}
