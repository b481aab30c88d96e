//! A license's terms as the license and template forms edit them and the pages show them: its
//! type and limits ([`LimitsFields`]), and what it grants besides ([`TermsFields`]): features (a
//! comma list), the offline grace (in hours) and the device releases per 30 days. The server
//! normalises the features (trimmed, lower-cased, once each) and checks every value; its errors
//! appear beside these fields.

use yew::prelude::*;

use super::feedback::Badge;
use super::field::Field;
use crate::hooks::use_app;
use crate::i18n::{Fixed, Lang};
use crate::services::licenses::LicenseType;
use crate::services::ApiError;
use crate::state::AppContext;

const SECONDS_PER_HOUR: f64 = 3600.0;

/// The features as the comma list shows them.
pub fn features_text(features: &[String]) -> String {
    features.join(", ")
}

/// The comma (or line) separated list as the API takes it; empty entries are dropped.
pub fn parse_features(text: &str) -> Vec<String> {
    text.split([',', '\n']).map(str::trim).filter(|f| !f.is_empty()).map(str::to_owned).collect()
}

/// Seconds of offline grace as hours for the input (fractions only when it is not whole hours).
pub fn grace_hours(seconds: i32) -> String {
    if seconds % 3600 == 0 {
        (seconds / 3600).to_string()
    } else {
        Fixed(f64::from(seconds) / SECONDS_PER_HOUR, 2).to_string()
    }
}

/// The hours typed (a point or a comma as decimal mark) as seconds; an empty field is 0.
fn parse_grace_hours(text: &str) -> Option<i32> {
    let text = text.trim().replace(',', ".");
    if text.is_empty() {
        return Some(0);
    }
    // Read as decimal digits, not with `f64::from_str`, whose parser would be linked into the wasm
    // module for this one field.
    let (negative, text) = text.strip_prefix('-').map_or((false, text.as_str()), |rest| (true, rest));
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) || whole.len() > 12 {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    // Seconds of the fraction, rounded to the nearest (the first nine digits count).
    let fraction = &fraction[..fraction.len().min(9)];
    let scale = 10_i64.pow(fraction.len() as u32);
    let fraction: i64 = if fraction.is_empty() { 0 } else { fraction.parse().ok()? };
    let seconds = whole * 3600 + (fraction * 3600 + scale / 2) / scale;
    i32::try_from(if negative { -seconds } else { seconds }).ok()
}

/// `text` as a whole number for the input `field`, or the error shown beside it.
pub fn number(app: &AppContext, text: &str, field: &str) -> Result<i32, ApiError> {
    text.trim()
        .parse::<i32>()
        .map_err(|_| ApiError::Invalid { field: Some(field.into()), message: app.t("form.number").into() })
}

/// One of the limits' inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitsInput {
    LicenseType,
    DeviceLimit,
    Concurrent,
}

/// The license type and limits as the form's inputs hold them.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitsDraft {
    pub license_type: LicenseType,
    pub device_limit: String,
    pub concurrent: String,
}

impl Default for LimitsDraft {
    /// What a new license or template starts with.
    fn default() -> Self {
        LimitsDraft::new(LicenseType::Subscription, 3, 1)
    }
}

impl LimitsDraft {
    pub fn new(license_type: LicenseType, device_limit: i32, concurrent_sessions_limit: i32) -> LimitsDraft {
        LimitsDraft {
            license_type,
            device_limit: device_limit.to_string(),
            concurrent: concurrent_sessions_limit.to_string(),
        }
    }

    /// Stores what was chosen or typed into `input`.
    pub fn set(&mut self, input: LimitsInput, text: String) {
        match input {
            LimitsInput::LicenseType => {
                if let Some(license_type) = LicenseType::parse(&text) {
                    self.license_type = license_type;
                }
            }
            LimitsInput::DeviceLimit => self.device_limit = text,
            LimitsInput::Concurrent => self.concurrent = text,
        }
    }

