//! Sessions: the live ones, their history, and the one way a session ends.
//!
//! A session is live while its last heartbeat is younger than the timeout. Rows in
//! `license_sessions` that are past the timeout are dead already; the cleanup only files them.

pub mod cleanup;
pub mod client_api;
pub mod client_license;
pub mod events;
pub mod graphql;
pub mod heartbeat;
pub mod lifecycle;
mod loaders;
pub mod settings;

use async_graphql::{Enum, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use self::events::SessionEvent;
use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::graphql::filter::{
    filtered_page, nested_filters, push_filter, push_order, Conditions, DateTimeFilter, Filter, IdFilter,
    OrderDirection, Sql, StringFilter,
};
use crate::graphql::ids::Id;
use crate::graphql::pagination::{ListConnection, PageArgs};
pub use loaders::{LiveSessionLoader, LiveSessionOfDevice, LiveSessionsOfLicense};
pub use settings::SessionSettings;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The client ended it.
    ClientEnded,
    /// No heartbeat within the timeout.
    Timeout,
    /// An admin ended it.
    AdminTerminated,
    /// An admin deactivated its device.
    DeviceDeactivated,
    /// An admin deactivated its license.
    LicenseRevoked,
    /// The license's validity ended (`validUntil` passed) while the session was live.
    LicenseExpired,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::ClientEnded => "client_ended",
            EndReason::Timeout => "timeout",
            EndReason::AdminTerminated => "admin_terminated",
            EndReason::DeviceDeactivated => "device_deactivated",
            EndReason::LicenseRevoked => "license_revoked",
            EndReason::LicenseExpired => "license_expired",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "client_ended" => EndReason::ClientEnded,
            "admin_terminated" => EndReason::AdminTerminated,
            "device_deactivated" => EndReason::DeviceDeactivated,
            "license_revoked" => EndReason::LicenseRevoked,
            "license_expired" => EndReason::LicenseExpired,
            _ => EndReason::Timeout,
        }
    }
}

/// A live session as admins and analysts see it: never its token, which is the bearer secret of
/// the one client holding it (admins act on sessions by id).
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct LiveSession {
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    /// When the session stops being live unless a heartbeat arrives first.
    pub expires_at: DateTime<Utc>,
    pub client_ip: Option<String>,
    pub id: Id,
    pub license_id: Id,
    pub device_id: Id,
}

/// An ended session as admins, analysts and its `session.ended` audit row see it: never its token.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct EndedSession {
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub id: Id,
    pub license_id: Id,
    pub device_id: Id,
    #[graphql(skip)]
    pub end_reason: String,
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum Selector {
    Id(Uuid),
    Token(Uuid),
    Device(Uuid),
    License(Uuid),
}

impl Selector {
    fn column_and_value(self) -> (&'static str, Uuid) {
        match self {
            Selector::Id(id) => ("id", id),
            Selector::Token(token) => ("session_token", token),
            Selector::Device(id) => ("device_id", id),
            Selector::License(id) => ("license_id", id),
        }
    }
}

/// Common table expressions that file sessions already deleted from `license_sessions`: `from`
/// names a relation with the `license_sessions` columns plus `ended_at` and `end_reason`. Each
/// is moved into `session_history` (`filed`), audited as the system's doing and announced
/// (`ENDED`), all in the caller's statement; the statement must read `notified` (a CTE that
/// only reads runs only when read), e.g. `SELECT count(*) FROM notified`. For statements that
/// end many sessions at once (the cleanup, a heartbeat batch); [`end_sessions`] does the same row
/// by row for a caller.
pub fn filing_ctes(from: &str) -> String {
    let (channel, payload) = (events::CHANNEL, events::ENDED_PAYLOAD_SQL);
    format!(
        "filed AS (
             INSERT INTO session_history
                 (id, session_token, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason, client_ip)
             SELECT id, session_token, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason, client_ip
             FROM {from}
             RETURNING *),
         audited AS (
             INSERT INTO audit_log (actor_type, actor_name, action, entity_type, entity_id, new_values)
             SELECT 'system', 'system', 'session.ended', 'session', id::text,
                    jsonb_build_object('licenseId', license_id, 'deviceId', device_id,
                                       'startedAt', started_at, 'lastHeartbeatAt', last_heartbeat_at,
                                       'endedAt', ended_at, 'endReason', end_reason)
             FROM filed),
         notified AS (SELECT pg_notify('{channel}', {payload}) FROM filed)"
    )
}

const HISTORY_COLUMNS: &str = "id, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason";

/// How many sessions are live right now, across all licenses.
pub async fn count_live(pool: &PgPool, settings: &SessionSettings) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM license_sessions WHERE session_is_live(last_heartbeat_at, $1)")
        .bind(settings.timeout_secs())
        .fetch_one(pool)
        .await?)
}

