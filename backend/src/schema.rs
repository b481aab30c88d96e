//! The GraphQL schema: every domain's queries and mutations merged into one, with its limits.

use async_graphql::{MergedObject, Schema, SchemaBuilder};

use crate::admin::account::{AccountMutation, AccountQuery};
use crate::admin::login::{LoginMutation, LoginQuery};
use crate::admin::users::{AdminUserMutation, AdminUserQuery};
use crate::analytics::AnalyticsQuery;
use crate::api_keys::{ApiKeyMutation, ApiKeyQuery};
use crate::audit::AuditQuery;
use crate::backups::{BackupMutation, BackupQuery};
use crate::crm::{CrmMutation, CrmQuery};
use crate::customers::graphql::{CustomerMutation, CustomerQuery};
use crate::devices::graphql::{DeviceMutation, DeviceQuery};
use crate::graphql::{cost, text_input, MAX_DEPTH};
use crate::leases::graphql::{LeaseMutation, LeaseQuery};
use crate::license_templates::graphql::{LicenseTemplateMutation, LicenseTemplateQuery};
use crate::licenses::graphql::{LicenseMutation, LicenseQuery};
use crate::live::subscription::SubscriptionRoot;
use crate::resources::graphql::{ResourceMutation, ResourceQuery};
use crate::sessions::client_api::{ClientMutation, ClientQuery};
use crate::sessions::graphql::{SessionMutation, SessionQuery};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    ClientQuery,
    CustomerQuery,
    LicenseQuery,
    LicenseTemplateQuery,
    DeviceQuery,
    SessionQuery,
    LoginQuery,
    AdminUserQuery,
    ApiKeyQuery,
    AuditQuery,
    BackupQuery,
    ResourceQuery,
    CrmQuery,
    AnalyticsQuery,
    LeaseQuery,
    AccountQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    ClientMutation,
    CustomerMutation,
    LicenseMutation,
    LicenseTemplateMutation,
    DeviceMutation,
    SessionMutation,
    LoginMutation,
    AdminUserMutation,
    ApiKeyMutation,
    BackupMutation,
    ResourceMutation,
    CrmMutation,
    LeaseMutation,
    AccountMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;
pub type Builder = SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema's limits and extensions, before the data of an instance is added (`app::AppState::schema`).
pub fn builder() -> Builder {
    Schema::build(QueryRoot::default(), MutationRoot::default(), SubscriptionRoot)
        .limit_depth(MAX_DEPTH)
        .limit_recursive_depth(32)
        .limit_directives(10)
        .extension(cost::ComplexityLimit)
        .extension(crate::metrics::OperationMetrics)
        .extension(text_input::RejectNulText)
        .extension(crate::admin::one_credential_check::OneCredentialCheckPerOperation)
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    builder().finish().sdl()
}
