//! Devices registered to licenses: the one device table.

pub mod graphql;
mod loaders;
pub mod release;
use async_graphql::{Enum, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::graphql::filter::{
    contains_pattern, filtered_page, nested_filters, push_filter, push_order, Conditions, DateTimeFilter, Filter,
    IdFilter, OrderDirection, Sql, StringFilter,
};
use crate::graphql::ids::Id;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::licenses::LicenseKey;
use crate::sessions::events::{self, SessionEvent, SessionEventKind};
use crate::sessions::{self, EndReason, SessionSettings};
pub use loaders::{ActiveDevicesOfLicense, DeviceById};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub hardware_fingerprint: String,
    pub device_name: String,
    pub device_type: String,
    pub first_activated_at: DateTime<Utc>,
    /// The latest sign of life: activation or heartbeat.
    pub last_seen_at: DateTime<Utc>,
    /// Only active devices hold one of the license's device slots.
    pub is_active: bool,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub id: Id,
    pub license_id: Id,
}

/// `last_seen_at` on the row moves only at activation; heartbeats touch the session alone, so
/// the latest heartbeat of a live or ended session is folded in when reading.
pub const SELECT: &str = "SELECT d.id, d.license_id, d.hardware_fingerprint, d.device_name, d.device_type,
        d.first_activated_at,
        greatest(d.last_seen_at, s.last_heartbeat_at,
                 (SELECT max(h.last_heartbeat_at) FROM session_history h WHERE h.device_id = d.id)) AS last_seen_at,
        d.is_active, d.deactivated_at
    FROM device_registrations d LEFT JOIN license_sessions s ON s.device_id = d.id";

/// [`SELECT`] without the sighting: `last_seen_at` as the row holds it (moved at activation only).
/// Only for a reader whose caller does not ask for `lastSeenAt` (`customers::planned`), which
/// saves a join and a look-up in the session history per device.
pub const SELECT_UNSIGHTED: &str = "SELECT d.id, d.license_id, d.hardware_fingerprint, d.device_name, d.device_type,
        d.first_activated_at, d.last_seen_at, d.is_active, d.deactivated_at
    FROM device_registrations d";

/// The order of a license's active devices (`License.devices`), as `ORDER BY` keys: oldest
/// activation first.
pub const ACTIVE_ORDER: &str = "d.first_activated_at, d.id";

pub async fn list_for_license(pool: &PgPool, license_id: Uuid, include_inactive: bool) -> Result<Vec<Device>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE d.license_id = $1 AND (d.is_active OR $2) ORDER BY d.is_active DESC, d.first_activated_at, d.id"
    ))
    .bind(license_id)
    .bind(include_inactive)
    .fetch_all(pool)
    .await?)
}

/// A device presenting itself to a license: what `activate` registers.
pub struct Registration<'a> {
    pub license_id: Uuid,
    pub fingerprint: &'a str,
    pub device_name: &'a str,
    pub device_type: &'a str,
}

/// The license's registration of this hardware, if any: its id and whether it is active.
pub async fn find_by_fingerprint(
    conn: &mut PgConnection,
    license_id: Uuid,
    fingerprint: &str,
) -> Result<Option<(Uuid, bool)>> {
    Ok(sqlx::query_as(
        "SELECT id, is_active FROM device_registrations WHERE license_id = $1 AND hardware_fingerprint = $2",
    )
    .bind(license_id)
    .bind(fingerprint)
    .fetch_optional(conn)
    .await?)
}

/// How many of the license's device slots are taken.
pub async fn count_active(conn: &mut PgConnection, license_id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM device_registrations WHERE license_id = $1 AND is_active")
        .bind(license_id)
        .fetch_one(conn)
        .await?)
}

