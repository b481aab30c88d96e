//! One `LISTEN` connection per server instance, fanned out to every subscriber through a
//! broadcast channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;

use crate::sessions::events::{SessionEvent, CHANNEL};

/// Messages queued for a subscriber that does not keep up; past this it is told it lagged.
const BUFFER: usize = 1024;
/// Longest pause between attempts to re-establish a lost `LISTEN` connection.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What subscribers receive.
#[derive(Debug, Clone)]
pub enum LiveMessage {
    /// A committed change.
    Event(SessionEvent),
    /// The `LISTEN` connection was lost and is being (or has been) re-established: notifications
    /// in between may be missing, so anything derived from earlier events must be re-read.
    Interrupted,
}

/// A message and its place in this instance's stream: 1, 2, 3 … in the order sent, so that a
/// reader can tell whether something it holds reflects a given message (see `LiveSessionsFeed`).
#[derive(Debug, Clone)]
pub struct Numbered {
    pub seq: u64,
    pub message: LiveMessage,
}

/// Handle to this instance's listener; cheap to clone.
#[derive(Clone)]
pub struct LiveEvents {
    sender: Sender,
}

#[derive(Clone)]
struct Sender {
    channel: broadcast::Sender<Numbered>,
    /// The number of the last message sent.
    last: Arc<AtomicU64>,
}

impl Sender {
    fn send(&self, message: LiveMessage) {
        // Numbered before it is sent: whoever reads `last` as n receives every message after n.
        let seq = self.last.fetch_add(1, Ordering::SeqCst) + 1;
        // No receivers is fine: nobody is subscribed right now.
        drop(self.channel.send(Numbered { seq, message }));
    }
}

impl LiveEvents {
    /// Starts the listener on one connection of `pool`. It stops when the pool is closed.
    pub fn spawn(pool: PgPool) -> Self {
        let (channel, _) = broadcast::channel(BUFFER);
        let sender = Sender { channel, last: Arc::default() };
        tokio::spawn(listen(pool, sender.clone()));
        LiveEvents { sender }
    }

    /// Every message from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Numbered> {
        self.sender.channel.subscribe()
    }

    /// The number of the last message sent (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.sender.last.load(Ordering::SeqCst)
    }
}

async fn listen(pool: PgPool, sender: Sender) {
    let mut backoff = Duration::from_millis(100);
    let mut listener = loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => break listener,
                Err(err) => tracing::warn!(error = ?err, "LISTEN failed; retrying"),
            },
            Err(sqlx::Error::PoolClosed) => return,
            Err(err) => tracing::warn!(error = ?err, "cannot connect the event listener; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    };
    backoff = Duration::from_millis(100);
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                backoff = Duration::from_millis(100);
                match serde_json::from_str::<SessionEvent>(notification.payload()) {
                    Ok(event) => sender.send(LiveMessage::Event(event)),
                    Err(err) => tracing::warn!(error = %err, "ignoring a malformed session event"),
                }
            }
            // The connection was lost and has been re-established (sqlx re-issues LISTEN).
            Ok(None) => {
                tracing::warn!("the event listener lost its database connection; reconnected");
                sender.send(LiveMessage::Interrupted);
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(err) => {
                tracing::warn!(error = ?err, "the event listener failed; reconnecting");
                sender.send(LiveMessage::Interrupted);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
