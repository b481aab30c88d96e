//! Heartbeats, written with group commit.
//!
//! Each request hands its token to one writer task and waits. The writer takes everything that
//! queued up while the previous write was in flight and records it in a single statement (one
//! transaction, one WAL flush), then answers every waiting request. A heartbeat is acknowledged
//! only after its row is committed, so nothing acknowledged is ever lost, while the database does
//! one commit per batch instead of one per heartbeat.

use std::collections::HashSet;
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
    /// The API key checked with the write is unknown or revoked.
    Unauthenticated,
    /// The API key checked with the write may not send heartbeats.
    Forbidden,
}

type Reply = oneshot::Sender<std::result::Result<HeartbeatOutcome, ()>>;

struct Pending {
    token: Uuid,
    /// The SHA-256 of the caller's API key when it is to be checked in the batch itself.
    key_digest: Option<Vec<u8>>,
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

    /// Records a heartbeat. With `key_digest`, the API key is verified by the batch statement
    /// itself (valid, not revoked, scope `client` or `admin`), saving the request a round trip.
    pub async fn record(&self, token: Uuid, key_digest: Option<Vec<u8>>) -> Result<HeartbeatOutcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { token, key_digest, reply })
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
    let beats: Vec<(Uuid, Option<Vec<u8>>)> = batch.iter().map(|p| (p.token, p.key_digest.clone())).collect();
    match write(pool, settings, &beats).await {
        Ok(outcomes) => {
            for (pending, outcome) in batch.into_iter().zip(outcomes) {
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

/// Records the heartbeats of live sessions in one statement and classifies the others; the
/// outcomes come back in the order of `beats`. A heartbeat carrying a key digest counts only if
/// that key is valid for client operations (checked in the same statement, which also keeps the
/// key's `last_used_at`). A token sent twice in one batch yields two rows, one per acknowledgement.
pub async fn write(
    pool: &PgPool,
    settings: &SessionSettings,
    beats: &[(Uuid, Option<Vec<u8>>)],
) -> Result<Vec<HeartbeatOutcome>> {
    let tokens: Vec<Uuid> = beats.iter().map(|(token, _)| *token).collect();
    let digests: Vec<Option<Vec<u8>>> = beats.iter().map(|(_, digest)| digest.clone()).collect();
    let rows: Vec<(i64, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "WITH sent AS (
             SELECT n, token, digest FROM unnest($1::uuid[], $3::bytea[]) WITH ORDINALITY AS t(token, digest, n)),
         keys AS (
             SELECT DISTINCT k.id, k.key_digest, k.scope, k.revoked_at, k.last_used_at
             FROM api_keys k WHERE k.key_digest IN (SELECT digest FROM sent WHERE digest IS NOT NULL)),
         verdicts AS (
             SELECT sent.n, sent.token,
                    CASE WHEN sent.digest IS NULL THEN 'ok'
                         WHEN NOT EXISTS (SELECT 1 FROM keys WHERE keys.key_digest = sent.digest
                                                              AND keys.revoked_at IS NULL) THEN 'unauthenticated'
                         WHEN NOT EXISTS (SELECT 1 FROM keys WHERE keys.key_digest = sent.digest
                                                              AND keys.scope IN ('client', 'admin')) THEN 'forbidden'
                         ELSE 'ok' END AS verdict
             FROM sent),
         touched AS (
             UPDATE license_sessions s SET last_heartbeat_at = greatest(s.last_heartbeat_at, now())
             FROM (SELECT DISTINCT token FROM verdicts WHERE verdict = 'ok') d
             WHERE s.session_token = d.token
               AND s.last_heartbeat_at > now() - make_interval(secs => $2)
             RETURNING s.id, s.session_token, s.license_id, s.device_id, s.last_heartbeat_at),
         recorded AS (
             INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
             SELECT t.id, t.license_id, t.device_id, now()
             FROM touched t JOIN verdicts v ON v.token = t.session_token AND v.verdict = 'ok'),
         used AS (
             UPDATE api_keys SET last_used_at = now()
             FROM keys
             WHERE api_keys.id = keys.id AND keys.revoked_at IS NULL
               AND (keys.last_used_at IS NULL OR keys.last_used_at < now() - interval '1 minute'))
         SELECT v.n, CASE WHEN v.verdict <> 'ok' THEN v.verdict
                          WHEN t.session_token IS NOT NULL THEN 'accepted'
                          ELSE 'refused' END,
                t.last_heartbeat_at
         FROM verdicts v LEFT JOIN touched t ON t.session_token = v.token AND v.verdict = 'ok'
         ORDER BY v.n",
    )
    .bind(&tokens)
    .bind(settings.timeout_secs())
    .bind(&digests)
    .fetch_all(pool)
    .await?;
    let refused: Vec<Uuid> =
        rows.iter().filter(|(_, verdict, _)| verdict == "refused").map(|(n, _, _)| tokens[(*n - 1) as usize]).collect();
    let known: HashSet<Uuid> = if refused.is_empty() {
        HashSet::new()
    } else {
        sqlx::query_scalar(
            "SELECT token FROM unnest($1::uuid[]) AS t(token)
             WHERE EXISTS (SELECT 1 FROM license_sessions WHERE session_token = t.token)
                OR EXISTS (SELECT 1 FROM session_history WHERE session_token = t.token)",
        )
        .bind(&refused)
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect()
    };
    Ok(rows
        .into_iter()
        .map(|(n, verdict, at)| match (verdict.as_str(), at) {
            ("accepted", Some(last_heartbeat_at)) => HeartbeatOutcome::Accepted { last_heartbeat_at },
            ("unauthenticated", _) => HeartbeatOutcome::Unauthenticated,
            ("forbidden", _) => HeartbeatOutcome::Forbidden,
            _ if known.contains(&tokens[(n - 1) as usize]) => HeartbeatOutcome::Expired,
            _ => HeartbeatOutcome::NotFound,
        })
        .collect())
}
