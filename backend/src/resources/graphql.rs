//! The GraphQL face of resources: queries, mutations and the fields that lead to other domains.

use async_graphql::{ComplexObject, Context, Object, ID};
use sqlx::PgPool;

use super::{
    allocate, counts, import, list, quarantine, release, AllocationResult, ImportReport, Resource, ResourceFilter,
    ResourceMove, ResourceOrder, ResourcePoolCount, ResourceState, ResourceType, Shortcuts, COLUMNS,
};
use crate::auth::{caller, Permission, Require};
use crate::error::GqlResultExt;
use crate::graphql::ids::{parse_id, Id};
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::licenses::{self, License};

#[ComplexObject]
impl Resource {
    async fn resource_type(&self) -> ResourceType {
        ResourceType::parse(&self.resource_type)
    }

    async fn state(&self) -> ResourceState {
        ResourceState::parse(&self.state)
    }

    async fn license_id(&self) -> Option<Id> {
        self.license_id
    }

    /// The license holding the resource, while allocated.
    async fn license(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<License>> {
        let Some(license_id) = self.license_id else { return Ok(None) };
        let mut conn = ctx.data_unchecked::<PgPool>().acquire().await.gql()?;
        licenses::find(&mut conn, license_id.0).await.gql()
    }

    /// Every move of this resource, oldest first.
    #[graphql(complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity")]
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ResourceMove>> {
        sqlx::query_as(
            "SELECT from_state, to_state, license_id, reason, actor_name, occurred_at
             FROM resource_history WHERE resource_id = $1 ORDER BY occurred_at, id",
        )
        .bind(self.id)
        .fetch_all(ctx.data_unchecked::<PgPool>())
        .await
        .gql()
    }
}

#[ComplexObject]
impl ResourceMove {
    /// Absent for the import that created the resource.
    async fn from_state(&self) -> Option<ResourceState> {
        self.from_state.as_deref().map(ResourceState::parse)
    }

    async fn to_state(&self) -> ResourceState {
        ResourceState::parse(&self.to_state)
    }

    /// The license it was allocated to or released from.
    async fn license_id(&self) -> Option<Id> {
        self.license_id
    }
}

#[ComplexObject]
impl ResourcePoolCount {
    async fn resource_type(&self) -> ResourceType {
        ResourceType::parse(&self.resource_type)
    }
}

#[derive(Default)]
pub struct ResourceQuery;

#[Object]
impl ResourceQuery {
    /// Resources ordered by type and value unless `orderBy` says otherwise.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn resources(
        &self,
        ctx: &Context<'_>,
        resource_type: Option<ResourceType>,
        state: Option<ResourceState>,
        license_id: Option<ID>,
        filter: Option<ResourceFilter>,
        order_by: Option<Vec<ResourceOrder>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<Resource>> {
        let license_id = license_id.as_ref().map(|id| parse_id(id, "licenseId")).transpose().gql()?;
        let pool = ctx.data_unchecked::<PgPool>();
        let shortcuts = Shortcuts { kind: resource_type, state, license_id };
        list(pool, shortcuts, filter, order_by.unwrap_or_default(), PageArgs { after, before, first, last }).await
    }

    #[graphql(guard = "Require(Permission::Read)")]
    async fn resource(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Resource>> {
        let id = parse_id(&id, "id").gql()?;
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM resource_pools WHERE id = $1"))
            .bind(id)
            .fetch_optional(ctx.data_unchecked::<PgPool>())
            .await
            .gql()
    }

    /// How many resources of each type are available, allocated and quarantined.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::TABLE_SCAN_COMPLEXITY + crate::graphql::enum_size::<ResourceType>() * child_complexity"
    )]
    async fn resource_pool_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ResourcePoolCount>> {
        counts(ctx.data_unchecked::<PgPool>()).await.gql()
    }
}

#[derive(Default)]
pub struct ResourceMutation;

#[Object]
impl ResourceMutation {
    /// Adds values to a pool. Each value is reported as added, duplicate or invalid (with the
    /// reason); the valid new ones are added together or, on a database error, not at all.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn import_resources(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] resource_type: ResourceType,
        values: Vec<String>,
    ) -> async_graphql::Result<ImportReport> {
        import(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, resource_type, values).await.gql()
    }

    /// Allocates `count` available resources of a type to a license: all of them, or none
    /// (`INSUFFICIENT_RESOURCES`).
    #[graphql(guard = "Require(Permission::Write)")]
    async fn allocate_resources(
        &self,
        ctx: &Context<'_>,
        license_id: ID,
        #[graphql(name = "type")] resource_type: ResourceType,
        count: i32,
    ) -> async_graphql::Result<AllocationResult> {
        let license_id = parse_id(&license_id, "licenseId").gql()?;
        allocate(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, license_id, resource_type, count).await.gql()
    }

    /// Returns an allocated resource, or one in quarantine, to the pool.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn release_resource(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Resource> {
        let id = parse_id(&id, "id").gql()?;
        release(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, id).await.gql()
    }

    /// Takes a resource out of circulation (from the pool or its license) until released.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn quarantine_resource(&self, ctx: &Context<'_>, id: ID, reason: String) -> async_graphql::Result<Resource> {
        let id = parse_id(&id, "id").gql()?;
        quarantine(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, id, &reason).await.gql()
    }
}
