//! Files sessions that ended without anyone ending them: those that missed their heartbeats
//! (reason `timeout`, ending at their deadline) and the live sessions of licenses whose validity
//! ended (reason `license_expired`, ending when the license did).
//!
//! Safe with any number of server instances: each run claims its rows with
//! `FOR UPDATE SKIP LOCKED`, so two instances never end the same session, and a session whose
//! heartbeat is being written at that moment is skipped (and stays live if that heartbeat lands;
//! a heartbeat after the license's end ends it itself). Each filed session is audited and
//! announced (`ENDED`) in the same statement.

use std::time::Duration;

use sqlx::PgPool;

use crate::db::ClientPool;
use crate::error::Result;
use crate::sessions::{filing_ctes, SessionSettings};

/// Sessions filed per statement; a run repeats until fewer are left.
const BATCH: i64 = 1000;

/// What one run of the cleanup filed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filed {
    /// Sessions that missed their heartbeats (`timeout`).
    pub timed_out: u64,
    /// Live sessions of licenses whose validity ended (`license_expired`).
    pub license_expired: u64,
}

impl Filed {
    pub fn total(self) -> u64 {
        self.timed_out + self.license_expired
    }
}

/// Ends every session past the timeout, and every live session of a license whose validity has
/// ended.
pub async fn end_timed_out_sessions(pool: &PgPool, settings: &SessionSettings) -> Result<Filed> {
    // Timed out: they end at the deadline they missed.
    let timed_out = "SELECT id, session_deadline(last_heartbeat_at, $1) AS ended_at, 'timeout' AS end_reason
         FROM license_sessions
         WHERE NOT session_is_live(last_heartbeat_at, $1)
         ORDER BY last_heartbeat_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED";
    // Still live, but their license ended: they end when it did (or at their last heartbeat,
    // accepted before the license's end was enforced). Only licenses that have ended are read,
    // through `licenses_valid_until_idx`.
    let license_ended = "SELECT s.id, greatest(l.valid_until, s.last_heartbeat_at) AS ended_at,
                'license_expired' AS end_reason
         FROM licenses l JOIN license_sessions s ON s.license_id = l.id
         WHERE l.valid_until <= now() AND session_is_live(s.last_heartbeat_at, $1)
         ORDER BY s.id
         LIMIT $2
         FOR UPDATE OF s SKIP LOCKED";
    let mut filed = Filed::default();
    for (claim, count) in [(timed_out, &mut filed.timed_out), (license_ended, &mut filed.license_expired)] {
        loop {
            let ended = file(pool, settings, claim).await?;
            *count += u64::try_from(ended).unwrap_or(0);
            if ended < BATCH {
                break;
            }
        }
    }
    Ok(filed)
}

/// Files the sessions `claim` selects (`id`, `ended_at`, `end_reason`; `$1` the timeout, `$2` the
/// batch size) in one statement; returns how many.
async fn file(pool: &PgPool, settings: &SessionSettings, claim: &str) -> Result<i64> {
    let filing = filing_ctes("ended");
    Ok(sqlx::query_scalar(&format!(
        "WITH claimed AS ({claim}),
         ended AS (
             DELETE FROM license_sessions s USING claimed c WHERE s.id = c.id
             RETURNING s.*, c.ended_at, c.end_reason),
         {filing}
         SELECT count(*) FROM notified"
    ))
    .bind(settings.timeout_secs())
    .bind(BATCH)
    .fetch_one(pool)
    .await?)
}

/// Runs the cleanup every `cleanup_interval` until the task is dropped, on the client pool: no
/// other work can hold up the filing of expired sessions.
pub async fn run(pool: ClientPool, settings: SessionSettings) {
    let mut ticker = tokio::time::interval(settings.cleanup_interval.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = end_timed_out_sessions(&pool, &settings).await;
        crate::metrics::cleanup_run(result.as_ref().map(|f| (f.timed_out, f.license_expired)).map_err(|_| ()));
        match result {
            Ok(filed) if filed.total() == 0 => {}
            Ok(filed) => tracing::info!(
                timed_out = filed.timed_out,
                license_expired = filed.license_expired,
                "ended timed-out sessions and sessions of expired licenses"
            ),
            Err(err) => tracing::warn!(error = ?err, "session cleanup failed; retrying next period"),
        }
    }
}
