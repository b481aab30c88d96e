//! The daily scheduled backup, at `BACKUP_TIME` in `BACKUP_TIMEZONE`.
//!
//! Every instance runs the scheduler; each day's backup is taken exactly once because the day
//! is claimed in the database (an advisory lock, and a unique constraint on the day). A server
//! that starts after the day's time and finds no backup for the day takes it then, so a restart
//! over 03:00 does not skip a day. Dates and times are computed by PostgreSQL, which knows the
//! time zone rules (daylight-saving changes included).

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

/// Takes today's scheduled backup if its time has come and no instance has taken it yet.
/// Returns the backup when this call took it.
pub async fn run_if_due(pool: &PgPool, settings: &BackupSettings) -> Result<Option<super::Backup>> {
    let Some(schedule) = &settings.schedule else {
        return Ok(None);
    };
    let state = due(pool, schedule).await?;
    if !state.due {
        return Ok(None);
    }
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM backups WHERE scheduled_for = $1)")
        .bind(state.day)
        .fetch_one(pool)
        .await?;
    if taken {
        return Ok(None);
    }
    super::create_scheduled(pool, settings, state.day).await
}

/// Runs the schedule until the task is dropped. Wakes at the next due time (at least hourly, so
/// that a changed clock is noticed).
pub async fn run(pool: PgPool, settings: std::sync::Arc<BackupSettings>) {
    let Some(schedule) = settings.schedule.clone() else {
        return;
    };
    loop {
        if let Err(err) = run_if_due(&pool, &settings).await {
            tracing::error!(error = ?err, "the scheduled backup failed");
        }
        let wait = match due(&pool, &schedule).await {
            Ok(state) => (state.next - state.now).to_std().unwrap_or(Duration::ZERO),
            Err(err) => {
                tracing::warn!(error = ?err, "cannot compute the next scheduled backup");
                Duration::from_secs(300)
            }
        };
        tokio::time::sleep(wait.clamp(Duration::from_secs(1), Duration::from_secs(3600))).await;
    }
}
