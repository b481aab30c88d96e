//! The overview, the start page for admins and analysts: live sessions now (through the
//! `liveSessions` subscription), licenses by state and type, sessions and heartbeats over a
//! chosen range as charts, the highest concurrency of one license, the licenses closest to their
//! limits, and the licenses that expire within 30 days. It only reads.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::bar_chart::{BarChart, Rgb, Series, Slot};
use crate::components::feedback::{Empty, ErrorBanner, Loading};
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::dom::input_value;
use crate::hooks::{use_app, use_live_sessions, use_load, Load};
use crate::i18n::Lang;
use crate::route::Route;
use crate::services::analytics::{self, LicenseCount, LicenseState, TimeBucket};
use crate::services::licenses::{self, License, LicenseType};
use crate::services::sessions::EndReason;
use crate::services::{ApiError, Connection, Page};

/// The ranges offered, in days; the first view shows 30.
const RANGES: [(i64, &str); 3] = [(7, "overview.range_7"), (30, "overview.range_30"), (90, "overview.range_90")];
/// Ranges up to this many days show heartbeats per hour, longer ones per day.
const HOURLY_UP_TO_DAYS: i64 = 7;
/// How many licenses "closest to their limits" lists.
const CLOSEST: i32 = 5;
/// How far ahead "expiring" looks.
const EXPIRING_WITHIN_DAYS: i64 = 30;

const STARTED: Rgb = Rgb(37, 99, 235);
const HEARTBEATS: Rgb = Rgb(13, 148, 136);
/// The end reasons in the order the chart stacks them, each with its colour.
const END_REASONS: [(EndReason, Rgb); 6] = [
    (EndReason::ClientEnded, Rgb(22, 163, 74)),
    (EndReason::Timeout, Rgb(217, 119, 6)),
    (EndReason::AdminTerminated, Rgb(220, 38, 38)),
    (EndReason::DeviceDeactivated, Rgb(124, 58, 237)),
    (EndReason::LicenseRevoked, Rgb(71, 85, 105)),
    (EndReason::LicenseExpired, Rgb(219, 39, 119)),
];

/// `days` whole UTC days up to and including today, as `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Range {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    days: i64,
}

impl Range {
    fn last_days(days: i64) -> Range {
        let to = (Utc::now().date_naive() + Duration::days(1)).and_time(NaiveTime::MIN).and_utc();
        Range { from: to - Duration::days(days), to, days }
    }

    /// One slot per UTC day, about eight of them labelled.
    fn day_slots(self, lang: Lang) -> Vec<Slot> {
        let every = (self.days + 7) / 8;
        (0..self.days)
            .map(|i| {
                let day = (self.from + Duration::days(i)).date_naive();
                Slot { label: lang.day(day), tick: (i % every == 0).then(|| lang.short_day(day)) }
            })
            .collect()
    }

    /// One slot per UTC hour, each midnight labelled.
    fn hour_slots(self, lang: Lang) -> Vec<Slot> {
        (0..self.days * 24)
            .map(|i| {
                let at = self.from + Duration::hours(i);
                let day = at.date_naive();
                Slot {
                    label: format!("{} {:02}:00", lang.day(day), at.hour()),
                    tick: (i % 24 == 0).then(|| lang.short_day(day)),
                }
            })
            .collect()
    }

    /// Which slot `at` falls in, one slot being `width` long.
    fn slot_of(self, at: DateTime<Utc>, width: Duration) -> Option<usize> {
        usize::try_from((at - self.from).num_seconds() / width.num_seconds()).ok()
    }
}

