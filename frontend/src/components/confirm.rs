//! A confirmation dialog before anything destructive.

use yew::prelude::*;

use crate::components::modal::Modal;
use crate::hooks::use_app;

#[derive(Properties, PartialEq)]
pub struct ConfirmProps {
    pub title: AttrValue,
    pub message: AttrValue,
    pub confirm_label: AttrValue,
    pub on_confirm: Callback<()>,
    pub on_cancel: Callback<()>,
    #[prop_or_default]
    pub busy: bool,
}

#[function_component]
pub fn ConfirmDialog(props: &ConfirmProps) -> Html {
    let app = use_app();
    let confirm = props.on_confirm.reform(|_: MouseEvent| ());
    let cancel = props.on_cancel.reform(|_: MouseEvent| ());
    html! {
        <Modal on_close={props.on_cancel.clone()} busy={props.busy}>
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
                <h2 id="confirm-title">{ props.title.clone() }</h2>
                <p>{ props.message.clone() }</p>
                <div class="modal-actions">
                    <button class="btn" onclick={cancel} disabled={props.busy}>{ app.t("cancel") }</button>
                    <button class="btn btn-danger" onclick={confirm} disabled={props.busy}>{ props.confirm_label.clone() }</button>
                </div>
            </div>
        </Modal>
    }
}
