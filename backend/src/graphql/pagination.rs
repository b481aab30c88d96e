//! Cursor connections (`first`/`after`/`last`/`before`, `totalCount`, `pageInfo`) over offset pages.

use std::future::Future;

use async_graphql::connection::{self, Connection, Edge, EmptyFields};
use async_graphql::{OutputType, SimpleObject};

use crate::error::{Error, GqlResultExt, Result};

/// The most nodes one page may hold.
pub const MAX_PAGE_SIZE: usize = 100;
/// The page size when the caller gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: usize = 20;

#[derive(SimpleObject)]
pub struct ConnectionTotals {
    /// How many nodes match, across all pages.
    pub total_count: i64,
}

pub type ListConnection<T> = Connection<usize, T, ConnectionTotals, EmptyFields>;

/// The size of a nested list's page (`Customer.licenses(first:)`): `first`, [`DEFAULT_PAGE_SIZE`]
/// when absent, at most [`MAX_PAGE_SIZE`].
pub fn nested_page_size(first: Option<i32>) -> Result<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(first) => usize::try_from(first)
            .ok()
            .filter(|first| *first <= MAX_PAGE_SIZE)
            .ok_or_else(|| Error::bad_input("first", format!("first must be between 0 and {MAX_PAGE_SIZE}"))),
    }
}

/// The arguments of a list field.
pub struct PageArgs {
    pub after: Option<String>,
    pub before: Option<String>,
    pub first: Option<i32>,
    pub last: Option<i32>,
}

/// Builds one page: `fetch(offset, limit)` loads the nodes of the page, `total` counts them all.
pub async fn paginate<T, F, Fut>(args: PageArgs, total: i64, fetch: F) -> async_graphql::Result<ListConnection<T>>
where
    T: OutputType,
    F: FnOnce(i64, i64) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
{
    connection::query(
        args.after,
        args.before,
        args.first,
        args.last,
        |after: Option<usize>, before: Option<usize>, first: Option<usize>, last: Option<usize>| async move {
            for (name, size) in [("first", first), ("last", last)] {
                if size.is_some_and(|s| s > MAX_PAGE_SIZE) {
                    return Err(Error::bad_input(name, format!("{name} must be at most {MAX_PAGE_SIZE}"))).gql();
                }
            }
            let total_usize = usize::try_from(total).unwrap_or(0);
            let mut start = after.map_or(0, |a| a + 1).min(total_usize);
            let mut end = before.unwrap_or(total_usize).min(total_usize);
            if let Some(first) = first {
                end = end.min(start + first);
            }
            if let Some(last) = last {
                start = start.max(end.saturating_sub(last));
            }
            if first.is_none() && last.is_none() {
                end = end.min(start + DEFAULT_PAGE_SIZE);
            }
            start = start.min(end);
            let nodes = fetch(start as i64, (end - start) as i64).await.gql()?;
            let mut page = Connection::with_additional_fields(
                start > 0,
                end < total_usize,
                ConnectionTotals { total_count: total },
            );
            page.edges.extend(nodes.into_iter().enumerate().map(|(i, node)| Edge::new(start + i, node)));
            Ok::<_, async_graphql::Error>(page)
        },
    )
    .await
}
