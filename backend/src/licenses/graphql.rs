//! The GraphQL face of licenses: queries, mutations and the fields that lead to other domains.

use async_graphql::{ComplexObject, Context, Object, ID};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    create, find, list, set_active, update, CreateLicenseInput, License, LicenseFilter, LicenseKey, LicenseOrder,
    LicenseType, ListQuery, UpdateLicenseInput, COLUMNS, MAX_DEVICES,
};
use crate::auth::{caller, Permission, Require};
use crate::customers::{Customer, CustomerById};
use crate::devices::{self, ActiveDevicesOfLicense, Device};
use crate::error::{Error, GqlResultExt};
use crate::graphql::direct::DirectList;
use crate::graphql::filter::contains_pattern;
use crate::graphql::ids::parse_id;
use crate::graphql::loaders::load;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::graphql::NESTED_LIST_ESTIMATE;
use crate::resources::{Resource, ResourcesOfLicense};
use crate::sessions::{self, EndedSession, LiveSession, LiveSessionsOfLicense, SessionSettings};

#[ComplexObject]
impl License {
    async fn license_type(&self) -> LicenseType {
        LicenseType::parse(&self.license_type)
    }

    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        load(ctx, CustomerById(self.customer_id.0)).await
    }

    /// Registered devices (at most `deviceLimit` active); deactivated ones only when asked for.
    #[graphql(complexity = "MAX_DEVICES * child_complexity")]
    async fn devices(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_inactive: bool,
    ) -> async_graphql::Result<DirectList<Device>> {
        if include_inactive {
            return Ok(devices::list_for_license(ctx.data_unchecked::<PgPool>(), self.id.0, true).await.gql()?.into());
        }
        if let Some(read) = self.devices_read.rows() {
            return Ok(DirectList::new(read, usize::MAX));
        }
        Ok(load(ctx, ActiveDevicesOfLicense(self.id.0)).await?.unwrap_or_default().into())
    }

    /// Sessions that are live now (last heartbeat younger than the timeout).
    #[graphql(complexity = "MAX_DEVICES * child_complexity")]
    async fn live_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<LiveSession>> {
        Ok(load(ctx, LiveSessionsOfLicense(self.id.0)).await?.unwrap_or_default())
    }

    /// The pool resources allocated to this license, by type and value.
    #[graphql(complexity = "NESTED_LIST_ESTIMATE * child_complexity")]
    async fn resources(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Resource>> {
        Ok(load(ctx, ResourcesOfLicense(self.id.0)).await?.unwrap_or_default())
    }

    /// Ended sessions, most recently ended first.
    #[graphql(complexity = "crate::graphql::page_complexity(first, last, child_complexity)")]
    async fn session_history(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<EndedSession>> {
        let page = PageArgs { after, before, first, last };
        sessions::history(ctx.data_unchecked::<PgPool>(), Some(self.id.0), None, Vec::new(), page).await
    }
}

#[derive(Default)]
pub struct LicenseQuery;

#[Object]
impl LicenseQuery {
    /// Licenses, newest first unless `orderBy` says otherwise. `search` matches the key, the
    /// customer's name or e-mail; `customerId`, `isActive` and `filter` narrow further.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn licenses(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        customer_id: Option<ID>,
        is_active: Option<bool>,
        filter: Option<LicenseFilter>,
        order_by: Option<Vec<LicenseOrder>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<License>> {
        let customer_id = customer_id.as_ref().map(|id| parse_id(id, "customerId")).transpose().gql()?;
        let query = ListQuery {
            pattern: search.as_deref().map(contains_pattern),
            customer_id,
            is_active,
            filter,
            order: order_by.unwrap_or_default().iter().map(|o| (o.field, o.direction)).collect(),
        };
        list(ctx.data_unchecked::<PgPool>(), query, PageArgs { after, before, first, last }).await
    }

    #[graphql(guard = "Require(Permission::Read)")]
    async fn license(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<License>> {
        let id = parse_id(&id, "id").gql()?;
        let mut conn = ctx.data_unchecked::<PgPool>().acquire().await.gql()?;
        find(&mut conn, id).await.gql()
    }

    /// Looks a license up by its key as a person would type it.
    #[graphql(guard = "Require(Permission::Read)")]
    async fn license_by_key(&self, ctx: &Context<'_>, license_key: String) -> async_graphql::Result<Option<License>> {
        let key = LicenseKey::parse(&license_key).map_err(|e| Error::bad_input("licenseKey", e.to_string())).gql()?;
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM licenses WHERE license_key = $1"))
            .bind(key.as_str())
            .fetch_optional(ctx.data_unchecked::<PgPool>())
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct LicenseMutation;

#[Object]
impl LicenseMutation {
    #[graphql(guard = "Require(Permission::Write)")]
    async fn create_license(&self, ctx: &Context<'_>, input: CreateLicenseInput) -> async_graphql::Result<License> {
        create(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, input).await.gql()
    }

    /// Changes terms. Limits cannot drop below the devices and sessions in use. With
    /// `expectedUpdatedAt` (the `updatedAt` the change is based on) a change made by someone else
    /// in between is refused with `CONFLICT`.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn update_license(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateLicenseInput,
        expected_updated_at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<License> {
        let id = parse_id(&id, "id").gql()?;
        update(
            ctx.data_unchecked::<PgPool>(),
            ctx.data_unchecked::<SessionSettings>(),
            caller(ctx).gql()?,
            id,
            input,
            expected_updated_at,
        )
        .await
        .gql()
    }

    #[graphql(guard = "Require(Permission::Write)")]
    async fn activate_license(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<License> {
        set_active_by_id(ctx, &id, true).await
    }

    /// Deactivates the license and ends its live sessions (`LICENSE_REVOKED`).
    #[graphql(guard = "Require(Permission::Write)")]
    async fn deactivate_license(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<License> {
        set_active_by_id(ctx, &id, false).await
    }
}

/// `activateLicense` and `deactivateLicense`: the one change they make, by the caller.
async fn set_active_by_id(ctx: &Context<'_>, id: &ID, active: bool) -> async_graphql::Result<License> {
    let id = parse_id(id, "id").gql()?;
    let (pool, settings) = (ctx.data_unchecked::<PgPool>(), ctx.data_unchecked::<SessionSettings>());
    set_active(pool, settings, caller(ctx).gql()?, id, active).await.gql()
}
