//! Customers: who holds licenses.

pub mod graphql;
mod loaders;
mod planned;
use async_graphql::{Enum, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::error::{ensure_unchanged, Error, Result};
use crate::graphql::filter::{
    contains_pattern, filtered_page, nested_filters, push_filter, push_order, Conditions, DateTimeFilter, Filter,
    IdFilter, OrderDirection, Sql, StringFilter,
};
use crate::graphql::ids::Id;
use crate::graphql::loaders::ReadAhead;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::licenses::License;
pub use loaders::CustomerById;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub name: String,
    pub email: String,
    /// Test customers are kept apart in reports.
    pub is_test: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub id: Id,
    /// The licenses a planned statement read with the page, if it did (`planned`).
    #[graphql(skip)]
    #[sqlx(skip)]
    #[serde(skip)]
    pub licenses_read: ReadAhead<License>,
}

#[derive(Debug, InputObject)]
pub struct CreateCustomerInput {
    pub name: String,
    pub email: String,
    #[graphql(default)]
    pub is_test: bool,
}

#[derive(Debug, InputObject)]
pub struct UpdateCustomerInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub is_test: Option<bool>,
}

fn clean_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::bad_input("name", "name must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

pub(crate) fn clean_email(email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.starts_with('.') && !domain.ends_with('.'));
    if !valid {
        return Err(Error::bad_input("email", "email must be an e-mail address such as name@example.com"));
    }
    Ok(email.to_owned())
}

crate::input_constraint! {
    "customers_email_key" => "email", "a customer with this e-mail address already exists";
}

pub const COLUMNS: &str = "id, name, email, is_test, created_at, updated_at";

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Customer>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = $1")).bind(id).fetch_optional(conn).await?)
}

pub async fn create(pool: &PgPool, caller: &crate::auth::Caller, input: CreateCustomerInput) -> Result<Customer> {
    let mut tx = pool.begin().await?;
    let customer = insert(&mut tx, caller, input).await?;
    tx.commit().await?;
    Ok(customer)
}

/// Creates a customer (and its audit row) inside the caller's transaction.
pub async fn insert(
    conn: &mut PgConnection,
    caller: &crate::auth::Caller,
    input: CreateCustomerInput,
) -> Result<Customer> {
    let name = clean_name(&input.name)?;
    let email = clean_email(&input.email)?;
    let customer: Customer = sqlx::query_as(&format!(
        "INSERT INTO customers (name, email, is_test) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(email)
    .bind(input.is_test)
    .fetch_one(&mut *conn)
    .await?;
    audit::record(conn, caller, AuditEntry::new("customer.created", "customer", customer.id).new_values(&customer))
        .await?;
    Ok(customer)
}

pub async fn update(
    pool: &PgPool,
    caller: &crate::auth::Caller,
    id: Uuid,
    input: UpdateCustomerInput,
    expected_updated_at: Option<DateTime<Utc>>,
) -> Result<Customer> {
    let name = input.name.as_deref().map(clean_name).transpose()?;
    let email = input.email.as_deref().map(clean_email).transpose()?;
    let mut tx = pool.begin().await?;
    let old: Customer = sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("customer", "id"))?;
    ensure_unchanged("customer", expected_updated_at, old.updated_at)?;
    let new: Customer = sqlx::query_as(&format!(
        "UPDATE customers SET name = coalesce($2, name), email = coalesce($3, email), is_test = coalesce($4, is_test)
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(email)
    .bind(input.is_test)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("customer.updated", "customer", id).old_values(&old).new_values(&new),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

#[derive(Debug, Default, InputObject)]
pub struct CustomerFilter {
    pub id: Option<IdFilter>,
    pub name: Option<StringFilter>,
    pub email: Option<StringFilter>,
    pub is_test: Option<bool>,
    pub created_at: Option<DateTimeFilter>,
    /// All of these must hold too.
    pub and: Option<Vec<CustomerFilter>>,
    /// At least one of these must hold too.
    pub or: Option<Vec<CustomerFilter>>,
}

impl Filter for CustomerFilter {
    fn conditions(&self, c: &mut Conditions<'_>) -> Result<()> {
        c.id("id", "id", &self.id)?;
        c.string("name", "name", &self.name)?;
        c.string("email", "email", &self.email)?;
        c.boolean("is_test", self.is_test);
        c.datetime("created_at", &self.created_at);
        Ok(())
    }

    nested_filters!();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum CustomerOrderField {
    Name,
    Email,
    CreatedAt,
}

#[derive(Debug, InputObject)]
pub struct CustomerOrder {
    pub field: CustomerOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// ` FROM customers WHERE …`: the customers that `search` (a `contains_pattern`) and `filter` select.
fn push_selection(sql: &mut Sql, pattern: Option<&str>, filter: Option<&CustomerFilter>) -> Result<()> {
    sql.push(" FROM customers WHERE TRUE");
    if let Some(pattern) = pattern {
        sql.push(" AND (name ILIKE ").push_bind(pattern.to_owned());
        sql.push(" OR email ILIKE ").push_bind(pattern.to_owned()).push(")");
    }
    if let Some(filter) = filter {
        push_filter(sql, filter)?;
    }
    Ok(())
}

/// ` ORDER BY …` of `orderBy`: by name unless it says otherwise, then by id.
fn push_customer_order(sql: &mut Sql, order_by: &[CustomerOrder]) -> Result<()> {
    let keys: Vec<_> = order_by.iter().map(|o| (o.field, o.direction)).collect();
    push_order(sql, &keys, "name", "id", |field| match field {
        CustomerOrderField::Name => "name",
        CustomerOrderField::Email => "email",
        CustomerOrderField::CreatedAt => "created_at",
    })
}

async fn list(
    pool: &PgPool,
    search: Option<&str>,
    filter: Option<CustomerFilter>,
    order_by: Vec<CustomerOrder>,
    args: PageArgs,
) -> async_graphql::Result<ListConnection<Customer>> {
    let pattern = search.map(contains_pattern);
    let query = |select: &str| -> Result<Sql> {
        let mut sql = Sql::new(select);
        push_selection(&mut sql, pattern.as_deref(), filter.as_ref())?;
        Ok(sql)
    };
    filtered_page(pool, COLUMNS, query, |sql: &mut Sql| push_customer_order(sql, &order_by), args).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_shape() {
        assert!(clean_email(" a@example.com ").is_ok());
        for bad in ["", "a", "a@b", "@example.com", "a b@example.com", "a@@example.com", "a@example."] {
            assert!(clean_email(bad).is_err(), "{bad}");
        }
    }
}
