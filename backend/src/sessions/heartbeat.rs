//! Heartbeats, written with group commit.
//!
//! Each request hands its token to one writer task and waits. The writer takes everything that
//! queued up while the previous write was in flight and records it in a single statement (one
//! transaction, one WAL flush), then answers every waiting request. A heartbeat is acknowledged
//! only after its row is committed, so nothing acknowledged is ever lost, while the database does
//! one commit per batch instead of one per heartbeat.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Semaphore};
use uuid::Uuid;

use crate::config::SessionSettings;
use crate::error::{Error, Result};

/// Upper bound of heartbeats in one statement.
const MAX_BATCH: usize = 1000;
/// Batches written at the same time; more batches queue up meanwhile and grow.
const MAX_IN_FLIGHT: usize = 2;
/// Requests waiting for the writer before senders are slowed down.
const QUEUE_CAPACITY: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// Recorded; the session is live until `last_heartbeat_at` plus the timeout.
    Accepted { last_heartbeat_at: DateTime<Utc> },
    /// The session ended or missed its deadline; it is never revived.
    Expired,
    /// No session ever had this token.
    NotFound,
}

type Reply = oneshot::Sender<std::result::Result<HeartbeatOutcome, ()>>;

struct Pending {
    token: Uuid,
    reply: Reply,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct HeartbeatWriter {
    queue: mpsc::Sender<Pending>,
}

impl HeartbeatWriter {
    /// Starts the writer. It stops when the last handle is dropped, after finishing its batches.
    pub fn spawn(pool: PgPool, settings: SessionSettings) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(receiver, pool, settings));
        HeartbeatWriter { queue }
    }

    pub async fn record(&self, token: Uuid) -> Result<HeartbeatOutcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { token, reply })
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("heartbeat writer has stopped")))?;
        answer
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("heartbeat writer dropped a request")))?
            .map_err(|()| Error::Internal(anyhow::anyhow!("heartbeat batch failed; see the writer's log")))
    }
}

async fn run(mut receiver: mpsc::Receiver<Pending>, pool: PgPool, settings: SessionSettings) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let Some(first) = receiver.recv().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            flush(&pool, &settings, batch).await;
            drop(permit);
        });
    }
}

async fn flush(pool: &PgPool, settings: &SessionSettings, batch: Vec<Pending>) {
    let tokens: Vec<Uuid> = batch.iter().map(|p| p.token).collect();
    match write(pool, settings, &tokens).await {
        Ok(outcomes) => {
            for pending in batch {
                let outcome = outcomes.get(&pending.token).copied().unwrap_or(HeartbeatOutcome::NotFound);
                let _ = pending.reply.send(Ok(outcome));
            }
        }
        Err(err) => {
            tracing::error!(error = ?err, heartbeats = batch.len(), "writing a heartbeat batch failed");
            for pending in batch {
                let _ = pending.reply.send(Err(()));
            }
        }
    }
}

/// Records the heartbeats of live sessions in one statement and classifies the others.
/// A token sent twice in one batch yields two heartbeat rows, one per acknowledgement.
pub async fn write(
    pool: &PgPool,
    settings: &SessionSettings,
    tokens: &[Uuid],
) -> Result<HashMap<Uuid, HeartbeatOutcome>> {
    let accepted: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "WITH sent AS (SELECT token FROM unnest($1::uuid[]) AS t(token)),
         touched AS (
             UPDATE license_sessions s SET last_heartbeat_at = greatest(s.last_heartbeat_at, now())
             FROM (SELECT DISTINCT token FROM sent) d
             WHERE s.session_token = d.token
               AND s.last_heartbeat_at > now() - make_interval(secs => $2)
             RETURNING s.id, s.session_token, s.license_id, s.device_id, s.last_heartbeat_at),
         recorded AS (
             INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
             SELECT t.id, t.license_id, t.device_id, now()
             FROM touched t JOIN sent ON sent.token = t.session_token)
         SELECT session_token, last_heartbeat_at FROM touched",
    )
    .bind(tokens)
    .bind(settings.timeout_secs())
    .fetch_all(pool)
    .await?;
    let mut outcomes: HashMap<Uuid, HeartbeatOutcome> =
        accepted.into_iter().map(|(token, at)| (token, HeartbeatOutcome::Accepted { last_heartbeat_at: at })).collect();
    let refused: Vec<Uuid> = tokens.iter().filter(|t| !outcomes.contains_key(t)).copied().collect();
    if !refused.is_empty() {
        let known: Vec<Uuid> = sqlx::query_scalar(
            "SELECT token FROM unnest($1::uuid[]) AS t(token)
             WHERE EXISTS (SELECT 1 FROM license_sessions WHERE session_token = t.token)
                OR EXISTS (SELECT 1 FROM session_history WHERE session_token = t.token)",
        )
        .bind(&refused)
        .fetch_all(pool)
        .await?;
        outcomes.extend(known.into_iter().map(|t| (t, HeartbeatOutcome::Expired)));
    }
    Ok(outcomes)
}
