//! [`LicenseClient`]: the connection to one license server, its API key and its keys.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::backoff::Backoff;
use crate::documents;
use crate::error::Error;
use crate::lease::{self, fingerprint_sha256, Expected, KeySet, Lease, LeaseError};
use crate::session::{Grant, Identity, Session};
use crate::types::{wire, Activation, Denied, RefusalReason, Release, ValidLicense, Validation};

/// The `iss` leases carry unless the server's `LEASE_ISSUER` says otherwise.
pub const DEFAULT_ISSUER: &str = "license-server";

/// A client of one license server. Cheap to clone; all clones share one HTTP connection pool
/// and one cache of the server's keys.
#[derive(Clone)]
pub struct LicenseClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    graphql_url: reqwest::Url,
    /// Where the key set is fetched when a lease names a key not known yet; `None`: only the
    /// keys given to the builder are trusted.
    jwks_url: Option<reqwest::Url>,
    api_key: String,
    issuer: String,
    device_type: String,
    backoff: Backoff,
    /// Keys given to the builder, always trusted.
    pinned: KeySet,
    /// The keys known now: the pinned ones and the last fetched set. Locked across a fetch, so
    /// that leases arriving together fetch the set once.
    keys: tokio::sync::Mutex<KeySet>,
}

impl std::fmt::Debug for LicenseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseClient")
            .field("graphql_url", &self.inner.graphql_url.as_str())
            .field("jwks_url", &self.inner.jwks_url.as_ref().map(|u| u.as_str()))
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

/// Sets up a [`LicenseClient`]; from [`LicenseClient::builder`].
#[derive(Debug, Clone)]
pub struct LicenseClientBuilder {
    server_url: String,
    api_key: String,
    issuer: String,
    jwks_url: Option<String>,
    fetch_keys: bool,
    pinned_jwks: Option<String>,
    request_timeout: Duration,
    device_type: String,
    backoff: Backoff,
}

impl LicenseClient {
    /// A client of the server at `server_url` (e.g. `https://licenses.example.com`), calling it
    /// with `api_key`, a key of scope `client`.
    pub fn builder(server_url: impl Into<String>, api_key: impl Into<String>) -> LicenseClientBuilder {
        LicenseClientBuilder {
            server_url: server_url.into(),
            api_key: api_key.into(),
            issuer: DEFAULT_ISSUER.to_owned(),
            jwks_url: None,
            fetch_keys: true,
            pinned_jwks: None,
            request_timeout: Duration::from_secs(10),
            device_type: String::new(),
            backoff: Backoff::default(),
        }
    }
}

impl LicenseClientBuilder {
    /// The `iss` every lease must carry: the server's `LEASE_ISSUER` (default `license-server`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Trusts the keys of this JWKS (as the server publishes at `/.well-known/jwks.json`) from
    /// the start, e.g. a copy shipped with the application. Keys not in it are still fetched
    /// when a lease names one, unless [`fetch_keys`](Self::fetch_keys) says not to.
    pub fn keys(mut self, jwks_json: impl Into<String>) -> Self {
        self.pinned_jwks = Some(jwks_json.into());
        self
    }

    /// Where the key set is fetched (default: `/.well-known/jwks.json` of the server).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Whether keys may be fetched at all (default `true`). With `false`, only the keys given
    /// to [`keys`](Self::keys) verify leases: nothing on the network can add one.
    pub fn fetch_keys(mut self, fetch: bool) -> Self {
        self.fetch_keys = fetch;
        self
    }

    /// How long one request may take, connecting included (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The device type the server records at activation (e.g. `desktop`).
    pub fn device_type(mut self, device_type: impl Into<String>) -> Self {
        self.device_type = device_type.into();
        self
    }

