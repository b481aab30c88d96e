//! The client side of the session lifecycle: activate, end, validate.
//!
//! All of it runs on the client pool, whose connections no other work can take. Activation runs
//! in one transaction holding the license row lock, so admission decisions for one license are
//! serialised across every server instance: the device and session limits can never be
//! overshot, and a device can never hold two sessions.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::events::{self, SessionEvent, SessionEventKind};
use super::{end_sessions, EndReason, Selector, SessionSettings};
use crate::audit::{self, AuditEntry};
use crate::auth::{Actor, Caller};
use crate::db::ClientPool;
use crate::devices;
use crate::error::{Error, Result};
use crate::licenses::{self, License, LicenseKey};

/// Why a license or activation was refused: expected business outcomes, not errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum DenialReason {
    /// No license has this key.
    LicenseNotFound,
    /// An admin deactivated the license.
    LicenseInactive,
    /// The license's validity window has not started yet.
    LicenseNotYetValid,
    /// The license's validity window has ended.
    LicenseExpired,
    /// All device slots are taken; an admin may deactivate a device to free one.
    DeviceLimitReached,
    /// As many sessions as allowed are live; none is ended to make room.
    ConcurrentLimitReached,
    /// The device is not (or no longer) registered to this license.
    DeviceNotRegistered,
}

pub struct ActivationRequest {
    pub license_key: String,
    pub hardware_fingerprint: String,
    pub device_name: String,
    pub device_type: String,
}

