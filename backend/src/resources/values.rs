//! Validation and normalisation of pool values: the normal form is what the unique constraint
//! compares, so `Example.COM.` and `example.com` are the same domain.

use std::net::Ipv4Addr;

use async_graphql::Enum;
use serde::Serialize;

/// The three pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// A domain name, stored lower-case in its ASCII (Punycode) form.
    Domain,
    /// An IPv4 address in dotted-quad form.
    #[graphql(name = "IPV4")]
    Ipv4,
    /// A phone number in E.164 form, e.g. `+493012345678`.
    Phone,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Domain => "domain",
            ResourceType::Ipv4 => "ipv4",
            ResourceType::Phone => "phone",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "domain" => ResourceType::Domain,
            "ipv4" => ResourceType::Ipv4,
            _ => ResourceType::Phone,
        }
    }

    /// The value in normal form, or why it is not a value of this type.
    pub fn normalise(self, raw: &str) -> Result<String, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("empty value".into());
        }
        match self {
            ResourceType::Domain => normalise_domain(value),
            ResourceType::Ipv4 => normalise_ipv4(value),
            ResourceType::Phone => normalise_phone(value),
        }
    }
}

/// RFC 1035/1123 host names (letters, digits, hyphens; labels of 1–63 characters, 253 in all),
/// with internationalised names accepted and stored as Punycode (UTS 46 via `idna`, strict mode).
fn normalise_domain(value: &str) -> Result<String, String> {
    let value = value.strip_suffix('.').unwrap_or(value);
    let ascii = idna::domain_to_ascii_strict(value).map_err(|_| {
        "not a valid domain name (letters, digits and hyphens; labels of 1 to 63 characters)".to_owned()
    })?;
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("a domain name needs at least two labels, e.g. example.com".into());
    }
    if labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return Err("every label must be 1 to 63 characters".into());
    }
    // RFC 3696 §2: a top-level domain is never all-numeric, which also keeps addresses out.
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err("the top-level domain must not be numeric".into());
    }
    Ok(ascii)
}

/// Dotted-quad only: `std`'s parser refuses leading zeros, octal and shortened forms, which
/// other parsers read differently (`010.1` is 8.0.0.1 to `inet_aton`).
fn normalise_ipv4(value: &str) -> Result<String, String> {
    value
        .parse::<Ipv4Addr>()
        .map(|ip| ip.to_string())
        .map_err(|_| "not an IPv4 address in dotted-quad form, e.g. 192.0.2.10".into())
}

/// International numbers only (a leading `+` and country code), checked against libphonenumber's
/// numbering plans and stored in E.164.
fn normalise_phone(value: &str) -> Result<String, String> {
    if !value.starts_with('+') {
        return Err("a phone number must be international, starting with + and the country code".into());
    }
    let number = phonenumber::parse(None, value).map_err(|e| format!("not a phone number: {e}"))?;
    if !phonenumber::is_valid(&number) {
        return Err("not a valid number in its country's numbering plan".into());
    }
    if number.extension().is_some() {
        return Err("extensions are not allowed in E.164".into());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::ResourceType::{Domain, Ipv4, Phone};

    #[test]
    fn domains_are_lower_cased_punycoded_and_checked() {
        assert_eq!(Domain.normalise(" Example.COM. ").unwrap(), "example.com");
        assert_eq!(Domain.normalise("bücher.example").unwrap(), "xn--bcher-kva.example");
        assert_eq!(Domain.normalise("a-b.c9.example").unwrap(), "a-b.c9.example");
        let long_label = format!("{}.com", "a".repeat(64));
        for bad in ["", "localhost", "-a.com", "a-.com", "a..com", "a_b.com", "a b.com", "1.2.3.4", "exa mple.com"] {
            assert!(Domain.normalise(bad).is_err(), "{bad}");
        }
        assert!(Domain.normalise(&long_label).is_err());
        assert!(Domain.normalise(&format!("{}.com", vec!["a".repeat(60); 5].join("."))).is_err(), "over 253");
    }

    #[test]
    fn ipv4_addresses_are_dotted_quads() {
        assert_eq!(Ipv4.normalise(" 192.0.2.1 ").unwrap(), "192.0.2.1");
        for bad in ["256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "::1", "a.b.c.d", "1.2.3.4/24"] {
            assert!(Ipv4.normalise(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(Phone.normalise("+49 30 12345678").unwrap(), "+493012345678");
        assert_eq!(Phone.normalise("+1 (202) 555-0143").unwrap(), "+12025550143");
        assert_eq!(Phone.normalise("+44 20 7946 0958").unwrap(), "+442079460958");
        for bad in ["030 12345678", "+49", "+999 123456", "+1 202", "hello", "+49 30 1234 ext. 5"] {
            assert!(Phone.normalise(bad).is_err(), "{bad}");
        }
    }
}
