//! [`Session`]: a granted session, kept alive in the background, and what it tells the
//! application.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::backoff::{heartbeat_delay, unit};
use crate::client::LicenseClient;
use crate::error::Error;
use crate::lease::{self, Expected, Lease, LeaseError};
use crate::types::{wire, ClientLicense, DenialReason, Denied, RefusalReason};

/// What happened to a session, in the order it happened.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A heartbeat was accepted and its lease verified: licensed until the new lease expires.
    LeaseRenewed { expires_at: DateTime<Utc> },
    /// The session had timed out on the server (e.g. after an outage) and the SDK started a new
    /// one for the same license and device.
    Reactivated,
    /// The server cannot be reached (or failed); the SDK retries with back-off. The application
    /// stays licensed until the last lease expires ([`Event::Expired`]).
    Offline(Arc<Error>),
    /// The server answers again after [`Event::Offline`].
    Online,
    /// An answer carried a lease that does not verify; it is ignored (the last valid lease
    /// still counts) and the SDK retries.
    LeaseRejected(LeaseError),
    /// The last valid lease expired without a renewal: no longer licensed.
    Expired,
    /// The server refused a heartbeat: the session was ended for this reason (the license was
    /// revoked or expired, the device deactivated, an admin ended it). No longer licensed; the
    /// session stops.
    Refused(RefusalReason),
    /// Starting the session again (after it timed out) was denied. With
    /// `ConcurrentLimitReached` the SDK keeps trying (not licensed meanwhile); with any other
    /// reason the session stops.
    Denied(Denied),
}

/// The events of a session; from [`Session::events`]. Each receiver sees every event sent after
/// it was made (if it falls more than 64 events behind, the oldest are skipped).
#[derive(Debug)]
pub struct Events(broadcast::Receiver<Event>);

impl Events {
    /// The next event; `None` once the session has stopped and every event has been seen.
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            match self.0.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// The device and license a session is for.
#[derive(Clone)]
pub(crate) struct Identity {
    pub license_key: String,
    pub hardware_fingerprint: String,
    pub fingerprint_sha256: String,
    pub device_name: String,
}

/// A granted session with its verified lease.
pub(crate) struct Grant {
    token: Uuid,
    license_id: Uuid,
    device_id: Uuid,
    interval: Duration,
    server_time: DateTime<Utc>,
    license: ClientLicense,
    lease: Lease,
    lease_deadline: Instant,
}

impl Grant {
    pub(crate) fn new(granted: wire::SessionGranted, lease: Lease) -> Grant {
        let lease_deadline = Instant::now() + lease::remaining(lease.claims(), Utc::now());
        Grant {
            token: granted.session_token,
            license_id: granted.license_id,
            device_id: granted.device_id,
            interval: Duration::from_secs(granted.heartbeat_interval_seconds.max(1).into()),
            server_time: granted.server_time,
            license: granted.license,
            lease,
            lease_deadline,
        }
    }
}

/// Where a session stands; changed only by its background task.
struct State {
    grant: Grant,
    /// The server's clock minus this machine's, as of the last answer.
    clock_offset: chrono::Duration,
    /// The server ended the session (or denied starting it again) for good.
    stopped: bool,
    /// Starting the session again was denied for lack of a free slot; retrying.
    waiting_for_slot: bool,
}

struct Shared {
    client: LicenseClient,
    identity: Identity,
    state: Mutex<State>,
    /// `None` once the session has stopped, so that receivers see the end of the events.
    events: Mutex<Option<broadcast::Sender<Event>>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, event: Event) {
        if let Some(events) = self.events.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = events.send(event);
        }
    }

    fn stop(&self, event: Event) {
        self.state().stopped = true;
        self.send(event);
        self.events.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn adopt(&self, grant: Grant) {
        let mut state = self.state();
        state.clock_offset = grant.server_time - Utc::now();
        state.grant = grant;
        state.waiting_for_slot = false;
    }
}

/// A licensed session. While it lives, a background task heartbeats at the server's interval,
/// verifies each new lease and starts the session again when the server let it time out.
/// Dropping it ends the session on the server (best effort, without waiting); [`Session::end`]
/// ends it and waits for the answer.
pub struct Session {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    ended: bool,
}

impl Session {
    pub(crate) fn start(client: LicenseClient, identity: Identity, grant: Grant) -> Session {
        let (events, _) = broadcast::channel(64);
        let shared = Arc::new(Shared {
            client,
            identity,
            state: Mutex::new(State {
                clock_offset: grant.server_time - Utc::now(),
                grant,
                stopped: false,
                waiting_for_slot: false,
            }),
            events: Mutex::new(Some(events)),
        });
        let task = tokio::spawn(keep_alive(shared.clone()));
        Session { shared, task, ended: false }
    }

    /// Whether the application is licensed now: the last verified lease has not expired and the
    /// server has not refused the session. Stays true through outages until the lease expires.
    pub fn is_licensed(&self) -> bool {
        let state = self.shared.state();
        !state.stopped && !state.waiting_for_slot && Instant::now() < state.grant.lease_deadline
    }

    /// When the application stops being licensed unless the lease is renewed first (by this
    /// machine's clock).
    pub fn licensed_until(&self) -> DateTime<Utc> {
        let deadline = self.shared.state().grant.lease_deadline;
        let left = deadline.saturating_duration_since(Instant::now());
        Utc::now() + chrono::Duration::from_std(left).unwrap_or(chrono::Duration::MAX)
    }

