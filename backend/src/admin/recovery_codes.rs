//! Single-use recovery codes, the second factor for a lost authenticator.
//!
//! A code is 16 symbols of Crockford's base 32 (digits and capitals without I, L, O, U), 80 random
//! bits, shown in four groups: `7KQ2-XM4D-93TB-HW0E`. Typing is forgiving: case, dashes and
//! spaces do not matter. Only a salted digest is stored, SHA-256(16-byte salt || code) with a salt
//! of its own per code, so a stolen database gives nothing to look up and 2^80 guesses per code to
//! try. (80 random bits make a fast hash enough; a slow one would put argon2 on the sign-in path.)
//!
//! Codes issued before salting (10 symbols, 50 bits, unsalted SHA-256, no salt stored) are still
//! accepted until the user gets new ones; their weakness is their entropy, which no migration can
//! add without the plaintext.

use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Result;

pub const COUNT: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const GROUPS: usize = 4;
const GROUP_SYMBOLS: usize = 4;
const SALT_BYTES: usize = 16;

/// Ten new codes, shown to the user once.
pub fn generate() -> Vec<String> {
    (0..COUNT)
        .map(|_| {
            let groups: Vec<String> = (0..GROUPS)
                .map(|_| (0..GROUP_SYMBOLS).map(|_| char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())])).collect())
                .collect();
            groups.join("-")
        })
        .collect()
}

/// What a person may have typed, as the digest covers it: letters and digits, upper case.
fn normalize(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

fn salted_digest(salt: &[u8], normalized: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(normalized.as_bytes());
    hasher.finalize().to_vec()
}

/// The stored form of a code: a fresh salt and the salted digest.
fn stored_form(code: &str) -> (Vec<u8>, Vec<u8>) {
    let mut salt = vec![0u8; SALT_BYTES];
    OsRng.fill_bytes(&mut salt);
    let digest = salted_digest(&salt, &normalize(code));
    (salt, digest)
}

/// Whether `typed` is the code stored as (`salt`, `digest`); no salt means a code from before salting.
fn matches(typed: &str, salt: Option<&[u8]>, digest: &[u8]) -> bool {
    let normalized = normalize(typed);
    match salt {
        Some(salt) => salted_digest(salt, &normalized) == digest,
        None => Sha256::digest(normalized.as_bytes()).as_slice() == digest,
    }
}

/// Replaces the user's codes with new ones and returns them.
pub async fn replace(conn: &mut PgConnection, user_id: Uuid) -> Result<Vec<String>> {
    let codes = generate();
    let (salts, digests): (Vec<Vec<u8>>, Vec<Vec<u8>>) = codes.iter().map(|code| stored_form(code)).unzip();
    sqlx::query("DELETE FROM admin_recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO admin_recovery_codes (user_id, salt, code_hash) SELECT $1, unnest($2::bytea[]), unnest($3::bytea[])",
    )
    .bind(user_id)
    .bind(&salts)
    .bind(&digests)
    .execute(&mut *conn)
    .await?;
    Ok(codes)
}

/// Uses up the user's code `typed`, if it is one of their unused codes. Of two requests with the
/// same code, one wins.
pub async fn redeem(conn: &mut PgConnection, user_id: Uuid, typed: &str) -> Result<bool> {
    let unused: Vec<(Uuid, Option<Vec<u8>>, Vec<u8>)> =
        sqlx::query_as("SELECT id, salt, code_hash FROM admin_recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?;
    let Some((id, _, _)) = unused.iter().find(|(_, salt, digest)| matches(typed, salt.as_deref(), digest)) else {
        return Ok(false);
    };
    let used = sqlx::query("UPDATE admin_recovery_codes SET used_at = now() WHERE id = $1 AND used_at IS NULL")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(used == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_80_bits_in_four_typable_groups() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), COUNT);
        for code in &codes {
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 4, "{code}");
            assert!(groups.iter().all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b))), "{code}");
        }
        assert_eq!((ALPHABET.len() as u128).pow(16), 1u128 << 80, "16 symbols of 5 bits");
    }

    #[test]
    fn the_same_code_is_stored_differently_every_time_and_typed_forgivingly() {
        let code = &generate()[0];
        let (first_salt, first) = stored_form(code);
        let (second_salt, second) = stored_form(code);
        assert_ne!(first_salt, second_salt);
        assert_ne!(first, second, "salted: equal codes have different digests");
        assert_ne!(first, Sha256::digest(normalize(code).as_bytes()).to_vec());
        let typed = code.to_lowercase().replace('-', " ");
        assert!(matches(&typed, Some(&first_salt), &first));
        assert!(matches(code, Some(&second_salt), &second));
        assert!(!matches(code, Some(&second_salt), &first));
    }

    #[test]
    fn codes_from_before_salting_still_match() {
        let legacy = Sha256::digest(b"ABCDE12345").to_vec();
        assert!(matches("abcde-12345", None, &legacy));
        assert!(!matches("abcde-12346", None, &legacy));
    }
}
