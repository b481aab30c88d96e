//! GraphQL plumbing every domain shares: pagination, ids, filters, text checks, batch loading and
//! the weights of the complexity limit. The schema itself is merged in `crate::schema`.

pub mod cost;
pub mod direct;
pub mod filter;
pub mod ids;
pub mod loaders;
pub mod pagination;
pub mod text_input;

use chrono::{DateTime, Utc};

/// Deepest selection set accepted.
pub const MAX_DEPTH: usize = 12;
/// Deepest selection set accepted in an operation that only introspects (`__schema`, `__type`,
/// `__typename` at the root). Introspection reads the schema, never the database, so what it can
/// cost is bounded by the schema itself; the standard tools' query (graphql-js's
/// `getIntrospectionQuery`, unwrapping `ofType` nine times) goes 13 deep, beyond [`MAX_DEPTH`].
pub const MAX_INTROSPECTION_DEPTH: usize = 24;
/// The most an operation may cost: its estimate of the rows it reads times the fields it selects
/// of them. Every list weighs its real bound (a connection its page size, a license's devices its
/// device limit's maximum, a customer's licenses its `first`) times its selection, and every
/// aggregate what it reads besides, so a query that would fetch or scan too much (a list nested in
/// lists, an aggregate aliased over and over) is refused before it runs, while a page of fifty
/// customers with their licenses and devices (21,100) fits. [`cost::ComplexityLimit`]
/// refuses the rest with the estimate in the error.
pub const MAX_COMPLEXITY: usize = 50_000;
/// How many items a list without a limit of its own (a license's resources, a contact's notes,
/// the API keys) is assumed to hold when weighing a query.
pub const NESTED_LIST_ESTIMATE: usize = 10;
/// How many details one item is assumed to hold: a contact's phone numbers and e-mail addresses,
/// a note's versions. Admins enter them one by one, so there are a few, not a page.
pub const DETAIL_LIST_ESTIMATE: usize = 3;
/// The weight of reading a whole table to answer (every license for `licenseCounts`, every
/// resource for `resourcePoolCounts`), whatever comes back: as much as ten full default pages.
pub const TABLE_SCAN_COMPLEXITY: usize = 1000;
/// The weight of one day of history (heartbeats, sessions) that an aggregate over a time range reads.
pub const HISTORY_DAY_COMPLEXITY: usize = 100;

/// The weight of a field that checks a password or a code (argon2 takes tens of milliseconds of
/// a core): twenty rate-limit units, so one address signs in at most a few times a second.
pub const CREDENTIAL_CHECK_COMPLEXITY: usize = 20 * crate::rate_limit::COMPLEXITY_PER_UNIT;

/// The weight of a connection field: its page size times its selection.
pub fn page_complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).unwrap_or(pagination::DEFAULT_PAGE_SIZE as i32);
    usize::try_from(size).unwrap_or(0).min(pagination::MAX_PAGE_SIZE) * child_complexity
}

/// Whole hours in `[from, to)`, rounded up; none for an empty or reversed range (refused later).
pub fn hours_in_range(from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
    let seconds = u64::try_from((to - from).num_seconds()).unwrap_or(0);
    usize::try_from(seconds.div_ceil(3600)).unwrap_or(usize::MAX)
}

/// Days of history in `[from, to)`, rounded up.
pub fn days_in_range(from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
    hours_in_range(from, to).div_ceil(24)
}

/// The weight of reading the history of `[from, to)` (heartbeats, sessions) for an aggregate;
/// what it returns weighs its rows times their selection on top.
pub fn history_complexity(from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
    days_in_range(from, to).saturating_mul(HISTORY_DAY_COMPLEXITY)
}

/// The number of values of a GraphQL enum: the most rows an aggregate grouped by it returns.
pub fn enum_size<T: async_graphql::resolver_utils::EnumType>() -> usize {
    T::items().len()
}

/// `licenseKey` → `license_key`, `DeviceLimit` → `device_limit`: a GraphQL (camel-case) name as
/// Rust and SQL spell it, the column a `SimpleObject` field shows.
pub fn snake_case(camel: &str) -> String {
    let mut snake = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_are_counted_in_whole_hours_and_days_rounded_up() {
        assert_eq!(hours_in_range(at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")), 24);
        assert_eq!(hours_in_range(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:01Z")), 1);
        assert_eq!(days_in_range(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:01Z")), 1);
        assert_eq!(days_in_range(at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z")), 365);
        assert_eq!(hours_in_range(at("2026-01-02T00:00:00Z"), at("2026-01-01T00:00:00Z")), 0);
    }

    #[test]
    fn graphql_names_are_spelled_as_rust_and_sql_spell_them() {
        assert_eq!(snake_case("licenseKey"), "license_key");
        assert_eq!(snake_case("concurrentSessionsLimit"), "concurrent_sessions_limit");
        assert_eq!(snake_case("DeviceLimitReached"), "device_limit_reached");
        assert_eq!(snake_case("id"), "id");
    }

    #[test]
    fn reading_history_weighs_its_days() {
        let (from, to) = (at("2026-01-01T00:00:00Z"), at("2026-01-31T00:00:00Z"));
        assert_eq!(history_complexity(from, to), 30 * HISTORY_DAY_COMPLEXITY);
    }
}
