//! The backdrop every dialog sits on, and what makes a dialog usable by keyboard: when it opens,
//! the focus moves to its first field or button; Tab and Shift+Tab stay inside it; Escape closes
//! it (as its Cancel button would); when it closes, the focus returns to where it was.

use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use yew::prelude::*;

/// What can take the focus inside a dialog.
const FOCUSABLE: &str = "input:not([disabled]), select:not([disabled]), textarea:not([disabled]), \
                         button:not([disabled]), a[href], [tabindex]:not([tabindex='-1'])";

#[derive(Properties, PartialEq)]
pub struct ModalProps {
    /// Called on Escape; the dialog's own Cancel or Done does the same.
    pub on_close: Callback<()>,
    /// While the dialog works, Escape does nothing (as its disabled Cancel button).
    #[prop_or_default]
    pub busy: bool,
    /// The dialog itself (`class="modal" role="dialog" aria-modal="true"`).
    pub children: Html,
}

/// The focusable elements inside `root`, in document order.
fn focusable(root: &HtmlElement) -> Vec<HtmlElement> {
    let Ok(nodes) = root.query_selector_all(FOCUSABLE) else { return Vec::new() };
    (0..nodes.length()).filter_map(|i| nodes.item(i)?.dyn_into::<HtmlElement>().ok()).collect()
}

#[function_component]
pub fn Modal(props: &ModalProps) -> Html {
    let backdrop = use_node_ref();
    {
        let backdrop = backdrop.clone();
        use_effect_with((), move |()| {
            let document = web_sys::window().and_then(|w| w.document());
            let opener = document.and_then(|d| d.active_element()).and_then(|e| e.dyn_into::<HtmlElement>().ok());
            if let Some(first) = backdrop.cast::<HtmlElement>().and_then(|root| focusable(&root).into_iter().next()) {
                let _ = first.focus();
            }
            move || {
                if let Some(opener) = opener.filter(|o| o.is_connected()) {
                    let _ = opener.focus();
                }
            }
        });
    }
    let onkeydown = {
        let (backdrop, on_close, busy) = (backdrop.clone(), props.on_close.clone(), props.busy);
        Callback::from(move |event: KeyboardEvent| match event.key().as_str() {
            "Escape" if !busy => {
                event.prevent_default();
                on_close.emit(());
            }
            "Tab" => {
                let Some(root) = backdrop.cast::<HtmlElement>() else { return };
                let elements = focusable(&root);
                let (Some(first), Some(last)) = (elements.first(), elements.last()) else { return };
                let active = web_sys::window().and_then(|w| w.document()).and_then(|d| d.active_element());
                let at = |element: &HtmlElement| {
                    active.as_ref().is_some_and(|a| a == element.unchecked_ref::<web_sys::Element>())
                };
                if event.shift_key() && at(first) {
                    event.prevent_default();
                    let _ = last.focus();
                } else if !event.shift_key() && at(last) {
                    event.prevent_default();
                    let _ = first.focus();
                }
            }
            _ => {}
        })
    };
    html! {
        <div class="modal-backdrop" ref={backdrop} {onkeydown}>
            { props.children.clone() }
        </div>
    }
}
