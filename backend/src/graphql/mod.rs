//! GraphQL plumbing every domain shares: pagination, ids, filters, text checks, batch loading and
//! the weights of the complexity limit. The schema itself is merged in `crate::schema`.

pub mod filter;
pub mod ids;
pub mod loaders;
pub mod pagination;
pub mod text_input;

/// Deepest selection set accepted.
pub const MAX_DEPTH: usize = 12;
/// Most fields (weighted) one operation may select. A list field weighs its page size (`first` or
/// `last`, 20 by default) times its selection, so a query that would fetch too much is refused
/// before it runs.
pub const MAX_COMPLEXITY: usize = 5000;
/// How many items a nested list without a limit of its own (a customer's licenses, a license's
/// resources) is assumed to hold when weighing a query.
pub const NESTED_LIST_ESTIMATE: usize = 10;
/// The weight of a connection field: its page size times its selection.
pub fn page_complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).unwrap_or(pagination::DEFAULT_PAGE_SIZE as i32);
    usize::try_from(size).unwrap_or(0).min(pagination::MAX_PAGE_SIZE) * child_complexity
}
