//! Leads: institutions with search and paging, contacts found by name, and a new institution
//! (admins).

use futures_util::future::{FutureExt, LocalBoxFuture};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::ErrorBanner;
use crate::components::institution::{customer_badge, website_link, InstitutionForm};
use crate::components::paged_table::{ListQuery, PagedTable};
use crate::components::search_toolbar::SearchToolbar;
use crate::hooks::{use_app, use_load, Load};
use crate::route::Route;
use crate::services::crm::{self, Institution, SearchHit};
use crate::services::{ApiError, Connection, Page};

/// The institutions whose name contains the text (all when it is empty).
#[derive(Clone, Debug, Default, PartialEq)]
struct InstitutionSearch(String);

impl ListQuery for InstitutionSearch {
    type Item = Institution;

    fn fetch(self, page: Page) -> LocalBoxFuture<'static, Result<Connection<Institution>, ApiError>> {
        async move { crm::institutions(&self.0, &page).await }.boxed_local()
    }
}

#[function_component]
pub fn CrmPage() -> Html {
    let app = use_app();
    let navigator = use_navigator().expect("inside the router");
    let search = use_state(InstitutionSearch::default);
    let creating = use_state(|| false);

    let on_search = {
        let search = search.clone();
        Callback::from(move |text: String| search.set(InstitutionSearch(text)))
    };
    let open_form = {
        let creating = creating.clone();
        Callback::from(move |_: MouseEvent| creating.set(true))
    };
    let on_close = {
        let creating = creating.clone();
        Callback::from(move |()| creating.set(false))
    };
    // A new institution opens at once, ready for its contacts.
    let on_saved =
        Callback::from(move |institution: Institution| navigator.push(&Route::Institution { id: institution.id }));
    let row = {
        let app = app.clone();
        Callback::from(move |institution: Institution| {
            html! {
                <tr key={institution.id.clone()}>
                    <td class="strong">
                        <Link<Route> to={Route::Institution { id: institution.id.clone() }}>{ institution.name.clone() }</Link<Route>>
                    </td>
                    <td>{ institution.institution_type.clone() }</td>
                    <td>{ website_link(&institution.website) }</td>
                    <td>{ customer_badge(&app, &institution) }</td>
                    <td class="nowrap">{ app.lang.date(&institution.created_at) }</td>
                </tr>
            }
        })
    };

    html! {
        <section class="page">
            <div class="page-header">
                <div>
                    <h1>{ app.t("crm.title") }</h1>
                    <p class="muted">{ app.t("crm.subtitle") }</p>
                </div>
                if app.is_admin() && !*creating {
                    <button class="btn btn-primary" onclick={open_form}>{ "+ " }{ app.t("crm.new_institution") }</button>
                }
            </div>
            if *creating {
                <InstitutionForm {on_saved} {on_close} />
            }
            <SearchToolbar label={app.t("crm.search")} {on_search} input_testid="crm-search" />
            if !search.0.is_empty() {
                <ContactHits text={search.0.clone()} />
            }
            <PagedTable<InstitutionSearch> query={(*search).clone()} empty={app.t("crm.empty")} testid="institutions" {row}
                head={html! { <>
                    <th>{ app.t("crm.name") }</th><th>{ app.t("crm.type") }</th>
                    <th>{ app.t("crm.website") }</th><th>{ app.t("crm.customer") }</th>
                    <th>{ app.t("crm.created") }</th>
                </> }} />
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ContactHitsProps {
    text: String,
}

/// Contacts whose name contains the search text, each with a link to its institution.
#[function_component]
fn ContactHits(props: &ContactHitsProps) -> Html {
    let app = use_app();
    let (hits, _) = use_load(props.text.clone(), |text: String| async move { crm::search(&text).await });
    let contacts: Vec<SearchHit> = match &*hits {
        Load::Loading => return html! {},
        Load::Failed(err) => return html! { <ErrorBanner error={err.clone()} /> },
        Load::Loaded(hits) => hits.iter().filter(|hit| matches!(hit, SearchHit::Contact { .. })).cloned().collect(),
    };
    html! {
        <div class="card" data-testid="contact-hits">
            <h2>{ app.t("crm.matching_contacts") }{ " “" }{ props.text.clone() }{ "”" }</h2>
            if contacts.is_empty() {
                <p class="muted">{ app.t("crm.no_contacts_match") }</p>
            } else {
                <ul class="hit-list">
                    { for contacts.iter().filter_map(|hit| match hit {
                        SearchHit::Contact { id, name, position, institution } => Some(html! {
                            <li key={id.clone()}>
                                <span class="strong">{ name.clone() }</span>
                                if !position.is_empty() { <span class="muted">{ " · " }{ position.clone() }</span> }
                                if let Some(institution) = institution {
                                    <span class="muted">{ " — " }</span>
                                    <Link<Route> to={Route::Institution { id: institution.id.clone() }}>{ institution.name.clone() }</Link<Route>>
                                }
                            </li>
                        }),
                        SearchHit::Institution { .. } => None,
                    }) }
                </ul>
            }
        </div>
    }
}
