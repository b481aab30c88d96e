//! The ended sessions of all licenses, most recently ended first: filter by end reason, license
//! key, device and when they ended.

use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::field::{bind, Field};
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::dom::input_value;
use crate::hooks::use_app;
use crate::i18n::Lang;
use crate::route::Route;
use crate::services::sessions::{self, EndReason, EndedSession, HistoryFilter};
use crate::services::{ApiError, Connection, Page};

impl ListQuery for HistoryFilter {
    type Item = EndedSession;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<EndedSession>, ApiError>> {
        async move { sessions::all_session_history(&self, &page).await }.boxed_local()
    }
}

/// How long a session lasted, as a person reads it: "42 s", "7 min", "2 h 5 min".
fn duration(lang: Lang, seconds: i64) -> String {
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    match seconds {
        s if s < 60 => format!("{} {}", s.max(0), lang.t("unit.seconds")),
        s if s < 3600 => format!("{} {}", s / 60, lang.t("unit.minutes")),
        _ if minutes == 0 => format!("{hours} {}", lang.t("unit.hours")),
        _ => format!("{hours} {} {minutes} {}", lang.t("unit.hours"), lang.t("unit.minutes")),
    }
}

#[function_component]
pub fn HistoryPage() -> Html {
    let app = use_app();
    let reason = use_state(|| None::<EndReason>);
    let license_key = use_state(String::new);
    let device = use_state(String::new);
    let from = use_state(String::new);
    let to = use_state(String::new);
    let filter = use_state(HistoryFilter::default);

    let on_reason = {
        let reason = reason.clone();
        Callback::from(move |event: Event| reason.set(EndReason::parse(&input_value(&event))))
    };
    let onsubmit = {
        let (reason, license_key, device, from, to, filter) =
            (reason.clone(), license_key.clone(), device.clone(), from.clone(), to.clone(), filter.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            filter.set(HistoryFilter {
                end_reason: *reason,
                license_key: (*license_key).clone(),
                device: (*device).clone(),
                ended_from: (*from).clone(),
                ended_to: (*to).clone(),
            });
        })
    };
    let row = {
        let lang = app.lang;
        Callback::from(move |s: EndedSession| {
            html! {
                <tr key={s.id.clone()} data-session-id={s.id.clone()}>
                    <td class="mono">
                        if let Some(license) = &s.license {
                            <Link<Route> to={Route::License { id: license.id.clone() }}>{ license.license_key.clone() }</Link<Route>>
                        }
                    </td>
                    <td>
                        <div class="strong">{ s.device.as_ref().map(|d| d.device_name.clone()).unwrap_or_default() }</div>
                        <div class="muted mono small">{ s.device.as_ref().map(|d| d.hardware_fingerprint.clone()).unwrap_or_default() }</div>
                    </td>
                    <td class="nowrap">{ lang.datetime(&s.started_at) }</td>
                    <td class="nowrap">{ lang.datetime(&s.ended_at) }</td>
                    <td class="nowrap">{ duration(lang, (s.ended_at - s.started_at).num_seconds()) }</td>
                    <td>{ lang.end_reason(s.end_reason) }</td>
                </tr>
            }
        })
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("history.title") }</h1>
                    <p class="muted">{ app.t("history.subtitle") }</p>
                </div>
            </div>
            <form class="card filters" {onsubmit} data-testid="history-filters">
                <Field label={app.t("history.reason")} id="history-reason">
                    <select id="history-reason" onchange={on_reason}>
                        <option value="" selected={reason.is_none()}>{ app.t("history.all_reasons") }</option>
                        { for EndReason::ALL.into_iter().map(|r| html! {
                            <option value={r.as_str()} selected={*reason == Some(r)}>{ app.lang.end_reason(r) }</option>
                        }) }
                    </select>
                </Field>
                <Field label={app.t("history.license")} id="history-license">
                    <input id="history-license" class="mono" value={(*license_key).clone()} oninput={bind(&license_key)} />
                </Field>
                <Field label={app.t("live.device")} id="history-device">
                    <input id="history-device" placeholder={app.t("history.device")} value={(*device).clone()} oninput={bind(&device)} />
                </Field>
                <Field label={app.t("history.from")} id="history-from">
                    <input id="history-from" type="date" value={(*from).clone()} oninput={bind(&from)} />
                </Field>
                <Field label={app.t("history.to")} id="history-to">
                    <input id="history-to" type="date" value={(*to).clone()} oninput={bind(&to)} />
                </Field>
                <div class="filters-submit"><button class="btn btn-primary" type="submit">{ app.t("filter") }</button></div>
            </form>
            <PagedTable<HistoryFilter> query={(*filter).clone()} empty={app.t("history.empty")} testid="session-history" {row}
                head={html! { <>
                    <th>{ app.t("live.license") }</th>
                    <th>{ app.t("live.device") }</th>
                    <th>{ app.t("live.started") }</th>
                    <th>{ app.t("history.ended") }</th>
                    <th>{ app.t("history.duration") }</th>
                    <th>{ app.t("history.reason") }</th>
                </> }} />
        </section>
    }
}
