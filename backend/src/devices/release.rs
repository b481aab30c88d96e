//! Self-service release: a license's own client frees one of its device slots (a replaced PC),
//! at most `max_device_releases` times per rolling 30 days. Admins deactivate devices without
//! that bound (`deactivateDevice`), and their deactivations are not counted here.

use async_graphql::{Enum, SimpleObject, Union};
use chrono::{DateTime, Utc};

use super::{deactivate_locked, find_by_fingerprint, Deactivation};
use crate::auth::Caller;
use crate::db::ClientPool;
use crate::error::Result;
use crate::licenses;
use crate::sessions::lifecycle::{clean_fingerprint, parse_key};
use crate::sessions::SessionSettings;

/// The rolling window the release limit counts in.
pub const RELEASE_WINDOW_DAYS: i64 = 30;

/// The device no longer holds a slot of the license; its live session, if any, has ended
/// (`DEVICE_DEACTIVATED`).
#[derive(Debug, SimpleObject)]
pub struct DeviceReleased {
    pub released_at: DateTime<Utc>,
}

/// Why a release was refused: nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ReleaseDenialReason {
    /// The license's clients released `maxDeviceReleases` devices in the last 30 days.
    TransferLimitReached,
    /// No active device of this license has this fingerprint.
    DeviceNotRegistered,
    /// No license has this key.
    LicenseNotFound,
}

#[derive(Debug, SimpleObject)]
pub struct ReleaseDenied {
    pub reason: ReleaseDenialReason,
    pub message: String,
    /// With `TRANSFER_LIMIT_REACHED`: when the oldest release in the window leaves it, so that
    /// one more is allowed (null when the license allows none at all).
    pub retry_after: Option<DateTime<Utc>>,
}

#[derive(Debug, Union)]
pub enum ReleaseDeviceResult {
    DeviceReleased(DeviceReleased),
    ReleaseDenied(ReleaseDenied),
}

fn denied(reason: ReleaseDenialReason, message: impl Into<String>) -> ReleaseDeviceResult {
    ReleaseDeviceResult::ReleaseDenied(ReleaseDenied { reason, message: message.into(), retry_after: None })
}

/// Releases the device with this fingerprint from the license with this key, under the
/// license's lock (the lock admissions take), audited with the caller as actor.
pub async fn release(
    pool: &ClientPool,
    settings: &SessionSettings,
    caller: &Caller,
    license_key: &str,
    fingerprint: &str,
) -> Result<ReleaseDeviceResult> {
    let key = parse_key(license_key)?;
    let fingerprint = clean_fingerprint(fingerprint)?;
    let mut tx = pool.begin().await?;
    let Some(license) = licenses::lock_by_key(&mut tx, &key).await? else {
        return Ok(denied(ReleaseDenialReason::LicenseNotFound, "no license has this key"));
    };
    let Some((device_id, true)) = find_by_fingerprint(&mut tx, license.id.0, fingerprint).await? else {
        return Ok(denied(ReleaseDenialReason::DeviceNotRegistered, "this device is not activated on this license"));
    };
    // The clients' releases in the window, oldest first, read at a time taken under the lock.
    let (now, releases): (DateTime<Utc>, Vec<DateTime<Utc>>) = sqlx::query_as(
        "SELECT clock_timestamp(), coalesce(array_agg(released_at ORDER BY released_at), '{}')
         FROM device_releases
         WHERE license_id = $1 AND NOT by_admin AND released_at > clock_timestamp() - make_interval(days => $2)",
    )
    .bind(license.id)
    .bind(i32::try_from(RELEASE_WINDOW_DAYS).unwrap_or(i32::MAX))
    .fetch_one(&mut *tx)
    .await?;
    let allowed = usize::try_from(license.max_device_releases).unwrap_or(0);
    if releases.len() >= allowed {
        // One more is allowed once all but `allowed - 1` of them have left the window.
        let window = chrono::Duration::days(RELEASE_WINDOW_DAYS);
        let retry_after = allowed.checked_sub(1).map(|keep| releases[releases.len() - 1 - keep] + window);
        return Ok(ReleaseDeviceResult::ReleaseDenied(ReleaseDenied {
            reason: ReleaseDenialReason::TransferLimitReached,
            message: format!(
                "this license's devices were released {} times in the last {RELEASE_WINDOW_DAYS} days, \
                 the most it allows is {allowed}",
                releases.len()
            ),
            retry_after,
        }));
    }
    let released_at = deactivate_locked(&mut tx, settings, caller, license.id.0, device_id, Deactivation::ByClient)
        .await?
        .unwrap_or(now);
    tx.commit().await?;
    Ok(ReleaseDeviceResult::DeviceReleased(DeviceReleased { released_at }))
}
