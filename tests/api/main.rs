//! Integration tests: every test gets a fresh database (`#[sqlx::test]`) and real server
//! instances on real sockets.

mod admin;
mod audit_log;
mod cleanup;
mod concurrency;
mod dashboard;
mod embedded;
mod helpers;
mod http;
mod identity;
mod lifecycle;
mod live;
mod partitions;
mod schema;
mod shutdown;
