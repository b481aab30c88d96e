//! Session events: every change that starts, resumes or ends a session, or registers or
//! deactivates a device, calls [`notify`] inside its own transaction. PostgreSQL delivers the
//! notification only when that transaction commits, to every server instance listening, so
//! nothing rolled back is ever announced (`crate::live` carries them to subscribers).

use async_graphql::{ComplexObject, Enum, SimpleObject};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{EndReason, EndedSession};
use crate::error::Result;
use crate::graphql::ids::Id;

/// The PostgreSQL notification channel every instance listens on.
pub const CHANNEL: &str = "license_server_session_events";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionEventKind {
    /// A new session was granted.
    Started,
    /// A device that already held a live session activated again and got the same token.
    Resumed,
    /// A session ended; `endReason` says why.
    Ended,
    /// A device took one of the license's device slots (new, or reactivated).
    DeviceRegistered,
    /// An admin deactivated a device, freeing its slot.
    DeviceDeactivated,
}

/// One change to the live sessions or devices of a license. It names sessions by id, never by
/// token: events reach every subscriber and travel through PostgreSQL as NOTIFY payloads.
#[derive(Debug, Clone, Serialize, Deserialize, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct SessionEvent {
    pub kind: SessionEventKind,
    /// When it happened (for a timeout: the deadline the session missed).
    pub at: DateTime<Utc>,
    pub license_id: Id,
    pub session_id: Option<Id>,
    pub device_id: Option<Id>,
    #[graphql(skip)]
    pub end_reason: Option<String>,
}

#[ComplexObject]
impl SessionEvent {
    /// Set for `ENDED` events.
    async fn end_reason(&self) -> Option<EndReason> {
        self.end_reason.as_deref().map(EndReason::parse)
    }
}

impl SessionEvent {
    pub fn session(kind: SessionEventKind, license_id: Uuid, session_id: Uuid, device_id: Uuid) -> Self {
        SessionEvent {
            kind,
            license_id: Id(license_id),
            session_id: Some(Id(session_id)),
            device_id: Some(Id(device_id)),
            end_reason: None,
            at: Utc::now(),
        }
    }

    pub fn ended(session: &EndedSession) -> Self {
        SessionEvent {
            kind: SessionEventKind::Ended,
            license_id: session.license_id,
            session_id: Some(session.id),
            device_id: Some(session.device_id),
            end_reason: Some(session.end_reason.clone()),
            at: session.ended_at,
        }
    }

    pub fn device(kind: SessionEventKind, license_id: Uuid, device_id: Uuid) -> Self {
        SessionEvent {
            kind,
            license_id: Id(license_id),
            session_id: None,
            device_id: Some(Id(device_id)),
            end_reason: None,
            at: Utc::now(),
        }
    }
}

/// Announces `event` when the caller's transaction commits (and never if it rolls back).
pub async fn notify(conn: &mut PgConnection, event: &SessionEvent) -> Result<()> {
    let payload = serde_json::to_string(event).map_err(anyhow::Error::from)?;
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(conn).await?;
    Ok(())
}

/// The same payload [`notify`] sends, built in SQL from a row with the `session_history`
/// columns, for statements that end many sessions at once.
pub const ENDED_PAYLOAD_SQL: &str = "json_build_object('kind', 'ENDED', 'licenseId', license_id, 'sessionId', id,
        'deviceId', device_id, 'endReason', end_reason,
        'at', to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))::text";