    /// Adds `licenseType`, `deviceLimit` and `concurrentSessionsLimit` to a create or update
    /// input; a limit that is no number is refused beside its field.
    pub fn add_to(&self, input: &mut serde_json::Value, app: &AppContext) -> Result<(), ApiError> {
        input["licenseType"] = serde_json::json!(self.license_type);
        input["deviceLimit"] = number(app, &self.device_limit, "deviceLimit")?.into();
        input["concurrentSessionsLimit"] = number(app, &self.concurrent, "concurrentSessionsLimit")?.into();
        Ok(())
    }
}

#[derive(Properties, PartialEq)]
pub struct LimitsFieldsProps {
    pub draft: LimitsDraft,
    /// The error of the last save, for the fields it names.
    pub error: Option<ApiError>,
    /// What was chosen or typed, and where: the form stores it with [`LimitsDraft::set`].
    pub on_change: Callback<(LimitsInput, String)>,
}

/// The license type and the two limits, each beside the server's error about it.
#[function_component]
pub fn LimitsFields(props: &LimitsFieldsProps) -> Html {
    let app = use_app();
    let error = |field: &str| props.error.as_ref().and_then(|e| e.for_field(field));
    let input =
        |input: LimitsInput| props.on_change.reform(move |event: InputEvent| (input, crate::dom::input_value(&event)));
    let on_type = props.on_change.reform(|event: Event| (LimitsInput::LicenseType, crate::dom::input_value(&event)));
    html! {
        <>
            <Field label={app.t("license.type")} id="licenseType" error={error("licenseType")}>
                <select id="licenseType" onchange={on_type}>
                    { for LicenseType::ALL.into_iter().map(|t| html! {
                        <option value={t.as_str()} selected={props.draft.license_type == t}>{ app.lang.license_type(t) }</option>
                    }) }
                </select>
            </Field>
            <div class="grid-2">
                <Field label={app.t("license.device_limit")} id="deviceLimit" error={error("deviceLimit")} hint={Some(AttrValue::from(app.t("license.device_limit_hint")))}>
                    <input id="deviceLimit" type="number" min="1" max="10" value={props.draft.device_limit.clone()} oninput={input(LimitsInput::DeviceLimit)} />
                </Field>
                <Field label={app.t("license.concurrent_limit")} id="concurrentSessionsLimit" error={error("concurrentSessionsLimit")} hint={Some(AttrValue::from(app.t("license.concurrent_hint")))}>
                    <input id="concurrentSessionsLimit" type="number" min="1" max="10" value={props.draft.concurrent.clone()} oninput={input(LimitsInput::Concurrent)} />
                </Field>
            </div>
        </>
    }
}

/// One of the three inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermsInput {
    Features,
    GraceHours,
    Releases,
}

/// The terms as the form's inputs hold them.
#[derive(Clone, Debug, PartialEq)]
pub struct TermsDraft {
    pub features: String,
    pub grace_hours: String,
    pub releases: String,
}

impl TermsDraft {
    pub fn new(features: &[String], offline_grace_seconds: i32, max_device_releases: i32) -> TermsDraft {
        TermsDraft {
            features: features_text(features),
            grace_hours: grace_hours(offline_grace_seconds),
            releases: max_device_releases.to_string(),
        }
    }

    /// Stores what was typed into `input`.
    pub fn set(&mut self, input: TermsInput, text: String) {
        match input {
            TermsInput::Features => self.features = text,
            TermsInput::GraceHours => self.grace_hours = text,
            TermsInput::Releases => self.releases = text,
        }
    }

