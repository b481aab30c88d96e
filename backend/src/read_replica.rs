//! The read replica (DATABASE_READ_URL): a streaming standby of the primary where analysts' and
//! the dashboard's read-only operations read, so that a long analyst query never competes with
//! heartbeats for the primary. Everything else — mutations, the client path, sign-in and the
//! credential checks, rate limits, backups, migrations, partition maintenance — stays on the
//! primary.
//!
//! Before an operation is sent to the replica, one short statement on the replica asks how far
//! it has replayed the primary's WAL. It goes to the primary instead when
//!
//! - the replica does not answer within [`PROBE_TIMEOUT`] (or fails): it is then left alone for
//!   [`REST_AFTER_FAILURE`], with a warning in the log, and every read goes to the primary
//!   meanwhile; analysts never see the failure;
//! - the caller (an API key or a dashboard user) wrote something the replica has not replayed
//!   yet: after each mutation the primary's WAL position is remembered for its caller, so that
//!   an admin who changes something and reads it back sees the change (read-your-writes).
//!   This memory is the instance's own: behind a balancer, the next read may reach another
//!   instance, which reads from the replica (at most the replica's lag behind).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::auth::Caller;

/// How long the replica may take to say how far it has replayed before a read goes to the primary.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the replica is left alone after it failed to answer.
pub const REST_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// A position in the primary's write-ahead log, as bytes from its start.
type WalPosition = i64;

/// The WAL position this server has replayed; NULL (`None`) on a server that is not a standby,
/// which is as current as it gets.
const REPLAYED: &str = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint";
/// How long ago the last transaction the replica replayed committed on the primary (NULL before
/// it replayed any). While the primary is idle this grows although nothing is missing.
const REPLAY_AGE: &str = "SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8";
/// The primary's WAL position now: at or after the end of every transaction committed before.
const WRITTEN: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";

/// The read replica's pool and what this instance knows of it. Cheap to clone.
#[derive(Clone)]
pub struct ReadReplica {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// Set after the replica failed to answer: reads go to the primary until then.
    resting_until: Mutex<Option<Instant>>,
    /// Whether the last probe failed (so that the log says so once per outage).
    down: AtomicBool,
    /// Per writer (API key or dashboard user): the primary's WAL position after their last
    /// mutation, until their next read finds it replayed (one entry per writer at most).
    writes: Mutex<HashMap<Writer, WalPosition>>,
}

/// Who wrote: an actor's kind and id.
type Writer = (&'static str, String);

fn writer(caller: &Caller) -> Option<Writer> {
    Some((caller.actor.kind.as_str(), caller.actor.id.clone()?))
}

/// What `/readyz` says of the replica.
pub enum ReplicaStatus {
    /// It answers; `last_replayed` is how long ago the last transaction it replayed committed on
    /// the primary (`None` when it has replayed none since it started, or is no standby).
    Serving { last_replayed: Option<Duration> },
    /// It does not answer; reads go to the primary.
    Unreachable,
}

impl ReadReplica {
    pub fn new(pool: PgPool) -> Self {
        ReadReplica {
            inner: Arc::new(Inner {
                pool,
                resting_until: Mutex::new(None),
                down: AtomicBool::new(false),
                writes: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Whether a read-only operation of `caller` may read from the replica now: it answers,
    /// and it has replayed the caller's last write.
    pub async fn serves(&self, caller: &Caller) -> bool {
        if self.resting() {
            return false;
        }
        let Some(replayed) = self.ask::<Option<WalPosition>>(REPLAYED).await else { return false };
        let Some(writer) = writer(caller) else { return true };
        let mut writes = self.inner.writes.lock().unwrap_or_else(|e| e.into_inner());
        match (writes.get(&writer).copied(), replayed) {
            (Some(written), Some(replayed)) if replayed < written => false,
            (Some(_), _) => {
                writes.remove(&writer);
                true
            }
            (None, _) => true,
        }
    }

    /// Remembers the primary's WAL position now as `caller`'s last write (call it after a
    /// mutation): their reads stay on the primary until the replica has replayed it.
    pub async fn note_write(&self, primary: &PgPool, caller: &Caller) {
        let Some(writer) = writer(caller) else { return };
        match sqlx::query_scalar::<_, WalPosition>(WRITTEN).fetch_one(primary).await {
            Ok(written) => {
                self.inner.writes.lock().unwrap_or_else(|e| e.into_inner()).insert(writer, written);
            }
            // Without the position, the caller's next reads may come from a replica that has not
            // replayed the write yet: say so, but the write itself succeeded.
            Err(err) => tracing::warn!(error = ?err, "reading the primary's WAL position after a write failed"),
        }
    }

    /// How the replica is doing, for `/readyz`.
    pub async fn status(&self) -> ReplicaStatus {
        match self.ask::<Option<f64>>(REPLAY_AGE).await {
            Some(age) => {
                ReplicaStatus::Serving { last_replayed: age.map(|seconds| Duration::from_secs_f64(seconds.max(0.0))) }
            }
            None => ReplicaStatus::Unreachable,
        }
    }

    fn resting(&self) -> bool {
        let mut resting = self.inner.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        match *resting {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                *resting = None;
                false
            }
            None => false,
        }
    }

    /// Runs `sql` on the replica within [`PROBE_TIMEOUT`]: its answer, or `None` when the replica
    /// did not give one (it then rests for [`REST_AFTER_FAILURE`]).
    async fn ask<T>(&self, sql: &'static str) -> Option<T>
    where
        (T,): for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
        T: Send + Unpin,
    {
        let answer = sqlx::query_scalar::<_, T>(sql).fetch_one(self.pool());
        let failure = match tokio::time::timeout(PROBE_TIMEOUT, answer).await {
            Ok(Ok(value)) => {
                if self.inner.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("the read replica answers again; analyst reads go to it");
                }
                return Some(value);
            }
            Ok(Err(err)) => err.to_string(),
            Err(_) => "no answer in time".to_owned(),
        };
        *self.inner.resting_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + REST_AFTER_FAILURE);
        if !self.inner.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %failure, "the read replica does not answer; reads go to the primary until it does");
        }
        None
    }
}
