//! jsonwebtoken signs through a process-wide `CryptoProvider`; its RustCrypto provider parses the
//! PKCS#8 key and derives the key pair again for every token, which is as much work as the
//! signature itself. Leases are signed on the heartbeat path, so this provider keeps each key
//! pair ready after its first use and signs EdDSA with it (the same ed25519-dalek code); every
//! other algorithm, and all verification, is the RustCrypto provider's.

use std::sync::{Arc, LazyLock, Once, RwLock};

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::crypto::{rust_crypto, CryptoProvider, JwtSigner};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

/// Key pairs kept ready, by their PKCS#8 encoding: a handful at most (the current key and the
/// ones rotated away while this process ran).
static READY: RwLock<Vec<ReadyKey>> = RwLock::new(Vec::new());
type ReadyKey = (Box<[u8]>, Arc<SigningKey>);
const KEPT: usize = 8;

static PROVIDER: LazyLock<CryptoProvider> =
    LazyLock::new(|| CryptoProvider { signer_factory: signer, ..rust_crypto::DEFAULT_PROVIDER.clone() });

/// Makes this the process's provider, unless something used jsonwebtoken before (then leases
/// are still signed, only slower).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if LazyLock::force(&PROVIDER).install_default().is_err() {
            tracing::debug!("another jsonwebtoken provider was installed first; leases re-derive their key");
        }
    });
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA {
        return (rust_crypto::DEFAULT_PROVIDER.signer_factory)(algorithm, key);
    }
    if let Some((_, ready)) =
        READY.read().unwrap_or_else(|e| e.into_inner()).iter().find(|(der, _)| **der == *key.inner())
    {
        return Ok(Box::new(ReadySigner(ready.clone())));
    }
    let ready = Arc::new(SigningKey::from_pkcs8_der(key.inner()).map_err(|_| ErrorKind::InvalidEddsaKey)?);
    let mut keys = READY.write().unwrap_or_else(|e| e.into_inner());
    if keys.len() >= KEPT {
        keys.remove(0);
    }
    keys.push((key.inner().into(), ready.clone()));
    Ok(Box::new(ReadySigner(ready)))
}

struct ReadySigner(Arc<SigningKey>);

impl Signer<Vec<u8>> for ReadySigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).to_bytes().to_vec())
    }
}

impl JwtSigner for ReadySigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_key_signs_exactly_as_the_rust_crypto_provider_does() {
        let (_, der, public) = super::super::generate().unwrap();
        let key = EncodingKey::from_ed_der(&der);
        let message = b"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0";
        let first = signer(&Algorithm::EdDSA, &key).unwrap().try_sign(message).unwrap();
        let ready = signer(&Algorithm::EdDSA, &key).unwrap().try_sign(message).unwrap();
        let reference =
            (rust_crypto::DEFAULT_PROVIDER.signer_factory)(&Algorithm::EdDSA, &key).unwrap().try_sign(message).unwrap();
        // Ed25519 is deterministic: the same key and message give the same signature.
        assert_eq!(first, reference);
        assert_eq!(ready, reference);
        let public = ed25519_dalek::VerifyingKey::from_bytes(&public.try_into().unwrap()).unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&ready).unwrap();
        assert!(public.verify_strict(message, &signature).is_ok());
        assert!(public.verify_strict(b"another message", &signature).is_err());
    }
}
