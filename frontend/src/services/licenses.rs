//! Licenses: their terms, the list with its filters, creating and editing, activating.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::customers::CustomerRef;
use super::decode::{enum_from_json, from_json};
use super::{documents, gql, with_page, ApiError, Connection, Page};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LicenseType {
    Trial,
    Subscription,
    Perpetual,
}

impl LicenseType {
    pub const ALL: [LicenseType; 3] = [LicenseType::Trial, LicenseType::Subscription, LicenseType::Perpetual];

    /// The schema's name, for `<select>` values.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseType::Trial => "TRIAL",
            LicenseType::Subscription => "SUBSCRIPTION",
            LicenseType::Perpetual => "PERPETUAL",
        }
    }

    pub fn parse(name: &str) -> Option<LicenseType> {
        LicenseType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct License {
        pub id: String,
        pub license_key: String,
        pub license_type: LicenseType,
        pub valid_from: DateTime<Utc>,
        pub valid_until: Option<DateTime<Utc>>,
        pub is_active: bool,
        pub device_limit: i32,
        pub concurrent_sessions_limit: i32,
        pub features: Vec<String>,
        pub offline_grace_seconds: i32,
        pub max_device_releases: i32,
        pub notes: String,
        pub created_at: DateTime<Utc>,
        /// As the server wrote it: sent back unchanged as `expectedUpdatedAt` with an edit.
        pub updated_at: String,
        pub customer: Option<CustomerRef>,
    }
}

from_json! {
    /// A license as other records name it.
    #[derive(Clone, Debug, PartialEq)]
    pub struct LicenseRef {
        pub id: String,
        pub license_key: String,
        pub customer: Option<CustomerRef>,
    }
}

/// Filters of the license list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LicenseFilter {
    pub search: String,
    /// `None`: all; otherwise active or inactive only.
    pub active: Option<bool>,
}

pub async fn licenses(filter: &LicenseFilter, page: &Page) -> Result<Connection<License>, ApiError> {
    let search = (!filter.search.trim().is_empty()).then(|| filter.search.trim());
    gql(documents::LICENSES, with_page(json!({"s": search, "active": filter.active}), page), "licenses").await
}

pub async fn license(id: &str) -> Result<Option<License>, ApiError> {
    gql(documents::LICENSE, json!({"id": id}), "license").await
}

pub async fn license_by_key(key: &str) -> Result<Option<LicenseRef>, ApiError> {
    gql(documents::LICENSE_BY_KEY, json!({"k": key}), "licenseByKey").await
}

/// The editable terms of a license, as the form holds them (`input` of create and update).
/// `existing`: the license's id and its `updatedAt` when read; someone else's change since then
/// makes the update fail with [`ApiError::Conflict`].
pub async fn save_license(existing: Option<(&str, &str)>, input: Value) -> Result<License, ApiError> {
    match existing {
        None => gql(documents::CREATE_LICENSE, json!({"i": input}), "createLicense").await,
        Some((id, read_at)) => {
            gql(documents::UPDATE_LICENSE, json!({"id": id, "i": input, "at": read_at}), "updateLicense").await
        }
    }
}

pub async fn set_license_active(id: &str, active: bool) -> Result<License, ApiError> {
    if active {
        gql(documents::ACTIVATE_LICENSE, json!({"id": id}), "activateLicense").await
    } else {
        gql(documents::DEACTIVATE_LICENSE, json!({"id": id}), "deactivateLicense").await
    }
}

/// Active licenses whose validity ends in `[from, until)`, soonest first.
pub async fn expiring_licenses(
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    page: &Page,
) -> Result<Connection<License>, ApiError> {
    gql(
        documents::EXPIRING_LICENSES,
        with_page(json!({"from": from.to_rfc3339(), "until": until.to_rfc3339()}), page),
        "licenses",
    )
    .await
}

enum_from_json!(LicenseType);
