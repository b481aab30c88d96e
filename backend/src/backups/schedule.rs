//! The daily scheduled backup, at `BACKUP_TIME` in `BACKUP_TIMEZONE`.
//!
//! Every instance runs the scheduler; each day's backup is taken exactly once because the day
//! is claimed in the database (the backup job lock, and a unique index on the day over the
//! attempts that did not fail). A server that starts after the day's time and finds no backup for
//! the day takes it then, so a restart over 03:00 does not skip a day. An attempt that failed is
//! retried the same day after `BACKUP_RETRY_SECS`, doubling with each failure, at most
//! [`ATTEMPTS_PER_DAY`] attempts in all. Dates and times are computed by PostgreSQL, which knows
//! the time zone rules (daylight-saving changes included).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use super::{BackupSettings, Schedule};
use crate::error::Result;

/// Fails unless PostgreSQL knows the time zone (checked at start-up).
pub async fn check_timezone(pool: &PgPool, timezone: &str) -> anyhow::Result<()> {
    sqlx::query("SELECT now() AT TIME ZONE $1").bind(timezone).execute(pool).await.map_err(|_| {
        anyhow::anyhow!(
            "BACKUP_TIMEZONE={timezone:?} is not a time zone PostgreSQL knows (use an IANA name such as Europe/Berlin, or UTC)"
        )
    })?;
    Ok(())
}

/// Where the schedule stands now: the local day, whether its time has come, and the next time.
struct Due {
    day: NaiveDate,
    due: bool,
    next: DateTime<Utc>,
    now: DateTime<Utc>,
}

async fn due(pool: &PgPool, schedule: &Schedule) -> Result<Due> {
    let (day, due, next, now): (NaiveDate, bool, DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "WITH local AS (SELECT (now() AT TIME ZONE $1)::date AS day)
         SELECT day,
                now() >= (day + $2::time) AT TIME ZONE $1,
                CASE WHEN now() >= (day + $2::time) AT TIME ZONE $1
                     THEN (day + 1 + $2::time) AT TIME ZONE $1
                     ELSE (day + $2::time) AT TIME ZONE $1 END,
                now()
         FROM local",
    )
    .bind(&schedule.timezone)
    .bind(schedule.time)
    .fetch_one(pool)
    .await?;
    Ok(Due { day, due, next, now })
}

/// When the scheduled backup is next due (today's time if it has not come yet, else tomorrow's).
pub async fn next_run(pool: &PgPool, schedule: &Schedule) -> Result<DateTime<Utc>> {
    Ok(due(pool, schedule).await?.next)
}

/// Scheduled attempts a day: the first, and retries after failures.
pub const ATTEMPTS_PER_DAY: i64 = 3;

/// When the day's next scheduled attempt may start: `None` once a backup of the day completed or
/// the day's attempts are used up; and the database's clock now. A running attempt does not
/// count here: only the holder of the job lock starts one, and for it no attempt is running.
async fn next_attempt(
    pool: &PgPool,
    settings: &BackupSettings,
    day: NaiveDate,
) -> Result<(Option<DateTime<Utc>>, DateTime<Utc>)> {
    let (completed, failed, last_failed_at, now): (bool, i64, Option<DateTime<Utc>>, DateTime<Utc>) = sqlx::query_as(
        "SELECT coalesce(bool_or(status = 'completed'), false), count(*) FILTER (WHERE status = 'failed'),
                max(completed_at) FILTER (WHERE status = 'failed'), now()
         FROM backups WHERE scheduled_for = $1",
    )
    .bind(day)
    .fetch_one(pool)
    .await?;
    if completed || failed >= ATTEMPTS_PER_DAY {
        return Ok((None, now));
    }
    let at = match last_failed_at {
        Some(at) => {
            let backoff = settings.retry.saturating_mul(1 << (failed - 1).clamp(0, 16));
            chrono::Duration::from_std(backoff)
                .ok()
                .and_then(|backoff| at.checked_add_signed(backoff))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        }
        None => now,
    };
    Ok((Some(at), now))
}

/// Whether the scheduled backup of `day` may be attempted now.
pub(super) async fn may_attempt(pool: &PgPool, settings: &BackupSettings, day: NaiveDate) -> Result<bool> {
    let (next, now) = next_attempt(pool, settings, day).await?;
    Ok(next.is_some_and(|at| at <= now))
}

/// Takes today's scheduled backup if its time has come and no instance has taken it yet (or
/// retries it after a failure). Returns the backup when this call took it.
pub async fn run_if_due(pool: &PgPool, settings: &BackupSettings) -> Result<Option<super::Backup>> {
    let Some(schedule) = &settings.schedule else {
        return Ok(None);
    };
    let state = due(pool, schedule).await?;
    if !state.due || !may_attempt(pool, settings, state.day).await? {
        return Ok(None);
    }
    super::create_scheduled(pool, settings, state.day).await
}

/// How long the scheduler sleeps: until today's retry when one is pending (at least a minute
/// while another instance may be taking the backup, less only when `BACKUP_RETRY_SECS` is
/// shorter), else until the next due time.
async fn until_next_wake(pool: &PgPool, settings: &BackupSettings, schedule: &Schedule) -> Result<Duration> {
    let state = due(pool, schedule).await?;
    let retry = match state.due {
        true => next_attempt(pool, settings, state.day).await?.0,
        false => None,
    };
    let floor = settings.retry.min(Duration::from_secs(60));
    Ok(match retry {
        Some(at) => (at - state.now).to_std().unwrap_or(Duration::ZERO).max(floor),
        None => (state.next - state.now).to_std().unwrap_or(Duration::ZERO),
    })
}

/// Runs the schedule until the task is dropped. Wakes at the next due time or retry (at least
/// hourly, so that a changed clock is noticed).
pub async fn run(pool: PgPool, settings: std::sync::Arc<BackupSettings>) {
    let Some(schedule) = settings.schedule.clone() else {
        return;
    };
    loop {
        if let Err(err) = run_if_due(&pool, &settings).await {
            tracing::error!(error = ?err, "the scheduled backup failed");
        }
        let wait = until_next_wake(&pool, &settings, &schedule).await.unwrap_or_else(|err| {
            tracing::warn!(error = ?err, "cannot compute the next scheduled backup");
            Duration::from_secs(300)
        });
        tokio::time::sleep(wait.clamp(Duration::from_secs(1), Duration::from_secs(3600))).await;
    }
}
