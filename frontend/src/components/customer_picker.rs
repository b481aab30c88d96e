//! Choosing a customer by typing part of its name or e-mail: an ARIA 1.2 combobox (a labelled
//! text input with a listbox popup) over all customers, searched on the server as one types.
//! Arrow keys move through the matches, Enter chooses, Escape closes; a click chooses too.

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use yew::prelude::*;

use crate::dom::input_value;
use crate::hooks::use_app;
use crate::services::customers::{self, CustomerRef};
use crate::services::Page;

/// How long typing must pause before the server is asked.
const DEBOUNCE_MS: u32 = 150;

#[derive(Properties, PartialEq)]
pub struct CustomerPickerProps {
    /// The input's `id`, for the label of the field around it.
    pub id: AttrValue,
    /// The chosen customer, if any.
    pub chosen: Option<CustomerRef>,
    /// A customer was chosen, or the text was changed so that none is (`None`).
    pub on_choose: Callback<Option<CustomerRef>>,
    #[prop_or_default]
    pub invalid: bool,
}

/// What the popup shows.
#[derive(Clone, PartialEq)]
enum Matches {
    /// Closed.
    Closed,
    /// Asked the server, no answer yet.
    Searching,
    /// The matches, and the one the arrow keys point at.
    Shown(Vec<CustomerRef>, Option<usize>),
}

#[function_component]
pub fn CustomerPicker(props: &CustomerPickerProps) -> Html {
    let app = use_app();
    let text = use_state(|| props.chosen.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let matches = use_state(|| Matches::Closed);
    // Only the answer to the latest search is shown: an earlier one may arrive after it.
    let latest = use_memo((), |()| Rc::new(Cell::new(0_u32)));

    let search = {
        let (matches, latest) = (matches.clone(), latest.clone());
        Callback::from(move |text: String| {
            let generation = latest.get().wrapping_add(1);
            latest.set(generation);
            matches.set(Matches::Searching);
            let (matches, latest) = (matches.clone(), latest.clone());
            wasm_bindgen_futures::spawn_local(async move {
                TimeoutFuture::new(DEBOUNCE_MS).await;
                if latest.get() != generation {
                    return;
                }
                let found = customers::customers(&text, &Page::default()).await;
                if latest.get() == generation {
                    let list = found.map(|c| c.nodes.iter().map(|c| c.to_ref()).collect()).unwrap_or_default();
                    matches.set(Matches::Shown(list, None));
                }
            });
        })
    };
    let close = {
        let (matches, latest) = (matches.clone(), latest.clone());
        Callback::from(move |()| {
            latest.set(latest.get().wrapping_add(1));
            matches.set(Matches::Closed);
        })
    };
    let choose = {
        let (text, close, on_choose) = (text.clone(), close.clone(), props.on_choose.clone());
        Callback::from(move |customer: CustomerRef| {
            text.set(customer.name.clone());
            close.emit(());
            on_choose.emit(Some(customer));
        })
    };

    let oninput = {
        let (text, search, on_choose) = (text.clone(), search.clone(), props.on_choose.clone());
        let had_choice = props.chosen.is_some();
        Callback::from(move |event: InputEvent| {
            let value = input_value(&event);
            text.set(value.clone());
            if had_choice {
                on_choose.emit(None);
            }
            search.emit(value);
        })
    };
    let onfocus = {
        let (text, search, matches) = (text.clone(), search.clone(), matches.clone());
        Callback::from(move |_: FocusEvent| {
            if *matches == Matches::Closed {
                search.emit((*text).clone());
            }
        })
    };
    let onblur = close.reform(|_: FocusEvent| ());
    let onkeydown = {
        let (text, search, matches, choose, close) =
            (text.clone(), search.clone(), matches.clone(), choose.clone(), close.clone());
        Callback::from(move |event: KeyboardEvent| match (event.key().as_str(), &*matches) {
            ("ArrowDown" | "ArrowUp", Matches::Shown(list, active)) if !list.is_empty() => {
                event.prevent_default();
                let last = list.len() - 1;
                let next = match (event.key().as_str(), active) {
                    ("ArrowDown", Some(i)) if *i < last => i + 1,
                    ("ArrowDown", _) => 0,
                    (_, Some(i)) if *i > 0 => i - 1,
                    _ => last,
                };
                matches.set(Matches::Shown(list.clone(), Some(next)));
            }
            ("ArrowDown", Matches::Closed) => {
                event.prevent_default();
                search.emit((*text).clone());
            }
            ("Enter", Matches::Shown(list, Some(i))) => {
                // Choosing is not sending the form.
                event.prevent_default();
                if let Some(customer) = list.get(*i) {
                    choose.emit(customer.clone());
                }
            }
            ("Escape", Matches::Shown(..) | Matches::Searching) => {
                event.prevent_default();
                close.emit(());
            }
            _ => {}
        })
    };

    let listbox_id = format!("{}-listbox", props.id);
    let chosen_id = format!("{}-chosen", props.id);
    let option_id = |i: usize| format!("{}-option-{i}", props.id);
    let (open_list, active) = match &*matches {
        Matches::Shown(list, active) if !list.is_empty() => (Some(list.clone()), *active),
        _ => (None, None),
    };
    html! {
        <div class="combobox">
            <input id={props.id.clone()} type="text" role="combobox" autocomplete="off" aria-autocomplete="list"
                aria-expanded={open_list.is_some().to_string()}
                aria-controls={open_list.as_ref().map(|_| listbox_id.clone())}
                aria-activedescendant={active.map(option_id)}
                aria-describedby={chosen_id.clone()}
                aria-invalid={props.invalid.then_some("true")}
                value={(*text).clone()} {oninput} {onfocus} {onblur} {onkeydown} />
            if let Some(list) = &open_list {
                <ul id={listbox_id} role="listbox" class="combobox-list" aria-label={app.t("picker.results")}>
                    { for list.iter().enumerate().map(|(i, customer)| {
                        // On mouse down, before the input loses its focus (which closes the list).
                        let onmousedown = {
                            let (choose, customer) = (choose.clone(), customer.clone());
                            Callback::from(move |event: MouseEvent| {
                                event.prevent_default();
                                choose.emit(customer.clone());
                            })
                        };
                        html! {
                            <li id={option_id(i)} role="option" aria-selected={(active == Some(i)).to_string()}
                                class={classes!((active == Some(i)).then_some("active"))} {onmousedown}>
                                <span class="strong">{ customer.name.clone() }</span>
                                <span class="muted small">{ customer.email.clone() }</span>
                            </li>
                        }
                    }) }
                </ul>
            }
            if matches!(&*matches, Matches::Shown(list, _) if list.is_empty()) {
                <div class="combobox-empty muted small" role="status">
                    { if text.trim().is_empty() { app.t("license.no_customers") } else { app.t("picker.none") } }
                </div>
            }
            <div id={chosen_id} class="field-hint" data-testid="chosen-customer">
                { match &props.chosen {
                    Some(customer) => html! { <>{ app.t("picker.chosen") }{ " " }<span class="strong">{ customer.name.clone() }</span>{ format!(" · {}", customer.email) }</> },
                    None => html! { app.t("picker.hint") },
                } }
            </div>
        </div>
    }
}
