//! A labelled form field with its validation error beside it.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct FieldProps {
    pub label: AttrValue,
    /// The `id` of the input inside, for the label.
    pub id: AttrValue,
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    pub children: Children,
}

#[function_component]
pub fn Field(props: &FieldProps) -> Html {
    let error_id = format!("{}-error", props.id);
    html! {
        <div class={classes!("field", props.error.is_some().then_some("has-error"))}>
            <label for={props.id.clone()}>{ props.label.clone() }</label>
            { props.children.clone() }
            if let Some(error) = &props.error {
                <div class="field-error" id={error_id} data-field={props.id.clone()}>{ error }</div>
            } else if let Some(hint) = &props.hint {
                <div class="field-hint">{ hint.clone() }</div>
            }
        </div>
    }
}

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

/// A callback that stores an input's text in `state`.
pub fn bind(state: &UseStateHandle<String>) -> Callback<InputEvent> {
    let state = state.clone();
    Callback::from(move |event: InputEvent| state.set(input_value(&event)))
}
