//! Filter and order inputs shared by the list fields, turned into SQL safely: column names come
//! only from the code (each entity's filter names its own columns), every value is a bind
//! parameter.
//!
//! Within one filter object all given conditions must hold; `and` adds filters that must all
//! hold too, `or` adds filters of which at least one must hold.

use async_graphql::{Enum, InputObject, OutputType, ID};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

use crate::error::{Error, GqlResultExt, Result};
use crate::graphql::ids::parse_id;
use crate::graphql::pagination::{paginate, ListConnection, PageArgs};

/// The most values one `in` list may hold.
pub const MAX_IN_VALUES: usize = 1000;
/// The most `orderBy` keys.
pub const MAX_ORDER_KEYS: usize = 3;

pub type Sql = QueryBuilder<'static, Postgres>;

/// The pattern for `ILIKE` matching `text` anywhere, with the caller's wildcards taken literally.
pub fn contains_pattern(text: &str) -> String {
    format!("%{}%", text.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

#[derive(Debug, Default, InputObject)]
pub struct StringFilter {
    pub eq: Option<String>,
    pub ne: Option<String>,
    #[graphql(name = "in")]
    pub in_list: Option<Vec<String>>,
    /// Case-insensitive substring.
    pub contains: Option<String>,
}

#[derive(Debug, Default, InputObject)]
pub struct IntFilter {
    pub eq: Option<i32>,
    pub ne: Option<i32>,
    #[graphql(name = "in")]
    pub in_list: Option<Vec<i32>>,
    pub gt: Option<i32>,
    pub gte: Option<i32>,
    pub lt: Option<i32>,
    pub lte: Option<i32>,
}

#[derive(Debug, Default, InputObject)]
pub struct DateTimeFilter {
    pub eq: Option<DateTime<Utc>>,
    pub gt: Option<DateTime<Utc>>,
    pub gte: Option<DateTime<Utc>>,
    pub lt: Option<DateTime<Utc>>,
    pub lte: Option<DateTime<Utc>>,
    /// `true`: only rows without a value; `false`: only rows with one.
    pub is_null: Option<bool>,
}

#[derive(Debug, Default, InputObject)]
pub struct IdFilter {
    pub eq: Option<ID>,
    #[graphql(name = "in")]
    pub in_list: Option<Vec<ID>>,
    /// `true`: only rows without a value; `false`: only rows with one.
    pub is_null: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Enum)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

impl OrderDirection {
    pub fn sql(self) -> &'static str {
        match self {
            OrderDirection::Asc => " ASC",
            OrderDirection::Desc => " DESC",
        }
    }
}

/// Appends the conditions of one entity's filter to a `WHERE` clause under construction.
pub struct Conditions<'a> {
    sql: &'a mut Sql,
    /// The input path of the filter, for error messages (`filter.or.1.customerId`).
    path: String,
}

fn check_in_len(path: &str, field: &str, len: usize) -> Result<()> {
    if len > MAX_IN_VALUES {
        return Err(Error::bad_input(format!("{path}.{field}"), format!("`in` takes at most {MAX_IN_VALUES} values")));
    }
    Ok(())
}