/// An active device activated again: its name and type as it reports them now (kept when it
/// sends none), and when it was last seen.
pub async fn seen(conn: &mut PgConnection, id: Uuid, device_name: &str, device_type: &str) -> Result<()> {
    sqlx::query(
        "UPDATE device_registrations
         SET device_name = coalesce(nullif($2, ''), device_name),
             device_type = coalesce(nullif($3, ''), device_type),
             last_seen_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(device_name)
    .bind(device_type)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives the device a slot of its license (new, or a deactivated one back), audited and
/// announced. The caller holds the license's lock and has checked that a slot is free.
pub async fn register(
    conn: &mut PgConnection,
    caller: &Caller,
    device: &Registration<'_>,
    reactivated: bool,
) -> Result<Uuid> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO device_registrations (license_id, hardware_fingerprint, device_name, device_type)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (license_id, hardware_fingerprint) DO UPDATE
         SET is_active = true, deactivated_at = NULL, last_seen_at = now(),
             device_name = coalesce(nullif(EXCLUDED.device_name, ''), device_registrations.device_name),
             device_type = coalesce(nullif(EXCLUDED.device_type, ''), device_registrations.device_type)
         RETURNING id",
    )
    .bind(device.license_id)
    .bind(device.fingerprint)
    .bind(device.device_name)
    .bind(device.device_type)
    .fetch_one(&mut *conn)
    .await?;
    let action = if reactivated { "device.reactivated" } else { "device.registered" };
    audit::record(
        &mut *conn,
        caller,
        AuditEntry::new(action, "device", id).new_values(serde_json::json!({
            "licenseId": device.license_id, "deviceName": device.device_name,
            "deviceType": device.device_type, "isActive": true
        })),
    )
    .await?;
    events::notify(conn, &SessionEvent::device(SessionEventKind::DeviceRegistered, device.license_id, id)).await?;
    Ok(id)
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Device>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE d.id = $1")).bind(id).fetch_optional(conn).await?)
}

#[derive(Debug, Default, InputObject)]
pub struct DeviceFilter {
    pub license_id: Option<IdFilter>,
    /// The customer holding the device's license.
    pub customer_id: Option<IdFilter>,
    /// The key of the device's license.
    pub license_key: Option<StringFilter>,
    pub is_active: Option<bool>,
    pub device_name: Option<StringFilter>,
    pub device_type: Option<StringFilter>,
    pub hardware_fingerprint: Option<StringFilter>,
    pub first_activated_at: Option<DateTimeFilter>,
    pub last_seen_at: Option<DateTimeFilter>,
    pub deactivated_at: Option<DateTimeFilter>,
    /// All of these must hold too.
    pub and: Option<Vec<DeviceFilter>>,
    /// At least one of these must hold too.
    pub or: Option<Vec<DeviceFilter>>,
}

impl Filter for DeviceFilter {
    fn conditions(&self, c: &mut Conditions<'_>) -> Result<()> {
        c.id("licenseId", "license_id", &self.license_id)?;
        c.id("customerId", "customer_id", &self.customer_id)?;
        c.string("licenseKey", "license_key", &self.license_key)?;
        c.boolean("is_active", self.is_active);
        c.string("deviceName", "device_name", &self.device_name)?;
        c.string("deviceType", "device_type", &self.device_type)?;
        c.string("hardwareFingerprint", "hardware_fingerprint", &self.hardware_fingerprint)?;
        c.datetime("first_activated_at", &self.first_activated_at);
        c.datetime("last_seen_at", &self.last_seen_at);
        c.datetime("deactivated_at", &self.deactivated_at);
        Ok(())
    }

