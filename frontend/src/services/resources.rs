//! Resource pools (domains, IPv4 addresses, phone numbers): counts, the list, import, allocation
//! to a license, release and quarantine.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::decode::{enum_from_json, field, from_json, typename, FromJson};
use super::{decoded, documents, gql, with_page, ApiError, Connection, Page};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceType {
    Domain,
    Ipv4,
    Phone,
}

impl ResourceType {
    pub const ALL: [ResourceType; 3] = [ResourceType::Domain, ResourceType::Ipv4, ResourceType::Phone];

    /// The schema's name, for variables and `<select>` values.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Domain => "DOMAIN",
            ResourceType::Ipv4 => "IPV4",
            ResourceType::Phone => "PHONE",
        }
    }

    pub fn parse(name: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceState {
    Available,
    Allocated,
    Quarantined,
}

impl ResourceState {
    pub const ALL: [ResourceState; 3] =
        [ResourceState::Available, ResourceState::Allocated, ResourceState::Quarantined];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceState::Available => "AVAILABLE",
            ResourceState::Allocated => "ALLOCATED",
            ResourceState::Quarantined => "QUARANTINED",
        }
    }

    pub fn parse(name: &str) -> Option<ResourceState> {
        ResourceState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct LicenseKeyRef {
        pub id: String,
        pub license_key: String,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct Resource {
        pub id: String,
        pub resource_type: ResourceType,
        pub value: String,
        pub state: ResourceState,
        pub quarantine_reason: Option<String>,
        pub updated_at: DateTime<Utc>,
        pub license: Option<LicenseKeyRef>,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct ResourceMove {
        pub from_state: Option<ResourceState>,
        pub to_state: ResourceState,
        pub reason: Option<String>,
        pub actor_name: String,
        pub occurred_at: DateTime<Utc>,
        pub license_id: Option<String>,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct PoolCount {
        pub resource_type: ResourceType,
        pub available: i32,
        pub allocated: i32,
        pub quarantined: i32,
        pub total: i32,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct InvalidValue {
        pub value: String,
        pub reason: String,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct ImportReport {
        pub added: Vec<String>,
        pub duplicates: Vec<String>,
        pub invalid: Vec<InvalidValue>,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum AllocationResult {
    ResourcesAllocated { resources: Vec<Resource> },
    AllocationDenied { available: i32, message: String },
}

impl FromJson for AllocationResult {
    fn from_json(json: &Value) -> Option<Self> {
        match typename(json)? {
            "ResourcesAllocated" => Some(AllocationResult::ResourcesAllocated { resources: field(json, "resources")? }),
            "AllocationDenied" => Some(AllocationResult::AllocationDenied {
                available: field(json, "available")?,
                message: field(json, "message")?,
            }),
            _ => None,
        }
    }
}

/// Filters of the resource list; `None` means any.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceFilter {
    pub resource_type: Option<ResourceType>,
    pub state: Option<ResourceState>,
    pub value: String,
}

pub async fn pool_counts() -> Result<Vec<PoolCount>, ApiError> {
    gql(documents::RESOURCE_POOL_COUNTS, json!({}), "resourcePoolCounts").await
}

/// The resources matching `filter`, by type and value.
pub async fn resources(filter: &ResourceFilter, page: &Page) -> Result<Connection<Resource>, ApiError> {
    let value = filter.value.trim();
    let variables = json!({
        "t": filter.resource_type,
        "s": filter.state,
        "f": if value.is_empty() { Value::Null } else { json!({"value": {"contains": value}}) },
    });
    gql(documents::RESOURCES, with_page(variables, page), "resources").await
}

/// Every move of one resource, oldest first.
pub async fn history(id: &str) -> Result<Vec<ResourceMove>, ApiError> {
    let resource: Option<Value> = gql(documents::RESOURCE_HISTORY, json!({"id": id}), "resource").await?;
    decoded(&resource.ok_or_else(|| ApiError::NotFound(String::new()))?["history"])
}

/// The resources a license holds.
pub async fn of_license(license_id: &str) -> Result<Vec<Resource>, ApiError> {
    let license: Option<Value> = gql(documents::LICENSE_RESOURCES, json!({"id": license_id}), "license").await?;
    decoded(&license.ok_or_else(|| ApiError::NotFound(String::new()))?["resources"])
}

/// Splits pasted text into values: one per line, or separated by commas or semicolons (not by
/// spaces: phone numbers are often written with them).
pub fn split_values(text: &str) -> Vec<String> {
    text.split(['\n', ',', ';']).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

pub async fn import(resource_type: ResourceType, values: Vec<String>) -> Result<ImportReport, ApiError> {
    gql(documents::IMPORT_RESOURCES, json!({"t": resource_type, "v": values}), "importResources").await
}

pub async fn allocate(license_id: &str, resource_type: ResourceType, count: i32) -> Result<AllocationResult, ApiError> {
    let variables = json!({"l": license_id, "t": resource_type, "c": count});
    gql(documents::ALLOCATE_RESOURCES, variables, "allocateResources").await
}

pub async fn release(id: &str) -> Result<Resource, ApiError> {
    gql(documents::RELEASE_RESOURCE, json!({"id": id}), "releaseResource").await
}

pub async fn quarantine(id: &str, reason: &str) -> Result<Resource, ApiError> {
    gql(documents::QUARANTINE_RESOURCE, json!({"id": id, "r": reason}), "quarantineResource").await
}

enum_from_json!(ResourceType, ResourceState);
