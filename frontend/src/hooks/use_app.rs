use yew::prelude::*;

use crate::state::AppContext;

/// The shared application state and its dispatcher.
#[hook]
pub fn use_app() -> AppContext {
    use_context::<AppContext>().expect("AppProvider is missing")
}