    nested_filters!();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum DeviceOrderField {
    FirstActivatedAt,
    LastSeenAt,
    DeviceName,
    DeviceType,
}

#[derive(Debug, InputObject)]
pub struct DeviceOrder {
    pub field: DeviceOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// One page of devices across all licenses. `search` matches part of the name, the fingerprint
/// or the license key; a complete license key also matches as a person types it (any case, with
/// or without hyphens, O for 0), like `licenseByKey`.
pub async fn page(
    pool: &PgPool,
    search: Option<String>,
    filter: Option<DeviceFilter>,
    order_by: Vec<DeviceOrder>,
    args: PageArgs,
) -> async_graphql::Result<ListConnection<Device>> {
    let search = search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let pattern = search.map(contains_pattern);
    let key = search.and_then(|text| LicenseKey::parse(text).ok()).map(|key| key.as_str().to_owned());
    let query = |select: &str| -> Result<Sql> {
        let mut sql = Sql::new(select);
        // Each device with its folded-in `last_seen_at` and its license's customer and key, for filtering.
        sql.push(" FROM (")
            .push(SELECT.replacen("SELECT ", "SELECT l.customer_id, l.license_key, ", 1))
            .push(" JOIN licenses l ON l.id = d.license_id) x WHERE TRUE");
        if let Some(pattern) = &pattern {
            sql.push(" AND (device_name ILIKE ")
                .push_bind(pattern.clone())
                .push(" OR hardware_fingerprint ILIKE ")
                .push_bind(pattern.clone())
                .push(" OR license_key ILIKE ")
                .push_bind(pattern.clone());
            if let Some(key) = &key {
                sql.push(" OR license_key = ").push_bind(key.clone());
            }
            sql.push(")");
        }
        if let Some(filter) = &filter {
            push_filter(&mut sql, filter)?;
        }
        Ok(sql)
    };
    let keys: Vec<_> = order_by.iter().map(|o| (o.field, o.direction)).collect();
    let order = |sql: &mut Sql| {
        push_order(sql, &keys, "first_activated_at DESC", "id", |field| match field {
            DeviceOrderField::FirstActivatedAt => "first_activated_at",
            DeviceOrderField::LastSeenAt => "last_seen_at",
            DeviceOrderField::DeviceName => "device_name",
            DeviceOrderField::DeviceType => "device_type",
        })
    };
    filtered_page(pool, "*", query, order, args).await
}

/// Frees the device's slot and ends its session with `device_deactivated`, on an admin's word:
/// never bounded, and not counted against the license's client releases.
pub async fn deactivate(pool: &PgPool, settings: &SessionSettings, caller: &Caller, id: Uuid) -> Result<Device> {
    let mut tx = pool.begin().await?;
    let license_id: Uuid = sqlx::query_scalar("SELECT license_id FROM device_registrations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("device", "id"))?;
    // License first, then device, then session: the lock order activation uses too.
    crate::licenses::lock(&mut tx, license_id).await?;
    deactivate_locked(&mut tx, settings, caller, license_id, id, Deactivation::ByAdmin).await?;
    let device = find(&mut tx, id).await?.ok_or_else(|| Error::not_found("device", "id"))?;
    tx.commit().await?;
    Ok(device)
}

/// Who frees a device's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deactivation {
    /// An admin (`deactivateDevice`).
    ByAdmin,
    /// The license's own client (`releaseDevice`), counted against `max_device_releases`.
    ByClient,
}

/// Deactivates the device, audits and announces it, records the release in `device_releases`
/// (when it was active) and ends its session with `device_deactivated`, in the caller's
/// transaction, which holds the license's lock. Returns when the device was released, `None`
/// when it was inactive already.
pub async fn deactivate_locked(
    conn: &mut PgConnection,
    settings: &SessionSettings,
    caller: &Caller,
    license_id: Uuid,
    id: Uuid,
    by: Deactivation,
) -> Result<Option<DateTime<Utc>>> {
    let was_active: bool =
        sqlx::query_scalar("SELECT is_active FROM device_registrations WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query("UPDATE device_registrations SET is_active = false, deactivated_at = coalesce(deactivated_at, now()) WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let mut released_at = None;
    if was_active {
        let action = match by {
            Deactivation::ByAdmin => "device.deactivated",
            Deactivation::ByClient => "device.released",
        };
        audit::record(
            &mut *conn,
            caller,
            AuditEntry::new(action, "device", id)
                .old_values(serde_json::json!({"isActive": true}))
                .new_values(serde_json::json!({"isActive": false})),
        )
        .await?;
        events::notify(&mut *conn, &SessionEvent::device(SessionEventKind::DeviceDeactivated, license_id, id)).await?;
        released_at = Some(
            sqlx::query_scalar(
                "INSERT INTO device_releases (license_id, device_id, by_admin) VALUES ($1, $2, $3) RETURNING released_at",
            )
            .bind(license_id)
            .bind(id)
            .bind(by == Deactivation::ByAdmin)
            .fetch_one(&mut *conn)
            .await?,
        );
    }
    sessions::end_sessions(conn, settings, caller, sessions::Selector::Device(id), EndReason::DeviceDeactivated)
        .await?;
    Ok(released_at)
}
