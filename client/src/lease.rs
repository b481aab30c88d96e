//! Leases: compact JWS (JWT) signed by the server with Ed25519, verified here against the
//! server's published key set. A lease proves, without the server, that this device was
//! licensed until its `exp`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::client::DEFAULT_ISSUER;

/// How far this machine's clock may be off the server's when a lease's `nbf` and `exp` are
/// judged by it.
pub(crate) const CLOCK_LEEWAY_SECS: i64 = 60;

/// What a lease says, once verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseClaims {
    /// The server that issued it (`LEASE_ISSUER`).
    pub iss: String,
    /// The license's id.
    pub sub: Uuid,
    pub iat: i64,
    pub nbf: i64,
    /// Until when the lease holds (Unix seconds): the session's deadline plus the license's
    /// offline grace, never past the license's end.
    pub exp: i64,
    pub jti: Uuid,
    pub device_id: Uuid,
    /// Absent from leases not tied to a session (validation, offline activation).
    #[serde(default)]
    pub session_id: Option<Uuid>,
    /// Lower-case hex SHA-256 of the device's hardware fingerprint.
    pub fingerprint_sha256: String,
    pub license_type: String,
    /// `None`: open-ended.
    pub valid_until: Option<DateTime<Utc>>,
    pub features: Vec<String>,
}

impl LeaseClaims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// A verified lease: its compact form (to keep, e.g. in a file) and its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    token: String,
    key_id: String,
    claims: LeaseClaims,
}

impl Lease {
    /// The compact JWS as the server issued it.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    pub fn claims(&self) -> &LeaseClaims {
        &self.claims
    }

    /// The id (`kid`) of the key that signed it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

/// Why a lease is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    #[error("not a well-formed lease: {0}")]
    Malformed(String),
    #[error("the lease is signed with {0}, not EdDSA")]
    UnsupportedAlgorithm(String),
    #[error("the lease names no key (`kid`)")]
    MissingKeyId,
    /// No published key has this id, even after fetching the key set again.
    #[error("no published key has the id {0}")]
    UnknownKey(String),
    /// The signature does not match: the lease was altered, or signed by another key.
    #[error("the signature does not match")]
    BadSignature,
    #[error("issued by {found:?}, expected {expected:?}")]
    WrongIssuer { expected: String, found: String },
    /// Issued for another device (`fingerprint_sha256` differs).
    #[error("issued for another device")]
    WrongDevice,
    /// Issued for another license (`sub`) or device id than the session's.
    #[error("issued for another license or device")]
    WrongLicense,
    #[error("expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    /// The key set given for offline verification does not parse or holds no Ed25519 key.
    #[error("unusable key set: {0}")]
    KeySet(String),
}

/// Lower-case hex SHA-256 of a hardware fingerprint, as leases carry it.
pub fn fingerprint_sha256(hardware_fingerprint: &str) -> String {
    use std::fmt::Write as _;
    Sha256::digest(hardware_fingerprint.as_bytes()).iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// The Ed25519 public keys of a JWKS, by `kid`. Keys of other types are skipped: leases are
/// EdDSA only, so accepting anything else could only widen what a forger may try.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, DecodingKey>,
}