#[function_component]
pub fn OverviewPage() -> Html {
    let app = use_app();
    let days = use_state(|| 30_i64);
    let range = Range::last_days(*days);
    let live = use_live_sessions(None);
    let (counts, _) = use_load((), |()| analytics::license_counts());

    let on_range = {
        let days = days.clone();
        Callback::from(move |event: Event| {
            if let Ok(chosen) = input_value(&event).parse() {
                days.set(chosen);
            }
        })
    };
    let active_licenses = match &*counts {
        Load::Loaded(counts) => {
            let active: i64 = counts.iter().filter(|c| c.state == LicenseState::Active).map(|c| c.count).sum();
            let total: i64 = counts.iter().map(|c| c.count).sum();
            html! { <>
                <div class="stat-value" data-testid="active-licenses">{ app.lang.number(active) }</div>
                <div class="muted">{ app.t("overview.of_total") }{ " " }{ app.lang.number(total) }</div>
            </> }
        }
        _ => html! { <div class="stat-value">{ "…" }</div> },
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("nav.overview") }</h1>
                    <p class="muted">{ app.t("overview.subtitle") }</p>
                </div>
                <div class="field">
                    <label for="overview-range">{ app.t("overview.range") }</label>
                    <select id="overview-range" onchange={on_range}>
                        { for RANGES.iter().map(|(n, key)| html! {
                            <option value={n.to_string()} selected={*n == *days}>{ app.t(key) }</option>
                        }) }
                    </select>
                </div>
            </div>

            <div class="stat-cards">
                <div class="card stat-card" data-testid="overview-live">
                    <div class="stat-label">{ app.t("overview.live_now") }</div>
                    <div class="stat-value" data-testid="overview-live-count">
                        { live.sessions.as_ref().map(|s| app.lang.number(s.len() as i64)).unwrap_or_else(|| "…".into()) }
                    </div>
                    <div class="row">
                        <span class={classes!("live-indicator", live.connected.then_some("on"))}>
                            <span class="dot"></span>
                            { if live.connected { app.t("live.connected") } else { app.t("live.reconnecting") } }
                        </span>
                        <Link<Route> to={Route::Live}>{ app.t("overview.open_live") }</Link<Route>>
                    </div>
                </div>
                <div class="card stat-card">
                    <div class="stat-label">{ app.t("overview.active_licenses") }</div>
                    { active_licenses }
                </div>
                <PeakCard {range} />
            </div>

            <section class="card">
                <h2>{ app.t("overview.sessions_title") }</h2>
                <SessionsChart {range} />
            </section>
            <section class="card">
                <h2>{ app.t(heartbeats_title(range)) }</h2>
                <HeartbeatsChart {range} />
            </section>

            <section class="card">
                <h2>{ app.t("overview.licenses_title") }</h2>
                { match &*counts {
                    Load::Loading => html! { <Loading /> },
                    Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                    Load::Loaded(counts) => license_counts_table(app.lang, counts),
                } }
            </section>
            <section class="card">
                <h2>{ app.t("overview.usage_title") }</h2>
                <p class="muted small">{ app.t("overview.usage_help") }</p>
                <ClosestToLimits />
            </section>

            <h2>{ app.t("overview.expiring_title") }</h2>
            <ExpiringLicenses />
        </section>
    }
}

fn heartbeats_title(range: Range) -> &'static str {
    if range.days <= HOURLY_UP_TO_DAYS {
        "overview.heartbeats_title_hour"
    } else {
        "overview.heartbeats_title_day"
    }
}

