//! Failed password, TOTP and recovery-code attempts, counted twice:
//!
//! - **per account name and address** (an IPv4 address, or the /64 of an IPv6 address): five
//!   failures are free; then that address is locked out of that account for one minute, doubling
//!   with every further failure up to an hour. The failures are forgiven after an hour with
//!   neither a failure nor a lock. One address thus gets at most 10 checks per account in any
//!   hour (5 free, then one after each lock of 1, 2, 4, 8 and 16 minutes), and one an hour while
//!   it keeps failing. A lock earned from one address refuses nothing from another one, so
//!   nobody can keep a real user out by failing on purpose from elsewhere.
//! - **per account name across all addresses**: at most [`ACCOUNT_FAILURES_PER_WINDOW`] (100)
//!   failures in a one-hour window that starts at the first failure after the previous window;
//!   then every address is refused until the window ends. A guesser spread over many addresses
//!   gets at most 100 checks per account and window, 200 in any 60 minutes, about 2,400 a day.
//!   Only such a distributed guesser can lock a real user out, and only with the cap's volume of
//!   failures, which the audit log shows (`auth.locked` with `scope = "account"`).
//!
//! Every attempt is counted as a failure *before* its credentials are checked ([`reserve`], which
//! takes both rows' locks for a moment), and taken back when they turn out right
//! ([`succeeded`], [`take_back`]). So parallel attempts are counted one by one without holding a lock (or a
//! pooled connection) while argon2 runs, and an attempt whose outcome is never recorded (a
//! crash) counts as the failure it may have been.
//!
//! Unknown account names are throttled the same way, so throttling reveals nothing about who
//! exists. Rows with nothing left to remember are purged ([`purge`]).

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, PgPool};

use crate::error::{Error, Result};
use crate::rate_limit::client_network;

pub const FREE_FAILURES: i32 = 5;
const FIRST_LOCK: TimeDelta = TimeDelta::minutes(1);
const MAX_LOCK: TimeDelta = TimeDelta::hours(1);
/// Quiet time (no failure, no lock) after which an address's failures are forgotten.
const FORGIVE_AFTER: TimeDelta = TimeDelta::hours(1);
pub const ACCOUNT_FAILURES_PER_WINDOW: i32 = 100;
const ACCOUNT_WINDOW: TimeDelta = TimeDelta::hours(1);
/// No username is longer (see `users::check_username`), so longer names can be cut without
/// making two names that could exist share a counter; it keeps every key small.
const MAX_ACCOUNT_KEY_CHARS: usize = 64;

/// The counter key of an account name: how sign-in compares names (trimmed, case-insensitive).
pub fn account_key(username: &str) -> String {
    username.trim().to_lowercase().chars().take(MAX_ACCOUNT_KEY_CHARS).collect()
}

/// The counter key of a client address: its [`client_network`] (IPv4 as it is, IPv6 by its /64),
/// an unknown address as `::`.
pub fn address_key(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "::".to_owned(), |ip| client_network(ip).to_string())
}

/// The failures of one account name from one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
struct AddressCount {
    failures: i32,
    locked_until: Option<DateTime<Utc>>,
    last_failure_at: Option<DateTime<Utc>>,
}

impl AddressCount {
    /// Counts one more failure, or says until when the address is locked out.
    fn reserve(self, now: DateTime<Utc>) -> std::result::Result<AddressCount, DateTime<Utc>> {
        if let Some(until) = self.locked_until.filter(|until| *until > now) {
            return Err(until);
        }
        let quiet_since = self.locked_until.max(self.last_failure_at);
        let forgiven = quiet_since.is_none_or(|since| since <= now - FORGIVE_AFTER);
        let failures = if forgiven { 1 } else { self.failures + 1 };
        let locked_until = (failures >= FREE_FAILURES).then(|| now + lock_for(failures));
        Ok(AddressCount { failures, locked_until, last_failure_at: Some(now) })
    }
}

/// One minute at the fifth failure, doubling with each further one, at most an hour.
fn lock_for(failures: i32) -> TimeDelta {
    let doublings = u32::try_from(failures - FREE_FAILURES).unwrap_or(0).min(16);
    (FIRST_LOCK * 2i32.pow(doublings)).min(MAX_LOCK)
}

/// An address's row as [`reserve`] locks it, with the transaction's time.
#[derive(sqlx::FromRow)]
struct LockedAddress {
    #[sqlx(flatten)]
    count: AddressCount,
    now: DateTime<Utc>,
}

/// The failures of one account name from all addresses in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
struct AccountWindow {
    failures: i32,
    window_started_at: DateTime<Utc>,
}

