//! Resource pools: domains, IPv4 addresses and phone numbers, imported in bulk, allocated to
//! licenses all-or-nothing, released and quarantined, with every move kept in `resource_history`.

pub mod graphql;
mod loaders;
pub mod values;

use async_graphql::{Enum, InputObject, SimpleObject, Union};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::graphql::filter::{
    filtered_page, nested_filters, push_filter, push_order, Conditions, DateTimeFilter, Filter, IdFilter,
    OrderDirection, Sql, StringFilter,
};
use crate::graphql::ids::Id;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::licenses;
pub use loaders::ResourcesOfLicense;
pub use values::ResourceType;

/// The most values one import may carry.
pub const MAX_IMPORT: usize = 5000;
/// The most resources one allocation may ask for.
pub const MAX_ALLOCATION: i32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceState {
    /// In the pool, free to allocate.
    Available,
    /// Held by exactly one license.
    Allocated,
    /// Taken out of circulation, with a reason, until released.
    Quarantined,
}

impl ResourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceState::Available => "available",
            ResourceState::Allocated => "allocated",
            ResourceState::Quarantined => "quarantined",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "allocated" => ResourceState::Allocated,
            "quarantined" => ResourceState::Quarantined,
            _ => ResourceState::Available,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    #[graphql(skip)]
    pub resource_type: String,
    /// The normalised value: lower-case ASCII domain, dotted-quad IPv4, E.164 phone number.
    pub value: String,
    #[graphql(skip)]
    pub state: String,
    #[graphql(skip)]
    pub license_id: Option<Id>,
    pub quarantine_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub id: Id,
}

/// One move of a resource between states.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct ResourceMove {
    #[graphql(skip)]
    pub from_state: Option<String>,
    #[graphql(skip)]
    pub to_state: String,
    #[graphql(skip)]
    pub license_id: Option<Id>,
    /// The quarantine reason, for moves into quarantine.
    pub reason: Option<String>,
    /// Who moved it (API key name or user).
    pub actor_name: String,
    pub occurred_at: DateTime<Utc>,
}

/// What an import did with each value it was given.
#[derive(Debug, Default, Serialize, SimpleObject)]
pub struct ImportReport {
    /// The values added to the pool, in normal form.
    pub added: Vec<String>,
    /// Values (as given) already in the pool or repeated earlier in the same list.
    pub duplicates: Vec<String>,
    /// Values (as given) that are not valid for the type, with the reason.
    #[graphql(complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity")]
    pub invalid: Vec<InvalidValue>,
}

