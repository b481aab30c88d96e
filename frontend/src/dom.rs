//! Reading form controls (inputs, selects, text areas, checkboxes) from their events.

use yew::prelude::*;

/// The text of an input or select that fired `event`.
pub fn input_value(event: &Event) -> String {
    use wasm_bindgen::JsCast;
    let target = event.target();
    if let Some(input) = target.as_ref().and_then(|t| t.dyn_ref::<web_sys::HtmlInputElement>()) {
        return input.value();
    }
    if let Some(select) = target.as_ref().and_then(|t| t.dyn_ref::<web_sys::HtmlSelectElement>()) {
        return select.value();
    }
    target.as_ref().and_then(|t| t.dyn_ref::<web_sys::HtmlTextAreaElement>()).map(|t| t.value()).unwrap_or_default()
}

/// Whether the checkbox that fired `event` is checked.
pub fn input_checked(event: &Event) -> bool {
    use wasm_bindgen::JsCast;
    event.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).is_some_and(|i| i.checked())
}
