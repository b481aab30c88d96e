//! Admin passwords: argon2id (m = 19456 KiB, t = 2, p = 1), stored as PHC strings.
//!
//! Hashing is CPU- and memory-heavy by design, so every hash and check needs a permit of the
//! instance's [`Argon2Gate`]: one per core but one (one core stays for the client path), taken
//! without waiting. When all are in use the request
//! is refused at once (`RATE_LIMITED`, retry in a second) instead of queueing, so a flood of
//! sign-ins can neither pile up work nor hold anything else (a pooled connection, a row lock)
//! while it waits. The check itself runs on the blocking pool, holding its permit until it ends.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::anyhow;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;
/// The `limit` a saturated gate reports in `RATE_LIMITED`.
pub const RATE_LIMIT_NAME: &str = "login";

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Bounds how many argon2 computations run at once in this process (an instance is one process;
/// each holds one gate in its state).
#[derive(Clone)]
pub struct Argon2Gate(Arc<Semaphore>);

impl Argon2Gate {
    pub fn new(permits: usize) -> Self {
        Argon2Gate(Arc::new(Semaphore::new(permits.max(1))))
    }

    /// One permit per core but one, at least one (`std::thread::available_parallelism`): however
    /// many sign-ins arrive, one core is always left for heartbeats and activations.
    pub fn sized_to_cores() -> Self {
        Argon2Gate::new(Self::permits_for(std::thread::available_parallelism().map_or(1, usize::from)))
    }

    fn permits_for(cores: usize) -> usize {
        cores.saturating_sub(1).max(1)
    }

    /// A permit if one is free now; never waits.
    pub fn try_permit(&self) -> Result<Argon2Permit> {
        match self.0.clone().try_acquire_owned() {
            Ok(permit) => Ok(Argon2Permit { _held: Arc::new(permit) }),
            Err(_) => Err(Error::RateLimited { limit: RATE_LIMIT_NAME, retry_after: Duration::from_secs(1) }),
        }
    }
}

/// Leave to run argon2; released when the last clone is dropped (a running computation holds one).
#[derive(Clone)]
pub struct Argon2Permit {
    _held: Arc<OwnedSemaphorePermit>,
}

/// What a new password must be (`check_new` enforces it, `passwordPolicy` shows it): a length
/// in characters, not bytes, and no rules on its composition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::SimpleObject)]
pub struct PasswordPolicy {
    /// The fewest characters a password may have.
    pub min_length: usize,
    /// The most characters a password may have.
    pub max_length: usize,
}

/// The one password rule.
pub const POLICY: PasswordPolicy = PasswordPolicy { min_length: MIN_LENGTH, max_length: MAX_LENGTH };

/// Checks a new password against [`POLICY`]: length is the only rule (8–128 characters).
pub fn check_new(password: &str, field: &str) -> Result<()> {
    let length = password.chars().count();
    let PasswordPolicy { min_length, max_length } = POLICY;
    if !(min_length..=max_length).contains(&length) {
        return Err(Error::bad_input(field, format!("{field} must be {min_length} to {max_length} characters")));
    }
    Ok(())
}

/// Runs `work` on the blocking pool while holding `permit`, even if the caller stops waiting.
async fn with_permit<T: Send + 'static>(permit: &Argon2Permit, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let held = permit.clone();
    tokio::task::spawn_blocking(move || {
        let _held = held;
        work()
    })
    .await
    .map_err(|e| Error::Internal(e.into()))
}

pub async fn hash(permit: &Argon2Permit, password: &str) -> Result<String> {
    let password = password.to_owned();
    with_permit(permit, move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| anyhow!("hashing: {e}"))
    })
    .await?
    .map_err(Error::Internal)
}

/// Verifies against the stored hash, or, for an unknown user, against a dummy hash so that the
/// answer takes as long either way.
pub async fn verify(permit: &Argon2Permit, stored: Option<&str>, password: &str) -> Result<bool> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let known = stored.is_some();
    let stored = stored.map(str::to_owned);
    let password = password.to_owned();
    let matches = with_permit(permit, move || {
        let stored = stored.as_deref().unwrap_or_else(|| {
            DUMMY.get_or_init(|| {
                let salt = SaltString::generate(&mut OsRng);
                argon2().hash_password(b"not a password anybody has", &salt).expect("dummy hash").to_string()
            })
        });
        PasswordHash::new(stored).map(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?
    .map_err(|e| Error::Internal(anyhow!("stored password hash is unreadable: {e}")))?;
    Ok(known && matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_the_required_cost() {
        let permit = Argon2Gate::new(1).try_permit().unwrap();
        let hash = hash(&permit, "correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify(&permit, Some(&hash), "correct horse battery").await.unwrap());
        assert!(!verify(&permit, Some(&hash), "wrong horse battery").await.unwrap());
        assert!(!verify(&permit, None, "correct horse battery").await.unwrap());
    }

    #[tokio::test]
    async fn the_gate_refuses_at_once_when_every_permit_is_taken_and_frees_them_when_the_work_ends() {
        let gate = Argon2Gate::new(2);
        let (first, second) = (gate.try_permit().unwrap(), gate.try_permit().unwrap());
        let refused = gate.try_permit().err().unwrap();
        assert!(matches!(refused, Error::RateLimited { limit: "login", retry_after } if retry_after.as_secs() == 1));
        // A running check keeps its permit even when the caller has dropped its own copy.
        let running = tokio::spawn({
            let first = first.clone();
            async move { hash(&first, "correct horse battery").await }
        });
        drop(first);
        drop(second);
        assert!(gate.try_permit().is_ok(), "the second permit is free again");
        running.await.unwrap().unwrap();
        let both = (gate.try_permit().unwrap(), gate.try_permit().unwrap());
        drop(both);
        assert_eq!(
            Argon2Gate::sized_to_cores().0.available_permits(),
            Argon2Gate::permits_for(std::thread::available_parallelism().unwrap().get())
        );
        assert_eq!([1, 2, 4, 16].map(Argon2Gate::permits_for), [1, 1, 3, 15]);
    }

    #[test]
    fn length_is_the_only_rule() {
        assert!(check_new("1234567", "password").is_err());
        assert!(check_new("12345678", "password").is_ok());
        assert!(check_new(&"x".repeat(128), "password").is_ok());
        assert!(check_new(&"x".repeat(129), "password").is_err());
        assert!(check_new("ääääääää", "password").is_ok(), "characters, not bytes");
    }
}