#[derive(Debug, Serialize, SimpleObject)]
pub struct InvalidValue {
    pub value: String,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct ResourcesAllocated {
    #[graphql(complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity")]
    pub resources: Vec<Resource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AllocationDenialReason {
    /// Fewer resources of the type are available than asked for; nothing was allocated.
    InsufficientResources,
}

#[derive(SimpleObject)]
pub struct AllocationDenied {
    pub reason: AllocationDenialReason,
    /// How many resources of the type were available when the request was refused.
    pub available: i32,
    pub message: String,
}

#[derive(Union)]
pub enum AllocationResult {
    ResourcesAllocated(ResourcesAllocated),
    AllocationDenied(AllocationDenied),
}

/// How many resources of one type are in each state.
#[derive(Debug, SimpleObject, sqlx::FromRow)]
#[graphql(complex)]
pub struct ResourcePoolCount {
    #[graphql(skip)]
    pub resource_type: String,
    pub available: i64,
    pub allocated: i64,
    pub quarantined: i64,
    pub total: i64,
}

pub const COLUMNS: &str = "id, resource_type, value, state, license_id, quarantine_reason, created_at, updated_at";

/// Records moves of resources in the history, in the caller's transaction.
async fn record_moves(
    conn: &mut PgConnection,
    caller: &Caller,
    resource_ids: &[Uuid],
    from: Option<ResourceState>,
    to: ResourceState,
    license_id: Option<Uuid>,
    reason: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO resource_history (resource_id, from_state, to_state, license_id, reason, actor_type, actor_id, actor_name)
         SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM unnest($1::uuid[]) AS id",
    )
    .bind(resource_ids)
    .bind(from.map(ResourceState::as_str))
    .bind(to.as_str())
    .bind(license_id)
    .bind(reason)
    .bind(caller.actor.kind.as_str())
    .bind(&caller.actor.id)
    .bind(&caller.actor.name)
    .execute(conn)
    .await?;
    Ok(())
}

/// Validates, normalises and adds `values` in one transaction: a database error adds nothing.
pub async fn import(pool: &PgPool, caller: &Caller, kind: ResourceType, values: Vec<String>) -> Result<ImportReport> {
    if values.len() > MAX_IMPORT {
        return Err(Error::bad_input("values", format!("at most {MAX_IMPORT} values per import")));
    }
    let mut report = ImportReport::default();
    let mut seen = HashSet::new();
    let mut candidates: Vec<(String, String)> = Vec::new();
    for raw in values {
        match kind.normalise(&raw) {
            Err(reason) => report.invalid.push(InvalidValue { value: raw, reason }),
            Ok(normal) if !seen.insert(normal.clone()) => report.duplicates.push(raw),
            Ok(normal) => candidates.push((raw, normal)),
        }
    }
    let normals: Vec<&str> = candidates.iter().map(|(_, n)| n.as_str()).collect();
    let mut tx = pool.begin().await?;
    // Rows already in the pool (or committed concurrently) are skipped, not errors.
    let inserted: Vec<(Uuid, String)> = sqlx::query_as(
        "INSERT INTO resource_pools (resource_type, value)
         SELECT $1, v FROM unnest($2::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n
         ON CONFLICT (resource_type, value) DO NOTHING RETURNING id, value",
    )
    .bind(kind.as_str())
    .bind(&normals)
    .fetch_all(&mut *tx)
    .await?;
    let added: HashSet<&str> = inserted.iter().map(|(_, v)| v.as_str()).collect();
    for (raw, normal) in &candidates {
        if added.contains(normal.as_str()) {
            report.added.push(normal.clone());
        } else {
            report.duplicates.push(raw.clone());
        }
    }
    let ids: Vec<Uuid> = inserted.iter().map(|(id, _)| *id).collect();
    record_moves(&mut tx, caller, &ids, None, ResourceState::Available, None, None).await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("resources.imported", "resource_pool", kind.as_str()).new_values(serde_json::json!({
            "resourceType": kind,
            "added": report.added,
            "duplicates": report.duplicates.len(),
            "invalid": report.invalid.len(),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// Allocates `count` resources of `kind` to a license: all of them or none.
///
/// Concurrent allocations first try `FOR UPDATE SKIP LOCKED`, so they take disjoint resources
/// without waiting on each other. `SKIP LOCKED` alone could refuse a request while enough are
/// free (another request, doomed to fail, may hold the rows for a moment), so a request that comes
/// up short tries again waiting for those locks, serialised per type with other short requests,
/// and is refused only if the rows it can lock after that are still too few.
pub async fn allocate(
    pool: &PgPool,
    caller: &Caller,
    license_id: Uuid,
    kind: ResourceType,
    count: i32,
) -> Result<AllocationResult> {
    if !(1..=MAX_ALLOCATION).contains(&count) {
        return Err(Error::bad_input("count", format!("count must be between 1 and {MAX_ALLOCATION}")));
    }
    let pick = "SELECT id FROM resource_pools WHERE resource_type = $1 AND state = 'available'
                ORDER BY created_at, value LIMIT $2 FOR UPDATE";
    let mut tx = pool.begin().await?;
    if licenses::find(&mut tx, license_id).await?.is_none() {
        return Err(Error::not_found("license", "licenseId"));
    }
    let mut ids: Vec<Uuid> = sqlx::query_scalar(&format!("{pick} SKIP LOCKED"))
        .bind(kind.as_str())
        .bind(i64::from(count))
        .fetch_all(&mut *tx)
        .await?;
    if ids.len() < count as usize {
        tx.rollback().await?;
        tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('resource_pools allocation ' || $1))")
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?;
        ids = sqlx::query_scalar(pick).bind(kind.as_str()).bind(i64::from(count)).fetch_all(&mut *tx).await?;
        if ids.len() < count as usize {
            return Ok(AllocationResult::AllocationDenied(AllocationDenied {
                reason: AllocationDenialReason::InsufficientResources,
                available: ids.len() as i32,
                message: format!("{count} requested, {} available", ids.len()),
            }));
        }
    }
    let resources: Vec<Resource> = sqlx::query_as(&format!(
        "UPDATE resource_pools SET state = 'allocated', license_id = $2 WHERE id = ANY($1)
         RETURNING {COLUMNS}"
    ))
    .bind(&ids)
    .bind(license_id)
    .fetch_all(&mut *tx)
    .await?;
    record_moves(
        &mut tx,
        caller,
        &ids,
        Some(ResourceState::Available),
        ResourceState::Allocated,
        Some(license_id),
        None,
    )
    .await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("resources.allocated", "license", license_id).new_values(serde_json::json!({
            "resourceType": kind,
            "resources": resources.iter().map(|r| serde_json::json!({"id": r.id, "value": r.value})).collect::<Vec<_>>(),
        })),
    )
    .await?;
    tx.commit().await?;
    let mut resources = resources;
    resources.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.value.cmp(&b.value)));
    Ok(AllocationResult::ResourcesAllocated(ResourcesAllocated { resources }))
}

async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Resource> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM resource_pools WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::not_found("resource", "id"))
}

