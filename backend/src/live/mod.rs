//! Live data: session events (`sessions::events`), announced through PostgreSQL `LISTEN/NOTIFY`,
//! fanned out to GraphQL subscriptions over WebSockets. A subscriber on one instance sees what
//! happened through any other.

pub mod connection_caps;
pub mod listener;
pub mod live_sessions;
pub mod subscription;

pub use listener::{LiveEvents, LiveMessage, Numbered};
pub use live_sessions::LiveSessionsFeed;
