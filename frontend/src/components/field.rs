//! A labelled form field with its validation error beside it.

use yew::prelude::*;

use crate::dom::input_value;

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

/// A callback that stores an input's text in `state`.
pub fn bind(state: &UseStateHandle<String>) -> Callback<InputEvent> {
    let state = state.clone();
    Callback::from(move |event: InputEvent| state.set(input_value(&event)))
}
