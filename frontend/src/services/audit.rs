//! The audit log.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::decode::from_json;
use super::{documents, gql, ApiError, Connection};

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct AuditEntry {
        pub id: String,
        pub occurred_at: DateTime<Utc>,
        pub actor_type: String,
        pub actor_name: String,
        pub client_ip: Option<String>,
        pub action: String,
        pub entity_type: String,
        pub entity_id: Option<String>,
        pub old_values: Option<Value>,
        pub new_values: Option<Value>,
    }
}

/// The filters of the audit log page; empty strings mean "any".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditFilter {
    pub entity_type: String,
    pub action: String,
    pub actor: String,
    /// `YYYY-MM-DD`, inclusive, in the browser's time zone.
    pub from: String,
    /// `YYYY-MM-DD`, inclusive, in the browser's time zone.
    pub to: String,
}

/// The start of `day` (`YYYY-MM-DD`) plus `add_days`, in the browser's time zone, as RFC 3339;
/// `None` when `day` is no date (the filter is left out).
pub fn day_start(day: &str, add_days: i64) -> Option<String> {
    let date = day.parse::<chrono::NaiveDate>().ok()? + chrono::Duration::days(add_days);
    let local = date.and_hms_opt(0, 0, 0)?.and_local_timezone(chrono::Local).earliest()?;
    Some(local.with_timezone(&Utc).to_rfc3339())
}

impl AuditFilter {
    fn to_input(&self) -> Value {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        json!({
            "entityType": text(&self.entity_type),
            "action": text(&self.action),
            "actor": text(&self.actor),
            "from": day_start(&self.from, 0),
            "to": day_start(&self.to, 1),
        })
    }
}

pub const AUDIT_PAGE_SIZE: i32 = 25;

pub async fn audit_log(filter: &AuditFilter, after: Option<&str>) -> Result<Connection<AuditEntry>, ApiError> {
    gql(documents::AUDIT_LOG, json!({"f": filter.to_input(), "first": AUDIT_PAGE_SIZE, "after": after}), "auditLog")
        .await
}
