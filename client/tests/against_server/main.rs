//! The SDK against the real server: started in-process on a real socket, on a fresh database
//! per test (`#[sqlx::test]`).

mod harness;
mod leases;
mod outages;
mod refusals;
mod rotation;