    /// The license as the server last described it: type, end, features, offline grace and the
    /// resources allocated to it.
    pub fn license(&self) -> ClientLicense {
        self.shared.state().grant.license.clone()
    }

    /// The last verified lease; its claims are what the server signed.
    pub fn lease(&self) -> Lease {
        self.shared.state().grant.lease.clone()
    }

    pub fn license_id(&self) -> Uuid {
        self.shared.state().grant.license_id
    }

    pub fn device_id(&self) -> Uuid {
        self.shared.state().grant.device_id
    }

    /// The time now by the server's clock, as of its last answer (for judging deadlines the
    /// server set, such as `valid_until`).
    pub fn server_time(&self) -> DateTime<Utc> {
        Utc::now() + self.shared.state().clock_offset
    }

    /// The session's events from now on.
    pub fn events(&self) -> Events {
        match self.shared.events.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(events) => Events(events.subscribe()),
            None => Events(broadcast::channel(1).1),
        }
    }

    /// Ends the session on the server and waits for its answer. A session the server had
    /// already ended counts as ended.
    pub async fn end(mut self) -> Result<(), Error> {
        self.task.abort();
        self.ended = true;
        if self.shared.state().stopped {
            return Ok(());
        }
        let token = self.shared.state().grant.token;
        self.shared.client.end_session(token).await
    }
}

/// Shows neither the license key nor the session token (the session's bearer secret).
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("license_id", &self.license_id())
            .field("device_id", &self.device_id())
            .field("is_licensed", &self.is_licensed())
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
        if self.ended || self.shared.state().stopped {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.shared.client.clone();
            let token = self.shared.state().grant.token;
            runtime.spawn(async move {
                let _ = client.end_session(token).await;
            });
        }
    }
}

/// What one renewal did.
enum Renewal {
    Renewed,
    /// A new session replaced the one that timed out.
    Reactivated,
    /// No slot free for a new session; try again later.
    NoSlot,
    /// The server ended the session for good.
    Stopped,
}

/// The session's background task: heartbeats, retries, expiry.
async fn keep_alive(shared: Arc<Shared>) {
    let backoff = shared.client.backoff();
    let mut failures: u32 = 0;
    let mut offline = false;
    let mut expiry_told = false;
    loop {
        let wait = match failures {
            0 => heartbeat_delay(shared.state().grant.interval, unit()),
            n => backoff.delay(n - 1, unit()),
        };
        let wake = Instant::now() + wait;
        let lease_deadline = shared.state().grant.lease_deadline;
        if !expiry_told && lease_deadline <= wake {
            tokio::time::sleep_until(lease_deadline).await;
            expiry_told = true;
            shared.send(Event::Expired);
        }
        tokio::time::sleep_until(wake).await;
        match renew(&shared).await {
            Ok(renewal) => {
                if offline {
                    offline = false;
                    shared.send(Event::Online);
                }
                match renewal {
                    Renewal::Stopped => return,
                    Renewal::NoSlot => failures += 1,
                    Renewal::Renewed | Renewal::Reactivated => {
                        failures = 0;
                        expiry_told = false;
                        if let Renewal::Reactivated = renewal {
                            shared.send(Event::Reactivated);
                        }
                        let expires_at = shared.state().grant.lease.claims().expires_at();
                        shared.send(Event::LeaseRenewed { expires_at });
                    }
                }
            }
            Err(Error::InvalidLease(err)) => {
                failures += 1;
                shared.send(Event::LeaseRejected(err));
            }
            Err(err) => {
                failures += 1;
                if !offline {
                    offline = true;
                    shared.send(Event::Offline(Arc::new(err)));
                }
            }
        }
    }
}

/// One heartbeat, or a new session if the last one timed out.
async fn renew(shared: &Shared) -> Result<Renewal, Error> {
    let (token, license_id, device_id, waiting) = {
        let state = shared.state();
        (state.grant.token, state.grant.license_id, state.grant.device_id, state.waiting_for_slot)
    };
    if !waiting {
        let expected = Expected {
            issuer: shared.client.issuer(),
            fingerprint_sha256: &shared.identity.fingerprint_sha256,
            license_id: Some(license_id),
            device_id: Some(device_id),
        };
        match shared.client.heartbeat(token, &expected).await? {
            Ok((lease, interval, server_time)) => {
                let deadline = Instant::now() + lease::remaining(lease.claims(), Utc::now());
                let mut state = shared.state();
                state.grant.lease = lease;
                state.grant.lease_deadline = deadline;
                state.grant.interval = interval.max(Duration::from_secs(1));
                state.clock_offset = server_time - Utc::now();
                return Ok(Renewal::Renewed);
            }
            Err(RefusalReason::SessionExpired) => {}
            Err(reason) => {
                shared.stop(Event::Refused(reason));
                return Ok(Renewal::Stopped);
            }
        }
    }
    match shared.client.request_session(&shared.identity, Some(license_id)).await? {
        Ok(grant) => {
            shared.adopt(grant);
            Ok(Renewal::Reactivated)
        }
        Err(denied) if denied.reason == DenialReason::ConcurrentLimitReached => {
            if !std::mem::replace(&mut shared.state().waiting_for_slot, true) {
                shared.send(Event::Denied(denied));
            }
            Ok(Renewal::NoSlot)
        }
        Err(denied) => {
            shared.stop(Event::Denied(denied));
            Ok(Renewal::Stopped)
        }
    }
}
