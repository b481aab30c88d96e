//! New recovery codes, shown once: the list, a warning, copying them, and "I have saved them".

use yew::prelude::*;

use crate::components::clipboard::copy_to_clipboard;
use crate::hooks::use_app;

#[derive(Properties, PartialEq)]
pub struct RecoveryCodesProps {
    pub codes: Vec<String>,
    /// The user has saved them: the codes may go.
    pub on_saved: Callback<()>,
}

#[function_component]
pub fn RecoveryCodes(props: &RecoveryCodesProps) -> Html {
    let app = use_app();
    let copied = use_state(|| false);
    let copy = {
        let (all, copied) = (props.codes.join("\n"), copied.clone());
        Callback::from(move |_: MouseEvent| {
            copy_to_clipboard(&all);
            copied.set(true);
        })
    };
    let saved = props.on_saved.reform(|_: MouseEvent| ());
    html! {
        <>
            <div class="alert alert-warning">{ app.t("enroll.codes_once") }</div>
            <ol class="recovery-codes">{ for props.codes.iter().map(|c| html! { <li class="mono">{ c }</li> }) }</ol>
            <div class="row">
                <button class="btn" type="button" onclick={copy}>{ if *copied { app.t("copied") } else { app.t("copy") } }</button>
                <button class="btn btn-primary" type="button" onclick={saved}>{ app.t("enroll.saved") }</button>
            </div>
        </>
    }
}