/// Moves one resource to `to`; the caller has checked that the move is allowed.
async fn move_one(
    pool: &PgPool,
    caller: &Caller,
    id: Uuid,
    to: ResourceState,
    reason: Option<&str>,
    allowed_from: &[ResourceState],
) -> Result<Resource> {
    let mut tx = pool.begin().await?;
    let old = lock(&mut tx, id).await?;
    let from = ResourceState::parse(&old.state);
    if !allowed_from.contains(&from) {
        return Err(Error::bad_input("id", format!("the resource is {}", from.as_str())));
    }
    let new: Resource = sqlx::query_as(&format!(
        "UPDATE resource_pools SET state = $2, license_id = NULL, quarantine_reason = $3 WHERE id = $1
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(to.as_str())
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?;
    record_moves(&mut tx, caller, &[id], Some(from), to, old.license_id.map(Uuid::from), reason).await?;
    let action = match to {
        ResourceState::Quarantined => "resource.quarantined",
        _ => "resource.released",
    };
    audit::record(&mut tx, caller, AuditEntry::new(action, "resource", id).old_values(&old).new_values(&new)).await?;
    tx.commit().await?;
    Ok(new)
}

/// Returns an allocated or quarantined resource to the pool.
pub async fn release(pool: &PgPool, caller: &Caller, id: Uuid) -> Result<Resource> {
    let from = [ResourceState::Allocated, ResourceState::Quarantined];
    move_one(pool, caller, id, ResourceState::Available, None, &from).await
}

/// Takes a resource out of circulation (from the pool or from its license) with a reason.
pub async fn quarantine(pool: &PgPool, caller: &Caller, id: Uuid, reason: &str) -> Result<Resource> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::bad_input("reason", "reason must be 1 to 500 characters"));
    }
    let from = [ResourceState::Available, ResourceState::Allocated];
    move_one(pool, caller, id, ResourceState::Quarantined, Some(reason), &from).await
}

