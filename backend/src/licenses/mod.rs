//! Licenses: keys, limits, validity windows, and the admin operations on them.

pub mod graphql;
pub mod key;
mod loaders;
pub mod terms;

use async_graphql::{Enum, InputObject, MaybeUndefined, SimpleObject, ID};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::customers;
use crate::license_templates::{self, LicenseTemplate};

/// The most devices (and so live sessions) a license can have.
const MAX_DEVICES: usize = 10;
use crate::devices::Device;
use crate::error::{ensure_unchanged, Error, Result};
use crate::graphql::filter::{
    filtered_page, nested_filters, push_filter, push_order, Conditions, DateTimeFilter, Filter, IdFilter, IntFilter,
    OrderDirection, Sql, StringFilter,
};
use crate::graphql::ids::{parse_id, Id};
use crate::graphql::loaders::ReadAhead;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::sessions::SessionSettings;
use crate::sessions::{self, EndReason};
pub use key::LicenseKey;
pub use loaders::{LicenseById, LicensesOfCustomer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseType {
    Trial,
    Subscription,
    Perpetual,
}

impl LicenseType {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseType::Trial => "trial",
            LicenseType::Subscription => "subscription",
            LicenseType::Perpetual => "perpetual",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "trial" => LicenseType::Trial,
            "perpetual" => LicenseType::Perpetual,
            _ => LicenseType::Subscription,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct License {
    /// Human-typable key with a check character, e.g. `7K3QD-MX2PA-9RT4V-HB6W1`.
    pub license_key: String,
    #[graphql(skip)]
    pub license_type: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub device_limit: i32,
    pub concurrent_sessions_limit: i32,
    /// Named features (editions, modules) the client may unlock; in every lease it gets.
    pub features: Vec<String>,
    /// How long a client stays licensed without reaching the server, beyond its session's
    /// deadline: added to its leases' expiry (0: online only).
    pub offline_grace_seconds: i32,
    /// How many devices the license's own clients may release per rolling 30 days (`releaseDevice`).
    pub max_device_releases: i32,
    pub notes: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub id: Id,
    pub customer_id: Id,
    /// The active devices a planned statement read with the page, if it did (`customers::planned`).
    #[graphql(skip)]
    #[sqlx(skip)]
    #[serde(skip)]
    pub devices_read: ReadAhead<Device>,
}

/// A new license's terms. With `templateId`, every term the input leaves out comes from the
/// template; terms the input gives win. Without one, `deviceLimit` and `concurrentSessionsLimit`
/// are required and the rest have the defaults named below.
#[derive(Debug, InputObject)]
pub struct CreateLicenseInput {
    pub customer_id: ID,
    /// The license template that fills the terms this input leaves out.
    pub template_id: Option<ID>,
    /// The template's, else `SUBSCRIPTION`.
    pub license_type: Option<LicenseType>,
    /// How many devices may be registered at once (1–10); the template's when absent.
    pub device_limit: Option<i32>,
    /// How many sessions may be live at once (1 to deviceLimit); the template's when absent.
    pub concurrent_sessions_limit: Option<i32>,
    /// Defaults to now.
    pub valid_from: Option<DateTime<Utc>>,
    /// Absent: `validFrom` plus the template's `durationDays`, or open-ended (no template, or an
    /// open-ended one). `null`: open-ended whatever the template says.
    pub valid_until: MaybeUndefined<DateTime<Utc>>,
    /// Feature names: trimmed and lower-cased, duplicates dropped; then each must match
    /// `^[a-z0-9][a-z0-9._:-]{0,63}$`, at most 64. The template's, else none.
    pub features: Option<Vec<String>>,
    /// Seconds a client stays licensed offline beyond its session's deadline (0–2592000, i.e.
    /// 30 days). The template's, else 0 (online only).
    pub offline_grace_seconds: Option<i32>,
    /// Device releases the license's clients may make per rolling 30 days (0–1000). The
    /// template's, else 3.
    pub max_device_releases: Option<i32>,
    #[graphql(default)]
    pub notes: String,
}

/// Changes to a license's terms; every field left out stays as it is.
#[derive(Debug, InputObject)]
pub struct UpdateLicenseInput {
    pub license_type: Option<LicenseType>,
    pub device_limit: Option<i32>,
    pub concurrent_sessions_limit: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    /// `null` makes the license open-ended.
    pub valid_until: MaybeUndefined<DateTime<Utc>>,
    /// Replaces the features (normalised as on create; `[]` removes them all).
    pub features: Option<Vec<String>>,
    /// 0–2592000 (30 days); 0: online only.
    pub offline_grace_seconds: Option<i32>,
    /// 0–1000 per rolling 30 days.
    pub max_device_releases: Option<i32>,
    pub notes: Option<String>,
}

crate::input_constraint! {
    "licenses_device_limit_range" => "deviceLimit", "deviceLimit must be between 1 and 10";
    "licenses_concurrent_limit_range" => "concurrentSessionsLimit", "concurrentSessionsLimit must be between 1 and deviceLimit";
    "licenses_validity_window" => "validUntil", "validUntil must be after validFrom";
    "licenses_customer_id_fkey" => "customerId", "no customer with this id";
}

/// The order of a customer's licenses (`Customer.licenses`).
pub const NEWEST_FIRST: &str = "ORDER BY created_at DESC, id";

pub const COLUMNS: &str = "id, license_key, customer_id, license_type, valid_from, valid_until, is_active, \
                       device_limit, concurrent_sessions_limit, features, offline_grace_seconds, \
                       max_device_releases, notes, created_at, updated_at";

/// The rules on limits and validity, checked before the database sees them (which checks again).
fn check_terms(
    device_limit: i32,
    concurrent: i32,
    valid_from: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
    notes: &str,
) -> Result<()> {
    terms::check_limits(device_limit, concurrent)?;
    if valid_until.is_some_and(|until| until <= valid_from) {
        return Err(Error::bad_input("validUntil", "validUntil must be after validFrom"));
    }
    if notes.chars().count() > 2000 {
        return Err(Error::bad_input("notes", "notes must be at most 2000 characters"));
    }
    Ok(())
}

/// The terms of a new license: the input's, else the template's, else the defaults; checked.
struct NewTerms {
    license_type: LicenseType,
    device_limit: i32,
    concurrent_sessions_limit: i32,
    valid_from: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
    features: Vec<String>,
    offline_grace_seconds: i32,
    max_device_releases: i32,
}

impl NewTerms {
    fn resolve(input: &CreateLicenseInput, template: Option<&LicenseTemplate>) -> Result<NewTerms> {
        let required = |given: Option<i32>, from_template: Option<i32>, field: &str| {
            given
                .or(from_template)
                .ok_or_else(|| Error::bad_input(field, format!("{field} is required when no templateId is given")))
        };
        let device_limit = required(input.device_limit, template.map(|t| t.device_limit), "deviceLimit")?;
        let concurrent = required(
            input.concurrent_sessions_limit,
            template.map(|t| t.concurrent_sessions_limit),
            "concurrentSessionsLimit",
        )?;
        let valid_from = input.valid_from.unwrap_or_else(Utc::now);
        let valid_until = match input.valid_until {
            MaybeUndefined::Value(until) => Some(until),
            MaybeUndefined::Null => None,
            MaybeUndefined::Undefined => match template.and_then(|t| t.duration_days) {
                Some(days) => Some(
                    valid_from
                        .checked_add_signed(chrono::Duration::days(days.into()))
                        .ok_or_else(|| Error::bad_input("validFrom", "validFrom is too far in the future"))?,
                ),
                None => None,
            },
        };
        check_terms(device_limit, concurrent, valid_from, valid_until, &input.notes)?;
        let features = input.features.as_deref().or(template.map(|t| t.features.as_slice())).unwrap_or_default();
        Ok(NewTerms {
            license_type: input
                .license_type
                .or(template.map(LicenseTemplate::kind))
                .unwrap_or(LicenseType::Subscription),
            device_limit,
            concurrent_sessions_limit: concurrent,
            valid_from,
            valid_until,
            features: terms::normalize_features(features)?,
            offline_grace_seconds: terms::check_offline_grace(
                input.offline_grace_seconds.or(template.map(|t| t.offline_grace_seconds)).unwrap_or(0),
            )?,
            max_device_releases: terms::check_max_device_releases(
                input
                    .max_device_releases
                    .or(template.map(|t| t.max_device_releases))
                    .unwrap_or(terms::DEFAULT_MAX_DEVICE_RELEASES),
            )?,
        })
    }
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<License>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM licenses WHERE id = $1")).bind(id).fetch_optional(conn).await?)
}

/// Locks the license row: every change to a license's devices and sessions admission goes through here.
///
/// `FOR NO KEY UPDATE`, the lock an update of non-key columns takes: it serialises admissions
/// just the same, but does not conflict with the key-share locks that inserts referencing the
/// license take (a session filed into the history by the cleanup), so those never wait for an
/// admission and cannot close a wait cycle with one.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<License> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM licenses WHERE id = $1 FOR NO KEY UPDATE"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::not_found("license", "id"))
}

/// The license with this key, read for an admission check (`validateLicense`).
pub async fn find_by_key(pool: &PgPool, key: &LicenseKey) -> Result<Option<License>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM licenses WHERE license_key = $1"))
        .bind(key.as_str())
        .fetch_optional(pool)
        .await?)
}

