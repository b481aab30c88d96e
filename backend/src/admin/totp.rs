//! RFC 6238 TOTP: SHA-1, 6 digits, 30-second steps, one step of skew either way, and each step
//! accepted at most once per user (the caller stores the newest accepted step).

use rand::rngs::OsRng;
use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{Error, Result};

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: usize = 6;
const ISSUER: &str = "License Server";

pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    OsRng.fill_bytes(&mut secret);
    secret
}

fn totp(secret: &[u8], account: &str) -> Result<TOTP> {
    TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_SECONDS, secret.to_vec(), Some(ISSUER.into()), account.into())
        .map_err(|e| Error::Internal(anyhow::anyhow!("TOTP setup: {e}")))
}

pub fn base32(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// The code for the step containing `unix_time`.
pub fn code_at(secret: &[u8], unix_time: u64) -> Result<String> {
    Ok(totp(secret, "x")?.generate(unix_time))
}

/// The step a code belongs to, if it is valid within one step of `now` and newer than
/// `last_step`. A valid but already used step is reported as a replay.
pub fn verify(secret: &[u8], code: &str, now: u64, last_step: i64) -> Result<Verification> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Verification::Invalid);
    }
    let totp = totp(secret, "x")?;
    let current = now / STEP_SECONDS;
    for step in [current.saturating_sub(1), current, current + 1] {
        if totp.check(&code, step * STEP_SECONDS) {
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            return Ok(if step > last_step { Verification::Valid { step } } else { Verification::Replayed });
        }
    }
    Ok(Verification::Invalid)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Valid { step: i64 },
    Replayed,
    Invalid,
}

pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_code_svg: String,
}

pub fn enrollment(secret: &[u8], account: &str) -> Result<Enrollment> {
    let uri = totp(secret, account)?.get_url();
    let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| Error::Internal(anyhow::anyhow!("QR code: {e}")))?;
    let svg = qr.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build();
    Ok(Enrollment { secret: base32(secret), otpauth_uri: uri, qr_code_svg: svg })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 column (8 digits there; the same algorithm at 6 digits is
    /// the last six of them).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let eight = TOTP::new_unchecked(Algorithm::SHA1, 8, 0, 30, secret.to_vec(), None, String::new());
            assert_eq!(eight.generate(time), expected, "8 digits at {time}");
            assert_eq!(code_at(secret, time).unwrap(), expected[2..], "6 digits at {time}");
        }
    }

    #[test]
    fn one_step_of_skew_is_accepted_two_are_not_and_steps_are_single_use() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let step = (now / STEP_SECONDS) as i64;
        let code = |offset: i64| code_at(&secret, (now as i64 + offset * STEP_SECONDS as i64) as u64).unwrap();
        assert_eq!(verify(&secret, &code(0), now, 0).unwrap(), Verification::Valid { step });
        assert_eq!(verify(&secret, &code(-1), now, 0).unwrap(), Verification::Valid { step: step - 1 });
        assert_eq!(verify(&secret, &code(1), now, 0).unwrap(), Verification::Valid { step: step + 1 });
        assert_eq!(verify(&secret, &code(-2), now, 0).unwrap(), Verification::Invalid);
        assert_eq!(verify(&secret, &code(2), now, 0).unwrap(), Verification::Invalid);
        assert_eq!(verify(&secret, &code(0), now, step).unwrap(), Verification::Replayed);
        assert_eq!(verify(&secret, "12345", now, 0).unwrap(), Verification::Invalid);
    }

    #[test]
    fn enrollment_carries_the_secret_the_uri_and_a_qr_code() {
        let secret = new_secret();
        let enrollment = enrollment(&secret, "alice").unwrap();
        assert!(
            enrollment.otpauth_uri.starts_with("otpauth://totp/License%20Server:alice?"),
            "{}",
            enrollment.otpauth_uri
        );
        assert!(enrollment.otpauth_uri.contains(&format!("secret={}", enrollment.secret)));
        assert!(enrollment.qr_code_svg.contains("<svg"));
    }
}
