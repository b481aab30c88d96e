//! Devices registered to licenses: the one device table.

use async_graphql::{ComplexObject, Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::{caller, Caller, Permission, Require};
use crate::error::{Error, GqlResultExt, Result};
use crate::graphql::ids::{parse_id, to_id};
use crate::graphql::loaders::{self, LiveSessionOfDevice};
use crate::live::{self, SessionEvent, SessionEventKind};
use crate::sessions::{self, EndReason, LiveSession};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    #[graphql(skip)]
    pub id: Uuid,
    #[graphql(skip)]
    pub license_id: Uuid,
    pub hardware_fingerprint: String,
    pub device_name: String,
    pub device_type: String,
    pub first_activated_at: DateTime<Utc>,
    /// The latest sign of life: activation or heartbeat.
    pub last_seen_at: DateTime<Utc>,
    /// Only active devices hold one of the license's device slots.
    pub is_active: bool,
    pub deactivated_at: Option<DateTime<Utc>>,
}

#[ComplexObject]
impl Device {
    async fn id(&self) -> ID {
        to_id(self.id)
    }

    async fn license_id(&self) -> ID {
        to_id(self.license_id)
    }

    /// The device's live session, if it has one.
    async fn live_session(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<LiveSession>> {
        loaders::load(ctx, LiveSessionOfDevice(self.id)).await
    }
}

/// `last_seen_at` on the row moves only at activation; heartbeats touch the session alone, so
/// the latest heartbeat of a live or ended session is folded in when reading.
pub const SELECT: &str = "SELECT d.id, d.license_id, d.hardware_fingerprint, d.device_name, d.device_type,
        d.first_activated_at,
        greatest(d.last_seen_at, s.last_heartbeat_at,
                 (SELECT max(h.last_heartbeat_at) FROM session_history h WHERE h.device_id = d.id)) AS last_seen_at,
        d.is_active, d.deactivated_at
    FROM device_registrations d LEFT JOIN license_sessions s ON s.device_id = d.id";

pub async fn list_for_license(pool: &PgPool, license_id: Uuid, include_inactive: bool) -> Result<Vec<Device>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE d.license_id = $1 AND (d.is_active OR $2) ORDER BY d.is_active DESC, d.first_activated_at, d.id"
    ))
    .bind(license_id)
    .bind(include_inactive)
    .fetch_all(pool)
    .await?)
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Device>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE d.id = $1")).bind(id).fetch_optional(conn).await?)
}

/// Frees the device's slot and ends its session with `device_deactivated`.
pub async fn deactivate(state: &AppState, caller: &Caller, id: Uuid) -> Result<Device> {
    let mut tx = state.pool.begin().await?;
    let license_id: Uuid = sqlx::query_scalar("SELECT license_id FROM device_registrations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("device", "id"))?;
    // License first, then device, then session: the lock order activation uses too.
    crate::licenses::lock(&mut tx, license_id).await?;
    let was_active: bool = sqlx::query_scalar("SELECT is_active FROM device_registrations WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("UPDATE device_registrations SET is_active = false, deactivated_at = coalesce(deactivated_at, now()) WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if was_active {
        audit::record(
            &mut tx,
            &caller.actor,
            caller.ip,
            AuditEntry::new("device.deactivated", "device", id)
                .old_values(serde_json::json!({"isActive": true}))
                .new_values(serde_json::json!({"isActive": false})),
        )
        .await?;
        live::notify(&mut tx, &SessionEvent::device(SessionEventKind::DeviceDeactivated, license_id, id)).await?;
    }
    sessions::end_sessions(&mut tx, state, caller, sessions::Selector::Device(id), EndReason::DeviceDeactivated)
        .await?;
    let device = find(&mut tx, id).await?.ok_or_else(|| Error::not_found("device", "id"))?;
    tx.commit().await?;
    Ok(device)
}

#[derive(Default)]
pub struct DeviceQuery;

#[Object]
impl DeviceQuery {
    #[graphql(guard = "Require(Permission::Read)")]
    async fn device(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Device>> {
        let id = parse_id(&id, "id").gql()?;
        let mut conn = ctx.data_unchecked::<AppState>().pool.acquire().await.gql()?;
        find(&mut conn, id).await.gql()
    }
}

#[derive(Default)]
pub struct DeviceMutation;

#[Object]
impl DeviceMutation {
    /// Frees the device's slot on its license and ends its live session (`DEVICE_DEACTIVATED`).
    /// The same device may register again later while a slot is free.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn deactivate_device(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Device> {
        let id = parse_id(&id, "id").gql()?;
        deactivate(ctx.data_unchecked::<AppState>(), caller(ctx).gql()?, id).await.gql()
    }
}
