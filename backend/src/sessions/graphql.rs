//! The GraphQL face of sessions: queries, mutations and the fields that lead to other domains.

use async_graphql::{ComplexObject, Context, Object, ID};
use sqlx::PgPool;

use super::{
    history, live_page, terminate, EndReason, EndedSession, EndedSessionFilter, EndedSessionOrder, LiveSession,
    LiveSessionFilter, LiveSessionOrder, SessionSettings,
};
use crate::auth::{caller, Permission, Require};
use crate::devices::{Device, DeviceById};
use crate::error::GqlResultExt;
use crate::graphql::ids::parse_id;
use crate::graphql::loaders::load;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::licenses::{License, LicenseById};

#[ComplexObject]
impl LiveSession {
    async fn device(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Device>> {
        load(ctx, DeviceById(self.device_id.0)).await
    }

    async fn license(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<License>> {
        load(ctx, LicenseById(self.license_id.0)).await
    }
}

#[ComplexObject]
impl EndedSession {
    async fn end_reason(&self) -> EndReason {
        EndReason::parse(&self.end_reason)
    }

    async fn device(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Device>> {
        load(ctx, DeviceById(self.device_id.0)).await
    }

    async fn license(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<License>> {
        load(ctx, LicenseById(self.license_id.0)).await
    }
}

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// Sessions live now, oldest first unless `orderBy` says otherwise; all licenses or one.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn live_sessions(
        &self,
        ctx: &Context<'_>,
        license_id: Option<ID>,
        filter: Option<LiveSessionFilter>,
        order_by: Option<Vec<LiveSessionOrder>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<LiveSession>> {
        let license_id = license_id.as_ref().map(|id| parse_id(id, "licenseId")).transpose().gql()?;
        let pool = ctx.data_unchecked::<PgPool>();
        let page = PageArgs { after, before, first, last };
        live_page(pool, ctx.data_unchecked::<SessionSettings>(), license_id, filter, order_by.unwrap_or_default(), page)
            .await
    }

    /// Ended sessions, most recently ended first unless `orderBy` says otherwise; all licenses or one.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn session_history(
        &self,
        ctx: &Context<'_>,
        license_id: Option<ID>,
        filter: Option<EndedSessionFilter>,
        order_by: Option<Vec<EndedSessionOrder>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<EndedSession>> {
        let license_id = license_id.as_ref().map(|id| parse_id(id, "licenseId")).transpose().gql()?;
        let pool = ctx.data_unchecked::<PgPool>();
        let page = PageArgs { after, before, first, last };
        history(pool, license_id, filter, order_by.unwrap_or_default(), page).await
    }
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Ends a live session (`ADMIN_TERMINATED`). The client's next heartbeat is refused.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn terminate_session(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<EndedSession> {
        let id = parse_id(&id, "id").gql()?;
        terminate(ctx.data_unchecked::<PgPool>(), ctx.data_unchecked::<SessionSettings>(), caller(ctx).gql()?, id)
            .await
            .gql()
    }
}
