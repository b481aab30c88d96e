//! License keys: 20 Crockford base-32 symbols in four groups (`7K3QD-MX2PA-9RT4V-HB6W1`), the last
//! one a Luhn mod 32 check symbol. 95 random bits; easy to read aloud and to type, and a typo is
//! caught before any database lookup.

use std::fmt;

use rand::rngs::OsRng;
use rand::Rng;

/// Crockford's alphabet: no I, L, O or U, so nothing is mistaken for 1, 0 or V.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SYMBOLS: usize = 20;
const GROUP: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LicenseKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseKeyError {
    #[error("a license key has 20 characters (groups of five, hyphens optional)")]
    Length,
    #[error("a license key contains only digits and the letters A-Z without I, L, O and U")]
    Symbol,
    #[error("the license key's check character does not match: please check for a typo")]
    Checksum,
}

fn value_of(symbol: u8) -> Option<u32> {
    // Readers' confusions are forgiven: O is 0, I and L are 1.
    let symbol = match symbol.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a == symbol).map(|p| p as u32)
}

/// Luhn mod N over the symbol values; detects every single-symbol error and most transpositions.
fn check_value(values: &[u32]) -> u32 {
    let n = ALPHABET.len() as u32;
    let mut sum = 0;
    let mut factor = 2;
    for &v in values.iter().rev() {
        let addend = factor * v;
        sum += addend / n + addend % n;
        factor = if factor == 2 { 1 } else { 2 };
    }
    (n - sum % n) % n
}

impl LicenseKey {
    pub fn generate() -> Self {
        let values: Vec<u32> = (0..SYMBOLS - 1).map(|_| OsRng.gen_range(0..32)).collect();
        Self::from_values(values)
    }

    fn from_values(mut values: Vec<u32>) -> Self {
        values.push(check_value(&values));
        let mut key = String::with_capacity(SYMBOLS + SYMBOLS / GROUP);
        for (i, v) in values.iter().enumerate() {
            if i > 0 && i % GROUP == 0 {
                key.push('-');
            }
            key.push(char::from(ALPHABET[*v as usize]));
        }
        LicenseKey(key)
    }

    /// Accepts what a person types: any case, with or without hyphens and spaces.
    pub fn parse(input: &str) -> Result<Self, LicenseKeyError> {
        let symbols: Vec<u8> = input.bytes().filter(|b| !matches!(b, b'-' | b' ' | b'\t')).collect();
        if symbols.len() != SYMBOLS {
            return Err(LicenseKeyError::Length);
        }
        let values =
            symbols.iter().map(|&s| value_of(s)).collect::<Option<Vec<u32>>>().ok_or(LicenseKeyError::Symbol)?;
        let (payload, check) = values.split_at(SYMBOLS - 1);
        if check_value(payload) != check[0] {
            return Err(LicenseKeyError::Checksum);
        }
        Ok(Self::from_values(payload.to_vec()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_back_to_itself() {
        for _ in 0..100 {
            let key = LicenseKey::generate();
            assert_eq!(key.as_str().len(), 23);
            assert_eq!(LicenseKey::parse(key.as_str()), Ok(key.clone()));
            let typed = key.as_str().replace('-', " ").to_lowercase();
            assert_eq!(LicenseKey::parse(&typed), Ok(key));
        }
    }

    #[test]
    fn every_single_symbol_typo_is_caught() {
        let key = LicenseKey::generate();
        let compact: Vec<u8> = key.as_str().bytes().filter(|&b| b != b'-').collect();
        for pos in 0..compact.len() {
            for &replacement in ALPHABET.iter() {
                if replacement == compact[pos] {
                    continue;
                }
                let mut typo = compact.clone();
                typo[pos] = replacement;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(LicenseKey::parse(&typo), Err(LicenseKeyError::Checksum), "{typo}");
            }
        }
    }

    #[test]
    fn confusable_letters_are_read_as_digits() {
        let key = LicenseKey::from_values(vec![0, 1, 1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        let typed = key.as_str().replacen('0', "O", 1).replacen('1', "l", 1).replacen('1', "I", 1);
        assert_eq!(LicenseKey::parse(&typed), Ok(key));
    }

    #[test]
    fn wrong_lengths_and_symbols_are_refused() {
        assert_eq!(LicenseKey::parse("ABCDE"), Err(LicenseKeyError::Length));
        assert_eq!(LicenseKey::parse("ABCDE-FGHJK-MNPQR-STVW!"), Err(LicenseKeyError::Symbol));
        assert_eq!(LicenseKey::parse("ABCDE-FGHJK-MNPQR-STVWU"), Err(LicenseKeyError::Symbol));
    }
}
