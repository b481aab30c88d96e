//! The GraphQL subscriptions: `sessionEvents` and `liveSessions`.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Subscription, ID};
use futures_util::{stream, Stream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::{LiveEvents, LiveMessage, LiveSessionsFeed};
use crate::auth::{Permission, Require};
use crate::error::GqlResultExt;
use crate::graphql::ids::parse_id;
use crate::sessions::events::SessionEvent;
use crate::sessions::LiveSession;

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
                match receiver.recv().await.map(|numbered| numbered.message) {
                    Ok(LiveMessage::Event(event)) => {
                        if license_id.is_none_or(|id| id == event.license_id.0) {
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
    /// the list is re-read, so it never stays stale. Every subscriber of an instance is served
    /// from one list, re-read at most twice a second.
    #[graphql(guard = "Require(Permission::Read)")]
    async fn live_sessions(
        &self,
        ctx: &Context<'_>,
        license_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Vec<LiveSession>>>> {
        let license_id = license_filter(license_id)?;
        let slot = take_slot(ctx)?;
        let subscription = ctx.data_unchecked::<LiveSessionsFeed>().subscribe(license_id);
        Ok(stream::unfold((subscription, slot), |(mut subscription, slot)| async move {
            let list = subscription.next().await?;
            Some((Ok(list), (subscription, slot)))
        }))
    }
}