impl Conditions<'_> {
    fn cond(&mut self, column: &str, op: &str) -> &mut Sql {
        self.sql.push(" AND ").push(column).push(op)
    }

    pub fn string(&mut self, field: &str, column: &str, filter: &Option<StringFilter>) -> Result<()> {
        let Some(f) = filter else { return Ok(()) };
        if let Some(v) = &f.eq {
            self.cond(column, " = ").push_bind(v.clone());
        }
        if let Some(v) = &f.ne {
            self.cond(column, " <> ").push_bind(v.clone());
        }
        if let Some(v) = &f.in_list {
            check_in_len(&self.path, field, v.len())?;
            self.cond(column, " = ANY(").push_bind(v.clone()).push(")");
        }
        if let Some(v) = &f.contains {
            self.cond(column, " ILIKE ").push_bind(contains_pattern(v));
        }
        Ok(())
    }

    pub fn int(&mut self, field: &str, column: &str, filter: &Option<IntFilter>) -> Result<()> {
        let Some(f) = filter else { return Ok(()) };
        for (op, value) in
            [(" = ", f.eq), (" <> ", f.ne), (" > ", f.gt), (" >= ", f.gte), (" < ", f.lt), (" <= ", f.lte)]
        {
            if let Some(v) = value {
                self.cond(column, op).push_bind(v);
            }
        }
        if let Some(v) = &f.in_list {
            check_in_len(&self.path, field, v.len())?;
            self.cond(column, " = ANY(").push_bind(v.clone()).push(")");
        }
        Ok(())
    }

    pub fn datetime(&mut self, column: &str, filter: &Option<DateTimeFilter>) {
        let Some(f) = filter else { return };
        for (op, value) in [(" = ", f.eq), (" > ", f.gt), (" >= ", f.gte), (" < ", f.lt), (" <= ", f.lte)] {
            if let Some(v) = value {
                self.cond(column, op).push_bind(v);
            }
        }
        self.is_null(column, f.is_null);
    }

    pub fn id(&mut self, field: &str, column: &str, filter: &Option<IdFilter>) -> Result<()> {
        let Some(f) = filter else { return Ok(()) };
        let field_path = format!("{}.{field}", self.path);
        if let Some(v) = &f.eq {
            let id = parse_id(v, &field_path)?;
            self.cond(column, " = ").push_bind(id);
        }
        if let Some(v) = &f.in_list {
            check_in_len(&self.path, field, v.len())?;
            let ids = v.iter().map(|id| parse_id(id, &field_path)).collect::<Result<Vec<_>>>()?;
            self.cond(column, " = ANY(").push_bind(ids).push(")");
        }
        self.is_null(column, f.is_null);
        Ok(())
    }

    pub fn boolean(&mut self, column: &str, value: Option<bool>) {
        if let Some(v) = value {
            self.cond(column, " = ").push_bind(v);
        }
    }

    /// Equality or membership on a column holding an enum's database names.
    fn one_of(
        &mut self,
        field: &str,
        column: &str,
        eq: Option<&'static str>,
        in_list: Option<Vec<&'static str>>,
    ) -> Result<()> {
        if let Some(v) = eq {
            self.cond(column, " = ").push_bind(v);
        }
        if let Some(v) = in_list {
            check_in_len(&self.path, field, v.len())?;
            self.cond(column, " = ANY(").push_bind(v).push(")");
        }
        Ok(())
    }

    /// `column` equal to the filter's `eq`, or one of its `in` (an [`enum_filter!`] input).
    pub fn enumeration<F: EnumFilter>(&mut self, field: &str, column: &str, filter: &Option<F>) -> Result<()> {
        match filter {
            Some(filter) => self.one_of(field, column, filter.eq(), filter.in_list()),
            None => Ok(()),
        }
    }

    fn is_null(&mut self, column: &str, is_null: Option<bool>) {
        match is_null {
            Some(true) => {
                self.cond(column, " IS NULL");
            }
            Some(false) => {
                self.cond(column, " IS NOT NULL");
            }
            None => {}
        }
    }
}

