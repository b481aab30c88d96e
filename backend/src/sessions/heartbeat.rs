//! Heartbeats, written with group commit.
//!
//! Each request hands its token to one writer task and waits. The writer takes everything that
//! queued up while the previous writes were in flight and records it in a single statement (one
//! transaction, one WAL flush), then answers every waiting request. A heartbeat is acknowledged
//! only after its row is committed, so nothing acknowledged is ever lost, while the database does
//! one commit per batch instead of one per heartbeat.
//!
//! **No deadlock, by construction.** A batch locks its session rows with `FOR UPDATE SKIP
//! LOCKED`, in id order: it never waits for a row lock, so it can never be part of a wait cycle,
//! whatever other batches (of this instance or another), activations, ends and the cleanup hold.
//! A session whose row another transaction holds at that moment (the same token in another
//! batch, a resume, the cleanup filing it) is not written by that batch: it goes into the next,
//! re-formed batch, and after a few such rounds it is written on its own, where waiting for the
//! one row it needs cannot close a cycle either (it holds no other lock). The API key's
//! `last_used_at` is kept outside the batch's transaction. A batch that fails with a
//! serialization failure or deadlock all the same (or loses its connection) is retried before any
//! client sees an error.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Semaphore};
use uuid::Uuid;

use crate::db::ClientPool;
use crate::error::{Error, Result};
use crate::sessions::client_license::{LeaseSubject, LicenseTerms};
use crate::sessions::{filing_ctes, EndReason, SessionSettings};

/// Upper bound of heartbeats in one statement.
const MAX_BATCH: usize = 1000;
/// Batches of one instance written at the same time; what arrives meanwhile queues up and forms
/// the next batch. One: batches grow with the load (fewer, larger statements; in the benchmark
/// about a fifth less database CPU per heartbeat than with two, at the same throughput), and an
/// instance's batches never contend with each other for rows.
const MAX_IN_FLIGHT: usize = 1;
/// Requests waiting for the writer before senders are slowed down.
const QUEUE_CAPACITY: usize = 20_000;
/// Rounds a heartbeat whose row was held elsewhere goes through re-formed batches before it is
/// written on its own, waiting for its row.
const SKIPPED_ROUNDS: u32 = 3;
/// Attempts at a batch that failed as a whole (serialization failure, deadlock, lost connection).
const ATTEMPTS: u32 = 4;
/// A key's `last_used_at` is refreshed at most this often (as for every other request).
const KEY_TOUCH_PERIOD: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// Recorded; the session is live until `last_heartbeat_at` plus the timeout.
    Accepted(Box<AcceptedBeat>),
    /// The session has ended, for this reason (`Timeout` also for one that missed its deadline
    /// and is not filed yet); it is never revived. A heartbeat after its license's end (or for a
    /// license deactivated meanwhile) ends the session itself, with `LicenseExpired`
    /// (`LicenseRevoked`).
    Ended(EndReason),
    /// No session ever had this token.
    NotFound,
    /// The API key checked with the write is unknown or revoked.
    Unauthenticated,
    /// The API key checked with the write may not send heartbeats.
    Forbidden,
}

/// What an accepted heartbeat's answer and lease need, read by the batch statement itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedBeat {
    pub last_heartbeat_at: DateTime<Utc>,
    pub lease: LeaseSubject,
}

type Reply = oneshot::Sender<std::result::Result<HeartbeatOutcome, ()>>;

struct Pending {
    token: Uuid,
    /// The SHA-256 of the caller's API key when it is to be checked in the batch itself.
    key_digest: Option<Vec<u8>>,
    reply: Reply,
    /// Batches that left it out because another transaction held its session row.
    deferrals: u32,
    /// Batches it was part of that failed as a whole.
    failures: u32,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct HeartbeatWriter {
    queue: mpsc::Sender<Pending>,
}

impl HeartbeatWriter {
    /// Starts the writer on the client pool, whose connections no other work can take. It
    /// stops when the last handle is dropped, after finishing its batches.
    pub fn spawn(pool: ClientPool, settings: SessionSettings) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer = Writer { pool, settings, requeue: queue.downgrade(), keys_touched: Arc::default() };
        tokio::spawn(run(receiver, writer));
        HeartbeatWriter { queue }
    }

    /// Records a heartbeat. With `key_digest`, the API key is verified by the batch statement
    /// itself (valid, not revoked, scope `client` or `admin`), saving the request a round trip.
    pub async fn record(&self, token: Uuid, key_digest: Option<Vec<u8>>) -> Result<HeartbeatOutcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { token, key_digest, reply, deferrals: 0, failures: 0 })
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("heartbeat writer has stopped")))?;
        answer
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("heartbeat writer dropped a request")))?
            .map_err(|()| Error::Internal(anyhow::anyhow!("heartbeat batch failed; see the writer's log")))
    }
}