    /// Adds `features`, `offlineGraceSeconds` and `maxDeviceReleases` to a create or update
    /// input; a value that is no number is refused beside its field.
    pub fn add_to(&self, input: &mut serde_json::Value, app: &AppContext) -> Result<(), ApiError> {
        let grace = parse_grace_hours(&self.grace_hours).ok_or_else(|| ApiError::Invalid {
            field: Some("offlineGraceSeconds".into()),
            message: app.t("form.number").into(),
        })?;
        let releases = number(app, &self.releases, "maxDeviceReleases")?;
        input["features"] = serde_json::json!(parse_features(&self.features));
        input["offlineGraceSeconds"] = grace.into();
        input["maxDeviceReleases"] = releases.into();
        Ok(())
    }
}

#[derive(Properties, PartialEq)]
pub struct TermsFieldsProps {
    pub draft: TermsDraft,
    /// The error of the last save, for the fields it names.
    pub error: Option<ApiError>,
    /// What was typed, and where: the form stores it with [`TermsDraft::set`].
    pub on_change: Callback<(TermsInput, String)>,
}

/// The three inputs, each beside the server's error about it.
#[function_component]
pub fn TermsFields(props: &TermsFieldsProps) -> Html {
    let app = use_app();
    let error = |field: &str| props.error.as_ref().and_then(|e| e.for_field(field));
    let input =
        |input: TermsInput| props.on_change.reform(move |event: InputEvent| (input, crate::dom::input_value(&event)));
    let hours = parse_grace_hours(&props.draft.grace_hours).filter(|s| *s > 0);
    let grace_hint = match hours {
        Some(seconds) => format!("{} {}", app.t("terms.grace_is"), app.lang.offline_grace(seconds)),
        None => app.t("terms.grace_hint").to_owned(),
    };
    html! {
        <>
            <Field label={app.t("terms.features")} id="features" error={error("features")} hint={Some(AttrValue::from(app.t("terms.features_hint")))}>
                <input id="features" value={props.draft.features.clone()} oninput={input(TermsInput::Features)} placeholder="pro, export.pdf, module:reports" />
            </Field>
            <div class="grid-2">
                <Field label={app.t("terms.grace_hours")} id="offlineGraceSeconds" error={error("offlineGraceSeconds")} hint={Some(AttrValue::from(grace_hint))}>
                    <input id="offlineGraceSeconds" type="number" min="0" max="720" step="any" value={props.draft.grace_hours.clone()} oninput={input(TermsInput::GraceHours)} />
                </Field>
                <Field label={app.t("terms.releases")} id="maxDeviceReleases" error={error("maxDeviceReleases")} hint={Some(AttrValue::from(app.t("terms.releases_hint")))}>
                    <input id="maxDeviceReleases" type="number" min="0" max="1000" value={props.draft.releases.clone()} oninput={input(TermsInput::Releases)} />
                </Field>
            </div>
        </>
    }
}

/// The features as badges, or "none".
pub fn features_badges(lang: Lang, features: &[String]) -> Html {
    if features.is_empty() {
        return html! { <span class="muted">{ lang.t("terms.no_features") }</span> };
    }
    html! {
        <span class="row wrap" data-testid="features">
            { for features.iter().map(|f| html! { <Badge tone="grey" text={f.clone()} /> }) }
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_split_at_commas_and_lines_without_empty_entries() {
        assert_eq!(parse_features(" pro, export.pdf ,,\nreports\n"), ["pro", "export.pdf", "reports"]);
        assert!(parse_features("  ").is_empty());
        assert_eq!(features_text(&parse_features("a,b")), "a, b");
    }

    #[test]
    fn grace_is_edited_in_hours() {
        assert_eq!(parse_grace_hours("168"), Some(604_800));
        assert_eq!(parse_grace_hours("0,5"), Some(1800));
        assert_eq!(parse_grace_hours(""), Some(0));
        assert_eq!(parse_grace_hours("soon"), None);
        assert_eq!(parse_grace_hours(".25"), Some(900));
        assert_eq!(parse_grace_hours("1e3"), None);
        assert_eq!(parse_grace_hours("999999999999"), None);
        assert_eq!(grace_hours(604_800), "168");
        assert_eq!(grace_hours(1800), "0.50");
    }
}
