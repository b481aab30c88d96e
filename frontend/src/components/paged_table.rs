//! A paged list as every list page shows it: loading, a failure, "nothing here", or the table
//! with the pager under it.

use futures_util::future::LocalBoxFuture;
use yew::prelude::*;

use super::feedback::{Empty, ErrorBanner, Loading};
use super::pager::Pager;
use crate::hooks::{use_load, Load};
use crate::services::{ApiError, Connection, Page};

/// What a paged list shows: the filters it was asked for, and how to load one page of it.
pub trait ListQuery: Clone + PartialEq + 'static {
    type Item: Clone + PartialEq + 'static;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<Self::Item>, ApiError>>;
}

#[derive(Properties, PartialEq)]
pub struct PagedTableProps<Q: ListQuery> {
    pub query: Q,
    /// Changed to load the page shown again (after something on it changed).
    #[prop_or_default]
    pub reload: u32,
    /// Shown instead of the table when the list is empty.
    pub empty: AttrValue,
    /// The table's `data-testid`.
    pub testid: AttrValue,
    /// The header cells.
    pub head: Html,
    /// The row (or rows) of one item.
    pub row: Callback<Q::Item, Html>,
}

#[function_component]
pub fn PagedTable<Q: ListQuery>(props: &PagedTableProps<Q>) -> Html {
    // A page belongs to the query it was chosen for: a new query starts on the first page.
    let chosen = use_state(|| (props.query.clone(), Page::default()));
    let page = if chosen.0 == props.query { chosen.1.clone() } else { Page::default() };
    let (list, _) =
        use_load((props.query.clone(), page, props.reload), |(query, page, _): (Q, Page, u32)| query.fetch(page));
    let on_page = {
        let (chosen, query) = (chosen.clone(), props.query.clone());
        Callback::from(move |page: Page| chosen.set((query.clone(), page)))
    };
    match &*list {
        Load::Loading => html! { <Loading /> },
        Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
        Load::Loaded(connection) if connection.nodes.is_empty() => html! { <Empty message={props.empty.clone()} /> },
        Load::Loaded(connection) => html! {
            <>
                <div class="table-wrap">
                <table class="table" data-testid={props.testid.clone()}>
                    <thead><tr>{ props.head.clone() }</tr></thead>
                    <tbody>
                    { for connection.nodes.iter().map(|item| props.row.emit(item.clone())) }
                    </tbody>
                </table>
                </div>
                <Pager page_info={connection.page_info.clone()} total={connection.total_count} {on_page} />
            </>
        },
    }
}
