//! The GraphQL subscriptions: `sessionEvents` and `liveSessions`.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Subscription, ID};
use futures_util::{stream, Stream};
use sqlx::PgPool;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::{LiveEvents, LiveMessage};
use crate::auth::{Permission, Require};
use crate::error::GqlResultExt;
use crate::graphql::ids::parse_id;
use crate::sessions::events::{SessionEvent, SessionEventKind};
use crate::sessions::{list_live, LiveSession, SessionSettings};

/// Most subscriptions one WebSocket connection may hold at once.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 16;

/// The subscription slots of one WebSocket connection (connection data).
#[derive(Clone)]
pub struct SubscriptionSlots(Arc<Semaphore>);

impl Default for SubscriptionSlots {
    fn default() -> Self {
        SubscriptionSlots(Arc::new(Semaphore::new(MAX_SUBSCRIPTIONS_PER_CONNECTION)))
    }
}

/// Takes one slot for as long as the returned permit lives inside the subscription's stream.
fn take_slot(ctx: &Context<'_>) -> async_graphql::Result<Option<OwnedSemaphorePermit>> {
    let Some(slots) = ctx.data_opt::<SubscriptionSlots>() else {
        return Ok(None);
    };
    slots.0.clone().try_acquire_owned().map(Some).map_err(|_| {
        async_graphql::Error::new(format!(
            "a connection may hold at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions; complete one first"
        ))
        .extend_with(|_, ext| ext.set("code", "TOO_MANY_SUBSCRIPTIONS"))
    })
}

fn interrupted() -> async_graphql::Error {
    async_graphql::Error::new("the live event feed was interrupted and events may have been missed; subscribe again")
        .extend_with(|_, ext| ext.set("code", "EVENTS_INTERRUPTED"))
}

fn license_filter(license_id: Option<ID>) -> async_graphql::Result<Option<Uuid>> {
    license_id.as_ref().map(|id| parse_id(id, "licenseId")).transpose().gql()
}

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Sessions started, resumed and ended, devices registered and deactivated, as they commit;
    /// all licenses or one. When the server loses its event feed (the database connection
    /// dropped) the stream ends with an `EVENTS_INTERRUPTED` error rather than going silent:
    /// re-read what you need and subscribe again.
    #[graphql(guard = "Require(Permission::Read)")]
    async fn session_events(
        &self,
        ctx: &Context<'_>,
        license_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SessionEvent>>> {
        let license_id = license_filter(license_id)?;
        let slot = take_slot(ctx)?;
        let receiver = ctx.data_unchecked::<LiveEvents>().subscribe();
        let feed = Some((receiver, slot));
        Ok(stream::unfold(feed, move |feed| async move {
            let (mut receiver, slot) = feed?;
            loop {
                match receiver.recv().await {
                    Ok(LiveMessage::Event(event)) => {
                        if license_id.is_none_or(|id| id == event.license_id) {
                            return Some((Ok(event), Some((receiver, slot))));
                        }
                    }
                    // The error is the last item: the next poll ends the stream.
                    Ok(LiveMessage::Interrupted) | Err(RecvError::Lagged(_)) => {
                        return Some((Err(interrupted()), None))
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }))
    }

    /// The live sessions (oldest first), all licenses or one: the current list at once, then
    /// the whole list again after every change to it. After an interruption of the event feed
    /// the list is re-read, so it never stays stale.
    #[graphql(guard = "Require(Permission::Read)")]
    async fn live_sessions(
        &self,
        ctx: &Context<'_>,
        license_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Vec<LiveSession>>>> {
        let license_id = license_filter(license_id)?;
        let slot = take_slot(ctx)?;
        let (pool, settings) = (ctx.data_unchecked::<PgPool>().clone(), *ctx.data_unchecked::<SessionSettings>());
        // Subscribed before the first read, so no change between the two is missed.
        let receiver = ctx.data_unchecked::<LiveEvents>().subscribe();
        let feed = LiveSessionsFeed { pool, settings, receiver, license_id, first: true, _slot: slot };
        Ok(stream::unfold(feed, |mut feed| async move {
            if !std::mem::take(&mut feed.first) && !feed.changed().await {
                return None;
            }
            let list = list_live(&feed.pool, &feed.settings, feed.license_id).await.gql();
            Some((list, feed))
        }))
    }
}

struct LiveSessionsFeed {
    pool: PgPool,
    settings: SessionSettings,
    receiver: broadcast::Receiver<LiveMessage>,
    license_id: Option<Uuid>,
    first: bool,
    _slot: Option<OwnedSemaphorePermit>,
}

impl LiveSessionsFeed {
    /// Waits until the list may have changed; false once the feed is gone for good.
    async fn changed(&mut self) -> bool {
        loop {
            let changed = match self.receiver.recv().await {
                Ok(LiveMessage::Event(event)) => {
                    matches!(
                        event.kind,
                        SessionEventKind::Started | SessionEventKind::Resumed | SessionEventKind::Ended
                    ) && self.license_id.is_none_or(|id| id == event.license_id)
                }
                Ok(LiveMessage::Interrupted) | Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return false,
            };
            if changed {
                // Coalesce a burst: whatever is queued already is covered by one re-read.
                while self.receiver.try_recv().is_ok() {}
                return true;
            }
        }
    }
}
