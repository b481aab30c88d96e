//! The GraphQL schema: every domain's queries and mutations merged into one, plus its limits.

pub mod filter;
pub mod ids;
pub mod pagination;

use async_graphql::{EmptySubscription, MergedObject, Schema};

use crate::analytics::AnalyticsQuery;
use crate::crm::{CrmMutation, CrmQuery};
use crate::customers::{CustomerMutation, CustomerQuery};
use crate::devices::{DeviceMutation, DeviceQuery};
use crate::licenses::{LicenseMutation, LicenseQuery};
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
    ResourceMutation,
    CrmMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Deepest selection set accepted.
pub const MAX_DEPTH: usize = 12;
/// Most fields (weighted) one operation may select.
pub const MAX_COMPLEXITY: usize = 1000;

/// The schema with its limits. `state` is absent only when printing the SDL.
pub fn build(state: Option<AppState>) -> AppSchema {
    let builder = Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(10);
    match state {
        Some(state) => builder.data(state).finish(),
        None => builder.finish(),
    }
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    build(None).sdl()
}
