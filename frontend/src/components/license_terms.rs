//! What a license grants besides its limits, as the license and template forms edit it and the
//! pages show it: features (a comma list), the offline grace (in hours) and the device releases
//! per 30 days. The server normalises the features (trimmed, lower-cased, once each) and checks
//! every value; its errors appear beside these fields.

use yew::prelude::*;

use super::feedback::Badge;
use super::field::Field;
use crate::hooks::use_app;
use crate::i18n::Lang;
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
        format!("{:.2}", f64::from(seconds) / SECONDS_PER_HOUR)
    }
}

/// The hours typed (a point or a comma as decimal mark) as seconds; an empty field is 0.
fn parse_grace_hours(text: &str) -> Option<i32> {
    let text = text.trim().replace(',', ".");
    if text.is_empty() {
        return Some(0);
    }
    let hours: f64 = text.parse().ok()?;
    let seconds = (hours * SECONDS_PER_HOUR).round();
    (hours.is_finite() && seconds.abs() < f64::from(i32::MAX)).then_some(seconds as i32)
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
        let not_a_number =
            |field: &str| ApiError::Invalid { field: Some(field.into()), message: app.t("form.number").into() };
        let grace = parse_grace_hours(&self.grace_hours).ok_or_else(|| not_a_number("offlineGraceSeconds"))?;
        let releases = self.releases.trim().parse::<i32>().map_err(|_| not_a_number("maxDeviceReleases"))?;
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
        assert_eq!(grace_hours(604_800), "168");
        assert_eq!(grace_hours(1800), "0.50");
    }
}