/// An entity's filter input: its own conditions plus nested `and` / `or` filters.
pub trait Filter: Sized {
    fn conditions(&self, c: &mut Conditions<'_>) -> Result<()>;
    fn and(&self) -> &[Self];
    fn or(&self) -> &[Self];
}

/// Inside `impl Filter for X`: [`Filter::and`] and [`Filter::or`] from X's `and` and `or` fields.
macro_rules! nested_filters {
    () => {
        fn and(&self) -> &[Self] {
            self.and.as_deref().unwrap_or_default()
        }

        fn or(&self) -> &[Self] {
            self.or.as_deref().unwrap_or_default()
        }
    };
}
pub(crate) use nested_filters;

/// Appends ` AND (<filter>)` to `sql`.
pub fn push_filter<F: Filter>(sql: &mut Sql, filter: &F) -> Result<()> {
    sql.push(" AND ");
    push_group(sql, filter, "filter".into())
}

fn push_group<F: Filter>(sql: &mut Sql, filter: &F, path: String) -> Result<()> {
    sql.push("(TRUE");
    filter.conditions(&mut Conditions { sql: &mut *sql, path: path.clone() })?;
    for (i, sub) in filter.and().iter().enumerate() {
        sql.push(" AND ");
        push_group(sql, sub, format!("{path}.and.{i}"))?;
    }
    if !filter.or().is_empty() {
        sql.push(" AND (FALSE");
        for (i, sub) in filter.or().iter().enumerate() {
            sql.push(" OR ");
            push_group(sql, sub, format!("{path}.or.{i}"))?;
        }
        sql.push(")");
    }
    sql.push(")");
    Ok(())
}

/// Appends ` ORDER BY <keys>, <tie_breaker>`; `column` maps each key to its (whitelisted) SQL.
pub fn push_order<K: Copy>(
    sql: &mut Sql,
    keys: &[(K, OrderDirection)],
    default: &str,
    tie_breaker: &str,
    column: impl Fn(K) -> &'static str,
) -> Result<()> {
    if keys.len() > MAX_ORDER_KEYS {
        return Err(Error::bad_input("orderBy", format!("orderBy takes at most {MAX_ORDER_KEYS} keys")));
    }
    sql.push(" ORDER BY ");
    if keys.is_empty() {
        sql.push(default);
    }
    for (i, (key, direction)) in keys.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(column(*key)).push(direction.sql());
    }
    sql.push(", ").push(tie_breaker);
    Ok(())
}

/// `OFFSET`/`LIMIT` of a page, written as numbers (nothing to escape) rather than bound: the
/// planner then knows how many rows the page holds in a generic plan too, so the statement of a
/// page is planned once per connection and reused. With a bound `LIMIT` a generic plan assumes a
/// tenth of all rows, so PostgreSQL planned the statement again for every execution.
pub fn push_page(sql: &mut Sql, offset: i64, limit: i64) {
    sql.push(format!(" OFFSET {offset} LIMIT {limit}"));
}

/// One page of a filtered list. `query(select)` builds `<select> FROM … WHERE …`; it runs once
/// for the count and once, with `columns`, `order` and the page's bounds, for the nodes.
pub async fn filtered_page<T, Q, O>(
    pool: &PgPool,
    columns: &str,
    query: Q,
    order: O,
    args: PageArgs,
) -> async_graphql::Result<ListConnection<T>>
where
    T: OutputType + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    Q: Fn(&str) -> Result<Sql>,
    O: FnOnce(&mut Sql) -> Result<()>,
{
    let total: i64 = query("SELECT count(*)").gql()?.build_query_scalar().fetch_one(pool).await.gql()?;
    let mut page = query(&format!("SELECT {columns}")).gql()?;
    order(&mut page).gql()?;
    paginate(args, total, |offset, limit| async move {
        push_page(&mut page, offset, limit);
        Ok(page.build_query_as().fetch_all(pool).await?)
    })
    .await
}

/// The filter input of an enum column, declared with [`enum_filter!`]: the values as the column
/// holds them.
pub trait EnumFilter {
    fn eq(&self) -> Option<&'static str>;
    fn in_list(&self) -> Option<Vec<&'static str>>;
}

/// Declares the filter input of an enum column, `eq` one value or `in` several:
/// `enum_filter!(LicenseTypeFilter: LicenseType => LicenseType::as_str);`, used with
/// [`Conditions::enumeration`].
#[macro_export]
macro_rules! enum_filter {
    ($(#[$doc:meta])* $name:ident: $enum:ty => $as_str:path;) => {
        $(#[$doc])*
        #[derive(Debug, Default, async_graphql::InputObject)]
        pub struct $name {
            pub eq: Option<$enum>,
            #[graphql(name = "in")]
            pub in_list: Option<Vec<$enum>>,
        }

        impl $crate::graphql::filter::EnumFilter for $name {
            fn eq(&self) -> Option<&'static str> {
                self.eq.map($as_str)
            }

            fn in_list(&self) -> Option<Vec<&'static str>> {
                self.in_list.as_ref().map(|values| values.iter().copied().map($as_str).collect())
            }
        }
    };
}