impl KeySet {
    pub(crate) fn parse(jwks_json: &str) -> Result<KeySet, LeaseError> {
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = serde_json::from_str(jwks_json).map_err(|err| LeaseError::KeySet(err.to_string()))?;
        let mut keys = HashMap::new();
        for value in raw.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else { continue };
            let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else { continue };
            let (Some(kid), EllipticCurve::Ed25519) = (&jwk.common.key_id, &params.curve) else { continue };
            if let Ok(key) = DecodingKey::from_jwk(&jwk) {
                keys.insert(kid.clone(), key);
            }
        }
        Ok(KeySet { keys })
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid)
    }

    /// Adds the keys of `other`, which win over keys of the same id.
    pub(crate) fn extend(&mut self, other: &KeySet) {
        self.keys.extend(other.keys.iter().map(|(kid, key)| (kid.clone(), key.clone())));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The `kid` of a lease, after checking that it claims EdDSA.
pub(crate) fn key_id(token: &str) -> Result<String, LeaseError> {
    let header = jsonwebtoken::decode_header(token).map_err(|err| LeaseError::Malformed(err.to_string()))?;
    if header.alg != Algorithm::EdDSA {
        return Err(LeaseError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
    }
    header.kid.ok_or(LeaseError::MissingKeyId)
}

/// How long a lease received now holds, by this machine's steady clock: its lifetime as
/// signed (`exp - iat`), cut short if this machine's clock says its `exp` is nearer (a lease
/// replayed late lasts no longer than it was issued for).
pub(crate) fn remaining(claims: &LeaseClaims, now: DateTime<Utc>) -> std::time::Duration {
    let lifetime = claims.exp.saturating_sub(claims.iat);
    let by_clock = claims.exp.saturating_add(CLOCK_LEEWAY_SECS).saturating_sub(now.timestamp());
    std::time::Duration::from_secs(lifetime.min(by_clock).max(0).unsigned_abs())
}

/// What a lease must say to be accepted, besides a good signature.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub fingerprint_sha256: &'a str,
    /// The session's license and device, when the lease renews a known session.
    pub license_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
}

/// Verifies `token`'s signature with `key` (the key named `kid`) and its claims against
/// `expected` at `now`.
pub(crate) fn verify(
    token: &str,
    kid: &str,
    key: &DecodingKey,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Lease, LeaseError> {
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    // The claims are checked below, with errors that say which one failed.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<LeaseClaims>(token, key, &validation)
        .map_err(|err| match err.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => LeaseError::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => LeaseError::UnsupportedAlgorithm(err.to_string()),
            _ => LeaseError::Malformed(err.to_string()),
        })?
        .claims;
    if claims.iss != expected.issuer {
        return Err(LeaseError::WrongIssuer { expected: expected.issuer.to_owned(), found: claims.iss });
    }
    if claims.fingerprint_sha256 != expected.fingerprint_sha256 {
        return Err(LeaseError::WrongDevice);
    }
    if expected.license_id.is_some_and(|id| id != claims.sub)
        || expected.device_id.is_some_and(|id| id != claims.device_id)
    {
        return Err(LeaseError::WrongLicense);
    }
    let now = now.timestamp();
    if now >= claims.exp.saturating_add(CLOCK_LEEWAY_SECS) {
        return Err(LeaseError::Expired(claims.expires_at()));
    }
    if now < claims.nbf.saturating_sub(CLOCK_LEEWAY_SECS) {
        return Err(LeaseError::NotYetValid(DateTime::from_timestamp(claims.nbf, 0).unwrap_or_default()));
    }
    Ok(Lease { token: token.to_owned(), key_id: kid.to_owned(), claims })
}

/// Verifies leases offline against a key set given as JWKS JSON (as served at
/// `/.well-known/jwks.json`), e.g. shipped with the application or copied with the lease.
#[derive(Clone)]
pub struct LeaseVerifier {
    keys: KeySet,
    issuer: String,
}

impl LeaseVerifier {
    pub fn from_jwks(jwks_json: &str) -> Result<LeaseVerifier, LeaseError> {
        let keys = KeySet::parse(jwks_json)?;
        if keys.is_empty() {
            return Err(LeaseError::KeySet("no Ed25519 key with a `kid`".into()));
        }
        Ok(LeaseVerifier { keys, issuer: DEFAULT_ISSUER.to_owned() })
    }

    /// The `iss` leases must carry (the server's `LEASE_ISSUER`; [`DEFAULT_ISSUER`] unless set).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Verifies `lease` for the device with `hardware_fingerprint`, now.
    pub fn verify(&self, lease: &str, hardware_fingerprint: &str) -> Result<Lease, LeaseError> {
        self.verify_at(lease, hardware_fingerprint, Utc::now())
    }

    /// Verifies `lease` for the device with `hardware_fingerprint`, as of `now`.
    pub fn verify_at(&self, lease: &str, hardware_fingerprint: &str, now: DateTime<Utc>) -> Result<Lease, LeaseError> {
        let kid = key_id(lease)?;
        let key = self.keys.get(&kid).ok_or_else(|| LeaseError::UnknownKey(kid.clone()))?;
        let fingerprint = fingerprint_sha256(hardware_fingerprint);
        let expected =
            Expected { issuer: &self.issuer, fingerprint_sha256: &fingerprint, license_id: None, device_id: None };
        verify(lease, &kid, key, &expected, now)
    }
}

/// Verifies a lease file (from `issueOfflineLease`) on an air-gapped machine: signed by a key of
/// `jwks_json`, issued by [`DEFAULT_ISSUER`] for this device's `hardware_fingerprint`, and valid
/// now. Use [`LeaseVerifier`] for another issuer.
pub fn verify_offline_lease(lease: &str, jwks_json: &str, hardware_fingerprint: &str) -> Result<Lease, LeaseError> {
    LeaseVerifier::from_jwks(jwks_json)?.verify(lease.trim(), hardware_fingerprint)
}

#[cfg(test)]
pub(crate) mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;

    /// A signing key made in the test, with its kid.
    pub struct TestKey {
        pub kid: String,
        signing: ed25519_dalek::SigningKey,
    }

    impl TestKey {
        pub fn new(seed: u8, kid: &str) -> TestKey {
            TestKey { kid: kid.to_owned(), signing: ed25519_dalek::SigningKey::from_bytes(&[seed; 32]) }
        }

        pub fn jwk(&self) -> serde_json::Value {
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": self.kid,
                "x": URL_SAFE_NO_PAD.encode(self.signing.verifying_key().to_bytes())})
        }

        pub fn sign(&self, claims: &LeaseClaims) -> String {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(self.kid.clone());
            let der = self.signing.to_pkcs8_der().unwrap();
            jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
        }
    }

    pub fn jwks(keys: &[&TestKey]) -> String {
        serde_json::json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
    }

    pub fn claims(fingerprint: &str, now: i64) -> LeaseClaims {
        LeaseClaims {
            iss: DEFAULT_ISSUER.into(),
            sub: Uuid::from_u128(1),
            iat: now,
            nbf: now,
            exp: now + 600,
            jti: Uuid::from_u128(2),
            device_id: Uuid::from_u128(3),
            session_id: None,
            fingerprint_sha256: fingerprint_sha256(fingerprint),
            license_type: "subscription".into(),
            valid_until: None,
            features: vec!["pro".into()],
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_lease_signed_by_a_published_key_for_this_device_verifies() {
        let key = TestKey::new(7, "k1");
        let lease = key.sign(&claims("pc-1", NOW));
        let verified =
            LeaseVerifier::from_jwks(&jwks(&[&key])).unwrap().verify_at(&lease, "pc-1", at(NOW + 10)).unwrap();
        assert_eq!(verified.claims().features, ["pro"]);
        assert_eq!(verified.as_str(), lease);
        assert_eq!(verified.key_id(), "k1");
    }

    #[test]
    fn a_lease_with_an_altered_claim_fails_its_signature() {
        let key = TestKey::new(7, "k1");
        let lease = key.sign(&claims("pc-1", NOW));
        let mut longer = claims("pc-1", NOW);
        longer.exp += 86_400 * 365;
        let forged_payload = key.sign(&longer).split('.').nth(1).unwrap().to_owned();
        let parts: Vec<&str> = lease.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        let verifier = LeaseVerifier::from_jwks(&jwks(&[&key])).unwrap();
        assert_eq!(verifier.verify_at(&tampered, "pc-1", at(NOW)).unwrap_err(), LeaseError::BadSignature);
    }

    #[test]
    fn a_lease_signed_by_a_foreign_key_is_rejected_whatever_kid_it_names() {
        let published = TestKey::new(7, "k1");
        let verifier = LeaseVerifier::from_jwks(&jwks(&[&published])).unwrap();
        let impostor = TestKey::new(9, "k1");
        let same_kid = impostor.sign(&claims("pc-1", NOW));
        assert_eq!(verifier.verify_at(&same_kid, "pc-1", at(NOW)).unwrap_err(), LeaseError::BadSignature);
        let own_kid = TestKey::new(9, "k2").sign(&claims("pc-1", NOW));
        assert_eq!(verifier.verify_at(&own_kid, "pc-1", at(NOW)).unwrap_err(), LeaseError::UnknownKey("k2".into()));
    }

    #[test]
    fn a_lease_for_another_device_or_issuer_is_rejected() {
        let key = TestKey::new(7, "k1");
        let verifier = LeaseVerifier::from_jwks(&jwks(&[&key])).unwrap();
        let lease = key.sign(&claims("pc-1", NOW));
        assert_eq!(verifier.verify_at(&lease, "pc-2", at(NOW)).unwrap_err(), LeaseError::WrongDevice);
        let other = verifier.clone().issuer("another-server");
        assert!(matches!(other.verify_at(&lease, "pc-1", at(NOW)), Err(LeaseError::WrongIssuer { .. })));
    }

    #[test]
    fn a_lease_holds_until_its_exp_give_or_take_the_clock_leeway() {
        let key = TestKey::new(7, "k1");
        let verifier = LeaseVerifier::from_jwks(&jwks(&[&key])).unwrap();
        let lease = key.sign(&claims("pc-1", NOW));
        assert!(verifier.verify_at(&lease, "pc-1", at(NOW + 600 + CLOCK_LEEWAY_SECS - 1)).is_ok());
        assert!(matches!(
            verifier.verify_at(&lease, "pc-1", at(NOW + 600 + CLOCK_LEEWAY_SECS)),
            Err(LeaseError::Expired(_))
        ));
        assert!(matches!(
            verifier.verify_at(&lease, "pc-1", at(NOW - CLOCK_LEEWAY_SECS - 1)),
            Err(LeaseError::NotYetValid(_))
        ));
    }

    #[test]
    fn only_eddsa_leases_with_a_kid_are_considered() {
        let key = TestKey::new(7, "k1");
        let verifier = LeaseVerifier::from_jwks(&jwks(&[&key])).unwrap();
        let hs256 = jsonwebtoken::encode(
            &Header { kid: Some("k1".into()), ..Header::new(Algorithm::HS256) },
            &claims("pc-1", NOW),
            &EncodingKey::from_secret(b"shared"),
        )
        .unwrap();
        assert!(matches!(verifier.verify_at(&hs256, "pc-1", at(NOW)), Err(LeaseError::UnsupportedAlgorithm(_))));
        let without_kid = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims("pc-1", NOW),
            &EncodingKey::from_ed_der(key.signing.to_pkcs8_der().unwrap().as_bytes()),
        )
        .unwrap();
        assert_eq!(verifier.verify_at(&without_kid, "pc-1", at(NOW)).unwrap_err(), LeaseError::MissingKeyId);
        assert!(matches!(verifier.verify_at("not a lease", "pc-1", at(NOW)), Err(LeaseError::Malformed(_))));
    }

    #[test]
    fn a_key_set_keeps_only_ed25519_keys_and_refuses_to_be_empty() {
        let key = TestKey::new(7, "k1");
        let mixed = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r1", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "crv": "X25519", "kid": "x1", "x": "AAAA"},
            key.jwk(),
        ]});
        let set = KeySet::parse(&mixed.to_string()).unwrap();
        assert!(set.get("k1").is_some() && set.get("r1").is_none() && set.get("x1").is_none());
        assert!(matches!(LeaseVerifier::from_jwks(r#"{"keys": []}"#), Err(LeaseError::KeySet(_))));
        assert!(matches!(LeaseVerifier::from_jwks("<html>"), Err(LeaseError::KeySet(_))));
    }

    #[test]
    fn the_fingerprint_digest_is_lower_case_hex_sha256() {
        assert_eq!(fingerprint_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