/// A live session someone else holds, as a denied client may see it (never its token).
#[derive(Debug, Clone, sqlx::FromRow, async_graphql::SimpleObject)]
pub struct LiveSessionSummary {
    pub device_name: String,
    pub device_type: String,
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub struct Granted {
    pub session_token: Uuid,
    pub session_id: Uuid,
    pub resumed: bool,
    pub license: License,
    pub device_id: Uuid,
    /// As the device sent it (trimmed), for its lease.
    pub hardware_fingerprint: String,
    pub expires_at: DateTime<Utc>,
}

pub struct Denied {
    pub reason: DenialReason,
    pub message: String,
    pub live_sessions: Vec<LiveSessionSummary>,
}

pub enum Activation {
    Granted(Box<Granted>),
    Denied(Denied),
}

fn denied(reason: DenialReason, message: impl Into<String>) -> Activation {
    Activation::Denied(Denied { reason, message: message.into(), live_sessions: Vec::new() })
}

pub(crate) fn parse_key(input: &str) -> Result<LicenseKey> {
    LicenseKey::parse(input).map_err(|e| Error::bad_input("licenseKey", e.to_string()))
}

/// A hardware fingerprint as sent, trimmed: 1 to 256 bytes.
pub(crate) fn clean_fingerprint(fingerprint: &str) -> Result<&str> {
    let fingerprint = fingerprint.trim();
    if fingerprint.is_empty() || fingerprint.len() > 256 {
        return Err(Error::bad_input("hardwareFingerprint", "hardwareFingerprint must be 1 to 256 bytes"));
    }
    Ok(fingerprint)
}

/// The license's own state, independent of devices: inactive, not yet valid, expired.
pub(crate) fn license_denial(license: &License, now: DateTime<Utc>) -> Option<Activation> {
    if !license.is_active {
        return Some(denied(DenialReason::LicenseInactive, "this license has been deactivated"));
    }
    if license.valid_from > now {
        return Some(denied(
            DenialReason::LicenseNotYetValid,
            format!("this license is valid from {}", license.valid_from),
        ));
    }
    if license.valid_until.is_some_and(|until| until <= now) {
        return Some(denied(DenialReason::LicenseExpired, "this license has expired"));
    }
    None
}

/// A device presenting itself to a license whose row lock the caller holds: its registration,
/// made now (or a deactivated one made active again) if a device slot is free, else denied with
/// `DEVICE_LIMIT_REACHED`. Activation and offline activation (`issueOfflineLease`) admit devices
/// through here.
pub(crate) async fn admit_device(
    conn: &mut PgConnection,
    caller: &Caller,
    license: &License,
    device: &devices::Registration<'_>,
) -> Result<std::result::Result<Uuid, Denied>> {
    match devices::find_by_fingerprint(conn, license.id.0, device.fingerprint).await? {
        Some((id, true)) => {
            devices::seen(conn, id, device.device_name, device.device_type).await?;
            Ok(Ok(id))
        }
        known => {
            if devices::count_active(conn, license.id.0).await? >= i64::from(license.device_limit) {
                return Ok(Err(Denied {
                    reason: DenialReason::DeviceLimitReached,
                    message: format!("all {} device slots of this license are taken", license.device_limit),
                    live_sessions: Vec::new(),
                }));
            }
            Ok(Ok(devices::register(conn, caller, device, known.is_some()).await?))
        }
    }
}

pub async fn activate(
    pool: &ClientPool,
    settings: &SessionSettings,
    caller: &Caller,
    request: ActivationRequest,
) -> Result<Activation> {
    let key = parse_key(&request.license_key)?;
    let fingerprint = clean_fingerprint(&request.hardware_fingerprint)?;
    let device_name = request.device_name.trim();
    let device_type = request.device_type.trim();
    if device_name.chars().count() > 200 {
        return Err(Error::bad_input("deviceName", "deviceName must be at most 200 characters"));
    }
    if device_type.chars().count() > 100 {
        return Err(Error::bad_input("deviceType", "deviceType must be at most 100 characters"));
    }
    let timeout = settings.timeout_secs();

    let mut tx = pool.begin().await?;
    let Some(license) = licenses::lock_by_key(&mut tx, &key).await? else {
        return Ok(denied(DenialReason::LicenseNotFound, "no license has this key"));
    };
    // Every decision below is taken at this time, read while holding the license's lock (see
    // `session_is_live_at`): the transaction's own start may be older than a deadline another
    // admission already saw pass.
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(&mut *tx).await?;
    if let Some(denial) = license_denial(&license, now) {
        return Ok(denial);
    }

    let registration = devices::Registration { license_id: license.id.0, fingerprint, device_name, device_type };
    let device_id = match admit_device(&mut tx, caller, &license, &registration).await? {
        Ok(id) => id,
        Err(denial) => return Ok(Activation::Denied(denial)),
    };

    let existing: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT id, session_is_live_at(last_heartbeat_at, $2, $3)
         FROM license_sessions WHERE device_id = $1 FOR UPDATE",
    )
    .bind(device_id)
    .bind(timeout)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    match existing {
        Some((session_id, true)) => {
            let (session_token, expires_at): (Uuid, DateTime<Utc>) = sqlx::query_as(
                "UPDATE license_sessions SET last_heartbeat_at = greatest(last_heartbeat_at, clock_timestamp())
                 WHERE id = $1
                 RETURNING session_token, session_deadline(last_heartbeat_at, $2)",
            )
            .bind(session_id)
            .bind(timeout)
            .fetch_one(&mut *tx)
            .await?;
            let event = SessionEvent::session(SessionEventKind::Resumed, license.id.0, session_id, device_id);
            events::notify(&mut tx, &event).await?;
            tx.commit().await?;
            return Ok(Activation::Granted(Box::new(Granted {
                session_token,
                session_id,
                resumed: true,
                license,
                device_id,
                hardware_fingerprint: fingerprint.to_owned(),
                expires_at,
            })));
        }
        Some((session_id, false)) => {
            // Dead already; file it before admitting a new one.
            let system =
                Caller { actor: Actor::system(), scope: caller.scope, ip: None, session: None, deferred_key: None };
            end_sessions(&mut tx, settings, &system, Selector::Id(session_id), EndReason::Timeout).await?;
        }
        None => {}
    }

    let live: Vec<LiveSessionSummary> = sqlx::query_as(
        "SELECT d.device_name, d.device_type, s.started_at, s.last_heartbeat_at,
                session_deadline(s.last_heartbeat_at, $2) AS expires_at
         FROM license_sessions s JOIN device_registrations d ON d.id = s.device_id
         WHERE s.license_id = $1 AND session_is_live_at(s.last_heartbeat_at, $2, $3)
         ORDER BY s.last_heartbeat_at",
    )
    .bind(license.id)
    .bind(timeout)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    if live.len() >= usize::try_from(license.concurrent_sessions_limit).unwrap_or(0) {
        // Rolled back: a denied activation changes nothing, not even the device registration.
        return Ok(Activation::Denied(Denied {
            reason: DenialReason::ConcurrentLimitReached,
            message: format!(
                "{} of {} concurrent sessions are in use; a slot frees when one ends or misses its heartbeats",
                live.len(),
                license.concurrent_sessions_limit
            ),
            live_sessions: live,
        }));
    }