/// The license with this key, locked as [`lock`] locks it: an activation admits through here.
pub async fn lock_by_key(conn: &mut PgConnection, key: &LicenseKey) -> Result<Option<License>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM licenses WHERE license_key = $1 FOR NO KEY UPDATE"))
        .bind(key.as_str())
        .fetch_optional(conn)
        .await?)
}

pub async fn list_for_customer(pool: &PgPool, customer_id: Uuid) -> Result<Vec<License>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM licenses WHERE customer_id = $1 ORDER BY created_at DESC, id"))
        .bind(customer_id)
        .fetch_all(pool)
        .await?)
}

pub async fn create(pool: &PgPool, caller: &Caller, input: CreateLicenseInput) -> Result<License> {
    let customer_id = parse_id(&input.customer_id, "customerId")?;
    let template_id = input.template_id.as_ref().map(|id| parse_id(id, "templateId")).transpose()?;
    let mut tx = pool.begin().await?;
    let template = match template_id {
        Some(id) => Some(
            license_templates::find(&mut tx, id)
                .await?
                .ok_or_else(|| Error::not_found("license template", "templateId"))?,
        ),
        None => None,
    };
    let terms = NewTerms::resolve(&input, template.as_ref())?;
    if customers::find(&mut tx, customer_id).await?.is_none() {
        return Err(Error::not_found("customer", "customerId"));
    }
    let license: License = sqlx::query_as(&format!(
        "INSERT INTO licenses (license_key, customer_id, license_type, valid_from, valid_until,
                               device_limit, concurrent_sessions_limit, features, offline_grace_seconds,
                               max_device_releases, notes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
    ))
    // 95 random bits: a collision would surface as an internal error rather than be retried.
    .bind(LicenseKey::generate().as_str())
    .bind(customer_id)
    .bind(terms.license_type.as_str())
    .bind(terms.valid_from)
    .bind(terms.valid_until)
    .bind(terms.device_limit)
    .bind(terms.concurrent_sessions_limit)
    .bind(&terms.features)
    .bind(terms.offline_grace_seconds)
    .bind(terms.max_device_releases)
    .bind(input.notes.trim())
    .fetch_one(&mut *tx)
    .await?;
    let mut new_values = serde_json::to_value(&license).map_err(anyhow::Error::from)?;
    if let Some(template) = &template {
        new_values["templateId"] = serde_json::Value::String(template.id.0.to_string());
    }
    audit::record(&mut tx, caller, AuditEntry::new("license.created", "license", license.id).new_values(new_values))
        .await?;
    tx.commit().await?;
    Ok(license)
}

