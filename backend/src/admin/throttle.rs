//! Failed password, TOTP and recovery-code attempts, counted per account name across all
//! sessions and addresses. Five failures are free; then the account locks for one minute,
//! doubling with every further failure up to an hour. Attempts while locked are refused without
//! checking anything, so at most 5 + 60 attempts an hour are ever checked, well under 100.
//! Unknown account names are throttled the same way, so throttling reveals nothing.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::error::{Error, Result};

pub const FREE_FAILURES: i32 = 5;
const FIRST_LOCK_SECONDS: i64 = 60;
const MAX_LOCK_SECONDS: i64 = 3600;

pub fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// Locks the account's throttle row for the rest of the attempt's transaction (so concurrent
/// attempts, aliased fields included, are counted one by one) and hands the transaction back. If
/// the account is locked, the transaction is committed as it is and the attempt refused.
pub async fn check(mut tx: Transaction<'static, Postgres>, account: &str) -> Result<Transaction<'static, Postgres>> {
    sqlx::query("INSERT INTO login_throttle (account) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    // The UPDATE takes the row lock; an hour without failures forgives the earlier ones.
    let locked_until: Option<DateTime<Utc>> = sqlx::query_scalar(
        "UPDATE login_throttle
         SET failures = CASE WHEN last_failure_at < now() - interval '1 hour'
                              AND (locked_until IS NULL OR locked_until <= now()) THEN 0 ELSE failures END
         WHERE account = $1
         RETURNING CASE WHEN locked_until > now() THEN locked_until END",
    )
    .bind(account)
    .fetch_one(&mut *tx)
    .await?;
    match locked_until {
        Some(retry_after) => {
            tx.commit().await?;
            Err(Error::TooManyAttempts { retry_after })
        }
        None => Ok(tx),
    }
}

/// Counts a failure; returns when the account is now locked until, if it is.
pub async fn record_failure(conn: &mut PgConnection, account: &str) -> Result<Option<DateTime<Utc>>> {
    let (failures, locked_until): (i32, Option<DateTime<Utc>>) = sqlx::query_as(
        "UPDATE login_throttle SET failures = failures + 1, last_failure_at = now(),
             locked_until = CASE WHEN failures + 1 >= $2
                 THEN now() + make_interval(secs => least($3 * power(2, failures + 1 - $2), $4))
                 ELSE locked_until END
         WHERE account = $1
         RETURNING failures, locked_until",
    )
    .bind(account)
    .bind(FREE_FAILURES)
    .bind(FIRST_LOCK_SECONDS as f64)
    .bind(MAX_LOCK_SECONDS as f64)
    .fetch_one(conn)
    .await?;
    Ok(locked_until.filter(|_| failures >= FREE_FAILURES))
}

pub async fn reset(conn: &mut PgConnection, account: &str) -> Result<()> {
    sqlx::query("UPDATE login_throttle SET failures = 0, locked_until = NULL WHERE account = $1")
        .bind(account)
        .execute(conn)
        .await?;
    Ok(())
}
