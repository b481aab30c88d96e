//! The list every `liveSessions` subscriber of this instance is served from. One task re-reads
//! all live sessions after the events that change the list, at most once per [`REFRESH_WINDOW`]
//! however many subscribers there are and however fast events arrive (a client key can cause
//! events at will by activating again), and only while somebody subscribes. Each subscriber
//! filters the shared list for itself and is sent it only after events that concern it.
//!
//! Knowing when a list is new enough rests on the listener's message numbers: a list records
//! the number of the last message it reflects, and a subscriber that saw message n waits for a
//! list that reflects n.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch, Notify};
use tokio::time::Instant;
use uuid::Uuid;

use super::{LiveEvents, LiveMessage, Numbered};
use crate::sessions::events::SessionEventKind;
use crate::sessions::{list_live, LiveSession, SessionSettings};

/// Least time between two reads of the list; also the oldest list a new subscriber is given.
pub const REFRESH_WINDOW: Duration = Duration::from_millis(500);

/// One read of the list.
#[derive(Clone)]
struct Snapshot {
    /// The number of the last listener message this list reflects.
    covers: u64,
    /// When the read began.
    read_at: Instant,
    /// Every live session, oldest first.
    sessions: Arc<Vec<LiveSession>>,
}

/// The instance's list of live sessions and the task that keeps it current; cheap to clone.
#[derive(Clone)]
pub struct LiveSessionsFeed {
    live: LiveEvents,
    snapshots: Arc<watch::Sender<Option<Snapshot>>>,
    /// Raised by a subscriber that needs a list fresher than the current one.
    wanted: Arc<Notify>,
}

impl LiveSessionsFeed {
    /// Starts the task that reads the list (while anybody subscribes).
    pub fn spawn(pool: sqlx::PgPool, settings: SessionSettings, live: LiveEvents) -> Self {
        let feed = LiveSessionsFeed {
            live: live.clone(),
            snapshots: Arc::new(watch::Sender::new(None)),
            wanted: Arc::default(),
        };
        let reader = Reader { pool, settings, events: live.subscribe(), feed: feed.clone() };
        tokio::spawn(reader.run());
        feed
    }

    /// The live sessions of one license or all: first the current list, then the new list after
    /// every start, resume or end that concerns them, and after an interruption of the events.
    pub fn subscribe(&self, license_id: Option<Uuid>) -> LiveSessionsSubscription {
        // Subscribed before asking for the last message's number, so nothing in between is missed.
        let events = self.live.subscribe();
        let first = Need { seq: self.live.last_seq(), read_since: Instant::now().checked_sub(REFRESH_WINDOW) };
        LiveSessionsSubscription {
            feed: self.clone(),
            snapshots: self.snapshots.subscribe(),
            events,
            license_id,
            need: Some(first),
        }
    }
}

/// Whether `message` may change the list of `license_id`'s (or, with `None`, all) live sessions.
fn changes_list(message: &LiveMessage, license_id: Option<Uuid>) -> bool {
    match message {
        LiveMessage::Event(event) => {
            matches!(event.kind, SessionEventKind::Started | SessionEventKind::Resumed | SessionEventKind::Ended)
                && license_id.is_none_or(|id| id == event.license_id.0)
        }
        LiveMessage::Interrupted => true,
    }
}

/// The task behind [`LiveSessionsFeed`].
struct Reader {
    pool: sqlx::PgPool,
    settings: SessionSettings,
    events: broadcast::Receiver<Numbered>,
    feed: LiveSessionsFeed,
}

