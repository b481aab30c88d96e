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
