//! The GraphQL schema: every domain's queries and mutations merged into one, plus its limits.

pub mod filter;
pub mod ids;
pub mod loaders;
pub mod pagination;
pub mod text_input;

use async_graphql::{MergedObject, Schema};

use crate::admin::login::{LoginMutation, LoginQuery};
use crate::admin::users::{AdminUserMutation, AdminUserQuery};
use crate::analytics::AnalyticsQuery;
use crate::api_keys::{ApiKeyMutation, ApiKeyQuery};
use crate::audit::AuditQuery;
use crate::backups::{BackupMutation, BackupQuery};
use crate::crm::{CrmMutation, CrmQuery};
use crate::customers::{CustomerMutation, CustomerQuery};
use crate::devices::{DeviceMutation, DeviceQuery};
use crate::licenses::{LicenseMutation, LicenseQuery};
use crate::live::subscription::SubscriptionRoot;
use crate::resources::{ResourceMutation, ResourceQuery};
use crate::sessions::client_api::{ClientMutation, ClientQuery};
use crate::sessions::{SessionMutation, SessionQuery};
use crate::state::AppState;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    ClientQuery,
    CustomerQuery,
    LicenseQuery,
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
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    ClientMutation,
    CustomerMutation,
    LicenseMutation,
    DeviceMutation,
    SessionMutation,
    LoginMutation,
    AdminUserMutation,
    ApiKeyMutation,
    BackupMutation,
    ResourceMutation,
    CrmMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deepest selection set accepted.
pub const MAX_DEPTH: usize = 12;
/// Most fields (weighted) one operation may select. A list field weighs its page size (`first` or
/// `last`, 20 by default) times its selection, so a query that would fetch too much is refused
/// before it runs.
pub const MAX_COMPLEXITY: usize = 5000;
/// How many items a nested list without a limit of its own (a customer's licenses, a license's
/// resources) is assumed to hold when weighing a query.
pub const NESTED_LIST_ESTIMATE: usize = 10;
/// The weight of a connection field: its page size times its selection.
pub fn page_complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).unwrap_or(pagination::DEFAULT_PAGE_SIZE as i32);
    usize::try_from(size).unwrap_or(0).min(pagination::MAX_PAGE_SIZE) * child_complexity
}

/// The schema with its limits. `state` is absent only when printing the SDL.
pub fn build(state: Option<AppState>) -> AppSchema {
    let builder = Schema::build(QueryRoot::default(), MutationRoot::default(), SubscriptionRoot)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(10)
        .extension(crate::metrics::OperationMetrics)
        .extension(text_input::RejectNulText);
    match state {
        Some(state) => {
            let loader = loaders::new(state.pool.clone(), state.sessions);
            builder.data(state).data(loader).finish()
        }
        None => builder.finish(),
    }
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    build(None).sdl()
}