    /// The retry schedule while the server cannot be reached (default 1 s doubling to 60 s).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn build(self) -> Result<LicenseClient, Error> {
        let base = reqwest::Url::parse(&self.server_url)
            .map_err(|err| Error::Config(format!("server URL {:?}: {err}", self.server_url)))?;
        let join = |path: &str| base.join(path).map_err(|err| Error::Config(format!("server URL: {err}")));
        let graphql_url = join("/graphql")?;
        let jwks_url = match (self.fetch_keys, &self.jwks_url) {
            (false, _) => None,
            (true, Some(url)) => {
                Some(reqwest::Url::parse(url).map_err(|err| Error::Config(format!("JWKS URL {url:?}: {err}")))?)
            }
            (true, None) => Some(join("/.well-known/jwks.json")?),
        };
        let pinned = match &self.pinned_jwks {
            Some(json) => KeySet::parse(json)?,
            None => KeySet::default(),
        };
        if jwks_url.is_none() && pinned.is_empty() {
            return Err(Error::Config("no keys to verify leases: give keys or allow fetching them".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .connect_timeout(self.request_timeout)
            .build()
            .map_err(|err| Error::Config(format!("HTTP client: {err}")))?;
        Ok(LicenseClient {
            inner: Arc::new(Inner {
                http,
                graphql_url,
                jwks_url,
                api_key: self.api_key,
                issuer: self.issuer,
                device_type: self.device_type,
                backoff: self.backoff,
                keys: tokio::sync::Mutex::new(pinned.clone()),
                pinned,
            }),
        })
    }
}

impl LicenseClient {
    /// Registers this device (if it is not yet) and starts its session, or resumes the live
    /// session it already has. The lease of the answer is verified before anything is
    /// returned: an answer with a lease that does not verify is [`Error::InvalidLease`].
    ///
    /// Needs a Tokio runtime: the session heartbeats on a task of its own.
    pub async fn activate(
        &self,
        license_key: &str,
        hardware_fingerprint: &str,
        device_name: &str,
    ) -> Result<Activation, Error> {
        let identity = Identity {
            license_key: license_key.to_owned(),
            hardware_fingerprint: hardware_fingerprint.to_owned(),
            fingerprint_sha256: fingerprint_sha256(hardware_fingerprint),
            device_name: device_name.to_owned(),
        };
        Ok(match self.request_session(&identity, None).await? {
            Ok(grant) => Activation::Licensed(Session::start(self.clone(), identity, grant)),
            Err(denied) => Activation::Denied(denied),
        })
    }

    /// Whether the license is usable on this device now, with a verified lease that is not
    /// tied to a session. Changes nothing on the server.
    pub async fn validate(&self, license_key: &str, hardware_fingerprint: &str) -> Result<Validation, Error> {
        let answer: wire::LicenseValidation = self
            .execute(
                documents::VALIDATE,
                json!({"licenseKey": license_key, "hardwareFingerprint": hardware_fingerprint}),
                "validateLicense",
            )
            .await?;
        Ok(match answer {
            wire::LicenseValidation::LicenseInvalid(denied) => Validation::Invalid(denied),
            wire::LicenseValidation::LicenseValid(valid) => {
                let fingerprint = fingerprint_sha256(hardware_fingerprint);
                let lease = self
                    .verify(
                        &valid.lease,
                        &Expected {
                            issuer: &self.inner.issuer,
                            fingerprint_sha256: &fingerprint,
                            license_id: Some(valid.license_id),
                            device_id: None,
                        },
                    )
                    .await?;
                Validation::Valid(Box::new(ValidLicense {
                    license_id: valid.license_id,
                    device_limit: valid.device_limit,
                    concurrent_sessions_limit: valid.concurrent_sessions_limit,
                    has_live_session: valid.has_live_session,
                    server_time: valid.server_time,
                    license: valid.license,
                    lease,
                }))
            }
        })
    }

    /// Frees this device's slot on the license (ending its live session), e.g. before moving
    /// the license to a new PC. Bounded by the license's releases per 30 days.
    pub async fn release_device(&self, license_key: &str, hardware_fingerprint: &str) -> Result<Release, Error> {
        let answer: wire::ReleaseDeviceResult = self
            .execute(
                documents::RELEASE_DEVICE,
                json!({"licenseKey": license_key, "hardwareFingerprint": hardware_fingerprint}),
                "releaseDevice",
            )
            .await?;
        Ok(match answer {
            wire::ReleaseDeviceResult::DeviceReleased { released_at } => Release::Released { released_at },
            wire::ReleaseDeviceResult::ReleaseDenied { reason, retry_after } => Release::Denied { reason, retry_after },
        })
    }

    /// Verifies a lease (e.g. one kept from an earlier run) for the device with
    /// `hardware_fingerprint` against the server's keys, fetching them if it names an unknown one.
    pub async fn verify_lease(&self, lease: &str, hardware_fingerprint: &str) -> Result<Lease, Error> {
        let fingerprint = fingerprint_sha256(hardware_fingerprint);
        self.verify(
            lease,
            &Expected {
                issuer: &self.inner.issuer,
                fingerprint_sha256: &fingerprint,
                license_id: None,
                device_id: None,
            },
        )
        .await
    }

    pub(crate) fn backoff(&self) -> Backoff {
        self.inner.backoff
    }

    /// `activate`; `license_id`, when set, is the license the lease must be for (a session
    /// started again).
    pub(crate) async fn request_session(
        &self,
        identity: &Identity,
        license_id: Option<Uuid>,
    ) -> Result<Result<Grant, Denied>, Error> {
        let answer: wire::ActivationResult = self
            .execute(
                documents::ACTIVATE,
                json!({"input": {
                    "licenseKey": identity.license_key,
                    "hardwareFingerprint": identity.hardware_fingerprint,
                    "deviceName": identity.device_name,
                    "deviceType": self.inner.device_type,
                }}),
                "activate",
            )
            .await?;
        let granted = match answer {
            wire::ActivationResult::ActivationDenied(denied) => return Ok(Err(denied)),
            wire::ActivationResult::SessionGranted(granted) => granted,
        };
        let lease = self
            .verify(
                &granted.lease,
                &Expected {
                    issuer: &self.inner.issuer,
                    fingerprint_sha256: &identity.fingerprint_sha256,
                    license_id: Some(license_id.unwrap_or(granted.license_id)),
                    device_id: Some(granted.device_id),
                },
            )
            .await?;
        Ok(Ok(Grant::new(*granted, lease)))
    }

    /// A heartbeat on `token`: the verified new lease and interval, or the refusal.
    pub(crate) async fn heartbeat(
        &self,
        token: Uuid,
        expected: &Expected<'_>,
    ) -> Result<Result<(Lease, Duration, chrono::DateTime<Utc>), RefusalReason>, Error> {
        let answer: wire::HeartbeatResult =
            self.execute(documents::HEARTBEAT, json!({"sessionToken": token}), "heartbeat").await?;
        match answer {
            wire::HeartbeatResult::HeartbeatRefused { reason } => Ok(Err(reason)),
            wire::HeartbeatResult::HeartbeatAccepted { heartbeat_interval_seconds, server_time, lease } => {
                let lease = self.verify(&lease, expected).await?;
                Ok(Ok((lease, Duration::from_secs(heartbeat_interval_seconds.into()), server_time)))
            }
        }
    }

    /// Ends the session of `token`. A session that has already ended counts as ended.
    pub(crate) async fn end_session(&self, token: Uuid) -> Result<(), Error> {
        let _: wire::EndSessionResult =
            self.execute(documents::END_SESSION, json!({"sessionToken": token}), "endSession").await?;
        Ok(())
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    async fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Lease, Error> {
        let kid = lease::key_id(token)?;
        let mut keys = self.inner.keys.lock().await;
        if keys.get(&kid).is_none() {
            if let Some(url) = &self.inner.jwks_url {
                let mut fetched = self.fetch_keys(url).await?;
                fetched.extend(&self.inner.pinned);
                *keys = fetched;
            }
        }
        let key = keys.get(&kid).ok_or_else(|| LeaseError::UnknownKey(kid.clone()))?;
        Ok(lease::verify(token, &kid, key, expected, Utc::now())?)
    }

    async fn fetch_keys(&self, url: &reqwest::Url) -> Result<KeySet, Error> {
        let response = self.inner.http.get(url.clone()).send().await.map_err(Error::Network)?;
        if !response.status().is_success() {
            return Err(Error::Http { status: response.status().as_u16() });
        }
        let text = response.text().await.map_err(Error::Network)?;
        Ok(KeySet::parse(&text)?)
    }

    /// Sends `document` and decodes `data.<field>` of the answer.
    async fn execute<T: DeserializeOwned>(&self, document: &str, variables: Value, field: &str) -> Result<T, Error> {
        let response = self
            .inner
            .http
            .post(self.inner.graphql_url.clone())
            .header("X-API-Key", &self.inner.api_key)
            .json(&json!({"query": document, "variables": variables}))
            .send()
            .await
            .map_err(Error::Network)?;
        let status = response.status();
        let is_json =
            response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.starts_with("application/json") || v.starts_with("application/graphql-response+json")
            });
        if !is_json {
            return Err(Error::Http { status: status.as_u16() });
        }
        let mut body: Value = response.json().await.map_err(Error::Network)?;
        if let Some(error) = body.get("errors").and_then(|errors| errors.get(0)) {
            return Err(Error::Server {
                code: error["extensions"]["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
                message: error["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        if !status.is_success() {
            return Err(Error::Http { status: status.as_u16() });
        }
        let data = body["data"][field].take();
        serde_json::from_value(data).map_err(|err| Error::Protocol(format!("{field}: {err}")))
    }
}
