//! The root component: finds out who is signed in, then shows the page of the route.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::feedback::Loading;
use crate::components::layout::Layout;
use crate::hooks::use_app;
use crate::pages;
use crate::route::Route;
use crate::services::auth;
use crate::state::{Action, AppProvider, SessionState};

#[function_component]
pub fn App() -> Html {
    html! {
        <BrowserRouter>
            <AppProvider>
                <Root />
            </AppProvider>
        </BrowserRouter>
    }
}

/// Asks the server who is signed in (once), then shows the route.
#[function_component]
fn Root() -> Html {
    let app = use_app();
    {
        let app = app.clone();
        use_effect_with((), move |()| {
            wasm_bindgen_futures::spawn_local(async move {
                match auth::me().await {
                    // Whether this session may only enroll shows with the first refused request.
                    Ok(Some(user)) => app.dispatch(Action::SignedIn { user, enrollment_required: false }),
                    _ => app.dispatch(Action::SignedOut),
                }
            });
        });
    }
    if app.session.is_none() {
        return html! { <div class="boot"><Loading /></div> };
    }
    html! { <Switch<Route> render={switch} /> }
}

fn switch(route: Route) -> Html {
    html! { <Guard {route} /> }
}

#[derive(Properties, PartialEq)]
struct GuardProps {
    route: Route,
}

/// Signed-out visitors go to the login page; users who must set up 2FA go to enrollment.
#[function_component]
fn Guard(props: &GuardProps) -> Html {
    let app = use_app();
    let route = props.route.clone();
    match (&app.session, route) {
        (Some(SessionState::SignedIn { enrollment_required: false, .. }), Route::Login) => {
            html! { <Redirect<Route> to={Route::Overview} /> }
        }
        (_, Route::Login) => html! { <pages::login::LoginPage /> },
        (Some(SessionState::SignedIn { .. }), Route::Enroll) => html! { <pages::enroll::EnrollPage /> },
        (Some(SessionState::SignedIn { enrollment_required: true, .. }), _) => {
            html! { <Redirect<Route> to={Route::Enroll} /> }
        }
        (Some(SessionState::SignedIn { .. }), route) => html! { <Layout>{ page(route) }</Layout> },
        _ => html! { <Redirect<Route> to={Route::Login} /> },
    }
}

fn page(route: Route) -> Html {
    match route {
        Route::Home => html! { <Redirect<Route> to={Route::Overview} /> },
        Route::Overview => html! { <pages::overview::OverviewPage /> },
        Route::Live => html! { <pages::live::LivePage /> },
        Route::Licenses => html! { <pages::licenses::LicensesPage /> },
        Route::NewLicense => html! { <pages::license_form::LicenseFormPage /> },
        Route::EditLicense { id } => html! { <pages::license_form::LicenseFormPage {id} /> },
        Route::License { id } => html! { <pages::license_detail::LicenseDetailPage {id} /> },
        Route::Templates => html! { <pages::templates::TemplatesPage /> },
        Route::NewTemplate => html! { <pages::template_form::TemplateFormPage /> },
        Route::EditTemplate { id } => html! { <pages::template_form::TemplateFormPage {id} /> },
        Route::Customers => html! { <pages::customers::CustomersPage /> },
        Route::Customer { id } => html! { <pages::customer_detail::CustomerDetailPage {id} /> },
        Route::Devices => html! { <pages::devices::DevicesPage /> },
        Route::History => html! { <pages::history::HistoryPage /> },
        Route::Account => html! { <pages::account::AccountPage /> },
        Route::Resources => html! { <pages::resources::ResourcesPage /> },
        Route::Crm => html! { <pages::crm::CrmPage /> },
        Route::Institution { id } => html! { <pages::institution::InstitutionPage {id} /> },
        Route::ApiKeys => html! { <pages::api_keys::ApiKeysPage /> },
        Route::Audit => html! { <pages::audit::AuditPage /> },
        Route::Users => html! { <pages::users::UsersPage /> },
        Route::Backups => html! { <pages::backups::BackupsPage /> },
        Route::Login | Route::Enroll | Route::NotFound => html! { <pages::not_found::NotFoundPage /> },
    }
}
