//! The operations client applications call: activate, heartbeat, endSession, validateLicense,
//! releaseDevice.
//!
//! Expected outcomes (a limit reached, an expired session) are typed results in unions; only
//! malformed input and missing rights are GraphQL errors. Every resolver here works on the
//! client pool (`crate::db::ClientPool`), which no other work can use up.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, Union};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::client_license::{lease_field, ClientLicense, LeaseSubject, LicenseTerms};
use super::heartbeat::{HeartbeatOutcome, HeartbeatWriter};
use super::lifecycle::{self, Activation, ActivationRequest, DenialReason, EndOutcome, LiveSessionSummary};
use super::EndReason;
use crate::auth::{caller, Permission, Require};
use crate::db::ClientPool;
use crate::devices::release::{self, ReleaseDeviceResult};
use crate::error::{Error, GqlResultExt};
use crate::graphql::ids::Id;
use crate::licenses::key::LicenseKey;
use crate::rate_limit::RateLimits;
use crate::sessions::SessionSettings;

#[derive(Debug, InputObject)]
pub struct ActivateInput {
    /// As printed or typed: any case, hyphens optional.
    pub license_key: String,
    /// A stable identifier of the device, chosen by the client (1–256 bytes).
    pub hardware_fingerprint: String,
    #[graphql(default)]
    pub device_name: String,
    #[graphql(default)]
    pub device_type: String,
}

/// A session the client may use: new, or its own live one resumed.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SessionGranted {
    /// The session's bearer secret, for `heartbeat` and `endSession`: handed to this client
    /// only, never shown to admins, analysts, the audit log or subscribers.
    pub session_token: Uuid,
    /// True when this device already had a live session and got the same token back.
    pub resumed: bool,
    pub license_id: Id,
    pub device_id: Id,
    /// Send a heartbeat this often.
    pub heartbeat_interval_seconds: i32,
    /// A session without a heartbeat for this long ends.
    pub session_timeout_seconds: i32,
    /// The session ends at this moment unless a heartbeat arrives first.
    pub expires_at: DateTime<Utc>,
    pub license_valid_until: Option<DateTime<Utc>>,
    /// The license as the application may use it.
    pub license: ClientLicense,
    /// The server's clock when it answered: judge `expiresAt` and the lease against it.
    pub server_time: DateTime<Utc>,
    #[graphql(skip)]
    pub lease_subject: LeaseSubject,
}

#[ComplexObject]
impl SessionGranted {
    /// A signed lease (compact JWS, `alg: EdDSA`) for this device and session, valid until
    /// `expiresAt` plus the license's offline grace (never past its end): verify it against
    /// `/.well-known/jwks.json` and stay licensed while it is valid, even without the server.
    async fn lease(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        lease_field(ctx, &self.lease_subject, self.server_time, self.expires_at).await
    }
}

#[derive(SimpleObject)]
pub struct ActivationDenied {
    pub reason: DenialReason,
    pub message: String,
    /// With `CONCURRENT_LIMIT_REACHED`: the sessions holding the slots (without their tokens).
    #[graphql(complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity")]
    pub live_sessions: Vec<LiveSessionSummary>,
    /// With `CONCURRENT_LIMIT_REACHED`: the earliest moment a slot may free up.
    pub retry_after: Option<DateTime<Utc>>,
}

#[derive(Union)]
pub enum ActivationResult {
    SessionGranted(Box<SessionGranted>),
    ActivationDenied(ActivationDenied),
}

/// Why a heartbeat or end was refused: for a session that has ended, why it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum SessionRefusalReason {
    /// The session missed its deadline or its client ended it; activate again.
    SessionExpired,
    /// No session ever had this token.
    SessionNotFound,
    /// The license's validity has ended; the session ended with it.
    LicenseExpired,
    /// An admin deactivated the license, which ended the session.
    LicenseRevoked,
    /// The device was deactivated (by an admin, or released by its client), which ended the
    /// session and freed its slot.
    DeviceDeactivated,
    /// An admin ended the session.
    AdminTerminated,
}

