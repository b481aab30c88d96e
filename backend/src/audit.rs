//! The audit log: one row per change, written in the transaction of the change.

use std::net::IpAddr;

use serde_json::Value;
use sqlx::PgConnection;

use crate::auth::Actor;
use crate::error::Result;

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

pub async fn record(conn: &mut PgConnection, actor: &Actor, ip: Option<IpAddr>, entry: AuditEntry) -> Result<()> {
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