pub async fn update(
    pool: &PgPool,
    settings: &SessionSettings,
    caller: &Caller,
    id: Uuid,
    input: UpdateLicenseInput,
    expected_updated_at: Option<DateTime<Utc>>,
) -> Result<License> {
    let mut tx = pool.begin().await?;
    let old = lock(&mut tx, id).await?;
    ensure_unchanged("license", expected_updated_at, old.updated_at)?;
    let device_limit = input.device_limit.unwrap_or(old.device_limit);
    let concurrent = input.concurrent_sessions_limit.unwrap_or(old.concurrent_sessions_limit);
    let valid_from = input.valid_from.unwrap_or(old.valid_from);
    let valid_until = match input.valid_until {
        MaybeUndefined::Undefined => old.valid_until,
        MaybeUndefined::Null => None,
        MaybeUndefined::Value(until) => Some(until),
    };
    let notes = input.notes.as_deref().map(str::trim).unwrap_or(&old.notes).to_owned();
    check_terms(device_limit, concurrent, valid_from, valid_until, &notes)?;
    let features =
        input.features.as_deref().map(terms::normalize_features).transpose()?.unwrap_or_else(|| old.features.clone());
    let offline_grace_seconds =
        terms::check_offline_grace(input.offline_grace_seconds.unwrap_or(old.offline_grace_seconds))?;
    let max_device_releases =
        terms::check_max_device_releases(input.max_device_releases.unwrap_or(old.max_device_releases))?;

    // Limits are never lowered below what is in use: no device or session is dropped implicitly.
    let (active_devices, live_sessions): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM device_registrations WHERE license_id = $1 AND is_active),
                (SELECT count(*) FROM license_sessions
                  WHERE license_id = $1 AND session_is_live(last_heartbeat_at, $2))",
    )
    .bind(id)
    .bind(settings.timeout_secs())
    .fetch_one(&mut *tx)
    .await?;
    if i64::from(device_limit) < active_devices {
        return Err(Error::bad_input(
            "deviceLimit",
            format!(
                "{active_devices} devices are active: deactivate devices before lowering deviceLimit to {device_limit}"
            ),
        ));
    }
    if i64::from(concurrent) < live_sessions {
        return Err(Error::bad_input(
            "concurrentSessionsLimit",
            format!("{live_sessions} sessions are live: end sessions before lowering concurrentSessionsLimit to {concurrent}"),
        ));
    }

    let new: License = sqlx::query_as(&format!(
        "UPDATE licenses SET license_type = $2, device_limit = $3, concurrent_sessions_limit = $4,
                             valid_from = $5, valid_until = $6, notes = $7, features = $8,
                             offline_grace_seconds = $9, max_device_releases = $10
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(input.license_type.map_or(old.license_type.clone(), |t| t.as_str().to_owned()))
    .bind(device_limit)
    .bind(concurrent)
    .bind(valid_from)
    .bind(valid_until)
    .bind(notes)
    .bind(&features)
    .bind(offline_grace_seconds)
    .bind(max_device_releases)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(&mut tx, caller, AuditEntry::new("license.updated", "license", id).old_values(&old).new_values(&new))
        .await?;
    tx.commit().await?;
    Ok(new)
}

/// Activates or deactivates a license. Deactivation ends its sessions with `license_revoked`.
pub async fn set_active(
    pool: &PgPool,
    settings: &SessionSettings,
    caller: &Caller,
    id: Uuid,
    active: bool,
) -> Result<License> {
    let mut tx = pool.begin().await?;
    let old = lock(&mut tx, id).await?;
    let new: License = sqlx::query_as(&format!("UPDATE licenses SET is_active = $2 WHERE id = $1 RETURNING {COLUMNS}"))
        .bind(id)
        .bind(active)
        .fetch_one(&mut *tx)
        .await?;
    let action = if active { "license.activated" } else { "license.deactivated" };
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new(action, "license", id)
            .old_values(serde_json::json!({"isActive": old.is_active}))
            .new_values(serde_json::json!({"isActive": new.is_active})),
    )
    .await?;
    if !active {
        sessions::end_sessions(&mut tx, settings, caller, sessions::Selector::License(id), EndReason::LicenseRevoked)
            .await?;
    }
    tx.commit().await?;
    Ok(new)
}

