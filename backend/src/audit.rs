//! The audit log: one row per change, written in the transaction of the change, and read back
//! with filters and cursor pagination. The database refuses UPDATE, DELETE and TRUNCATE on it.

use std::net::IpAddr;

use async_graphql::connection::{Connection, ConnectionNameType, CursorType, Edge, EdgeNameType, EmptyFields};
use async_graphql::{ComplexObject, Context, InputObject, Json, Object, OutputType, SimpleObject, ID};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::auth::{Actor, Caller, Permission, Require};
use crate::error::{Error, GqlResultExt, Result};
use crate::graphql::pagination::{ConnectionTotals, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// What changed. Old and new values are JSON snapshots that never contain secrets.
pub struct AuditEntry {
    action: &'static str,
    entity_type: &'static str,
    entity_id: String,
    old_values: Option<Value>,
    new_values: Option<Value>,
}

impl AuditEntry {
    pub fn new(action: &'static str, entity_type: &'static str, entity_id: impl ToString) -> Self {
        AuditEntry { action, entity_type, entity_id: entity_id.to_string(), old_values: None, new_values: None }
    }

    pub fn old_values(mut self, old: impl serde::Serialize) -> Self {
        self.old_values = serde_json::to_value(old).ok();
        self
    }

    pub fn new_values(mut self, new: impl serde::Serialize) -> Self {
        self.new_values = serde_json::to_value(new).ok();
        self
    }
}

/// Who made a change: the actor and the address of the request. A request's caller converts
/// into one (`audit::record(&mut tx, caller, …)`); work of the server itself or the CLI passes
/// `(&actor, None)`.
pub struct Author<'a> {
    actor: &'a Actor,
    ip: Option<IpAddr>,
}

impl<'a> From<&'a Caller> for Author<'a> {
    fn from(caller: &'a Caller) -> Self {
        Author { actor: &caller.actor, ip: caller.ip }
    }
}

impl<'a> From<(&'a Actor, Option<IpAddr>)> for Author<'a> {
    fn from((actor, ip): (&'a Actor, Option<IpAddr>)) -> Self {
        Author { actor, ip }
    }
}

/// Writes one audit row in the transaction of the change it describes.
pub async fn record<'a>(conn: &mut PgConnection, by: impl Into<Author<'a>>, entry: AuditEntry) -> Result<()> {
    let Author { actor, ip } = by.into();
    sqlx::query(
        "INSERT INTO audit_log
             (actor_type, actor_id, actor_name, client_ip, action, entity_type, entity_id, old_values, new_values)
         VALUES ($1, $2, $3, $4::inet, $5, $6, $7, $8, $9)",
    )
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(ip.map(|ip| ip.to_string()))
    .bind(entry.action)
    .bind(entry.entity_type)
    .bind(&entry.entity_id)
    .bind(&entry.old_values)
    .bind(&entry.new_values)
    .execute(conn)
    .await?;
    Ok(())
}

/// One audit row as admins and analysts read it.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(name = "AuditLogEntry", complex)]
pub struct AuditRow {
    #[graphql(skip)]
    pub id: i64,
    /// UTC.
    pub occurred_at: DateTime<Utc>,
    /// `api_key`, `user`, `system` or `cli`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub client_ip: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    #[graphql(skip)]
    pub old_values: Option<Value>,
    #[graphql(skip)]
    pub new_values: Option<Value>,
}

#[ComplexObject]
impl AuditRow {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    async fn old_values(&self) -> Option<Json<Value>> {
        self.old_values.clone().map(Json)
    }

    async fn new_values(&self) -> Option<Json<Value>> {
        self.new_values.clone().map(Json)
    }
}

#[derive(Debug, Default, InputObject)]
pub struct AuditLogFilter {
    /// e.g. `license`, `session`, `admin_user`.
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// Part of the actor's name (a key's name or a username), or the actor's id.
    pub actor: Option<String>,
    pub actor_type: Option<String>,
    /// An action (`license.updated`) or a prefix of actions (`license`).
    pub action: Option<String>,
    /// From this moment on (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Up to this moment (exclusive).
    pub to: Option<DateTime<Utc>>,
}

pub struct AuditLogConnectionName;

impl ConnectionNameType for AuditLogConnectionName {
    fn type_name<T: OutputType>() -> String {
        "AuditLogConnection".into()
    }
}

pub struct AuditLogEdgeName;

impl EdgeNameType for AuditLogEdgeName {
    fn type_name<T: OutputType>() -> String {
        "AuditLogEdge".into()
    }
}

pub type AuditLogConnection =
    Connection<i64, AuditRow, ConnectionTotals, EmptyFields, AuditLogConnectionName, AuditLogEdgeName>;

const FILTER: &str = "($1::text IS NULL OR entity_type = $1)
    AND ($2::text IS NULL OR entity_id = $2)
    AND ($3::text IS NULL OR actor_id = $3 OR actor_name ILIKE '%' || $3 || '%')
    AND ($4::text IS NULL OR actor_type = $4)
    AND ($5::text IS NULL OR action = $5 OR action LIKE $5 || '.%')
    AND ($6::timestamptz IS NULL OR occurred_at >= $6)
    AND ($7::timestamptz IS NULL OR occurred_at < $7)";

/// Binds the filter's values as `$1`…`$7` of [`FILTER`].
fn bind_filter<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    filter: &AuditLogFilter,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(filter.entity_type.clone())
        .bind(filter.entity_id.clone())
        .bind(filter.actor.clone())
        .bind(filter.actor_type.clone())
        .bind(filter.action.clone())
        .bind(filter.from)
        .bind(filter.to)
}

/// Newest first; the cursor is the row id, so pages stay stable while new rows arrive.
async fn audit_log(
    pool: &PgPool,
    filter: AuditLogFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<AuditLogConnection> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE as i32);
    if !(0..=MAX_PAGE_SIZE as i32).contains(&first) {
        return Err(Error::bad_input("first", format!("first must be between 0 and {MAX_PAGE_SIZE}")));
    }
    let after = after
        .map(|cursor| {
            i64::decode_cursor(&cursor).map_err(|_| Error::bad_input("after", "after is not a cursor of this list"))
        })
        .transpose()?;
    let (total,): (i64,) =
        bind_filter(sqlx::query_as(&format!("SELECT count(*) FROM audit_log WHERE {FILTER}")), &filter)
            .fetch_one(pool)
            .await?;
    let mut rows: Vec<AuditRow> = bind_filter(
        sqlx::query_as(&format!(
            "SELECT id, occurred_at, actor_type, actor_id, actor_name, host(client_ip) AS client_ip, action,
                    entity_type, entity_id, old_values, new_values
             FROM audit_log WHERE {FILTER} AND ($8::bigint IS NULL OR id < $8)
             ORDER BY id DESC LIMIT $9"
        )),
        &filter,
    )
    .bind(after)
    .bind(i64::from(first) + 1)
    .fetch_all(pool)
    .await?;
    let has_next = rows.len() > first as usize;
    rows.truncate(first as usize);
    let mut page =
        Connection::with_additional_fields(after.is_some(), has_next, ConnectionTotals { total_count: total });
    page.edges.extend(rows.into_iter().map(|row| Edge::with_additional_fields(row.id, row, EmptyFields)));
    Ok(page)
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Every change, newest first, with filters; for admins and analysts.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, None, child_complexity)"
    )]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuditLogConnection> {
        audit_log(ctx.data_unchecked::<PgPool>(), filter.unwrap_or_default(), first, after).await.gql()
    }
}