#[derive(Clone)]
struct Writer {
    pool: ClientPool,
    settings: SessionSettings,
    /// The writer's own queue, for heartbeats that go into a later batch. Weak, so that the
    /// writer still stops once every handle is gone.
    requeue: mpsc::WeakSender<Pending>,
    /// When this instance last refreshed each key's `last_used_at`, by key digest.
    keys_touched: Arc<Mutex<HashMap<Vec<u8>, Instant>>>,
}

async fn run(mut receiver: mpsc::Receiver<Pending>, writer: Writer) {
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
        let writer = writer.clone();
        tokio::spawn(async move {
            writer.flush(batch).await;
            drop(permit);
        });
    }
}

impl Writer {
    /// Writes `batch` and answers each request it settles. A heartbeat whose row another
    /// transaction held, or whose batch failed with a transient error, goes back into the queue
    /// and so into a re-formed batch; only its own last failure reaches the client.
    async fn flush(&self, batch: Vec<Pending>) {
        self.touch_keys(&batch).await;
        let beats: Vec<(Uuid, Option<Vec<u8>>)> = batch.iter().map(|p| (p.token, p.key_digest.clone())).collect();
        match write(&self.pool, &self.settings, &beats, false).await {
            Ok(outcomes) => {
                let mut deferred = 0;
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    match outcome {
                        Some(outcome) => {
                            let _ = pending.reply.send(Ok(outcome));
                        }
                        None => {
                            deferred += 1;
                            self.held(pending);
                        }
                    }
                }
                if deferred > 0 {
                    crate::metrics::heartbeats_deferred(deferred);
                }
            }
            Err(err) if is_transient(&err) => {
                tracing::warn!(error = ?err, heartbeats = batch.len(), "heartbeat batch failed; writing it again");
                crate::metrics::heartbeat_batch_retried();
                for pending in batch {
                    self.failed(pending);
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

    /// Its session row was held by another transaction: into a later batch, or, after a few
    /// rounds, written on its own, waiting for the one row (which cannot close a wait cycle).
    fn held(&self, mut pending: Pending) {
        pending.deferrals += 1;
        let writer = self.clone();
        if pending.deferrals > SKIPPED_ROUNDS {
            tokio::spawn(async move { writer.write_alone(pending).await });
        } else {
            let pause = Duration::from_millis(u64::from(pending.deferrals));
            tokio::spawn(async move { writer.requeue_after(pending, pause).await });
        }
    }

    /// Its batch failed as a whole: into a later batch, unless it has failed too often.
    fn failed(&self, mut pending: Pending) {
        pending.failures += 1;
        if pending.failures >= ATTEMPTS {
            let _ = pending.reply.send(Err(()));
            return;
        }
        let writer = self.clone();
        let pause = Duration::from_millis(5 << pending.failures);
        tokio::spawn(async move { writer.requeue_after(pending, pause).await });
    }

    async fn requeue_after(&self, pending: Pending, pause: Duration) {
        tokio::time::sleep(pause).await;
        let Some(queue) = self.requeue.upgrade() else {
            let _ = pending.reply.send(Err(()));
            return;
        };
        if let Err(mpsc::error::SendError(pending)) = queue.send(pending).await {
            let _ = pending.reply.send(Err(()));
        }
    }

    async fn write_alone(&self, mut pending: Pending) {
        let beat = [(pending.token, pending.key_digest.clone())];
        loop {
            match write(&self.pool, &self.settings, &beat, true).await {
                Ok(outcomes) => match outcomes.into_iter().next().flatten() {
                    Some(outcome) => {
                        let _ = pending.reply.send(Ok(outcome));
                        return;
                    }
                    // The row changed between the statement's snapshot and its lock (the
                    // session was ended meanwhile): the next statement sees what happened.
                    None => pending.failures += 1,
                },
                Err(err) if is_transient(&err) => {
                    tracing::warn!(error = ?err, "writing a heartbeat on its own failed; writing it again");
                    crate::metrics::heartbeat_batch_retried();
                    pending.failures += 1;
                }
                Err(err) => {
                    tracing::error!(error = ?err, "writing a heartbeat on its own failed");
                    pending.failures = ATTEMPTS;
                }
            }
            if pending.failures >= ATTEMPTS {
                let _ = pending.reply.send(Err(()));
                return;
            }
            tokio::time::sleep(Duration::from_millis(5 << pending.failures)).await;
        }
    }

    /// Refreshes `last_used_at` of the batch's keys, at most once a period per key, in a
    /// statement of its own, outside the batch's transaction, that never waits for a row (a key
    /// row in use is skipped). A failure is logged: bookkeeping never fails a heartbeat.
    async fn touch_keys(&self, batch: &[Pending]) {
        let now = Instant::now();
        let due: Vec<Vec<u8>> = {
            let mut touched = self.keys_touched.lock().unwrap_or_else(|e| e.into_inner());
            let mut due = Vec::new();
            for digest in batch.iter().filter_map(|p| p.key_digest.as_ref()) {
                let fresh = touched.get(digest).is_some_and(|at| now.duration_since(*at) < KEY_TOUCH_PERIOD);
                if !fresh {
                    touched.insert(digest.clone(), now);
                    due.push(digest.clone());
                }
            }
            // Forged digests of unknown keys must not grow the map without bound.
            if touched.len() > 10_000 {
                touched.retain(|_, at| now.duration_since(*at) < KEY_TOUCH_PERIOD);
            }
            due
        };
        if due.is_empty() {
            return;
        }
        if let Err(err) = crate::api_keys::touch(&self.pool, &due).await {
            tracing::warn!(error = ?err, "refreshing API keys' last use failed");
        }
    }
}

fn is_transient(err: &Error) -> bool {
    match err {
        Error::Database(sqlx::Error::Database(db)) => matches!(db.code().as_deref(), Some("40001" | "40P01")),
        Error::Database(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_)) => true,
        _ => false,
    }
}

/// The heartbeat statement with `lock`: `FOR UPDATE SKIP LOCKED` for batches, `FOR UPDATE` for a
/// heartbeat written on its own. A batch never waits, so it judges liveness at its start
/// (`now()`); a heartbeat that waited for its row judges it at the time it got the row
/// (`clock_timestamp()`, see `session_is_live_at`), or it could revive a session that an
/// admission holding the row saw expire.
///
/// A live session whose license has ended (`valid_until` passed) or was deactivated meanwhile is
/// not touched but ended, in the same statement, with `license_expired` (`license_revoked`),
/// filed, audited and announced as the cleanup files sessions. The license's terms and the
/// device's fingerprint come back with each accepted heartbeat, for its lease.
fn write_sql(lock: &str, at: &str) -> String {
    let usable = crate::api_keys::usable_key_sql("k");
    let filing = filing_ctes("gone");
    format!(
        "WITH sent AS (
             SELECT n, token, digest FROM unnest($1::uuid[], $3::bytea[]) WITH ORDINALITY AS t(token, digest, n)),
         keys AS (
             SELECT k.key_digest, k.scope FROM api_keys k
             WHERE k.key_digest IN (SELECT digest FROM sent WHERE digest IS NOT NULL) AND {usable}),
         verdicts AS (
             SELECT sent.n, sent.token,
                    CASE WHEN sent.digest IS NULL THEN 'ok'
                         WHEN keys.key_digest IS NULL THEN 'unauthenticated'
                         WHEN keys.scope IN ('client', 'admin') THEN 'ok'
                         ELSE 'forbidden' END AS verdict
             FROM sent LEFT JOIN keys ON keys.key_digest = sent.digest),
         locked AS (
             SELECT s.id, s.license_id FROM license_sessions s
             WHERE s.session_token = ANY (ARRAY(SELECT token FROM verdicts WHERE verdict = 'ok'))
               AND session_is_live_at(s.last_heartbeat_at, $2, {at})
             ORDER BY s.id {lock}),
         judged AS (
             SELECT locked.id, l.license_type, l.valid_until, l.features, l.offline_grace_seconds,
                    CASE WHEN NOT l.is_active THEN 'license_revoked'
                         WHEN l.valid_until <= {at} THEN 'license_expired' END AS end_reason
             FROM locked JOIN licenses l ON l.id = locked.license_id),
         touched AS (
             UPDATE license_sessions s SET last_heartbeat_at = greatest(s.last_heartbeat_at, now())
             FROM judged j WHERE s.id = j.id AND j.end_reason IS NULL
             RETURNING s.id, s.session_token, s.license_id, s.device_id, s.last_heartbeat_at),
         recorded AS (
             INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
             SELECT t.id, t.license_id, t.device_id, now()
             FROM touched t JOIN verdicts v ON v.token = t.session_token AND v.verdict = 'ok'),
         gone AS (
             DELETE FROM license_sessions s USING judged j WHERE s.id = j.id AND j.end_reason IS NOT NULL
             RETURNING s.*,
                       CASE WHEN j.end_reason = 'license_expired' THEN greatest(j.valid_until, s.last_heartbeat_at)
                            ELSE greatest({at}, s.last_heartbeat_at) END AS ended_at,
                       j.end_reason),
         {filing}
         SELECT v.n,
                CASE WHEN v.verdict <> 'ok' THEN v.verdict
                     WHEN t.session_token IS NOT NULL THEN 'accepted'
                     WHEN f.end_reason IS NOT NULL THEN f.end_reason
                     -- Live, but another transaction holds its row (or ended it meanwhile).
                     WHEN EXISTS (SELECT 1 FROM license_sessions WHERE session_token = v.token
                                    AND session_is_live(last_heartbeat_at, $2)) THEN 'held'
                     ELSE coalesce(
                         (SELECT h.end_reason FROM session_history h WHERE h.session_token = v.token),
                         CASE WHEN EXISTS (SELECT 1 FROM license_sessions WHERE session_token = v.token)
                              THEN 'timeout' END,
                         'not_found') END AS verdict,
                t.last_heartbeat_at, t.id AS session_id, t.device_id, t.license_id,
                j.license_type, j.valid_until, j.features, j.offline_grace_seconds, d.hardware_fingerprint
         FROM verdicts v
              LEFT JOIN touched t ON t.session_token = v.token AND v.verdict = 'ok'
              LEFT JOIN judged j ON j.id = t.id
              LEFT JOIN device_registrations d ON d.id = t.device_id
              LEFT JOIN filed f ON f.session_token = v.token AND v.verdict = 'ok'
              CROSS JOIN (SELECT count(*) FROM notified) announced
         ORDER BY v.n"
    )
}

/// The statement that records a batch: `$1` the tokens, `$2` the session timeout in seconds,
/// `$3` the callers' key digests (NULL where the key was checked already). One row per token,
/// in order, with its verdict: `accepted` (with the new last heartbeat, the session, its
/// device's fingerprint and its license's terms), `held` (its row is locked elsewhere: write it
/// again later), the end reason of a session that has ended (`timeout` for one past its
/// deadline), `not_found`, `unauthenticated`, `forbidden`. A token sent twice in one batch
/// yields two rows, one per acknowledgement.
static WRITE_SQL: LazyLock<String> = LazyLock::new(|| write_sql("FOR UPDATE SKIP LOCKED", "now()"));
/// The same for one heartbeat that waits for its row.
static WRITE_WAITING_SQL: LazyLock<String> = LazyLock::new(|| write_sql("FOR UPDATE", "clock_timestamp()"));

/// One row of the batch statement.
#[derive(sqlx::FromRow)]
struct Verdict {
    verdict: String,
    last_heartbeat_at: Option<DateTime<Utc>>,
    session_id: Option<Uuid>,
    device_id: Option<Uuid>,
    license_id: Option<Uuid>,
    license_type: Option<String>,
    valid_until: Option<DateTime<Utc>>,
    features: Option<Vec<String>>,
    offline_grace_seconds: Option<i32>,
    hardware_fingerprint: Option<String>,
}

impl Verdict {
    /// `None` where the session's row was held elsewhere.
    fn outcome(self) -> Option<HeartbeatOutcome> {
        Some(match self.verdict.as_str() {
            "accepted" => {
                let accepted = (|| {
                    Some(AcceptedBeat {
                        last_heartbeat_at: self.last_heartbeat_at?,
                        lease: LeaseSubject {
                            terms: LicenseTerms {
                                license_id: self.license_id?,
                                license_type: self.license_type?,
                                valid_until: self.valid_until,
                                features: self.features?,
                                offline_grace_seconds: self.offline_grace_seconds?,
                            },
                            device_id: self.device_id?,
                            session_id: Some(self.session_id?),
                            hardware_fingerprint: self.hardware_fingerprint?,
                        },
                    })
                })();
                // Every column of an accepted row comes from rows the statement joined and
                // locked (their foreign keys hold), so none is missing; were one missing, the
                // heartbeat would go into a later batch like one whose row was held.
                HeartbeatOutcome::Accepted(Box::new(accepted?))
            }
            "held" => return None,
            "unauthenticated" => HeartbeatOutcome::Unauthenticated,
            "forbidden" => HeartbeatOutcome::Forbidden,
            "not_found" => HeartbeatOutcome::NotFound,
            reason => HeartbeatOutcome::Ended(EndReason::parse(reason)),
        })
    }
}

/// Records the heartbeats of live sessions in one statement and classifies the others; the
/// outcomes come back in the order of `beats`, `None` where the session's row was held. A
/// heartbeat carrying a key digest counts only if that key is valid for client operations,
/// checked in the same statement.
async fn write(
    pool: &PgPool,
    settings: &SessionSettings,
    beats: &[(Uuid, Option<Vec<u8>>)],
    wait: bool,
) -> Result<Vec<Option<HeartbeatOutcome>>> {
    let tokens: Vec<Uuid> = beats.iter().map(|(token, _)| *token).collect();
    let digests: Vec<Option<Vec<u8>>> = beats.iter().map(|(_, digest)| digest.clone()).collect();
    let rows: Vec<Verdict> = sqlx::query_as(if wait { &WRITE_WAITING_SQL } else { &WRITE_SQL })
        .bind(&tokens)
        .bind(settings.timeout_secs())
        .bind(&digests)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(Verdict::outcome).collect())
}
