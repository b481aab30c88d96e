//! License templates: reusable terms a new license can start from.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::decode::from_json;
use super::licenses::LicenseType;
use super::{decoded, documents, gql, with_page, ApiError, Connection, Page};

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct LicenseTemplate {
        pub id: String,
        pub name: String,
        pub license_type: LicenseType,
        pub device_limit: i32,
        pub concurrent_sessions_limit: i32,
        /// `None`: licenses made from it are open-ended.
        pub duration_days: Option<i32>,
        pub features: Vec<String>,
        pub offline_grace_seconds: i32,
        pub max_device_releases: i32,
        pub created_at: DateTime<Utc>,
        /// As the server wrote it: sent back unchanged as `expectedUpdatedAt` with an edit.
        pub updated_at: String,
    }
}

pub async fn license_templates(search: &str, page: &Page) -> Result<Connection<LicenseTemplate>, ApiError> {
    let search = (!search.trim().is_empty()).then(|| search.trim());
    gql(documents::LICENSE_TEMPLATES, with_page(json!({"s": search}), page), "licenseTemplates").await
}

/// The templates a new license may start from, by name (the first hundred).
pub async fn template_choices() -> Result<Vec<LicenseTemplate>, ApiError> {
    let list: Value = gql(documents::LICENSE_TEMPLATE_CHOICES, json!({}), "licenseTemplates").await?;
    decoded(&list["nodes"])
}

pub async fn license_template(id: &str) -> Result<Option<LicenseTemplate>, ApiError> {
    gql(documents::LICENSE_TEMPLATE, json!({"id": id}), "licenseTemplate").await
}

/// Creates a template from `input`, or saves it over `existing` (its id and its `updatedAt` when
/// read; someone else's change since then makes the save fail with [`ApiError::Conflict`]).
pub async fn save_license_template(existing: Option<(&str, &str)>, input: Value) -> Result<LicenseTemplate, ApiError> {
    match existing {
        None => gql(documents::CREATE_LICENSE_TEMPLATE, json!({"i": input}), "createLicenseTemplate").await,
        Some((id, read_at)) => {
            let variables = json!({"id": id, "i": input, "at": read_at});
            gql(documents::UPDATE_LICENSE_TEMPLATE, variables, "updateLicenseTemplate").await
        }
    }
}

pub async fn delete_license_template(id: &str) -> Result<(), ApiError> {
    let _: Value = gql(documents::DELETE_LICENSE_TEMPLATE, json!({"id": id}), "deleteLicenseTemplate").await?;
    Ok(())
}