    let session_token = Uuid::new_v4();
    let (session_id, expires_at): (Uuid, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO license_sessions (session_token, license_id, device_id, started_at, last_heartbeat_at, client_ip)
         VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp(), $4::inet)
         RETURNING id, session_deadline(last_heartbeat_at, $5)",
    )
    .bind(session_token)
    .bind(license.id)
    .bind(device_id)
    .bind(caller.ip.map(|ip| ip.to_string()))
    .bind(timeout)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("session.started", "session", session_id)
            .new_values(serde_json::json!({"licenseId": license.id, "deviceId": device_id})),
    )
    .await?;
    let event = SessionEvent::session(SessionEventKind::Started, license.id.0, session_id, device_id);
    events::notify(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(Activation::Granted(Box::new(Granted {
        session_token,
        session_id,
        resumed: false,
        license,
        device_id,
        hardware_fingerprint: fingerprint.to_owned(),
        expires_at,
    })))
}

pub enum EndOutcome {
    Ended {
        ended_at: DateTime<Utc>,
    },
    /// It had ended already, for this reason (`Timeout` for one past its deadline).
    AlreadyEnded(EndReason),
    NotFound,
}

/// The client ends its own session (`client_ended`).
pub async fn end(
    pool: &ClientPool,
    settings: &SessionSettings,
    caller: &Caller,
    session_token: Uuid,
) -> Result<EndOutcome> {
    let mut tx = pool.begin().await?;
    let ended = end_sessions(&mut tx, settings, caller, Selector::Token(session_token), EndReason::ClientEnded).await?;
    tx.commit().await?;
    if let Some(session) = ended.first() {
        return Ok(if session.end_reason == EndReason::ClientEnded.as_str() {
            EndOutcome::Ended { ended_at: session.ended_at }
        } else {
            EndOutcome::AlreadyEnded(EndReason::parse(&session.end_reason))
        });
    }
    let reason: Option<String> = sqlx::query_scalar("SELECT end_reason FROM session_history WHERE session_token = $1")
        .bind(session_token)
        .fetch_optional(&**pool)
        .await?;
    Ok(reason.map_or(EndOutcome::NotFound, |reason| EndOutcome::AlreadyEnded(EndReason::parse(&reason))))
}

pub struct Validation {
    pub license: License,
    pub device_id: Uuid,
    /// As the device sent it (trimmed), for its lease.
    pub hardware_fingerprint: String,
    /// The deadline of the device's live session, if it has one.
    pub live_deadline: Option<DateTime<Utc>>,
}

/// Is this license usable on this device right now? Reads only.
pub async fn validate(
    pool: &ClientPool,
    settings: &SessionSettings,
    license_key: &str,
    fingerprint: &str,
) -> Result<std::result::Result<Validation, Denied>> {
    let key = parse_key(license_key)?;
    let fingerprint = clean_fingerprint(fingerprint)?;
    let license = licenses::find_by_key(pool, &key).await?;
    let Some(license) = license else {
        return Ok(Err(Denied {
            reason: DenialReason::LicenseNotFound,
            message: "no license has this key".into(),
            live_sessions: vec![],
        }));
    };
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(&**pool).await?;
    if let Some(Activation::Denied(denial)) = license_denial(&license, now) {
        return Ok(Err(denial));
    }
    let device: Option<(Uuid, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT d.id,
                (SELECT session_deadline(s.last_heartbeat_at, $3) FROM license_sessions s
                  WHERE s.device_id = d.id AND session_is_live(s.last_heartbeat_at, $3))
         FROM device_registrations d
         WHERE d.license_id = $1 AND d.hardware_fingerprint = $2 AND d.is_active",
    )
    .bind(license.id)
    .bind(fingerprint)
    .bind(settings.timeout_secs())
    .fetch_optional(&**pool)
    .await?;
    match device {
        Some((device_id, live_deadline)) => {
            Ok(Ok(Validation { license, device_id, hardware_fingerprint: fingerprint.to_owned(), live_deadline }))
        }
        None => Ok(Err(Denied {
            reason: DenialReason::DeviceNotRegistered,
            message: "this device is not activated on this license".into(),
            live_sessions: vec![],
        })),
    }
}
