//! Custom hooks: the app context, loading data, form state, confirmed changes, and live sessions.

mod use_app;
mod use_confirm;
mod use_form;
mod use_live_sessions;
mod use_load;

pub use use_app::use_app;
pub use use_confirm::use_confirm;
pub use use_form::use_form;
pub use use_live_sessions::use_live_sessions;
pub use use_load::{use_load, Load};
