//! Files sessions that missed their heartbeats into the history with reason `timeout`.
//!
//! Safe with any number of server instances: each run claims expired rows with
//! `FOR UPDATE SKIP LOCKED`, so two instances never end the same session, and a session whose
//! heartbeat is being written at that moment is skipped (and stays live if that heartbeat lands).
//! Each filed session is announced (`ENDED`, reason `timeout`) in the same statement.

use std::time::Duration;

use sqlx::PgPool;

use super::events::{CHANNEL, ENDED_PAYLOAD_SQL};
use crate::db::ClientPool;
use crate::error::Result;
use crate::sessions::SessionSettings;

/// Sessions filed per statement; a run repeats until fewer are left.
const BATCH: i64 = 1000;

/// Ends every session past the timeout; returns how many.
pub async fn end_timed_out_sessions(pool: &PgPool, settings: &SessionSettings) -> Result<u64> {
    let mut total = 0;
    loop {
        let ended: i64 = sqlx::query_scalar(&format!(
            "WITH expired AS (
                 SELECT id FROM license_sessions
                 WHERE NOT session_is_live(last_heartbeat_at, $1)
                 ORDER BY last_heartbeat_at
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED),
             ended AS (DELETE FROM license_sessions s USING expired e WHERE s.id = e.id RETURNING s.*),
             filed AS (
                 INSERT INTO session_history
                     (id, session_token, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason, client_ip)
                 SELECT id, session_token, license_id, device_id, started_at, last_heartbeat_at,
                        session_deadline(last_heartbeat_at, $1), 'timeout', client_ip
                 FROM ended
                 RETURNING *),
             audited AS (
                 INSERT INTO audit_log (actor_type, actor_name, action, entity_type, entity_id, new_values)
                 SELECT 'system', 'system', 'session.ended', 'session', id::text,
                        jsonb_build_object('licenseId', license_id, 'deviceId', device_id,
                                           'startedAt', started_at, 'lastHeartbeatAt', last_heartbeat_at,
                                           'endedAt', ended_at, 'endReason', end_reason)
                 FROM filed),
             notified AS (SELECT pg_notify($3, {ENDED_PAYLOAD_SQL}) FROM filed)
             SELECT count(*) FROM notified"
        ))
        .bind(settings.timeout_secs())
        .bind(BATCH)
        .bind(CHANNEL)
        .fetch_one(pool)
        .await?;
        total += u64::try_from(ended).unwrap_or(0);
        if ended < BATCH {
            return Ok(total);
        }
    }
}

/// Runs the cleanup every `cleanup_interval` until the task is dropped, on the client pool: no
/// other work can hold up the filing of expired sessions.
pub async fn run(pool: ClientPool, settings: SessionSettings) {
    let mut ticker = tokio::time::interval(settings.cleanup_interval.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = end_timed_out_sessions(&pool, &settings).await;
        crate::metrics::cleanup_run(result.as_ref().map(|n| *n).map_err(|_| ()));
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "ended timed-out sessions"),
            Err(err) => tracing::warn!(error = ?err, "session cleanup failed; retrying next period"),
        }
    }
}
