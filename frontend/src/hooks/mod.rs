//! Custom hooks: the app context, loading data, and live sessions.

mod use_app;
mod use_live_sessions;
mod use_load;

pub use use_app::use_app;
pub use use_live_sessions::use_live_sessions;
pub use use_load::{use_load, Load};