impl SessionRefusalReason {
    /// What a client is told about a session that ended for `reason`.
    pub fn ended(reason: EndReason) -> Self {
        match reason {
            EndReason::ClientEnded | EndReason::Timeout => SessionRefusalReason::SessionExpired,
            EndReason::AdminTerminated => SessionRefusalReason::AdminTerminated,
            EndReason::DeviceDeactivated => SessionRefusalReason::DeviceDeactivated,
            EndReason::LicenseRevoked => SessionRefusalReason::LicenseRevoked,
            EndReason::LicenseExpired => SessionRefusalReason::LicenseExpired,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct HeartbeatAccepted {
    /// The session ends at this moment unless the next heartbeat arrives first.
    pub next_deadline: DateTime<Utc>,
    pub heartbeat_interval_seconds: i32,
    /// The server's clock when it answered: judge `nextDeadline` and the lease against it.
    pub server_time: DateTime<Utc>,
    #[graphql(skip)]
    pub lease_subject: LeaseSubject,
}

#[ComplexObject]
impl HeartbeatAccepted {
    /// A new signed lease for this device and session, valid until `nextDeadline` plus the
    /// license's offline grace (never past its end).
    async fn lease(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        lease_field(ctx, &self.lease_subject, self.server_time, self.next_deadline).await
    }
}

#[derive(SimpleObject)]
pub struct HeartbeatRefused {
    pub reason: SessionRefusalReason,
    pub message: String,
}

#[derive(Union)]
pub enum HeartbeatResult {
    HeartbeatAccepted(HeartbeatAccepted),
    HeartbeatRefused(HeartbeatRefused),
}

#[derive(SimpleObject)]
pub struct SessionEnded {
    pub session_token: Uuid,
    pub ended_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct EndSessionRefused {
    pub reason: SessionRefusalReason,
    pub message: String,
}

#[derive(Union)]
pub enum EndSessionResult {
    SessionEnded(SessionEnded),
    EndSessionRefused(EndSessionRefused),
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct LicenseValid {
    pub license_id: Id,
    pub valid_until: Option<DateTime<Utc>>,
    pub device_limit: i32,
    pub concurrent_sessions_limit: i32,
    /// Whether this device holds a live session now.
    pub has_live_session: bool,
    /// The license as the application may use it.
    pub license: ClientLicense,
    /// The server's clock when it answered.
    pub server_time: DateTime<Utc>,
    #[graphql(skip)]
    pub lease_subject: LeaseSubject,
    /// The device's live session's deadline, or the session timeout from now.
    #[graphql(skip)]
    pub lease_until: DateTime<Utc>,
}

#[ComplexObject]
impl LicenseValid {
    /// A signed lease for this device without a session (no `session_id` claim), valid until
    /// its live session's deadline (or the session timeout from now) plus the license's
    /// offline grace, never past its end.
    async fn lease(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        lease_field(ctx, &self.lease_subject, self.server_time, self.lease_until).await
    }
}

#[derive(SimpleObject)]
pub struct LicenseInvalid {
    pub reason: DenialReason,
    pub message: String,
}

#[derive(Union)]
pub enum LicenseValidation {
    LicenseValid(Box<LicenseValid>),
    LicenseInvalid(LicenseInvalid),
}

/// What a heartbeat's outcome answers, counted in the metrics: the one mapping the resolver and
/// the HTTP heartbeat path share.
pub fn heartbeat_answer(settings: &SessionSettings, outcome: HeartbeatOutcome) -> crate::Result<HeartbeatResult> {
    crate::metrics::heartbeat(matches!(outcome, HeartbeatOutcome::Accepted(_)));
    Ok(match outcome {
        HeartbeatOutcome::Accepted(accepted) => HeartbeatResult::HeartbeatAccepted(HeartbeatAccepted {
            next_deadline: accepted.last_heartbeat_at + settings.session_timeout,
            heartbeat_interval_seconds: settings.interval_secs(),
            server_time: Utc::now(),
            lease_subject: accepted.lease,
        }),
        HeartbeatOutcome::Unauthenticated => {
            return Err(Error::Unauthenticated("the API key is malformed, unknown or revoked".into()))
        }
        HeartbeatOutcome::Forbidden => {
            return Err(Error::Forbidden("a caller with this API key's scope may not send heartbeats".into()))
        }
        HeartbeatOutcome::Ended(reason) => {
            let (reason, message) = refusal(SessionRefusalReason::ended(reason));
            HeartbeatResult::HeartbeatRefused(HeartbeatRefused { reason, message })
        }
        HeartbeatOutcome::NotFound => {
            let (reason, message) = refusal(SessionRefusalReason::SessionNotFound);
            HeartbeatResult::HeartbeatRefused(HeartbeatRefused { reason, message })
        }
    })
}

fn refusal(reason: SessionRefusalReason) -> (SessionRefusalReason, String) {
    let message = match reason {
        SessionRefusalReason::SessionExpired => "the session has ended or missed its deadline; activate again",
        SessionRefusalReason::SessionNotFound => "no session has this token",
        SessionRefusalReason::LicenseExpired => "the license has expired; the session ended with it",
        SessionRefusalReason::LicenseRevoked => "the license has been deactivated; the session ended with it",
        SessionRefusalReason::DeviceDeactivated => "the device has been deactivated; the session ended with it",
        SessionRefusalReason::AdminTerminated => "an administrator ended the session",
    };
    (reason, message.to_owned())
}

#[derive(Default)]
pub struct ClientQuery;

#[Object]
impl ClientQuery {
    /// Whether the license is usable on this device now. Changes nothing.
    #[graphql(guard = "Require(Permission::ClientOperations)")]
    async fn validate_license(
        &self,
        ctx: &Context<'_>,
        license_key: String,
        hardware_fingerprint: String,
    ) -> async_graphql::Result<LicenseValidation> {
        charge_license(ctx, &license_key)?;
        let (pool, settings) = (ctx.data_unchecked::<ClientPool>(), ctx.data_unchecked::<SessionSettings>());
        Ok(match lifecycle::validate(pool, settings, &license_key, &hardware_fingerprint).await.gql()? {
            Ok(valid) => {
                let server_time = Utc::now();
                LicenseValidation::LicenseValid(Box::new(LicenseValid {
                    license_id: valid.license.id,
                    valid_until: valid.license.valid_until,
                    device_limit: valid.license.device_limit,
                    concurrent_sessions_limit: valid.license.concurrent_sessions_limit,
                    has_live_session: valid.live_deadline.is_some(),
                    license: ClientLicense::from(&valid.license),
                    server_time,
                    lease_subject: LeaseSubject {
                        terms: LicenseTerms::from(&valid.license),
                        device_id: valid.device_id,
                        session_id: None,
                        hardware_fingerprint: valid.hardware_fingerprint,
                    },
                    lease_until: valid.live_deadline.unwrap_or(server_time + settings.session_timeout),
                }))
            }
            Err(denied) => {
                LicenseValidation::LicenseInvalid(LicenseInvalid { reason: denied.reason, message: denied.message })
            }
        })
    }
}

/// One attempt on a license key from its bucket. A key that does not parse costs nothing here:
/// it is refused without a lookup.
fn charge_license(ctx: &Context<'_>, license_key: &str) -> async_graphql::Result<()> {
    if let Ok(key) = LicenseKey::parse(license_key) {
        ctx.data_unchecked::<std::sync::Arc<RateLimits>>().charge_license(key.as_str()).gql()?;
    }
    Ok(())
}

#[derive(Default)]
pub struct ClientMutation;

#[Object]
impl ClientMutation {
    /// Registers the device if needed and starts (or resumes) its session.
    #[graphql(guard = "Require(Permission::ClientOperations)")]
    async fn activate(&self, ctx: &Context<'_>, input: ActivateInput) -> async_graphql::Result<ActivationResult> {
        charge_license(ctx, &input.license_key)?;
        let (pool, settings) = (ctx.data_unchecked::<ClientPool>(), ctx.data_unchecked::<SessionSettings>());
        let request = ActivationRequest {
            license_key: input.license_key,
            hardware_fingerprint: input.hardware_fingerprint,
            device_name: input.device_name,
            device_type: input.device_type,
        };
        Ok(match lifecycle::activate(pool, settings, caller(ctx).gql()?, request).await.gql()? {
            Activation::Granted(granted) => ActivationResult::SessionGranted(Box::new(SessionGranted {
                session_token: granted.session_token,
                resumed: granted.resumed,
                license_id: granted.license.id,
                device_id: granted.device_id.into(),
                heartbeat_interval_seconds: settings.interval_secs(),
                session_timeout_seconds: i32::try_from(settings.session_timeout.as_secs()).unwrap_or(i32::MAX),
                expires_at: granted.expires_at,
                license_valid_until: granted.license.valid_until,
                license: ClientLicense::from(&granted.license),
                server_time: Utc::now(),
                lease_subject: LeaseSubject {
                    terms: LicenseTerms::from(&granted.license),
                    device_id: granted.device_id,
                    session_id: Some(granted.session_id),
                    hardware_fingerprint: granted.hardware_fingerprint,
                },
            })),
            Activation::Denied(denied) => {
                crate::metrics::activation_denied(denied.reason);
                ActivationResult::ActivationDenied(ActivationDenied {
                    reason: denied.reason,
                    message: denied.message,
                    retry_after: denied.live_sessions.iter().map(|s| s.expires_at).min(),
                    live_sessions: denied.live_sessions,
                })
            }
        })
    }

    /// Keeps a live session alive. Refused once the session has ended or expired.
    #[graphql(guard = "Require(Permission::ClientOperations)")]
    async fn heartbeat(&self, ctx: &Context<'_>, session_token: Uuid) -> async_graphql::Result<HeartbeatResult> {
        let settings = ctx.data_unchecked::<SessionSettings>();
        let caller = caller(ctx).gql()?;
        let outcome =
            ctx.data_unchecked::<HeartbeatWriter>().record(session_token, caller.deferred_key.clone()).await.gql()?;
        heartbeat_answer(settings, outcome).gql()
    }

    /// Frees this device's slot on the license (a replaced PC) and ends its live session
    /// (`DEVICE_DEACTIVATED`). At most the license's `maxDeviceReleases` per rolling 30 days;
    /// a refusal changes nothing. The device may activate again later while a slot is free.
    #[graphql(guard = "Require(Permission::ClientOperations)")]
    async fn release_device(
        &self,
        ctx: &Context<'_>,
        license_key: String,
        hardware_fingerprint: String,
    ) -> async_graphql::Result<ReleaseDeviceResult> {
        charge_license(ctx, &license_key)?;
        let (pool, settings) = (ctx.data_unchecked::<ClientPool>(), ctx.data_unchecked::<SessionSettings>());
        release::release(pool, settings, caller(ctx).gql()?, &license_key, &hardware_fingerprint).await.gql()
    }

    /// Ends the client's session (`CLIENT_ENDED`), freeing its slot at once.
    #[graphql(guard = "Require(Permission::ClientOperations)")]
    async fn end_session(&self, ctx: &Context<'_>, session_token: Uuid) -> async_graphql::Result<EndSessionResult> {
        let (pool, settings) = (ctx.data_unchecked::<ClientPool>(), ctx.data_unchecked::<SessionSettings>());
        Ok(match lifecycle::end(pool, settings, caller(ctx).gql()?, session_token).await.gql()? {
            EndOutcome::Ended { ended_at } => EndSessionResult::SessionEnded(SessionEnded { session_token, ended_at }),
            EndOutcome::AlreadyEnded(reason) => {
                let (reason, message) = refusal(SessionRefusalReason::ended(reason));
                EndSessionResult::EndSessionRefused(EndSessionRefused { reason, message })
            }
            EndOutcome::NotFound => {
                let (reason, message) = refusal(SessionRefusalReason::SessionNotFound);
                EndSessionResult::EndSessionRefused(EndSessionRefused { reason, message })
            }
        })
    }
}
