//! License templates: named, reusable license terms ("Trial 14 days, 1 device"). A template fills
//! the terms a new license's input leaves out (`CreateLicenseInput.templateId`); a license keeps
//! no link to it, so changing or deleting a template never changes a license.

pub mod graphql;

use async_graphql::{InputObject, MaybeUndefined, SimpleObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::error::{ensure_unchanged, Error, Result};
use crate::graphql::filter::{contains_pattern, filtered_page, Sql};
use crate::graphql::ids::Id;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::licenses::terms;
use crate::licenses::LicenseType;

/// The longest template name, in characters.
const MAX_NAME_LENGTH: usize = 100;
/// The longest duration a template may give: 100 years.
const MAX_DURATION_DAYS: i32 = 36_500;

/// Named, reusable license terms: `createLicense` with its `templateId` takes every term its
/// input leaves out from here.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct LicenseTemplate {
    pub id: Id,
    /// Unique, compared without regard to case.
    pub name: String,
    #[graphql(skip)]
    #[serde(rename = "licenseType")]
    pub license_type_name: String,
    /// 1–10.
    pub device_limit: i32,
    /// 1 to deviceLimit.
    pub concurrent_sessions_limit: i32,
    /// A license made from the template is valid this many days from its `validFrom`; `null`:
    /// open-ended.
    pub duration_days: Option<i32>,
    /// The features of a license made from the template.
    pub features: Vec<String>,
    /// The offline grace (seconds) of a license made from the template.
    pub offline_grace_seconds: i32,
    /// The device releases per rolling 30 days of a license made from the template.
    pub max_device_releases: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LicenseTemplate {
    /// The license type a license made from the template gets.
    pub fn kind(&self) -> LicenseType {
        LicenseType::parse(&self.license_type_name)
    }
}

#[derive(Debug, InputObject)]
pub struct CreateLicenseTemplateInput {
    /// 1–100 characters, unique without regard to case.
    pub name: String,
    #[graphql(default_with = "LicenseType::Subscription")]
    pub license_type: LicenseType,
    /// 1–10.
    pub device_limit: i32,
    /// 1 to deviceLimit.
    pub concurrent_sessions_limit: i32,
    /// 1–36500 days; absent or `null`: licenses made from it are open-ended.
    pub duration_days: Option<i32>,
    /// Normalised as a license's features are (trimmed, lower-cased, duplicates dropped).
    #[graphql(default)]
    pub features: Vec<String>,
    /// 0–2592000 (30 days).
    #[graphql(default)]
    pub offline_grace_seconds: i32,
    /// 0–1000 per rolling 30 days.
    #[graphql(default_with = "terms::DEFAULT_MAX_DEVICE_RELEASES")]
    pub max_device_releases: i32,
}

/// Changes to a template; every field left out stays as it is.
#[derive(Debug, InputObject)]
pub struct UpdateLicenseTemplateInput {
    pub name: Option<String>,
    pub license_type: Option<LicenseType>,
    pub device_limit: Option<i32>,
    pub concurrent_sessions_limit: Option<i32>,
    /// `null` makes the template open-ended.
    pub duration_days: MaybeUndefined<i32>,
    pub features: Option<Vec<String>>,
    pub offline_grace_seconds: Option<i32>,
    pub max_device_releases: Option<i32>,
}

crate::input_constraint! {
    "license_templates_name_key" => "name", "a license template with this name already exists";
    "license_templates_name_length" => "name", "name must be 1 to 100 characters";
    "license_templates_device_limit_range" => "deviceLimit", "deviceLimit must be between 1 and 10";
    "license_templates_concurrent_limit_range" => "concurrentSessionsLimit", "concurrentSessionsLimit must be between 1 and deviceLimit";
    "license_templates_duration_range" => "durationDays", "durationDays must be between 1 and 36500";
    "license_templates_features_valid" => "features", "feature names are 1 to 64 characters of a-z, 0-9, '.', '_', ':' and '-', at most 64 of them, none twice";
    "license_templates_offline_grace_range" => "offlineGraceSeconds", "offlineGraceSeconds must be between 0 and 2592000 (30 days)";
    "license_templates_max_device_releases_range" => "maxDeviceReleases", "maxDeviceReleases must be between 0 and 1000";
}

pub const COLUMNS: &str = "id, name, license_type AS license_type_name, device_limit, concurrent_sessions_limit, \
                           duration_days, features, offline_grace_seconds, max_device_releases, created_at, updated_at";

/// A template's terms as they are stored, checked by the rules licenses follow.
struct Terms {
    name: String,
    license_type: LicenseType,
    device_limit: i32,
    concurrent_sessions_limit: i32,
    duration_days: Option<i32>,
    features: Vec<String>,
    offline_grace_seconds: i32,
    max_device_releases: i32,
}

impl Terms {
    /// Runs `sql` (an insert or update returning the template) with the terms bound as `$1` to
    /// `$8`, in the order of the struct's fields, and `id`, if any, as `$9`.
    async fn store(&self, conn: &mut PgConnection, sql: &str, id: Option<Uuid>) -> Result<LicenseTemplate> {
        let mut query = sqlx::query_as(sql)
            .bind(&self.name)
            .bind(self.license_type.as_str())
            .bind(self.device_limit)
            .bind(self.concurrent_sessions_limit)
            .bind(self.duration_days)
            .bind(&self.features)
            .bind(self.offline_grace_seconds)
            .bind(self.max_device_releases);
        if let Some(id) = id {
            query = query.bind(id);
        }
        Ok(query.fetch_one(conn).await?)
    }

    fn checked(self) -> Result<Terms> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_LENGTH {
            return Err(Error::bad_input("name", format!("name must be 1 to {MAX_NAME_LENGTH} characters")));
        }
        terms::check_limits(self.device_limit, self.concurrent_sessions_limit)?;
        if self.duration_days.is_some_and(|days| !(1..=MAX_DURATION_DAYS).contains(&days)) {
            return Err(Error::bad_input(
                "durationDays",
                format!("durationDays must be between 1 and {MAX_DURATION_DAYS}, or null for open-ended"),
            ));
        }
        Ok(Terms {
            name: name.to_owned(),
            features: terms::normalize_features(&self.features)?,
            offline_grace_seconds: terms::check_offline_grace(self.offline_grace_seconds)?,
            max_device_releases: terms::check_max_device_releases(self.max_device_releases)?,
            ..self
        })
    }
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<LicenseTemplate>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM license_templates WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

pub async fn create(pool: &PgPool, caller: &Caller, input: CreateLicenseTemplateInput) -> Result<LicenseTemplate> {
    let terms = Terms {
        name: input.name,
        license_type: input.license_type,
        device_limit: input.device_limit,
        concurrent_sessions_limit: input.concurrent_sessions_limit,
        duration_days: input.duration_days,
        features: input.features,
        offline_grace_seconds: input.offline_grace_seconds,
        max_device_releases: input.max_device_releases,
    }
    .checked()?;
    let mut tx = pool.begin().await?;
    let template = terms
        .store(
            &mut tx,
            &format!(
                "INSERT INTO license_templates (name, license_type, device_limit, concurrent_sessions_limit,
                                                duration_days, features, offline_grace_seconds, max_device_releases)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
            ),
            None,
        )
        .await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("license_template.created", "license_template", template.id).new_values(&template),
    )
    .await?;
    tx.commit().await?;
    Ok(template)
}

pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    id: Uuid,
    input: UpdateLicenseTemplateInput,
    expected_updated_at: Option<DateTime<Utc>>,
) -> Result<LicenseTemplate> {
    let mut tx = pool.begin().await?;
    let old: LicenseTemplate =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM license_templates WHERE id = $1 FOR UPDATE"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("license template", "id"))?;
    ensure_unchanged("license template", expected_updated_at, old.updated_at)?;
    let terms = Terms {
        name: input.name.unwrap_or_else(|| old.name.clone()),
        license_type: input.license_type.unwrap_or_else(|| old.kind()),
        device_limit: input.device_limit.unwrap_or(old.device_limit),
        concurrent_sessions_limit: input.concurrent_sessions_limit.unwrap_or(old.concurrent_sessions_limit),
        duration_days: match input.duration_days {
            MaybeUndefined::Undefined => old.duration_days,
            MaybeUndefined::Null => None,
            MaybeUndefined::Value(days) => Some(days),
        },
        features: input.features.unwrap_or_else(|| old.features.clone()),
        offline_grace_seconds: input.offline_grace_seconds.unwrap_or(old.offline_grace_seconds),
        max_device_releases: input.max_device_releases.unwrap_or(old.max_device_releases),
    }
    .checked()?;
    let new = terms
        .store(
            &mut tx,
            &format!(
                "UPDATE license_templates SET name = $1, license_type = $2, device_limit = $3,
                                              concurrent_sessions_limit = $4, duration_days = $5, features = $6,
                                              offline_grace_seconds = $7, max_device_releases = $8
                 WHERE id = $9 RETURNING {COLUMNS}"
            ),
            Some(id),
        )
        .await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("license_template.updated", "license_template", id).old_values(&old).new_values(&new),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Deletes a template; licenses made from it keep their terms.
pub async fn delete(pool: &PgPool, caller: &Caller, id: Uuid) -> Result<LicenseTemplate> {
    let mut tx = pool.begin().await?;
    let old: LicenseTemplate =
        sqlx::query_as(&format!("DELETE FROM license_templates WHERE id = $1 RETURNING {COLUMNS}"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("license template", "id"))?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("license_template.deleted", "license_template", id).old_values(&old),
    )
    .await?;
    tx.commit().await?;
    Ok(old)
}

/// Templates ordered by name (without regard to case); `search` matches the name.
async fn list(
    pool: &PgPool,
    search: Option<&str>,
    args: PageArgs,
) -> async_graphql::Result<ListConnection<LicenseTemplate>> {
    let pattern = search.map(contains_pattern);
    let query = |select: &str| -> Result<Sql> {
        let mut sql = Sql::new(select);
        sql.push(" FROM license_templates WHERE TRUE");
        if let Some(pattern) = &pattern {
            sql.push(" AND name ILIKE ").push_bind(pattern.clone());
        }
        Ok(sql)
    };
    let order = |sql: &mut Sql| -> Result<()> {
        sql.push(" ORDER BY lower(name), id");
        Ok(())
    };
    filtered_page(pool, COLUMNS, query, order, args).await
}
