//! Signed leases: what a client holds to prove, offline, that it is licensed until a moment.
//!
//! A lease is a compact JWS (a JWT) signed with Ed25519 (`alg: EdDSA`, the key's id in `kid`),
//! so a client verifies it with nothing but the public keys published at
//! `/.well-known/jwks.json`: a fake local server cannot produce one. The signing keys live in
//! the database (`signing_keys`), created at first start; exactly one is current, and every
//! instance signs with the current key it last read (re-read every [`REFRESH_PERIOD`], and never
//! used once older than [`MAX_KEY_AGE`]). `rotateSigningKey` ([`keys`]) replaces the current key;
//! `issueOfflineLease` ([`offline`]) signs long leases for machines that never reach the server.

pub mod graphql;
pub mod jwks;
pub mod keys;
pub mod offline;
mod ready_key;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{Error, Result};

/// Default of `LEASE_ISSUER`: the `iss` of every lease.
pub const DEFAULT_ISSUER: &str = "license-server";
/// How often an instance re-reads which key is current (another instance may have rotated).
pub const REFRESH_PERIOD: Duration = Duration::from_secs(10);
/// The longest an instance signs with a key it read from the database: past it, signing reads
/// the current key again first. A rotation relies on it: no instance signs with the retired key
/// later than this after the rotation, even when its periodic refresh has been failing.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(3 * REFRESH_PERIOD.as_secs());

/// The claims of a lease. `session_id` is absent from leases not tied to a session
/// (`validateLicense`, offline activation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseClaims {
    pub iss: String,
    /// The license's id.
    pub sub: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub device_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// Lower-case hex SHA-256 of the device's hardware fingerprint.
    pub fingerprint_sha256: String,
    pub license_type: String,
    /// RFC 3339, or null for an open-ended license.
    pub valid_until: Option<String>,
    pub features: Vec<String>,
}

/// What a lease says about its license.
#[derive(Debug, Clone)]
pub struct LeaseTerms<'a> {
    pub license_id: Uuid,
    pub license_type: &'a str,
    pub valid_until: Option<DateTime<Utc>>,
    pub features: &'a [String],
    pub offline_grace_seconds: i32,
}

/// Who holds a lease: the device, and its session if any.
#[derive(Debug, Clone, Copy)]
pub struct LeaseHolder<'a> {
    pub device_id: Uuid,
    pub session_id: Option<Uuid>,
    pub hardware_fingerprint: &'a str,
}

