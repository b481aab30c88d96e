//! A change that asks first: a row's button names what to change, the confirmation dialog runs it.

use std::future::Future;

use yew::prelude::*;

use crate::services::ApiError;

/// What [`use_confirm`] gives a page: the subject awaiting confirmation (`None`: no dialog), whether
/// the change is running, its failure to show, and the dialog's two callbacks.
#[derive(Clone)]
pub struct Confirm<T: 'static> {
    pub pending: UseStateHandle<Option<T>>,
    pub busy: bool,
    pub error: Option<ApiError>,
    pub on_confirm: Callback<()>,
    pub on_cancel: Callback<()>,
}

impl<T: Clone + 'static> Confirm<T> {
    /// A button's callback that opens the dialog for `subject`.
    pub fn ask<E>(&self, subject: T) -> Callback<E> {
        let pending = self.pending.clone();
        Callback::from(move |_: E| pending.set(Some(subject.clone())))
    }
}

/// Confirming runs `run` with the subject while the dialog shows it busy, then closes the dialog,
/// keeps the failure (or clears the last one) and calls `done` (e.g. to reload the list).
#[hook]
pub fn use_confirm<T, F, Fut>(run: F, done: Callback<()>) -> Confirm<T>
where
    T: Clone + 'static,
    F: Fn(T) -> Fut + 'static,
    Fut: Future<Output = Result<(), ApiError>> + 'static,
{
    let pending = use_state(|| None::<T>);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let on_confirm = {
        let (pending, busy, error) = (pending.clone(), busy.clone(), error.clone());
        Callback::from(move |()| {
            let Some(subject) = (*pending).clone() else { return };
            let (pending, busy, error, done) = (pending.clone(), busy.clone(), error.clone(), done.clone());
            busy.set(true);
            let change = run(subject);
            wasm_bindgen_futures::spawn_local(async move {
                let result = change.await;
                busy.set(false);
                pending.set(None);
                error.set(result.err());
                done.emit(());
            });
        })
    };
    let on_cancel = {
        let pending = pending.clone();
        Callback::from(move |()| pending.set(None))
    };
    Confirm { pending, busy: *busy, error: (*error).clone(), on_confirm, on_cancel }
}