/// A table of the licenses of each type (rows) in each state (columns), with totals.
fn license_counts_table(lang: Lang, counts: &[LicenseCount]) -> Html {
    if counts.is_empty() {
        return html! { <Empty message={lang.t("overview.no_licenses")} /> };
    }
    let count = |license_type: Option<LicenseType>, state: Option<LicenseState>| -> i64 {
        counts
            .iter()
            .filter(|c| license_type.is_none_or(|t| c.license_type == t) && state.is_none_or(|s| c.state == s))
            .map(|c| c.count)
            .sum()
    };
    let state_name = |state: LicenseState| match state {
        LicenseState::Active => lang.t("license.active"),
        LicenseState::Pending => lang.t("overview.state.pending"),
        LicenseState::Expired => lang.t("license.expired"),
        LicenseState::Inactive => lang.t("license.inactive"),
    };
    let row = |license_type: Option<LicenseType>| {
        let (name, data_type) = match license_type {
            Some(t) => (lang.license_type(t), t.as_str()),
            None => (lang.t("overview.total"), "TOTAL"),
        };
        html! {
            <tr data-type={data_type} class={classes!(license_type.is_none().then_some("total"))}>
                <th scope="row">{ name }</th>
                { for LicenseState::ALL.into_iter().map(|state| html! {
                    <td class="num" data-state={state.as_str()}>{ lang.number(count(license_type, Some(state))) }</td>
                }) }
                <td class="num" data-state="TOTAL">{ lang.number(count(license_type, None)) }</td>
            </tr>
        }
    };
    html! {
        <div class="table-wrap">
            <table class="table" data-testid="license-counts">
                <thead><tr>
                    <th scope="col">{ lang.t("license.type") }</th>
                    { for LicenseState::ALL.into_iter().map(|state| html! { <th scope="col" class="num">{ state_name(state) }</th> }) }
                    <th scope="col" class="num">{ lang.t("overview.total") }</th>
                </tr></thead>
                <tbody>
                    { for LicenseType::ALL.into_iter().map(|t| row(Some(t))) }
                    { row(None) }
                </tbody>
            </table>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct RangeProps {
    range: Range,
}

/// The highest number of sessions one license had live at once in the range.
#[function_component]
fn PeakCard(props: &RangeProps) -> Html {
    let app = use_app();
    let range = props.range;
    let (peak, _) = use_load(range, |r: Range| analytics::peak_concurrency(r.from, r.to));
    let body = match &*peak {
        Load::Loading => html! { <div class="stat-value">{ "…" }</div> },
        Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
        Load::Loaded(None) => html! { <p class="muted">{ app.t("overview.peak_none") }</p> },
        Load::Loaded(Some(peak)) => html! { <>
            <div class="stat-value" data-testid="peak-concurrency">{ app.lang.number(peak.peak) }</div>
            <div class="muted">{ app.t("overview.peak_at") }{ " " }{ app.lang.datetime(&peak.reached_at) }</div>
            <Link<Route> to={Route::License { id: peak.license_id.clone() }}>{ app.t("overview.open_license") }</Link<Route>>
        </> },
    };
    html! {
        <div class="card stat-card">
            <div class="stat-label">{ app.t("overview.peak") }</div>
            { body }
        </div>
    }
}

/// Sessions started (one bar) and ended (a second bar, stacked by why they ended) per UTC day.
#[function_component]
fn SessionsChart(props: &RangeProps) -> Html {
    let app = use_app();
    let range = props.range;
    let (days, _) = use_load(range, |r: Range| analytics::sessions_per_day(r.from, r.to));
    let days = match &*days {
        Load::Loading => return html! { <Loading /> },
        Load::Failed(err) => return html! { <ErrorBanner error={err.clone()} /> },
        Load::Loaded(days) if days.is_empty() => return html! { <Empty message={app.t("overview.no_sessions")} /> },
        Load::Loaded(days) => days,
    };
    let slots = range.day_slots(app.lang);
    let mut started = vec![0; slots.len()];
    let mut ended = END_REASONS.map(|_| vec![0; slots.len()]);
    for day in days {
        let at = day.day.and_time(NaiveTime::MIN).and_utc();
        let Some(slot) = range.slot_of(at, Duration::days(1)).filter(|s| *s < slots.len()) else { continue };
        started[slot] = day.started;
        for reason in &day.end_reasons {
            if let Some(i) = END_REASONS.iter().position(|(r, _)| *r == reason.reason) {
                ended[i][slot] = reason.count;
            }
        }
    }
    let mut ended: Vec<Series> = END_REASONS
        .iter()
        .zip(ended)
        .filter(|(_, values)| values.iter().any(|v| *v > 0))
        .map(|((reason, color), values)| Series {
            label: format!("{} {}", app.t("overview.ended_as"), app.lang.end_reason(*reason)),
            color: *color,
            values,
        })
        .collect();
    if ended.is_empty() {
        ended.push(Series {
            label: app.t("overview.ended").into(),
            color: END_REASONS[0].1,
            values: vec![0; slots.len()],
        });
    }
    let started = Series { label: app.t("overview.started").into(), color: STARTED, values: started };
    html! {
        <BarChart title={app.t("overview.sessions_title")} x_axis={app.t("overview.axis_day")}
            y_axis={app.t("overview.axis_sessions")} {slots} groups={vec![vec![started], ended]} testid="sessions-chart" />
    }
}

/// Heartbeats received per UTC hour (short ranges) or day.
#[function_component]
fn HeartbeatsChart(props: &RangeProps) -> Html {
    let app = use_app();
    let range = props.range;
    let (bucket, width) = if range.days <= HOURLY_UP_TO_DAYS {
        (TimeBucket::Hour, Duration::hours(1))
    } else {
        (TimeBucket::Day, Duration::days(1))
    };
    let (buckets, _) =
        use_load((range, bucket), |(r, bucket): (Range, TimeBucket)| analytics::heartbeat_counts(r.from, r.to, bucket));
    let buckets = match &*buckets {
        Load::Loading => return html! { <Loading /> },
        Load::Failed(err) => return html! { <ErrorBanner error={err.clone()} /> },
        Load::Loaded(buckets) if buckets.is_empty() => {
            return html! { <Empty message={app.t("overview.no_heartbeats")} /> };
        }
        Load::Loaded(buckets) => buckets,
    };
    let (slots, x_axis) = match bucket {
        TimeBucket::Hour => (range.hour_slots(app.lang), app.t("overview.axis_hour")),
        TimeBucket::Day => (range.day_slots(app.lang), app.t("overview.axis_day")),
    };
    let mut values = vec![0; slots.len()];
    for b in buckets {
        if let Some(value) = range.slot_of(b.bucket_start, width).and_then(|slot| values.get_mut(slot)) {
            *value = b.count;
        }
    }
    let heartbeats = Series { label: app.t("overview.axis_heartbeats").into(), color: HEARTBEATS, values };
    html! {
        <BarChart title={app.t(heartbeats_title(range))} {x_axis} y_axis={app.t("overview.axis_heartbeats")}
            {slots} groups={vec![vec![heartbeats]]} testid="heartbeats-chart" />
    }
}

/// The licenses with the largest share of their device or session limit in use.
#[function_component]
fn ClosestToLimits() -> Html {
    let app = use_app();
    let (usage, _) = use_load((), |()| analytics::license_usage(CLOSEST));
    let usage = match &*usage {
        Load::Loading => return html! { <Loading /> },
        Load::Failed(err) => return html! { <ErrorBanner error={err.clone()} /> },
        Load::Loaded(usage) => usage,
    };
    let share = |used: i64, limit: i32| used as f64 / f64::from(limit.max(1));
    let in_use: Vec<_> = usage.iter().filter(|u| u.active_devices > 0 || u.live_sessions > 0).collect();
    if in_use.is_empty() {
        return html! { <Empty message={app.t("overview.usage_none")} /> };
    }
    html! {
        <div class="table-wrap">
            <table class="table" data-testid="closest-to-limits">
                <thead><tr>
                    <th scope="col">{ app.t("license.key") }</th>
                    <th scope="col" class="num">{ app.t("license.devices") }</th>
                    <th scope="col" class="num">{ app.t("license.sessions") }</th>
                    <th scope="col">{ app.t("overview.usage_share") }</th>
                </tr></thead>
                <tbody>
                    { for in_use.iter().map(|u| {
                        let used = share(u.active_devices, u.device_limit).max(share(u.live_sessions, u.concurrent_sessions_limit));
                        html! {
                            <tr key={u.license_id.clone()} data-license-key={u.license_key.clone()}>
                                <td class="mono"><Link<Route> to={Route::License { id: u.license_id.clone() }}>{ u.license_key.clone() }</Link<Route>></td>
                                <td class="num">{ format!("{} / {}", u.active_devices, u.device_limit) }</td>
                                <td class="num">{ format!("{} / {}", u.live_sessions, u.concurrent_sessions_limit) }</td>
                                <td class="usage">
                                    <span class="usage-bar" aria-hidden="true">
                                        <span class={classes!("usage-fill", (used >= 1.0).then_some("full"))}
                                            style={format!("width: {:.0}%", used.min(1.0) * 100.0)}></span>
                                    </span>
                                    { app.lang.percent(used) }
                                </td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </div>
    }
}

/// Whole days until `until`, counting a started day as one.
fn days_left(now: DateTime<Utc>, until: DateTime<Utc>) -> i64 {
    ((until - now).num_seconds() + 86_399) / 86_400
}

/// Active licenses whose validity ends from now until the given moment.
#[derive(Clone, PartialEq)]
struct ExpiringBefore {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl ListQuery for ExpiringBefore {
    type Item = License;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<License>, ApiError>> {
        async move { licenses::expiring_licenses(self.from, self.until, &page).await }.boxed_local()
    }
}

/// The licenses expiring in the next 30 days, soonest first, each linking to the license.
#[function_component]
fn ExpiringLicenses() -> Html {
    let app = use_app();
    let query = use_state(|| {
        let from = Utc::now();
        ExpiringBefore { from, until: from + Duration::days(EXPIRING_WITHIN_DAYS) }
    });
    let row = {
        let (app, now) = (app.clone(), query.from);
        Callback::from(move |license: License| {
            let until = license.valid_until.unwrap_or(now);
            html! {
                <tr key={license.id.clone()} data-license-key={license.license_key.clone()}>
                    <td class="mono"><Link<Route> to={Route::License { id: license.id.clone() }}>{ license.license_key.clone() }</Link<Route>></td>
                    <td>{ license.customer.as_ref().map(|c| c.name.clone()).unwrap_or_default() }</td>
                    <td>{ app.lang.license_type(license.license_type) }</td>
                    <td>{ app.lang.datetime(&until) }</td>
                    <td class="num">{ days_left(now, until) }</td>
                </tr>
            }
        })
    };
    html! {
        <PagedTable<ExpiringBefore> query={(*query).clone()} empty={app.t("overview.expiring_none")} testid="expiring-licenses" {row}
            head={html! { <>
                <th>{ app.t("license.key") }</th>
                <th>{ app.t("license.customer") }</th>
                <th>{ app.t("license.type") }</th>
                <th>{ app.t("license.valid_until") }</th>
                <th class="num">{ app.t("overview.days_left") }</th>
            </> }} />
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::i18n::Fixed;

    fn week() -> Range {
        let from = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        Range { from, to: from + Duration::days(7), days: 7 }
    }

    #[test]
    fn a_range_ends_with_today_and_starts_at_a_utc_midnight() {
        let range = Range::last_days(30);
        assert_eq!(range.to - range.from, Duration::days(30));
        assert_eq!(range.from.time(), NaiveTime::MIN);
        assert_eq!((range.to - Duration::days(1)).date_naive(), Utc::now().date_naive());
    }

    #[test]
    fn days_and_hours_fall_into_their_slots_and_every_midnight_is_labelled() {
        let range = week();
        let hours = range.hour_slots(Lang::En);
        assert_eq!(hours.len(), 7 * 24);
        assert_eq!(hours.iter().filter(|s| s.tick.is_some()).count(), 7);
        assert_eq!(hours[25].label, "2026-11-28 01:00");
        assert_eq!(hours[24].tick.as_deref(), Some("Nov 28"));
        assert_eq!(range.slot_of(range.from + Duration::minutes(150), Duration::hours(1)), Some(2));
        assert_eq!(range.slot_of(range.from - Duration::hours(1), Duration::hours(1)), None);

        let days = range.day_slots(Lang::De);
        assert_eq!(days.iter().map(|s| s.tick.as_deref().unwrap_or("")).collect::<Vec<_>>()[..2], ["27.11.", "28.11."]);
        let ninety = Range::last_days(90).day_slots(Lang::En);
        assert!(ninety.iter().filter(|s| s.tick.is_some()).count() <= 9, "about eight labels under 90 days");
    }

    #[test]
    fn numbers_and_shares_are_written_as_each_language_writes_them() {
        assert_eq!(Lang::En.number(1_234_567), "1,234,567");
        assert_eq!(Lang::De.number(1_234_567), "1.234.567");
        assert_eq!(Lang::De.number(-999), "-999");
        assert_eq!(Lang::En.percent(0.5), "50%");
        assert_eq!(Lang::De.percent(1.0), "100 %");
        assert_eq!(Fixed(1023.96, 1).to_string(), "1024.0");
        assert_eq!(Fixed(-1.25, 1).to_string(), "-1.3");
        assert_eq!(Fixed(-0.04, 1).to_string(), "0.0");
        assert_eq!(Fixed(960.0, 0).to_string(), "960");
    }

    #[test]
    fn a_started_day_counts_as_a_day_left() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
        assert_eq!(days_left(now, now + Duration::days(10) - Duration::seconds(5)), 10);
        assert_eq!(days_left(now, now + Duration::days(10)), 10);
        assert_eq!(days_left(now, now + Duration::minutes(1)), 1);
    }
}
