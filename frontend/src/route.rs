//! The dashboard's URLs. Apart from `app.rs` so that pages and components can link to each
//! other without depending on the root that renders them.

use yew_router::prelude::*;

#[derive(Clone, Routable, PartialEq, Debug)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/overview")]
    Overview,
    #[at("/login")]
    Login,
    #[at("/two-factor")]
    Enroll,
    #[at("/live")]
    Live,
    #[at("/licenses")]
    Licenses,
    #[at("/licenses/new")]
    NewLicense,
    #[at("/licenses/:id")]
    License { id: String },
    #[at("/licenses/:id/edit")]
    EditLicense { id: String },
    #[at("/templates")]
    Templates,
    #[at("/templates/new")]
    NewTemplate,
    #[at("/templates/:id/edit")]
    EditTemplate { id: String },
    #[at("/customers")]
    Customers,
    #[at("/customers/:id")]
    Customer { id: String },
    #[at("/devices")]
    Devices,
    #[at("/history")]
    History,
    #[at("/account")]
    Account,
    #[at("/resources")]
    Resources,
    #[at("/crm")]
    Crm,
    #[at("/crm/:id")]
    Institution { id: String },
    #[at("/api-keys")]
    ApiKeys,
    #[at("/audit")]
    Audit,
    #[at("/backups")]
    Backups,
    #[at("/users")]
    Users,
    #[not_found]
    #[at("/not-found")]
    NotFound,
}

impl Route {
    /// The navigation entry this route belongs to.
    pub fn section(&self) -> &'static str {
        match self {
            Route::Home | Route::Overview => "overview",
            Route::Live => "live",
            Route::Licenses | Route::NewLicense | Route::License { .. } | Route::EditLicense { .. } => "licenses",
            Route::Templates | Route::NewTemplate | Route::EditTemplate { .. } => "templates",
            Route::Customers | Route::Customer { .. } => "customers",
            Route::Devices => "devices",
            Route::History => "history",
            Route::Account => "account",
            Route::Crm | Route::Institution { .. } => "crm",
            Route::Resources => "resources",
            Route::ApiKeys => "api-keys",
            Route::Audit => "audit",
            Route::Users => "users",
            Route::Backups => "backups",
            Route::Login | Route::Enroll | Route::NotFound => "",
        }
    }
}