/// Moves the selected sessions to the history, each with an audit row and an `ENDED` event, in
/// the caller's transaction. A session already past its timeout was not live any more: it is filed as
/// `timeout`, ending at its deadline, whatever `reason` asked for.
pub async fn end_sessions(
    conn: &mut PgConnection,
    settings: &SessionSettings,
    caller: &Caller,
    selector: Selector,
    reason: EndReason,
) -> Result<Vec<EndedSession>> {
    let (column, value) = selector.column_and_value();
    let ended: Vec<EndedSession> = sqlx::query_as(&format!(
        "WITH ended AS (DELETE FROM license_sessions WHERE {column} = $1 RETURNING *)
         INSERT INTO session_history
             (id, session_token, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason, client_ip)
         SELECT id, session_token, license_id, device_id, started_at, last_heartbeat_at,
                CASE WHEN session_is_live(last_heartbeat_at, $2)
                     THEN greatest(clock_timestamp(), last_heartbeat_at)
                     ELSE session_deadline(last_heartbeat_at, $2) END,
                CASE WHEN session_is_live(last_heartbeat_at, $2) THEN $3 ELSE 'timeout' END,
                client_ip
         FROM ended
         RETURNING {HISTORY_COLUMNS}"
    ))
    .bind(value)
    .bind(settings.timeout_secs())
    .bind(reason.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for session in &ended {
        audit::record(conn, caller, AuditEntry::new("session.ended", "session", session.id).new_values(session))
            .await?;
        events::notify(conn, &SessionEvent::ended(session)).await?;
    }
    Ok(ended)
}

/// Every live session, oldest first; all licenses or one. The `liveSessions` subscription sends this.
pub async fn list_live(
    pool: &PgPool,
    settings: &SessionSettings,
    license_id: Option<Uuid>,
) -> Result<Vec<LiveSession>> {
    let mut sql = Sql::new("SELECT *");
    push_live_rows(&mut sql, settings);
    if let Some(license_id) = license_id {
        sql.push(" AND license_id = ").push_bind(license_id);
    }
    sql.push(" ORDER BY started_at, id");
    Ok(sql.build_query_as().fetch_all(pool).await?)
}

/// Appends ` FROM (<the live rows>) s WHERE TRUE`: the still-live rows of `license_sessions` with
/// `expires_at` and `client_ip` as text, named as [`LiveSession`]'s columns. The one definition of
/// a live session's row: the lists, the subscription and the batch loader all read through it.
pub fn push_live_rows(sql: &mut Sql, settings: &SessionSettings) {
    let timeout = settings.timeout_secs();
    sql.push(
        " FROM (SELECT id, license_id, device_id, started_at, last_heartbeat_at,
                session_deadline(last_heartbeat_at, ",
    )
    .push_bind(timeout)
    .push(
        ") AS expires_at, host(client_ip) AS client_ip
         FROM license_sessions WHERE session_is_live(last_heartbeat_at, ",
    )
    .push_bind(timeout)
    .push(")) s WHERE TRUE");
}

#[derive(Debug, Default, InputObject)]
pub struct LiveSessionFilter {
    pub license_id: Option<IdFilter>,
    pub device_id: Option<IdFilter>,
    pub started_at: Option<DateTimeFilter>,
    pub last_heartbeat_at: Option<DateTimeFilter>,
    /// All of these must hold too.
    pub and: Option<Vec<LiveSessionFilter>>,
    /// At least one of these must hold too.
    pub or: Option<Vec<LiveSessionFilter>>,
}

impl Filter for LiveSessionFilter {
    fn conditions(&self, c: &mut Conditions<'_>) -> Result<()> {
        c.id("licenseId", "license_id", &self.license_id)?;
        c.id("deviceId", "device_id", &self.device_id)?;
        c.datetime("started_at", &self.started_at);
        c.datetime("last_heartbeat_at", &self.last_heartbeat_at);
        Ok(())
    }

    nested_filters!();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum LiveSessionOrderField {
    StartedAt,
    LastHeartbeatAt,
}

#[derive(Debug, InputObject)]
pub struct LiveSessionOrder {
    pub field: LiveSessionOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// One page of the live sessions.
pub async fn live_page(
    pool: &PgPool,
    settings: &SessionSettings,
    license_id: Option<Uuid>,
    filter: Option<LiveSessionFilter>,
    order_by: Vec<LiveSessionOrder>,
    args: PageArgs,
) -> async_graphql::Result<ListConnection<LiveSession>> {
    let query = |select: &str| -> Result<Sql> {
        let mut sql = Sql::new(select);
        push_live_rows(&mut sql, settings);
        if let Some(license_id) = license_id {
            sql.push(" AND license_id = ").push_bind(license_id);
        }
        if let Some(filter) = &filter {
            push_filter(&mut sql, filter)?;
        }
        Ok(sql)
    };
    let keys: Vec<_> = order_by.iter().map(|o| (o.field, o.direction)).collect();
    let order = |sql: &mut Sql| {
        push_order(sql, &keys, "started_at", "id", |field| match field {
            LiveSessionOrderField::StartedAt => "started_at",
            LiveSessionOrderField::LastHeartbeatAt => "last_heartbeat_at",
        })
    };
    filtered_page(pool, "*", query, order, args).await
}

#[derive(Debug, Default, InputObject)]
pub struct EndedSessionFilter {
    pub license_id: Option<IdFilter>,
    /// The key of the session's license.
    pub license_key: Option<StringFilter>,
    pub device_id: Option<IdFilter>,
    /// The name of the session's device.
    pub device_name: Option<StringFilter>,
    /// The hardware fingerprint of the session's device.
    pub hardware_fingerprint: Option<StringFilter>,
    pub end_reason: Option<EndReasonFilter>,
    pub started_at: Option<DateTimeFilter>,
    pub ended_at: Option<DateTimeFilter>,
    /// All of these must hold too.
    pub and: Option<Vec<EndedSessionFilter>>,
    /// At least one of these must hold too.
    pub or: Option<Vec<EndedSessionFilter>>,
}

crate::enum_filter!(EndReasonFilter: EndReason => EndReason::as_str;);

impl Filter for EndedSessionFilter {
    fn conditions(&self, c: &mut Conditions<'_>) -> Result<()> {
        c.id("licenseId", "license_id", &self.license_id)?;
        c.string("licenseKey", "license_key", &self.license_key)?;
        c.id("deviceId", "device_id", &self.device_id)?;
        c.string("deviceName", "device_name", &self.device_name)?;
        c.string("hardwareFingerprint", "hardware_fingerprint", &self.hardware_fingerprint)?;
        c.enumeration("endReason", "end_reason", &self.end_reason)?;
        c.datetime("started_at", &self.started_at);
        c.datetime("ended_at", &self.ended_at);
        Ok(())
    }

    nested_filters!();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum EndedSessionOrderField {
    EndedAt,
    StartedAt,
    LastHeartbeatAt,
}

#[derive(Debug, InputObject)]
pub struct EndedSessionOrder {
    pub field: EndedSessionOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// One page of ended sessions, all licenses' or one's, with the filter.
pub async fn history(
    pool: &PgPool,
    license_id: Option<Uuid>,
    filter: Option<EndedSessionFilter>,
    order_by: Vec<EndedSessionOrder>,
    args: PageArgs,
) -> async_graphql::Result<ListConnection<EndedSession>> {
    let query = |select: &str| -> Result<Sql> {
        let mut sql = Sql::new(select);
        // Left joins on primary keys: PostgreSQL drops them when no filter reads their columns.
        sql.push(
            " FROM (SELECT h.id, h.license_id, h.device_id, h.started_at, h.last_heartbeat_at, h.ended_at,
                           h.end_reason, l.license_key, d.device_name, d.hardware_fingerprint
                    FROM session_history h
                    LEFT JOIN licenses l ON l.id = h.license_id
                    LEFT JOIN device_registrations d ON d.id = h.device_id) s WHERE TRUE",
        );
        if let Some(license_id) = license_id {
            sql.push(" AND license_id = ").push_bind(license_id);
        }
        if let Some(filter) = &filter {
            push_filter(&mut sql, filter)?;
        }
        Ok(sql)
    };
    let keys: Vec<_> = order_by.iter().map(|o| (o.field, o.direction)).collect();
    let order = |sql: &mut Sql| {
        push_order(sql, &keys, "ended_at DESC", "id", |field| match field {
            EndedSessionOrderField::EndedAt => "ended_at",
            EndedSessionOrderField::StartedAt => "started_at",
            EndedSessionOrderField::LastHeartbeatAt => "last_heartbeat_at",
        })
    };
    filtered_page(pool, HISTORY_COLUMNS, query, order, args).await
}

/// Ends one session on an admin's word.
pub async fn terminate(pool: &PgPool, settings: &SessionSettings, caller: &Caller, id: Uuid) -> Result<EndedSession> {
    let mut tx = pool.begin().await?;
    let ended = end_sessions(&mut tx, settings, caller, Selector::Id(id), EndReason::AdminTerminated).await?;
    let session = ended.into_iter().next().ok_or_else(|| Error::not_found("live session", "id"))?;
    tx.commit().await?;
    Ok(session)
}