pub async fn list_for_license(pool: &PgPool, license_id: Uuid) -> Result<Vec<Resource>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM resource_pools WHERE license_id = $1 ORDER BY resource_type, value"
    ))
    .bind(license_id)
    .fetch_all(pool)
    .await?)
}

pub async fn counts(pool: &PgPool) -> Result<Vec<ResourcePoolCount>> {
    Ok(sqlx::query_as(
        "SELECT t.resource_type,
                count(r.id) FILTER (WHERE r.state = 'available') AS available,
                count(r.id) FILTER (WHERE r.state = 'allocated') AS allocated,
                count(r.id) FILTER (WHERE r.state = 'quarantined') AS quarantined,
                count(r.id) AS total
         FROM unnest(ARRAY['domain', 'ipv4', 'phone']) AS t(resource_type)
         LEFT JOIN resource_pools r ON r.resource_type = t.resource_type
         GROUP BY t.resource_type ORDER BY t.resource_type",
    )
    .fetch_all(pool)
    .await?)
}

#[derive(Debug, Default, InputObject)]
pub struct ResourceFilter {
    pub resource_type: Option<ResourceTypeFilter>,
    pub state: Option<ResourceStateFilter>,
    pub value: Option<StringFilter>,
    pub license_id: Option<IdFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub updated_at: Option<DateTimeFilter>,
    /// All of these must hold too.
    pub and: Option<Vec<ResourceFilter>>,
    /// At least one of these must hold too.
    pub or: Option<Vec<ResourceFilter>>,
}

crate::enum_filter!(ResourceTypeFilter: ResourceType => ResourceType::as_str;);
crate::enum_filter!(ResourceStateFilter: ResourceState => ResourceState::as_str;);

impl Filter for ResourceFilter {
    fn conditions(&self, c: &mut Conditions<'_>) -> Result<()> {
        c.enumeration("resourceType", "resource_type", &self.resource_type)?;
        c.enumeration("state", "state", &self.state)?;
        c.string("value", "value", &self.value)?;
        c.id("licenseId", "license_id", &self.license_id)?;
        c.datetime("created_at", &self.created_at);
        c.datetime("updated_at", &self.updated_at);
        Ok(())
    }

    nested_filters!();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ResourceOrderField {
    ResourceType,
    Value,
    State,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, InputObject)]
pub struct ResourceOrder {
    pub field: ResourceOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// The older shortcut arguments, kept beside `filter`.
struct Shortcuts {
    kind: Option<ResourceType>,
    state: Option<ResourceState>,
    license_id: Option<Uuid>,
}

async fn list(
    pool: &PgPool,
    shortcuts: Shortcuts,
    filter: Option<ResourceFilter>,
    order_by: Vec<ResourceOrder>,
    args: PageArgs,
) -> async_graphql::Result<ListConnection<Resource>> {
    let query = |select: &str| -> Result<Sql> {
        let mut sql = Sql::new(select);
        sql.push(" FROM resource_pools WHERE TRUE");
        if let Some(kind) = shortcuts.kind {
            sql.push(" AND resource_type = ").push_bind(kind.as_str());
        }
        if let Some(state) = shortcuts.state {
            sql.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(license_id) = shortcuts.license_id {
            sql.push(" AND license_id = ").push_bind(license_id);
        }
        if let Some(filter) = &filter {
            push_filter(&mut sql, filter)?;
        }
        Ok(sql)
    };
    let keys: Vec<_> = order_by.iter().map(|o| (o.field, o.direction)).collect();
    let order = |sql: &mut Sql| {
        push_order(sql, &keys, "resource_type, value", "id", |field| match field {
            ResourceOrderField::ResourceType => "resource_type",
            ResourceOrderField::Value => "value",
            ResourceOrderField::State => "state",
            ResourceOrderField::CreatedAt => "created_at",
            ResourceOrderField::UpdatedAt => "updated_at",
        })
    };
    filtered_page(pool, COLUMNS, query, order, args).await
}