/// Lower-case hex SHA-256 of a hardware fingerprint, as leases carry it.
pub fn fingerprint_sha256(fingerprint: &str) -> String {
    let digest = Sha256::digest(fingerprint.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// When a lease held until `until` (a session's deadline) expires: `until` plus the license's
/// offline grace, never past the license's end.
pub fn lease_expiry(terms: &LeaseTerms<'_>, until: DateTime<Utc>) -> DateTime<Utc> {
    let exp = until + chrono::Duration::seconds(terms.offline_grace_seconds.max(0).into());
    match terms.valid_until {
        Some(end) if end < exp => end,
        _ => exp,
    }
}

/// The current signing key as an instance holds it.
struct CurrentKey {
    kid: String,
    header: Header,
    key: EncodingKey,
    /// When it was read from the database (see [`MAX_KEY_AGE`]).
    read_at: Instant,
}

/// Signs leases with the current key; cheap to clone.
#[derive(Clone)]
pub struct Leases {
    pool: PgPool,
    issuer: Arc<str>,
    current: Arc<RwLock<Option<Arc<CurrentKey>>>>,
}

impl Leases {
    pub fn new(pool: PgPool, issuer: &str) -> Self {
        ready_key::install();
        Leases { pool, issuer: issuer.into(), current: Arc::default() }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A lease for `holder` under `terms`, valid from `now` until [`lease_expiry`] of `until`.
    pub async fn sign(
        &self,
        terms: &LeaseTerms<'_>,
        holder: &LeaseHolder<'_>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<String> {
        self.sign_claims(&self.claims(terms, holder, now, until)).await
    }

    /// The claims of [`Leases::sign`]: a new `jti`, valid from `now` until [`lease_expiry`] of `until`.
    pub(crate) fn claims(
        &self,
        terms: &LeaseTerms<'_>,
        holder: &LeaseHolder<'_>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> LeaseClaims {
        let exp = lease_expiry(terms, until);
        LeaseClaims {
            iss: self.issuer.to_string(),
            sub: terms.license_id,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: exp.timestamp(),
            jti: Uuid::new_v4(),
            device_id: holder.device_id,
            session_id: holder.session_id,
            fingerprint_sha256: fingerprint_sha256(holder.hardware_fingerprint),
            license_type: terms.license_type.to_owned(),
            valid_until: terms.valid_until.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            features: terms.features.to_vec(),
        }
    }

    /// Signs `claims` as they are with the current key.
    pub async fn sign_claims(&self, claims: &LeaseClaims) -> Result<String> {
        self.current_key().await?.sign(claims)
    }

    /// The id of the key that signs now (creating the first key if there is none).
    pub async fn current_kid(&self) -> Result<String> {
        Ok(self.current_key().await?.kid.clone())
    }

    async fn current_key(&self) -> Result<Arc<CurrentKey>> {
        let known = self.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        match known {
            Some(key) if key.read_at.elapsed() < MAX_KEY_AGE => Ok(key),
            _ => self.reload().await,
        }
    }

    /// Signs with `key` from now on (a rotation on this instance: it takes effect here at once).
    fn adopt(&self, key: CurrentKey) -> Arc<CurrentKey> {
        let key = Arc::new(key);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(key.clone());
        key
    }

    /// Re-reads the current key from the database, creating the first one if there is none
    /// (at first start; two instances starting together create one between them).
    pub async fn refresh(&self) -> Result<()> {
        self.reload().await.map(drop)
    }

    async fn reload(&self) -> Result<Arc<CurrentKey>> {
        let row = match current_row(&self.pool).await? {
            Some(row) => row,
            None => {
                keys::create_first(&self.pool).await?;
                current_row(&self.pool)
                    .await?
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("no current signing key after creating one")))?
            }
        };
        Ok(self.adopt(CurrentKey::new(row.0, &row.1)))
    }
}

impl CurrentKey {
    /// The key with this id and PKCS#8 DER private half, read just now.
    fn new(kid: String, private_key: &[u8]) -> Self {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        header.typ = Some("JWT".into());
        CurrentKey { kid, header, key: EncodingKey::from_ed_der(private_key), read_at: Instant::now() }
    }

    fn sign(&self, claims: &LeaseClaims) -> Result<String> {
        jsonwebtoken::encode(&self.header, claims, &self.key)
            .map_err(|err| Error::Internal(anyhow::anyhow!("signing a lease failed: {err}")))
    }
}

async fn current_row(pool: &PgPool) -> Result<Option<(String, Vec<u8>)>> {
    Ok(sqlx::query_as("SELECT kid, private_key FROM signing_keys WHERE retired_at IS NULL")
        .fetch_optional(pool)
        .await?)
}

/// A new key pair: its id (the RFC 7638 thumbprint of its public JWK), the private key as
/// PKCS#8 DER and the 32 bytes of the public key.
pub(crate) fn generate() -> Result<(String, Vec<u8>, Vec<u8>)> {
    let signing = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let private_key = signing
        .to_pkcs8_der()
        .map_err(|err| Error::Internal(anyhow::anyhow!("encoding a signing key failed: {err}")))?
        .as_bytes()
        .to_vec();
    let public_key = signing.verifying_key().to_bytes().to_vec();
    let kid = public_jwk(&public_key, None).thumbprint(ThumbprintHash::SHA256);
    Ok((kid, private_key, public_key))
}

/// The public JWK of an Ed25519 key (`kty: OKP`, `crv: Ed25519`).
pub fn public_jwk(public_key: &[u8], kid: Option<String>) -> Jwk {
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            key_id: kid,
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(public_key),
        }),
    }
}

/// Re-reads the current key every [`REFRESH_PERIOD`], so a rotation on another instance takes
/// effect here too; a failure is logged and tried again next period.
pub async fn run_refresh(leases: Leases) {
    let mut ticker = tokio::time::interval(REFRESH_PERIOD);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = leases.refresh().await {
            tracing::warn!(error = ?err, "re-reading the current signing key failed");
        }
    }
}
