//! Integration tests: every test gets a fresh database (`#[sqlx::test]`) and real server
//! instances on real sockets.

mod admin;
mod analysts;
mod analytics;
mod cleanup;
mod concurrency;
mod crm;
mod embedded;
mod helpers;
mod http;
mod lifecycle;
mod nesting;
mod partitions;
mod querying;
mod resources;
mod schema;
mod shutdown;
