//! Customers, licenses, their devices and sessions.

use serde_json::{json, Value};

use super::models::{Connection, Customer, Device, EndedSession, License, LicenseRef};
use super::{gql, ApiError};

const CUSTOMER: &str = "id name email isTest createdAt updatedAt";
const LICENSE: &str = "id licenseKey licenseType validFrom validUntil isActive deviceLimit concurrentSessionsLimit \
                       notes createdAt updatedAt customer { id name email }";
const DEVICE: &str = "id hardwareFingerprint deviceName deviceType firstActivatedAt lastSeenAt isActive";
pub const LIVE_SESSION: &str = "id sessionToken licenseId startedAt lastHeartbeatAt expiresAt clientIp \
                                device { deviceName deviceType hardwareFingerprint } \
                                license { id licenseKey customer { id name email } }";
pub(super) const PAGE: &str = "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }";

/// Which page of a list: forwards after a cursor, or backwards before one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub after: Option<String>,
    pub before: Option<String>,
}

pub const PAGE_SIZE: i32 = 20;

impl Page {
    pub(super) fn variables(&self) -> Value {
        match (&self.after, &self.before) {
            (_, Some(before)) => json!({"before": before, "last": PAGE_SIZE}),
            (after, None) => json!({"after": after, "first": PAGE_SIZE}),
        }
    }
}

pub(super) fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

pub async fn customers(search: &str, page: &Page) -> Result<Connection<Customer>, ApiError> {
    let query = format!(
        "query($s: String, $after: String, $before: String, $first: Int, $last: Int) {{
           customers(search: $s, after: $after, before: $before, first: $first, last: $last) {{ nodes {{ {CUSTOMER} }} {PAGE} }} }}"
    );
    let search = (!search.trim().is_empty()).then(|| search.trim());
    gql(&query, merge(json!({"s": search}), page.variables()), "customers").await
}

pub async fn create_customer(name: &str, email: &str, is_test: bool) -> Result<Customer, ApiError> {
    let query = format!("mutation($i: CreateCustomerInput!) {{ createCustomer(input: $i) {{ {CUSTOMER} }} }}");
    gql(&query, json!({"i": {"name": name, "email": email, "isTest": is_test}}), "createCustomer").await
}

/// Saves the customer, unless someone else changed it after `read_at` (its `updatedAt` when read).
pub async fn update_customer(
    id: &str,
    read_at: &str,
    name: &str,
    email: &str,
    is_test: bool,
) -> Result<Customer, ApiError> {
    let query = format!(
        "mutation($id: ID!, $i: UpdateCustomerInput!, $at: DateTime) {{
           updateCustomer(id: $id, input: $i, expectedUpdatedAt: $at) {{ {CUSTOMER} }} }}"
    );
    let input = json!({"name": name, "email": email, "isTest": is_test});
    gql(&query, json!({"id": id, "i": input, "at": read_at}), "updateCustomer").await
}

/// Filters of the license list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LicenseFilter {
    pub search: String,
    /// `None`: all; otherwise active or inactive only.
    pub active: Option<bool>,
}

pub async fn licenses(filter: &LicenseFilter, page: &Page) -> Result<Connection<License>, ApiError> {
    let query = format!(
        "query($s: String, $active: Boolean, $after: String, $before: String, $first: Int, $last: Int) {{
           licenses(search: $s, isActive: $active, after: $after, before: $before, first: $first, last: $last) {{
             nodes {{ {LICENSE} }} {PAGE} }} }}"
    );
    let search = (!filter.search.trim().is_empty()).then(|| filter.search.trim());
    gql(&query, merge(json!({"s": search, "active": filter.active}), page.variables()), "licenses").await
}

pub async fn license(id: &str) -> Result<Option<License>, ApiError> {
    gql(&format!("query($id: ID!) {{ license(id: $id) {{ {LICENSE} }} }}"), json!({"id": id}), "license").await
}

pub async fn license_by_key(key: &str) -> Result<Option<LicenseRef>, ApiError> {
    gql(
        "query($k: String!) { licenseByKey(licenseKey: $k) { id licenseKey customer { id name email } } }",
        json!({"k": key}),
        "licenseByKey",
    )
    .await
}

/// The editable terms of a license, as the form holds them (`input` of create and update).
/// `existing`: the license's id and its `updatedAt` when read; someone else's change since then
/// makes the update fail with [`ApiError::Conflict`].
pub async fn save_license(existing: Option<(&str, &str)>, input: Value) -> Result<License, ApiError> {
    match existing {
        None => {
            let query = format!("mutation($i: CreateLicenseInput!) {{ createLicense(input: $i) {{ {LICENSE} }} }}");
            gql(&query, json!({"i": input}), "createLicense").await
        }
        Some((id, read_at)) => {
            let query = format!(
                "mutation($id: ID!, $i: UpdateLicenseInput!, $at: DateTime) {{
                   updateLicense(id: $id, input: $i, expectedUpdatedAt: $at) {{ {LICENSE} }} }}"
            );
            gql(&query, json!({"id": id, "i": input, "at": read_at}), "updateLicense").await
        }
    }
}

pub async fn set_license_active(id: &str, active: bool) -> Result<License, ApiError> {
    let field = if active { "activateLicense" } else { "deactivateLicense" };
    gql(&format!("mutation($id: ID!) {{ {field}(id: $id) {{ {LICENSE} }} }}"), json!({"id": id}), field).await
}

pub async fn devices(license_id: &str) -> Result<Vec<Device>, ApiError> {
    #[derive(serde::Deserialize)]
    struct WithDevices {
        devices: Vec<Device>,
    }
    let query = format!("query($id: ID!) {{ license(id: $id) {{ devices(includeInactive: true) {{ {DEVICE} }} }} }}");
    let license: Option<WithDevices> = gql(&query, json!({"id": license_id}), "license").await?;
    license.map(|l| l.devices).ok_or_else(|| ApiError::NotFound(String::new()))
}

pub async fn deactivate_device(id: &str) -> Result<Device, ApiError> {
    gql(
        &format!("mutation($id: ID!) {{ deactivateDevice(id: $id) {{ {DEVICE} }} }}"),
        json!({"id": id}),
        "deactivateDevice",
    )
    .await
}

pub async fn terminate_session(id: &str) -> Result<(), ApiError> {
    let _: Value =
        gql("mutation($id: ID!) { terminateSession(id: $id) { id } }", json!({"id": id}), "terminateSession").await?;
    Ok(())
}

pub async fn session_history(license_id: &str, page: &Page) -> Result<Connection<EndedSession>, ApiError> {
    let query = format!(
        "query($l: ID, $after: String, $before: String, $first: Int, $last: Int) {{
           sessionHistory(licenseId: $l, after: $after, before: $before, first: $first, last: $last) {{
             nodes {{ id startedAt endedAt endReason device {{ deviceName deviceType hardwareFingerprint }} }} {PAGE} }} }}"
    );
    gql(&query, merge(json!({"l": license_id}), page.variables()), "sessionHistory").await
}