/// What analysts ask about licenses.
#[derive(Debug, Default, InputObject)]
pub struct LicenseFilter {
    pub id: Option<IdFilter>,
    pub license_key: Option<StringFilter>,
    pub customer_id: Option<IdFilter>,
    pub customer_name: Option<StringFilter>,
    pub customer_email: Option<StringFilter>,
    pub license_type: Option<LicenseTypeFilter>,
    pub is_active: Option<bool>,
    pub device_limit: Option<IntFilter>,
    pub concurrent_sessions_limit: Option<IntFilter>,
    pub valid_from: Option<DateTimeFilter>,
    pub valid_until: Option<DateTimeFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub notes: Option<StringFilter>,
    /// All of these must hold too.
    pub and: Option<Vec<LicenseFilter>>,
    /// At least one of these must hold too.
    pub or: Option<Vec<LicenseFilter>>,
}

crate::enum_filter!(LicenseTypeFilter: LicenseType => LicenseType::as_str;);

impl Filter for LicenseFilter {
    fn conditions(&self, c: &mut Conditions<'_>) -> Result<()> {
        c.id("id", "l.id", &self.id)?;
        c.string("licenseKey", "l.license_key", &self.license_key)?;
        c.id("customerId", "l.customer_id", &self.customer_id)?;
        c.string("customerName", "c.name", &self.customer_name)?;
        c.string("customerEmail", "c.email", &self.customer_email)?;
        c.enumeration("licenseType", "l.license_type", &self.license_type)?;
        c.boolean("l.is_active", self.is_active);
        c.int("deviceLimit", "l.device_limit", &self.device_limit)?;
        c.int("concurrentSessionsLimit", "l.concurrent_sessions_limit", &self.concurrent_sessions_limit)?;
        c.datetime("l.valid_from", &self.valid_from);
        c.datetime("l.valid_until", &self.valid_until);
        c.datetime("l.created_at", &self.created_at);
        c.string("notes", "l.notes", &self.notes)
    }

