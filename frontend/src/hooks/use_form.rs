use std::future::Future;
use std::rc::Rc;

use yew::prelude::*;

use crate::dom::input_value;
use crate::services::ApiError;

/// The values a form edits; changed by functions, so two quick edits never overwrite each other.
struct Values<V>(V);

impl<V: Clone> Reducible for Values<V> {
    type Action = Box<dyn FnOnce(&mut V)>;

    fn reduce(self: Rc<Self>, change: Self::Action) -> Rc<Self> {
        let mut values = self.0.clone();
        change(&mut values);
        Rc::new(Values(values))
    }
}

/// A form's state: its values, the error of its last save (beside a field, or at the top), and
/// whether a save is under way.
pub struct Form<V: Clone + 'static> {
    values: UseReducerHandle<Values<V>>,
    error: UseStateHandle<Option<ApiError>>,
    busy: UseStateHandle<bool>,
}

impl<V: Clone> Clone for Form<V> {
    fn clone(&self) -> Self {
        Form { values: self.values.clone(), error: self.error.clone(), busy: self.busy.clone() }
    }
}

impl<V: Clone + 'static> Form<V> {
    pub fn values(&self) -> &V {
        &self.values.0
    }

    pub fn update(&self, change: impl FnOnce(&mut V) + 'static) {
        self.values.dispatch(Box::new(change));
    }

    /// An `oninput` that stores the input's text with `set`.
    pub fn bind(&self, set: fn(&mut V, String)) -> Callback<InputEvent> {
        let values = self.values.clone();
        Callback::from(move |event: InputEvent| {
            let text = input_value(&event);
            values.dispatch(Box::new(move |v| set(v, text)));
        })
    }

    /// A callback for a group of inputs that reports `(which input, its text)` (the license
    /// terms' fields) and stores it with `set`.
    pub fn bind_part<I: 'static>(&self, set: fn(&mut V, I, String)) -> Callback<(I, String)> {
        let values = self.values.clone();
        Callback::from(move |(input, text): (I, String)| {
            values.dispatch(Box::new(move |v| set(v, input, text)));
        })
    }

    /// An `onchange` (selects, dates) that stores the new value with `set`.
    pub fn bind_change(&self, set: fn(&mut V, String)) -> Callback<Event> {
        let values = self.values.clone();
        Callback::from(move |event: Event| {
            let text = input_value(&event);
            values.dispatch(Box::new(move |v| set(v, text)));
        })
    }

    /// The server's message about `field`, when the last save failed because of it.
    pub fn field_error(&self, field: &str) -> Option<String> {
        self.error.as_ref().and_then(|e| e.for_field(field))
    }

    /// The failure of the last save.
    pub fn error(&self) -> Option<ApiError> {
        (*self.error).clone()
    }

    /// Forgets the failure of the last save (the form starts over).
    pub fn clear_error(&self) {
        self.error.set(None);
    }

    /// The failure of the last save that belongs to no field, for the top of the form.
    pub fn general_error(&self) -> Option<ApiError> {
        self.error.as_ref().filter(|e| !e.is_field_error()).cloned()
    }

    pub fn busy(&self) -> bool {
        *self.busy
    }

    /// An `onsubmit` that saves the values with `save` and hands what was saved to `on_saved`;
    /// a failure stays on the form. `save` may refuse values itself (an [`ApiError::Invalid`]).
    pub fn submit<T, Fut>(&self, save: impl Fn(V) -> Fut + 'static, on_saved: Callback<T>) -> Callback<SubmitEvent>
    where
        T: 'static,
        Fut: Future<Output = Result<T, ApiError>> + 'static,
    {
        let form = self.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let saving = save(form.values().clone());
            let (form, on_saved) = (form.clone(), on_saved.clone());
            form.busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = saving.await;
                form.busy.set(false);
                match result {
                    Ok(saved) => {
                        form.error.set(None);
                        on_saved.emit(saved);
                    }
                    Err(err) => form.error.set(Some(err)),
                }
            });
        })
    }
}

/// The state of a form that starts with `initial` values.
#[hook]
pub fn use_form<V: Clone + 'static>(initial: impl FnOnce() -> V) -> Form<V> {
    let values = use_reducer(move || Values(initial()));
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    Form { values, error, busy }
}
