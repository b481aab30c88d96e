//! The GraphQL face of customers: queries, mutations and the fields that lead to other domains.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Object, ID};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    create, find, list, planned, update, CreateCustomerInput, Customer, CustomerFilter, CustomerOrder,
    UpdateCustomerInput,
};
use crate::auth::{caller, Permission, Require};
use crate::error::GqlResultExt;
use crate::graphql::direct::DirectList;
use crate::graphql::ids::parse_id;
use crate::graphql::loaders::load;
use crate::graphql::pagination::{nested_page_size, ListConnection, PageArgs};
use crate::licenses::{License, LicensesOfCustomer};

#[ComplexObject]
impl Customer {
    /// The customer's newest `first` licenses (20 unless given, at most 100), newest first; the
    /// `licenses(customerId:)` connection pages through all of them.
    #[graphql(complexity = "crate::graphql::page_complexity(first, None, child_complexity)")]
    async fn licenses(&self, ctx: &Context<'_>, first: Option<i32>) -> async_graphql::Result<DirectList<License>> {
        let first = nested_page_size(first).gql()?;
        let licenses = match self.licenses_read.rows() {
            Some(read) => read,
            None => Arc::new(load(ctx, LicensesOfCustomer(self.id.0)).await?.unwrap_or_default()),
        };
        Ok(DirectList::new(licenses, first))
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
        let (search, order_by) = (search.as_deref(), order_by.unwrap_or_default());
        if let Some(plan) = planned::Plan::for_selection(&ctx.look_ahead(), &page) {
            return planned::page(pool, plan, search, filter, &order_by, page).await;
        }
        list(pool, search, filter, order_by, page).await
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