    nested_filters!();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum LicenseOrderField {
    CreatedAt,
    ValidFrom,
    ValidUntil,
    LicenseKey,
    LicenseType,
    DeviceLimit,
    ConcurrentSessionsLimit,
    CustomerName,
}

#[derive(Debug, InputObject)]
pub struct LicenseOrder {
    pub field: LicenseOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

fn order_column(field: LicenseOrderField) -> &'static str {
    match field {
        LicenseOrderField::CreatedAt => "l.created_at",
        LicenseOrderField::ValidFrom => "l.valid_from",
        LicenseOrderField::ValidUntil => "l.valid_until",
        LicenseOrderField::LicenseKey => "l.license_key",
        LicenseOrderField::LicenseType => "l.license_type",
        LicenseOrderField::DeviceLimit => "l.device_limit",
        LicenseOrderField::ConcurrentSessionsLimit => "l.concurrent_sessions_limit",
        LicenseOrderField::CustomerName => "c.name",
    }
}

/// The search, the older shortcut arguments and the filter, as one `WHERE` clause.
struct ListQuery {
    pattern: Option<String>,
    customer_id: Option<Uuid>,
    is_active: Option<bool>,
    filter: Option<LicenseFilter>,
    order: Vec<(LicenseOrderField, OrderDirection)>,
}

impl ListQuery {
    fn sql(&self, select: &str) -> Result<Sql> {
        let mut sql = Sql::new(select);
        sql.push(" FROM licenses l JOIN customers c ON c.id = l.customer_id WHERE TRUE");
        if let Some(pattern) = &self.pattern {
            sql.push(" AND (l.license_key ILIKE ").push_bind(pattern.clone());
            sql.push(" OR c.name ILIKE ").push_bind(pattern.clone());
            sql.push(" OR c.email ILIKE ").push_bind(pattern.clone()).push(")");
        }
        if let Some(customer_id) = self.customer_id {
            sql.push(" AND l.customer_id = ").push_bind(customer_id);
        }
        if let Some(is_active) = self.is_active {
            sql.push(" AND l.is_active = ").push_bind(is_active);
        }
        if let Some(filter) = &self.filter {
            push_filter(&mut sql, filter)?;
        }
        Ok(sql)
    }
}

async fn list(pool: &PgPool, query: ListQuery, args: PageArgs) -> async_graphql::Result<ListConnection<License>> {
    let columns = COLUMNS.split(", ").map(|c| format!("l.{}", c.trim())).collect::<Vec<_>>().join(", ");
    let order = |sql: &mut Sql| push_order(sql, &query.order, "l.created_at DESC", "l.id", order_column);
    filtered_page(pool, &columns, |select| query.sql(select), order, args).await
}
