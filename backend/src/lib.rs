//! License server: device activation, live sessions and heartbeats over GraphQL on PostgreSQL.
//!
//! One module per domain area (customers, licenses, devices, sessions, resources, crm, api_keys,
//! audit), each owning its SQL, its rules and its GraphQL types; `graphql` merges them into one
//! schema and `http` serves it; `live` carries session events to subscribers.

pub mod admin;
pub mod analytics;
pub mod api_keys;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod compaction;
pub mod config;
pub mod crm;
pub mod customers;
pub mod dashboard;
pub mod db;
pub mod devices;
pub mod embedded_pg;
pub mod error;
pub mod graphql;
pub mod http;
pub mod leases;
pub mod license_templates;
pub mod licenses;
pub mod live;
pub mod metrics;
pub mod partitions;
pub mod rate_limit;
pub mod read_replica;
pub mod resources;
pub mod schema;
pub mod secret;
pub mod server;
pub mod sessions;

pub use error::{Error, Result};
