//! Previous / next paging under a list.

use yew::prelude::*;

use crate::hooks::use_app;
use crate::services::{Page, PageInfo};

#[derive(Properties, PartialEq)]
pub struct PagerProps {
    pub page_info: PageInfo,
    pub total: i64,
    /// The page to show instead, when a button is pressed.
    pub on_page: Callback<Page>,
}

#[function_component]
pub fn Pager(props: &PagerProps) -> Html {
    let app = use_app();
    let info = &props.page_info;
    let previous = info.start_cursor.clone().filter(|_| info.has_previous_page);
    let next = info.end_cursor.clone().filter(|_| info.has_next_page);
    let on_previous = {
        let (on_page, cursor) = (props.on_page.clone(), previous.clone());
        Callback::from(move |_: MouseEvent| on_page.emit(Page { after: None, before: cursor.clone() }))
    };
    let on_next = {
        let (on_page, cursor) = (props.on_page.clone(), next.clone());
        Callback::from(move |_: MouseEvent| on_page.emit(Page { after: cursor.clone(), before: None }))
    };
    html! {
        <div class="pager">
            <span class="muted">{ format!("{} {}", props.total, app.t("pager.total")) }</span>
            <div class="pager-buttons">
                <button class="btn btn-small" disabled={previous.is_none()} onclick={on_previous}>{ "‹ " }{ app.t("pager.previous") }</button>
                <button class="btn btn-small" disabled={next.is_none()} onclick={on_next}>{ app.t("pager.next") }{ " ›" }</button>
            </div>
        </div>
    }
}
