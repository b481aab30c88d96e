//! The GraphQL face of devices: queries, mutations and the fields that lead to other domains.

use async_graphql::{ComplexObject, Context, Object, ID};
use sqlx::PgPool;

use super::{deactivate, find, page, Device, DeviceFilter, DeviceOrder};
use crate::auth::{caller, Permission, Require};
use crate::error::GqlResultExt;
use crate::graphql::ids::parse_id;
use crate::graphql::loaders::load;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::licenses::{License, LicenseById};
use crate::sessions::{LiveSession, LiveSessionOfDevice, SessionSettings};

#[ComplexObject]
impl Device {
    /// The device's live session, if it has one.
    async fn live_session(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<LiveSession>> {
        load(ctx, LiveSessionOfDevice(self.id.0)).await
    }

    /// The license the device is registered to.
    async fn license(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<License>> {
        load(ctx, LicenseById(self.license_id.0)).await
    }
}

#[derive(Default)]
pub struct DeviceQuery;

#[Object]
impl DeviceQuery {
    /// Devices of all licenses, most recently first activated unless `orderBy` says otherwise.
    /// `search` matches part of the device name, the hardware fingerprint or the license key (a
    /// complete key also as typed: any case, with or without hyphens).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn devices(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        filter: Option<DeviceFilter>,
        order_by: Option<Vec<DeviceOrder>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<Device>> {
        let pool = ctx.data_unchecked::<PgPool>();
        page(pool, search, filter, order_by.unwrap_or_default(), PageArgs { after, before, first, last }).await
    }

    #[graphql(guard = "Require(Permission::Read)")]
    async fn device(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Device>> {
        let id = parse_id(&id, "id").gql()?;
        let mut conn = ctx.data_unchecked::<PgPool>().acquire().await.gql()?;
        find(&mut conn, id).await.gql()
    }
}

#[derive(Default)]
pub struct DeviceMutation;

#[Object]
impl DeviceMutation {
    /// Frees the device's slot on its license and ends its live session (`DEVICE_DEACTIVATED`).
    /// The same device may register again later while a slot is free.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn deactivate_device(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Device> {
        let id = parse_id(&id, "id").gql()?;
        deactivate(ctx.data_unchecked::<PgPool>(), ctx.data_unchecked::<SessionSettings>(), caller(ctx).gql()?, id)
            .await
            .gql()
    }
}