impl AccountWindow {
    /// Counts one more failure, or says until when the account is closed to everyone.
    fn reserve(self, now: DateTime<Utc>) -> std::result::Result<AccountWindow, DateTime<Utc>> {
        let current = if self.window_started_at <= now - ACCOUNT_WINDOW {
            AccountWindow { failures: 0, window_started_at: now }
        } else {
            self
        };
        if current.failures >= ACCOUNT_FAILURES_PER_WINDOW {
            return Err(current.window_started_at + ACCOUNT_WINDOW);
        }
        Ok(AccountWindow { failures: current.failures + 1, ..current })
    }

    fn closed_until(self) -> Option<DateTime<Utc>> {
        (self.failures >= ACCOUNT_FAILURES_PER_WINDOW).then(|| self.window_started_at + ACCOUNT_WINDOW)
    }
}

/// An attempt counted as a failure in advance. When its credentials are right, [`succeeded`] or
/// [`take_back`] takes it back; when they are wrong, it stays counted, and the locks it started (if any) are
/// for the audit log.
#[must_use = "an attempt ends in `succeeded`, `take_back`, or stays counted as a failure"]
#[derive(Debug)]
pub struct Attempt {
    account: String,
    address: String,
    /// The lock of this address out of this account that this attempt starts if it fails.
    pub address_locked_until: Option<DateTime<Utc>>,
    /// Set when this attempt used the account's last failure of the window.
    pub account_locked_until: Option<DateTime<Utc>>,
}

