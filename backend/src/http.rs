//! GraphQL over HTTP (the GraphQL-over-HTTP specification), GraphiQL, health and readiness.
//!
//! The handler only authenticates the caller and attaches it to the request; the schema does the
//! rest. Mutations are never accepted over GET (405), POST bodies must be `application/json`
//! (415), bodies are bounded (413), batches are bounded, and the response media type follows the
//! request's `Accept` (`application/graphql-response+json` unless only `application/json` is
//! acceptable; 406 when neither is).

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{BatchRequest, ErrorExtensionValues, Request, Response as GqlResponse, ServerError, Variables};
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use crate::api_keys;
use crate::auth::{Caller, Scope};
use crate::graphql::AppSchema;
use crate::state::AppState;

/// Most operations one batched POST may carry.
pub const MAX_BATCH_SIZE: usize = 10;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: AppSchema,
    max_body_bytes: usize,
}

/// The whole HTTP surface; serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(app: AppState, schema: AppSchema, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql", get(graphiql))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(HttpState { app: app.clone(), schema: schema.clone(), max_body_bytes })
        .merge(crate::live::ws::router(app, schema))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn as_str(self) -> &'static str {
        match self {
            MediaType::GraphqlResponseJson => GRAPHQL_RESPONSE_JSON,
            MediaType::Json => APPLICATION_JSON,
        }
    }

    /// Picks the response type from `Accept`; no header means the current default of the spec.
    fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(MediaType::GraphqlResponseJson);
        };
        let mut json = false;
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            if refused {
                continue;
            }
            match media.as_str() {
                GRAPHQL_RESPONSE_JSON | "*/*" | "application/*" => return Some(MediaType::GraphqlResponseJson),
                APPLICATION_JSON => json = true,
                _ => {}
            }
        }
        json.then_some(MediaType::Json)
    }
}

fn error_body(status: StatusCode, media: MediaType, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(media.as_str()))], body.to_string()).into_response()
}

fn not_acceptable() -> Response {
    (StatusCode::NOT_ACCEPTABLE, format!("Accept must allow {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}"))
        .into_response()
}

fn peer_ip(request_extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    request_extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Resolves the `X-API-Key` header to a caller, or answers 401.
async fn authenticate(
    state: &HttpState,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
    media: MediaType,
) -> Result<Caller, Response> {
    let unauthenticated = |message: &str| error_body(StatusCode::UNAUTHORIZED, media, "UNAUTHENTICATED", message);
    let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) else {
        return Err(unauthenticated("an X-API-Key header is required"));
    };
    match api_keys::authenticate(&state.app.pool, key.trim(), ip).await {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => Err(unauthenticated("the API key is malformed, unknown or revoked")),
        Err(err) => {
            tracing::error!(error = ?err, "authenticating an API key failed");
            Err(error_body(StatusCode::SERVICE_UNAVAILABLE, media, "INTERNAL_SERVER_ERROR", "internal server error"))
        }
    }
}

/// Attaches the caller and parses the document. A document that does not parse is a request
/// error; introspection by a client key is refused outright rather than answered with nulls.
fn prepare(mut request: Request, caller: &Caller) -> Result<Request, Box<(StatusCode, ServerError)>> {
    request = request.data(caller.clone());
    let document = match request.parsed_query() {
        Ok(document) => document,
        Err(err) => {
            return Err(Box::new((StatusCode::BAD_REQUEST, with_code(err, "GRAPHQL_PARSE_FAILED"))));
        }
    };
    if caller.scope == Scope::Client && selects_introspection(document) {
        let err = ServerError::new("introspection is not available to client keys", None);
        return Err(Box::new((StatusCode::FORBIDDEN, with_code(err, "FORBIDDEN"))));
    }
    if caller.scope == Scope::Client {
        request = request.disable_introspection();
    }
    Ok(request)
}

fn selects_introspection(document: &ExecutableDocument) -> bool {
    fn walk(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type") || walk(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document.operations.iter().any(|(_, op)| walk(&op.node.selection_set.node))
        || document.fragments.values().any(|f| walk(&f.node.selection_set.node))
}

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    err.extensions.get_or_insert_with(ErrorExtensionValues::default).set("code", code);
    err
}

/// A response with no data and only location-less errors failed before execution.
fn is_request_error(response: &GqlResponse) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Gives every error an `extensions.code`, and drops `data` where the request never executed.
fn finish(mut response: GqlResponse) -> (bool, serde_json::Value) {
    let request_error = is_request_error(&response);
    for err in &mut response.errors {
        let has_code = err.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if !has_code {
            // Errors without a code come from the engine itself: validation before execution,
            // or input coercion (a malformed UUID, say) during it.
            let bad_value =
                err.message.starts_with("Invalid value for argument") || err.message.starts_with("Failed to parse");
            let code = if request_error && !bad_value { "GRAPHQL_VALIDATION_FAILED" } else { "BAD_USER_INPUT" };
            *err = with_code(err.clone(), code);
        }
    }
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    if request_error {
        if let Some(map) = body.as_object_mut() {
            map.remove("data");
        }
    }
    (request_error, body)
}

