use std::future::Future;

use yew::prelude::*;

use super::use_app;
use crate::services::ApiError;
use crate::state::Action;

/// A value being loaded from the API.
#[derive(Clone, Debug, PartialEq)]
pub enum Load<T> {
    Loading,
    Loaded(T),
    Failed(ApiError),
}

/// Loads with `fetch` whenever `deps` change (or `reload` is called); an expired session
/// signs the user out, and a session that may only enroll in 2FA leads to the enrollment.
#[hook]
pub fn use_load<T, D, F, Fut>(deps: D, fetch: F) -> (UseStateHandle<Load<T>>, Callback<()>)
where
    T: Clone + PartialEq + 'static,
    D: PartialEq + Clone + 'static,
    F: Fn(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let state = use_state(|| Load::Loading);
    let generation = use_state(|| 0_u32);
    let app = use_app();
    {
        let state = state.clone();
        use_effect_with((deps, *generation), move |(deps, _)| {
            let future = fetch(deps.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match future.await {
                    Ok(value) => state.set(Load::Loaded(value)),
                    Err(ApiError::Unauthenticated) => app.dispatch(Action::SignedOut),
                    Err(ApiError::EnrollmentRequired) => app.dispatch(Action::EnrollmentRequired),
                    Err(err) => state.set(Load::Failed(err)),
                }
            });
        });
    }
    let reload = Callback::from(move |()| generation.set(generation.wrapping_add(1)));
    (state, reload)
}
