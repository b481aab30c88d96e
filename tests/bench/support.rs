//! What the benchmarks that seed a database of their own share: numeric settings from the
//! environment, and a fresh database on DATABASE_URL's server that is dropped afterwards,
//! whatever happened, so failed runs leave nothing behind on a shared server.

use std::future::Future;

use anyhow::{Context as _, Result};
use sqlx::postgres::PgConnection;
use sqlx::Connection as _;

/// The number in the environment variable `name`, or `default` when it is not set.
pub fn env_or(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(raw) => raw.trim().parse().map_err(|_| anyhow::anyhow!("{name}={raw:?} is not a valid number")),
        Err(_) => Ok(default),
    }
}

/// Runs `run` with the URL of a new database `<prefix>_<pid>` on DATABASE_URL's server, then
/// drops that database.
pub async fn in_fresh_database<F, Fut>(prefix: &str, run: F) -> Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let server_url = std::env::var("DATABASE_URL")
        .context("DATABASE_URL must name a PostgreSQL server where we may create a database; run through scripts/with-postgres.sh")?;
    let name = format!("{prefix}_{}", std::process::id());
    let mut admin = PgConnection::connect(&server_url).await.context("cannot connect to DATABASE_URL")?;
    sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).execute(&mut admin).await?;
    sqlx::query(&format!(r#"CREATE DATABASE "{name}""#)).execute(&mut admin).await?;
    let outcome = run(with_database(&server_url, &name)?).await;
    sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).execute(&mut admin).await?;
    outcome
}

/// `url` naming `database` instead; user, host, port and query parameters are kept.
fn with_database(url: &str, database: &str) -> Result<String> {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").context("DATABASE_URL must be a postgres:// URL")? + 3;
    let authority_end = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    Ok(format!("{}/{database}{}", &base[..authority_end], query.map(|q| format!("?{q}")).unwrap_or_default()))
}