fn respond(media: MediaType, status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(media.as_str()))], body.to_string()).into_response()
}

/// Executes one request and maps request errors to 400 under `application/graphql-response+json`.
async fn execute_one(
    state: &HttpState,
    media: MediaType,
    request: Request,
    caller: &Caller,
) -> (StatusCode, serde_json::Value) {
    match prepare(request, caller) {
        Ok(request) => {
            let (request_error, body) = finish(state.schema.execute(request).await);
            let status = if request_error && media == MediaType::GraphqlResponseJson {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, body)
        }
        Err(refusal) => {
            let (status, err) = *refusal;
            (status, finish(GqlResponse::from_errors(vec![err])).1)
        }
    }
}

async fn graphql_post(State(state): State<HttpState>, request: axum::extract::Request) -> Response {
    let Some(media) = MediaType::negotiate(request.headers()) else {
        return not_acceptable();
    };
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(APPLICATION_JSON) {
        return error_body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST /graphql requires Content-Type: application/json",
        );
    }
    let ip = peer_ip(request.extensions());
    let (parts, body) = request.into_parts();
    let caller = match authenticate(&state, &parts.headers, ip, media).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                media,
                "PAYLOAD_TOO_LARGE",
                &format!("request bodies are limited to {} bytes", state.max_body_bytes),
            )
        }
    };
    let batch: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(batch) => batch,
        Err(_) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_REQUEST",
                "the body must be a JSON GraphQL request: {\"query\": …, \"variables\": …, \"operationName\": …}",
            )
        }
    };
    match batch {
        BatchRequest::Single(request) => {
            let (status, body) = execute_one(&state, media, request, &caller).await;
            respond(media, status, body)
        }
        BatchRequest::Batch(requests) => {
            if requests.is_empty() || requests.len() > MAX_BATCH_SIZE {
                return error_body(
                    StatusCode::BAD_REQUEST,
                    media,
                    "BATCH_TOO_LARGE",
                    &format!("a batch holds 1 to {MAX_BATCH_SIZE} operations"),
                );
            }
            let mut bodies = Vec::with_capacity(requests.len());
            for request in requests {
                bodies.push(execute_one(&state, media, request, &caller).await.1);
            }
            respond(media, StatusCode::OK, serde_json::Value::Array(bodies))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

/// GET runs queries only: a mutation here is 405, so no link or image tag can change anything.
async fn graphql_get(
    State(state): State<HttpState>,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
    request: axum::extract::Request,
) -> Response {
    let Some(media) = MediaType::negotiate(request.headers()) else {
        return not_acceptable();
    };
    let Ok(Query(params)) = params else {
        return error_body(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", "malformed query string");
    };
    let Some(query) = params.query else {
        return error_body(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", "a `query` parameter is required");
    };
    let variables = match params.variables.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        None => Variables::default(),
        Some(Ok(value)) => Variables::from_json(value),
        Some(Err(_)) => {
            return error_body(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", "`variables` must be a JSON object")
        }
    };
    let mut gql_request = Request::new(query).variables(variables);
    if let Some(name) = &params.operation_name {
        gql_request = gql_request.operation_name(name);
    }
    if let Ok(document) = gql_request.parsed_query() {
        let operation_type = match &document.operations {
            DocumentOperations::Single(op) => Some(op.node.ty),
            DocumentOperations::Multiple(ops) => match &params.operation_name {
                Some(name) => ops.get(name.as_str()).map(|op| op.node.ty),
                None if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
                None => None,
            },
        };
        if matches!(operation_type, Some(OperationType::Mutation | OperationType::Subscription)) {
            let mut response = error_body(
                StatusCode::METHOD_NOT_ALLOWED,
                media,
                "METHOD_NOT_ALLOWED",
                "mutations are only accepted over POST",
            );
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
    }
    let ip = peer_ip(request.extensions());
    let caller = match authenticate(&state, request.headers(), ip, media).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let (status, body) = execute_one(&state, media, gql_request, &caller).await;
    respond(media, status, body)
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").title("License server GraphiQL").finish())
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers within two seconds.
async fn readyz(State(state): State<HttpState>) -> Response {
    let check = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.app.pool);
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = ?err, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Body::from("database unreachable")).into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Body::from("database did not answer in time")).into_response(),
    }
}
