//! The GraphQL face of customers: queries, mutations and the fields that lead to other domains.

use async_graphql::{ComplexObject, Context, Object, ID};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    create, find, list, update, CreateCustomerInput, Customer, CustomerFilter, CustomerOrder, UpdateCustomerInput,
};
use crate::auth::{caller, Permission, Require};
use crate::error::GqlResultExt;
use crate::graphql::ids::parse_id;
use crate::graphql::loaders::load;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::graphql::NESTED_LIST_ESTIMATE;
use crate::licenses::{License, LicensesOfCustomer};

#[ComplexObject]
impl Customer {
    /// The customer's licenses, newest first.
    #[graphql(complexity = "NESTED_LIST_ESTIMATE * child_complexity")]
    async fn licenses(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<License>> {
        Ok(load(ctx, LicensesOfCustomer(self.id.0)).await?.unwrap_or_default())
    }
}

#[derive(Default)]
pub struct CustomerQuery;

#[Object]
impl CustomerQuery {
    /// Customers ordered by name unless `orderBy` says otherwise; `search` matches name or e-mail.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        filter: Option<CustomerFilter>,
        order_by: Option<Vec<CustomerOrder>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<Customer>> {
        let pool = ctx.data_unchecked::<PgPool>();
        let page = PageArgs { after, before, first, last };
        list(pool, search.as_deref(), filter, order_by.unwrap_or_default(), page).await
    }

    #[graphql(guard = "Require(Permission::Read)")]
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Customer>> {
        let id = parse_id(&id, "id").gql()?;
        let mut conn = ctx.data_unchecked::<PgPool>().acquire().await.gql()?;
        find(&mut conn, id).await.gql()
    }
}

#[derive(Default)]
pub struct CustomerMutation;

#[Object]
impl CustomerMutation {
    #[graphql(guard = "Require(Permission::Write)")]
    async fn create_customer(&self, ctx: &Context<'_>, input: CreateCustomerInput) -> async_graphql::Result<Customer> {
        create(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, input).await.gql()
    }

    /// Changes the given fields. With `expectedUpdatedAt` (the `updatedAt` the change is based on)
    /// a change made by someone else in between is refused with `CONFLICT`.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCustomerInput,
        expected_updated_at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Customer> {
        let id = parse_id(&id, "id").gql()?;
        update(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, id, input, expected_updated_at).await.gql()
    }
}