/// Counts an attempt on `username` from `ip` as a failure before anything is checked, or refuses
/// it (`TOO_MANY_ATTEMPTS`) while that address, or the whole account, is locked. Holds the two
/// counter rows locked until `conn`'s transaction ends: run it in its own short transaction
/// ([`reserve_now`]) when the check takes long (argon2), or inside a short one that also records
/// the outcome. Rows are always locked address first, then account; a transaction that also locks
/// the user's `admin_users` row locks that first.
pub async fn reserve(conn: &mut PgConnection, username: &str, ip: Option<IpAddr>) -> Result<Attempt> {
    let (account, address) = (account_key(username), address_key(ip));
    let locked: LockedAddress = sqlx::query_as(
        "INSERT INTO login_throttle AS t (account, address) VALUES ($1, $2::inet)
         ON CONFLICT (account, address) DO UPDATE SET failures = t.failures
         RETURNING failures, locked_until, last_failure_at, now()",
    )
    .bind(&account)
    .bind(&address)
    .fetch_one(&mut *conn)
    .await?;
    let (count, now) = (locked.count, locked.now);
    let count = count.reserve(now).map_err(|retry_after| Error::TooManyAttempts { retry_after })?;
    let window: AccountWindow = sqlx::query_as(
        "INSERT INTO login_throttle_accounts AS t (account, window_started_at) VALUES ($1, now())
         ON CONFLICT (account) DO UPDATE SET failures = t.failures
         RETURNING failures, window_started_at",
    )
    .bind(&account)
    .fetch_one(&mut *conn)
    .await?;
    let window = window.reserve(now).map_err(|retry_after| Error::TooManyAttempts { retry_after })?;
    sqlx::query(
        "UPDATE login_throttle SET failures = $3, locked_until = $4, last_failure_at = $5
         WHERE account = $1 AND address = $2::inet",
    )
    .bind(&account)
    .bind(&address)
    .bind(count.failures)
    .bind(count.locked_until)
    .bind(count.last_failure_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE login_throttle_accounts SET failures = $2, window_started_at = $3 WHERE account = $1")
        .bind(&account)
        .bind(window.failures)
        .bind(window.window_started_at)
        .execute(&mut *conn)
        .await?;
    Ok(Attempt {
        account,
        address,
        address_locked_until: count.locked_until,
        account_locked_until: window.closed_until(),
    })
}

/// [`reserve`] in a transaction of its own, committed before the credentials are checked.
pub async fn reserve_now(pool: &PgPool, username: &str, ip: Option<IpAddr>) -> Result<Attempt> {
    let mut tx = pool.begin().await?;
    let attempt = reserve(&mut tx, username, ip).await?;
    tx.commit().await?;
    Ok(attempt)
}

/// A sign-in (or 2FA confirmation) succeeded: the address starts over, and the account gets its
/// failure back.
pub async fn succeeded(conn: &mut PgConnection, attempt: Attempt) -> Result<()> {
    sqlx::query(
        "UPDATE login_throttle SET failures = 0, locked_until = NULL, last_failure_at = NULL
         WHERE account = $1 AND address = $2::inet",
    )
    .bind(&attempt.account)
    .bind(&attempt.address)
    .execute(&mut *conn)
    .await?;
    give_back_to_account(conn, &attempt.account).await
}

/// The credentials were right, but they were not a whole sign-in (the password before the second
/// factor, or confirming a change): the attempt is no failure, yet the address's earlier failures
/// still count, so that a known password cannot be used to reset the count between TOTP guesses.
pub async fn take_back(conn: &mut PgConnection, attempt: Attempt) -> Result<()> {
    // Only the newest reservation can have set the lock (later ones are refused while it holds).
    sqlx::query(
        "UPDATE login_throttle SET failures = greatest(failures - 1, 0),
             locked_until = CASE WHEN locked_until = $3 THEN NULL ELSE locked_until END
         WHERE account = $1 AND address = $2::inet",
    )
    .bind(&attempt.account)
    .bind(&attempt.address)
    .bind(attempt.address_locked_until)
    .execute(&mut *conn)
    .await?;
    give_back_to_account(conn, &attempt.account).await
}

async fn give_back_to_account(conn: &mut PgConnection, account: &str) -> Result<()> {
    sqlx::query("UPDATE login_throttle_accounts SET failures = greatest(failures - 1, 0) WHERE account = $1")
        .bind(account)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes counters that no longer count: addresses whose failures are forgiven, accounts whose
/// window is over. Such a row and no row at all mean the same.
pub async fn purge(pool: &PgPool) -> Result<u64> {
    let addresses = sqlx::query(
        "DELETE FROM login_throttle
         WHERE coalesce(greatest(locked_until, last_failure_at), '-infinity') <= now() - make_interval(secs => $1)",
    )
    .bind(FORGIVE_AFTER.as_seconds_f64())
    .execute(pool)
    .await?
    .rows_affected();
    let accounts =
        sqlx::query("DELETE FROM login_throttle_accounts WHERE window_started_at <= now() - make_interval(secs => $1)")
            .bind(ACCOUNT_WINDOW.as_seconds_f64())
            .execute(pool)
            .await?
            .rows_affected();
    Ok(addresses + accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    const FRESH: AddressCount = AddressCount { failures: 0, locked_until: None, last_failure_at: None };

    #[test]
    fn five_failures_are_free_then_locks_double_up_to_an_hour() {
        let mut count = FRESH;
        for _ in 0..4 {
            count = count.reserve(at(0)).unwrap();
            assert_eq!(count.locked_until, None);
        }
        count = count.reserve(at(0)).unwrap();
        assert_eq!(count.locked_until, Some(at(60)), "the fifth failure locks for a minute");
        assert_eq!(count.reserve(at(59)), Err(at(60)), "refused while locked");
        let mut now = 60;
        for lock in [120, 240, 480, 960, 1920, 3600, 3600] {
            count = count.reserve(at(now)).unwrap();
            assert_eq!(count.locked_until, Some(at(now + lock)));
            now += lock;
        }
    }

    #[test]
    fn one_address_gets_at_most_ten_checks_in_its_first_hour() {
        let (mut count, mut now, mut checks) = (FRESH, 0, 0);
        while now < 3600 {
            match count.reserve(at(now)) {
                Ok(next) => {
                    count = next;
                    checks += 1;
                }
                Err(until) => now = until.timestamp() - 1_700_000_000,
            }
        }
        assert_eq!(checks, 10);
    }

    #[test]
    fn an_hour_without_failures_or_locks_forgives() {
        let three = FRESH.reserve(at(0)).unwrap().reserve(at(0)).unwrap().reserve(at(0)).unwrap();
        assert_eq!(three.reserve(at(3599)).unwrap().failures, 4);
        assert_eq!(three.reserve(at(3600)).unwrap().failures, 1);
        // A lock of an hour is not forgiven the moment it ends: an hour of quiet must follow.
        let locked = AddressCount { failures: 11, locked_until: Some(at(3600)), last_failure_at: Some(at(0)) };
        assert_eq!(locked.reserve(at(3600)).unwrap().failures, 12);
        assert_eq!(locked.reserve(at(7200)).unwrap().failures, 1);
    }

    #[test]
    fn the_account_window_caps_failures_from_all_addresses() {
        let mut window = AccountWindow { failures: 0, window_started_at: at(0) };
        for _ in 0..ACCOUNT_FAILURES_PER_WINDOW - 1 {
            window = window.reserve(at(10)).unwrap();
            assert_eq!(window.closed_until(), None);
        }
        window = window.reserve(at(10)).unwrap();
        assert_eq!(window.closed_until(), Some(at(3600)), "the hundredth failure closes the window");
        assert_eq!(window.reserve(at(3599)), Err(at(3600)));
        let next = window.reserve(at(3600)).unwrap();
        assert_eq!((next.failures, next.window_started_at), (1, at(3600)), "a new window starts");
    }

    #[test]
    fn addresses_are_keyed_by_ipv4_address_or_ipv6_slash_64() {
        let key = |ip: &str| address_key(Some(ip.parse().unwrap()));
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2:bbbb::7"), key("2001:db8:1:2:aaaa::1"));
        assert_eq!(address_key(None), "::");
        assert_eq!(account_key("  Ana "), "ana");
        assert_eq!(account_key(&"x".repeat(10_000)).len(), 64);
    }
}
