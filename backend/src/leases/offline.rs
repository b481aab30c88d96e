//! Offline activation: a lease for a machine that never reaches the server (air-gapped), issued
//! by an admin and carried to it as a file. The machine is registered on the license like any
//! activated device and takes one of its device slots.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{keys, LeaseHolder, LeaseTerms, Leases};
use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::devices::Registration;
use crate::error::{Error, Result};
use crate::licenses;
use crate::sessions::lifecycle::{self, Activation, Denied};

/// The longest an offline lease may be issued for, in days (about ten years).
pub const MAX_VALID_DAYS: i32 = 3650;

/// A lease for the device with this hardware fingerprint, valid for `valid_days` from now but never
/// past the license's end; no `session_id`, no offline grace on top. Registers the device if it is
/// not registered (refused when every device slot is taken), under the license's lock like
/// activation. Refused for an inactive, not yet valid or expired license; nothing changes then.
pub async fn issue(
    pool: &PgPool,
    leases: &Leases,
    caller: &Caller,
    license_id: Uuid,
    hardware_fingerprint: &str,
    valid_days: i32,
) -> Result<String> {
    if !(1..=MAX_VALID_DAYS).contains(&valid_days) {
        return Err(Error::bad_input("validDays", format!("validDays must be between 1 and {MAX_VALID_DAYS}")));
    }
    let fingerprint = lifecycle::clean_fingerprint(hardware_fingerprint)?;
    // The first start creates the first key; a server that never signed anything has none yet.
    leases.current_kid().await?;

    let mut tx = pool.begin().await?;
    let license = licenses::lock(&mut tx, license_id).await.map_err(|err| match err {
        Error::NotFound { entity, .. } => Error::not_found(entity, "licenseId"),
        err => err,
    })?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(&mut *tx).await?;
    if let Some(Activation::Denied(denial)) = lifecycle::license_denial(&license, now) {
        return Err(refused(denial));
    }
    let registration = Registration { license_id, fingerprint, device_name: "", device_type: "" };
    let device_id = lifecycle::admit_device(&mut tx, caller, &license, &registration).await?.map_err(refused)?;

    let terms = LeaseTerms {
        license_id,
        license_type: &license.license_type,
        valid_until: license.valid_until,
        features: &license.features,
        offline_grace_seconds: 0,
    };
    let holder = LeaseHolder { device_id, session_id: None, hardware_fingerprint: fingerprint };
    let claims = leases.claims(&terms, &holder, now, now + Duration::days(valid_days.into()));
    let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
    let key = keys::current_for_offline_lease(&mut tx, expires_at).await?;
    let lease = key.sign(&claims)?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("license.offline_lease_issued", "license", license_id).new_values(serde_json::json!({
            "deviceId": device_id, "jti": claims.jti, "kid": key.kid,
            "validDays": valid_days, "expiresAt": expires_at,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(lease)
}

/// A denial of the admission rules as the error an admin sees, naming the license.
fn refused(denial: Denied) -> Error {
    let reason = match async_graphql::InputType::to_value(&denial.reason) {
        async_graphql::Value::Enum(name) => name.to_string(),
        other => other.to_string(),
    };
    Error::Refused { field: "licenseId".into(), reason, message: denial.message }
}
