//! The one typed API layer, one module per domain: every request the dashboard makes sends one of
//! the [`documents`] through `gql` (or `live`), and every failure becomes an [`ApiError`] a page
//! can show. Shapes are read as the schema names them (camelCase; enums as Rust enums).

pub mod account;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod crm;
pub mod customers;
mod decode;
pub mod devices;
/// Every GraphQL document the dashboard sends, each one operation (a file in `graphql/`) with the
/// fragments it uses. Only this module makes a `Document`, so nothing else can send a query the
/// schema test has not seen: the backend's `tests/api/dashboard_contract.rs` includes the file
/// and validates every document against `schema.graphql`.
mod documents;
pub mod leases;
pub mod license_templates;
pub mod licenses;
pub mod live;
pub mod resources;
pub mod sessions;
pub mod users;

use gloo_net::http::Request;
use serde_json::{json, Value};

use decode::{field, from_json, FromJson};
use documents::Document;

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct PageInfo {
        pub has_next_page: bool,
        pub has_previous_page: bool,
        pub start_cursor: Option<String>,
        pub end_cursor: Option<String>,
    }
}

/// One page of a list, as every paged field of the schema answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection<T> {
    pub nodes: Vec<T>,
    pub total_count: i64,
    pub page_info: PageInfo,
}

impl<T: FromJson> FromJson for Connection<T> {
    fn from_json(json: &Value) -> Option<Self> {
        Some(Connection {
            nodes: field(json, "nodes")?,
            total_count: field(json, "total_count")?,
            page_info: field(json, "page_info")?,
        })
    }
}

/// Which page of a list: forwards after a cursor, or backwards before one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub after: Option<String>,
    pub before: Option<String>,
}

pub const PAGE_SIZE: i32 = 20;

/// `variables` with the paging arguments (`after`/`first` or `before`/`last`) of `page` added.
fn with_page(mut variables: Value, page: &Page) -> Value {
    let paging = match (&page.after, &page.before) {
        (_, Some(before)) => json!({"before": before, "last": PAGE_SIZE}),
        (after, None) => json!({"after": after, "first": PAGE_SIZE}),
    };
    if let (Some(variables), Value::Object(paging)) = (variables.as_object_mut(), paging) {
        variables.extend(paging);
    }
    variables
}

/// Why a request failed, in terms a page can act on.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// The server could not be reached, or answered with something that is not GraphQL.
    Network,
    /// Not signed in (any more): the session expired or was ended.
    Unauthenticated,
    /// Signed in, but two-factor authentication must be set up first.
    EnrollmentRequired,
    /// Signed in, but this role may not do that.
    Forbidden(String),
    /// The input broke a rule; `field` names the input field when the server said which.
    Invalid { field: Option<String>, message: String },
    /// Someone else changed the record since it was read; nothing was saved.
    Conflict(String),
    /// The thing asked for does not exist (any more).
    NotFound(String),
    /// Anything else the server reported.
    Server(String),
}

impl ApiError {
    /// The message for `field`, when this error is about that field.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            ApiError::Invalid { field: Some(f), message } if f == field => Some(message.clone()),
            _ => None,
        }
    }

    /// True when the error belongs beside a form field rather than at the top of the page.
    pub fn is_field_error(&self) -> bool {
        matches!(self, ApiError::Invalid { field: Some(_), .. })
    }

    fn from_graphql(error: &Value) -> ApiError {
        let message = error["message"].as_str().unwrap_or("").to_owned();
        let extensions = &error["extensions"];
        match extensions["code"].as_str().unwrap_or("") {
            "UNAUTHENTICATED" => ApiError::Unauthenticated,
            "FORBIDDEN" if extensions["reason"] == "TOTP_ENROLLMENT_REQUIRED" => ApiError::EnrollmentRequired,
            "FORBIDDEN" => ApiError::Forbidden(message),
            "BAD_USER_INPUT" => ApiError::Invalid { field: extensions["field"].as_str().map(str::to_owned), message },
            "NOT_FOUND" => ApiError::NotFound(message),
            "CONFLICT" => ApiError::Conflict(message),
            _ => ApiError::Server(message),
        }
    }
}

/// Runs one document and decodes `data.<field>`. Only the decoding is generic: the request is
/// one function for every result type, not one copy per type in the wasm module. An answer of
/// another shape is an [`ApiError::Server`] without a message (the page says "server error").
async fn gql<T: FromJson>(document: Document, variables: Value, field: &str) -> Result<T, ApiError> {
    let data = run(document, variables, field).await?;
    decoded(&data)
}

/// `json` as a `T`, or the error for an answer of another shape.
fn decoded<T: FromJson>(json: &Value) -> Result<T, ApiError> {
    T::from_json(json).ok_or_else(|| ApiError::Server(String::new()))
}

/// Runs one document and returns `data.<field>`, or the first error.
async fn run(document: Document, variables: Value, field: &str) -> Result<Value, ApiError> {
    let response = Request::post("/graphql")
        .header("Accept", "application/graphql-response+json, application/json")
        .json(&json!({"query": document.text(), "variables": variables}))
        .map_err(|_| ApiError::Network)?
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    if response.status() == 401 {
        return Err(ApiError::Unauthenticated);
    }
    let mut body: Value = response.json().await.map_err(|_| ApiError::Network)?;
    if let Some(error) = body["errors"].as_array().and_then(|errors| errors.first()) {
        return Err(ApiError::from_graphql(error));
    }
    Ok(body["data"][field].take())
}
