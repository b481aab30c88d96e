//! The rules on a license's terms, shared by licenses and license templates: its limits and what
//! it grants besides them (features, offline grace, device releases). Checked here before the
//! database sees a value, which checks the same again (`valid_feature_names` and the range
//! constraints of both tables).

use super::MAX_DEVICES;
use crate::error::{Error, Result};

/// The most features one license (or template) grants.
pub const MAX_FEATURES: usize = 64;
/// The longest a feature name may be, in characters.
pub const MAX_FEATURE_LENGTH: usize = 64;
/// The longest offline grace: 30 days.
pub const MAX_OFFLINE_GRACE_SECONDS: i32 = 30 * 24 * 3600;
/// The most device releases per rolling 30 days a license may allow its clients.
pub const MAX_DEVICE_RELEASES: i32 = 1000;
/// Device releases per rolling 30 days when nothing else is said.
pub const DEFAULT_MAX_DEVICE_RELEASES: i32 = 3;

/// `deviceLimit` 1–10 and `concurrentSessionsLimit` 1 to `deviceLimit`.
pub fn check_limits(device_limit: i32, concurrent: i32) -> Result<()> {
    if !(1..=MAX_DEVICES as i32).contains(&device_limit) {
        return Err(Error::bad_input("deviceLimit", format!("deviceLimit must be between 1 and {MAX_DEVICES}")));
    }
    if concurrent < 1 || concurrent > device_limit {
        return Err(Error::bad_input(
            "concurrentSessionsLimit",
            format!("concurrentSessionsLimit must be between 1 and deviceLimit ({device_limit})"),
        ));
    }
    Ok(())
}

/// Feature names as they are kept: each trimmed and lower-cased (ASCII letters only), duplicates (after that) dropped
/// keeping the first, the order otherwise as given. A name must then start with a letter or digit
/// and hold only `a-z 0-9 . _ : -`, at most 64 characters; at most 64 names.
pub fn normalize_features(features: &[String]) -> Result<Vec<String>> {
    let mut kept: Vec<String> = Vec::with_capacity(features.len().min(MAX_FEATURES));
    for feature in features {
        let name = feature.trim().to_ascii_lowercase();
        if !is_feature_name(&name) {
            return Err(Error::bad_input(
                "features",
                format!(
                    "feature names are 1 to {MAX_FEATURE_LENGTH} characters of a-z, 0-9, '.', '_', ':' and '-', \
                     starting with a letter or digit (not {:?})",
                    feature.chars().take(80).collect::<String>()
                ),
            ));
        }
        if !kept.contains(&name) {
            kept.push(name);
        }
        if kept.len() > MAX_FEATURES {
            return Err(Error::bad_input("features", format!("a license grants at most {MAX_FEATURES} features")));
        }
    }
    Ok(kept)
}

/// The SQL's `^[a-z0-9][a-z0-9._:-]{0,63}$`.
fn is_feature_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && name.len() <= MAX_FEATURE_LENGTH
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | ':' | '-'))
}

/// `offlineGraceSeconds`: 0 (online only) to 30 days.
pub fn check_offline_grace(seconds: i32) -> Result<i32> {
    if !(0..=MAX_OFFLINE_GRACE_SECONDS).contains(&seconds) {
        return Err(Error::bad_input(
            "offlineGraceSeconds",
            format!("offlineGraceSeconds must be between 0 and {MAX_OFFLINE_GRACE_SECONDS} (30 days)"),
        ));
    }
    Ok(seconds)
}

/// `maxDeviceReleases`: 0 (clients may not release devices) to 1000 per rolling 30 days.
pub fn check_max_device_releases(releases: i32) -> Result<i32> {
    if !(0..=MAX_DEVICE_RELEASES).contains(&releases) {
        return Err(Error::bad_input(
            "maxDeviceReleases",
            format!("maxDeviceReleases must be between 0 and {MAX_DEVICE_RELEASES}"),
        ));
    }
    Ok(releases)
}

crate::input_constraint! {
    "licenses_features_valid" => "features", "feature names are 1 to 64 characters of a-z, 0-9, '.', '_', ':' and '-', at most 64 of them, none twice";
    "licenses_offline_grace_range" => "offlineGraceSeconds", "offlineGraceSeconds must be between 0 and 2592000 (30 days)";
    "licenses_max_device_releases_range" => "maxDeviceReleases", "maxDeviceReleases must be between 0 and 1000";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn features_are_trimmed_lower_cased_and_kept_once_in_their_order() {
        let kept = normalize_features(&names(&[" Pro ", "export.pdf", "PRO", "module:reports", "a-b_c"])).unwrap();
        assert_eq!(kept, names(&["pro", "export.pdf", "module:reports", "a-b_c"]));
        assert_eq!(normalize_features(&[]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn feature_names_outside_the_pattern_are_refused() {
        let too_long = "a".repeat(65);
        for bad in ["", "  ", "-pro", ".x", "pro plus", "prö", "a/b", "a\u{0}", too_long.as_str()] {
            let err = normalize_features(&names(&[bad])).unwrap_err();
            assert!(matches!(err, Error::BadInput { ref field, .. } if field == "features"), "{bad:?}");
        }
        assert!(normalize_features(&names(&[&"a".repeat(64)])).is_ok());
    }

    #[test]
    fn at_most_64_distinct_features_but_duplicates_do_not_count() {
        let distinct: Vec<String> = (0..64).map(|i| format!("f{i}")).collect();
        assert_eq!(normalize_features(&distinct).unwrap().len(), 64);
        let mut one_more = distinct.clone();
        one_more.push("f64".into());
        assert!(normalize_features(&one_more).is_err());
        let mut repeated = distinct;
        repeated.push("F0".into());
        assert_eq!(normalize_features(&repeated).unwrap().len(), 64);
    }

    #[test]
    fn grace_and_releases_have_their_ranges() {
        assert!(check_offline_grace(0).is_ok() && check_offline_grace(2_592_000).is_ok());
        assert!(check_offline_grace(-1).is_err() && check_offline_grace(2_592_001).is_err());
        assert!(check_max_device_releases(0).is_ok() && check_max_device_releases(1000).is_ok());
        assert!(check_max_device_releases(-1).is_err() && check_max_device_releases(1001).is_err());
    }
}
