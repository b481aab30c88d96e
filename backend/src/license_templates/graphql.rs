//! The GraphQL face of license templates: analysts and admins read them, admins change them.

use async_graphql::{ComplexObject, Context, Object, ID};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{create, delete, list, update, CreateLicenseTemplateInput, LicenseTemplate, UpdateLicenseTemplateInput};
use crate::auth::{caller, Permission, Require};
use crate::error::GqlResultExt;
use crate::graphql::ids::parse_id;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::licenses::LicenseType;

#[ComplexObject]
impl LicenseTemplate {
    async fn license_type(&self) -> LicenseType {
        self.kind()
    }
}

#[derive(Default)]
pub struct LicenseTemplateQuery;

#[Object]
impl LicenseTemplateQuery {
    /// License templates ordered by name; `search` matches the name.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn license_templates(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<LicenseTemplate>> {
        list(ctx.data_unchecked::<PgPool>(), search.as_deref(), PageArgs { after, before, first, last }).await
    }

    #[graphql(guard = "Require(Permission::Read)")]
    async fn license_template(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<LicenseTemplate>> {
        let id = parse_id(&id, "id").gql()?;
        let mut conn = ctx.data_unchecked::<PgPool>().acquire().await.gql()?;
        super::find(&mut conn, id).await.gql()
    }
}

#[derive(Default)]
pub struct LicenseTemplateMutation;

#[Object]
impl LicenseTemplateMutation {
    #[graphql(guard = "Require(Permission::Write)")]
    async fn create_license_template(
        &self,
        ctx: &Context<'_>,
        input: CreateLicenseTemplateInput,
    ) -> async_graphql::Result<LicenseTemplate> {
        create(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, input).await.gql()
    }

    /// Changes a template; licenses already made from it keep their terms. With
    /// `expectedUpdatedAt` (the `updatedAt` the change is based on) a change made by someone else
    /// in between is refused with `CONFLICT`.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn update_license_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateLicenseTemplateInput,
        expected_updated_at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<LicenseTemplate> {
        let id = parse_id(&id, "id").gql()?;
        update(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, id, input, expected_updated_at).await.gql()
    }

    /// Deletes a template and returns it as it was; licenses made from it keep their terms.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn delete_license_template(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<LicenseTemplate> {
        let id = parse_id(&id, "id").gql()?;
        delete(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, id).await.gql()
    }
}
