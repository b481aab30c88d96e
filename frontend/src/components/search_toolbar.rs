//! The search form above a list: a search box (with any further filters beside it) and its
//! button; the list changes when the form is sent.

use yew::prelude::*;

use super::field::bind;
use crate::hooks::use_app;

#[derive(Properties, PartialEq)]
pub struct SearchToolbarProps {
    /// The search box's placeholder and accessible name.
    pub label: AttrValue,
    /// The text searched for, trimmed.
    pub on_search: Callback<String>,
    #[prop_or_default]
    pub input_testid: Option<AttrValue>,
    /// Further filters, after the search box.
    #[prop_or_default]
    pub children: Children,
}

#[function_component]
pub fn SearchToolbar(props: &SearchToolbarProps) -> Html {
    let app = use_app();
    let text = use_state(String::new);
    let onsubmit = {
        let (text, on_search) = (text.clone(), props.on_search.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            on_search.emit(text.trim().to_owned());
        })
    };
    html! {
        <form class="toolbar" {onsubmit}>
            <input class="grow" type="search" placeholder={props.label.clone()} aria-label={props.label.clone()}
                   value={(*text).clone()} oninput={bind(&text)} data-testid={props.input_testid.clone()} />
            { props.children.clone() }
            <button class="btn" type="submit">{ app.t("search") }</button>
        </form>
    }
}

/// The texts of an [`active_select`]: its accessible name and its three choices.
pub struct ActiveChoices {
    pub label: &'static str,
    pub all: &'static str,
    pub active: &'static str,
    pub inactive: &'static str,
}

/// A filter by active state beside the search box: all, only active, or only inactive
/// (`None`, `Some(true)`, `Some(false)`).
pub fn active_select(
    id: &'static str,
    texts: ActiveChoices,
    value: Option<bool>,
    on_change: Callback<Option<bool>>,
) -> Html {
    let onchange = on_change.reform(|event: Event| match crate::dom::input_value(&event).as_str() {
        "active" => Some(true),
        "inactive" => Some(false),
        _ => None,
    });
    html! {
        <select {id} aria-label={texts.label} {onchange}>
            <option value="all" selected={value.is_none()}>{ texts.all }</option>
            <option value="active" selected={value == Some(true)}>{ texts.active }</option>
            <option value="inactive" selected={value == Some(false)}>{ texts.inactive }</option>
        </select>
    }
}