impl Reader {
    async fn run(mut self) {
        let snapshots = self.feed.snapshots.clone();
        // The number of the last message taken in, and whether one since the last read began
        // changes the list (no list has been read yet).
        let (mut seen, mut dirty) = (self.feed.live.last_seq(), true);
        let mut requested = false;
        let mut next_read = Instant::now();
        loop {
            if snapshots.receiver_count() == 0 && snapshots.send_if_modified(|current| current.take().is_some()) {
                // Nobody to keep it current for: the memory goes, and the next subscriber waits
                // for a fresh read.
                dirty = true;
            }
            if !dirty {
                // Only messages that change nothing arrived: the list reflects them as it is.
                snapshots.send_if_modified(|current| match current {
                    Some(snapshot) if snapshot.covers < seen => {
                        snapshot.covers = seen;
                        true
                    }
                    _ => false,
                });
            }
            let too_old = snapshots.borrow().as_ref().is_none_or(|s| s.read_at.elapsed() > REFRESH_WINDOW);
            let read = snapshots.receiver_count() > 0 && (dirty || (requested && too_old));
            requested = false;
            if read {
                // Whatever arrives until the read begins is covered by it.
                tokio::time::sleep_until(next_read).await;
                loop {
                    match self.events.try_recv() {
                        Ok(numbered) => seen = seen.max(numbered.seq),
                        Err(TryRecvError::Lagged(_)) => seen = seen.max(self.feed.live.last_seq()),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Closed) => return,
                    }
                }
                let read_at = Instant::now();
                next_read = read_at + REFRESH_WINDOW;
                match list_live(&self.pool, &self.settings, None).await {
                    Ok(sessions) => {
                        snapshots.send_replace(Some(Snapshot { covers: seen, read_at, sessions: Arc::new(sessions) }));
                        dirty = false;
                    }
                    Err(crate::Error::Database(sqlx::Error::PoolClosed)) => return,
                    // Subscribers keep the last list; the next window tries again.
                    Err(err) => tracing::warn!(error = ?err, "reading the live sessions failed"),
                }
                continue;
            }
            tokio::select! {
                received = self.events.recv() => match received {
                    Ok(numbered) => {
                        seen = seen.max(numbered.seq);
                        dirty |= changes_list(&numbered.message, None);
                    }
                    Err(RecvError::Lagged(_)) => {
                        seen = seen.max(self.feed.live.last_seq());
                        dirty = true;
                    }
                    Err(RecvError::Closed) => return,
                },
                () = self.feed.wanted.notified() => requested = true,
            }
        }
    }
}

/// What a subscriber waits for: a list that reflects message `seq` and, for the first list,
/// was read no earlier than `read_since`.
#[derive(Clone, Copy)]
struct Need {
    seq: u64,
    read_since: Option<Instant>,
}

impl Need {
    fn met_by(&self, snapshot: &Snapshot) -> bool {
        snapshot.covers >= self.seq && self.read_since.is_none_or(|since| snapshot.read_at >= since)
    }
}

/// One `liveSessions` subscriber.
pub struct LiveSessionsSubscription {
    feed: LiveSessionsFeed,
    snapshots: watch::Receiver<Option<Snapshot>>,
    events: broadcast::Receiver<Numbered>,
    license_id: Option<Uuid>,
    need: Option<Need>,
}

impl LiveSessionsSubscription {
    /// The next list to send; `None` once the instance's events are gone for good.
    pub async fn next(&mut self) -> Option<Vec<LiveSession>> {
        loop {
            if let Some(need) = self.need {
                let snapshot = self.snapshots.borrow_and_update().clone();
                if let Some(snapshot) = snapshot.filter(|s| need.met_by(s)) {
                    self.need = None;
                    return Some(self.filter(&snapshot.sessions));
                }
                self.feed.wanted.notify_one();
            }
            tokio::select! {
                received = self.events.recv() => {
                    let seq = match received {
                        Ok(numbered) if changes_list(&numbered.message, self.license_id) => numbered.seq,
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => self.feed.live.last_seq(),
                        Err(RecvError::Closed) => return None,
                    };
                    let read_since = self.need.and_then(|need| need.read_since);
                    self.need = Some(Need { seq, read_since });
                }
                changed = self.snapshots.changed(), if self.need.is_some() => {
                    if changed.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    fn filter(&self, sessions: &[LiveSession]) -> Vec<LiveSession> {
        sessions.iter().filter(|s| self.license_id.is_none_or(|id| id == s.license_id.0)).cloned().collect()
    }
}
