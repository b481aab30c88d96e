use std::rc::Rc;

use yew::prelude::*;

use crate::services::live::{self, LiveUpdate};
use crate::services::sessions::LiveSession;

/// The live sessions as the subscription last reported them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveState {
    /// `None` until the first list arrived.
    pub sessions: Option<Vec<LiveSession>>,
    /// False while the connection is being (re-)established.
    pub connected: bool,
    /// The server refused the subscription.
    pub refused: bool,
}

impl Reducible for LiveState {
    type Action = LiveUpdate;

    fn reduce(self: Rc<Self>, update: LiveUpdate) -> Rc<Self> {
        let mut next = (*self).clone();
        match update {
            LiveUpdate::Sessions(sessions) => {
                next.sessions = Some(sessions);
                next.connected = true;
            }
            LiveUpdate::Reconnecting => next.connected = false,
            LiveUpdate::Refused => {
                next.connected = false;
                next.refused = true;
            }
        }
        Rc::new(next)
    }
}

/// Subscribes to `liveSessions` (all licenses, or one) for as long as the component lives.
#[hook]
pub fn use_live_sessions(license_id: Option<String>) -> LiveState {
    let state = use_reducer(LiveState::default);
    {
        let dispatcher = state.dispatcher();
        use_effect_with(license_id, move |license_id| {
            let on_update = Callback::from(move |update: LiveUpdate| dispatcher.dispatch(update));
            let subscription = live::live_sessions(license_id.clone(), on_update);
            move || drop(subscription)
        });
    }
    (*state).clone()
}
