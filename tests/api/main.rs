//! Integration tests: every test gets a fresh database (`#[sqlx::test]`) and real server
//! instances on real sockets.

mod account;
mod admin;
mod analysts;
mod analytics;
mod audit_log;
mod backups;
mod cleanup;
mod client_protocol;
mod concurrency;
mod crm;
mod dashboard;
mod dashboard_contract;
mod devices_and_history;
mod embedded;
mod helpers;
mod hot_path;
mod http;
mod identity;
mod isolation;
mod leases;
mod license_terms;
mod lifecycle;
mod listener;
mod live;
mod metrics;
mod nesting;
mod nginx;
mod partitions;
mod querying;
mod rate_limits;
mod resources;
mod schema;
mod session_tokens;
mod shutdown;
mod text_input;
