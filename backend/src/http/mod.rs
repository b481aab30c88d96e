//! GraphQL over HTTP (the GraphQL-over-HTTP specification), GraphiQL, health and readiness.
//!
//! The handler only authenticates the caller and attaches it to the request; the schema does the
//! rest. Mutations are never accepted over GET (405), POST bodies must be `application/json`
//! (415), bodies are bounded (413), batches are bounded, and the response media type follows the
//! request's `Accept` (`application/graphql-response+json` when asked for, else `application/json`;
//! 406 when neither is acceptable).

mod graphiql;
mod health;
mod heartbeat;
pub(crate) mod identity;
pub mod ws;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{BatchRequest, ErrorExtensionValues, Request, Response as GqlResponse, ServerError, Variables};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use crate::api_keys;
use crate::app::AppState;
use crate::auth::{Actor, ActorKind, Caller, RequestMeta, Scope};
use crate::schema::AppSchema;

/// Most operations one batched POST may carry.
pub const MAX_BATCH_SIZE: usize = 10;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: AppSchema,
    /// The schema for operations that only introspect (`only_introspection`).
    introspection: AppSchema,
    max_body_bytes: usize,
    /// How long a request's body may take to arrive once its headers have.
    body_read_timeout: Duration,
    /// Compiled heartbeat documents (the heartbeat path).
    heartbeat_plans: Arc<heartbeat::PlanCache>,
}

/// The whole HTTP surface; serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
/// Bodies are limited to `max_body_bytes` (413) and must arrive within `body_read_timeout` (408).
pub fn router(app: AppState, schema: AppSchema, max_body_bytes: usize, body_read_timeout: Duration) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .with_state(HttpState {
            app: app.clone(),
            schema: schema.clone(),
            introspection: app.introspection_schema(),
            max_body_bytes,
            body_read_timeout,
            heartbeat_plans: Arc::default(),
        })
        .merge(graphiql::router())
        .merge(ws::router(app.clone(), schema))
        .merge(crate::leases::jwks::router(app.leases.clone()))
        .merge(health::router(app))
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

    /// Picks the response type from `Accept`: `application/graphql-response+json` when the client
    /// names it; otherwise `application/json`, also for `*/*`, `application/*` and no `Accept` at
    /// all, as the specification asks while clients that predate it are around (they know only
    /// `application/json`, and get 200 for request errors under it).
    fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(MediaType::Json);
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
                GRAPHQL_RESPONSE_JSON => return Some(MediaType::GraphqlResponseJson),
                APPLICATION_JSON | "*/*" | "application/*" => json = true,
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

fn peer_ip(request_extensions: &axum::http::Extensions) -> Option<IpAddr> {
    request_extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Who is calling: an API key, a dashboard session, or nobody (allowed only to sign in).
async fn authenticate(
    state: &HttpState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    media: MediaType,
) -> Result<Option<Caller>, Response> {
    let unauthenticated = |message: &str| error_body(StatusCode::UNAUTHORIZED, media, "UNAUTHENTICATED", message);
    let internal = |err: crate::Error| {
        tracing::error!(error = ?err, "authenticating a request failed");
        error_body(StatusCode::SERVICE_UNAVAILABLE, media, "INTERNAL_SERVER_ERROR", "internal server error")
    };
    let key = headers.get("x-api-key").map(|key| key.to_str().unwrap_or("").trim());
    match identity::resolve(&state.app, key, meta.session_token.as_deref(), meta.ip).await {
        Ok(None) if key.is_some() => Err(unauthenticated("the API key is malformed, unknown or revoked")),
        Ok(caller) => Ok(caller),
        Err(err) => Err(internal(err)),
    }
}

/// What the transport knows of a request; `ip` is [`client_ip`]'s answer for it.
fn request_meta(state: &HttpState, headers: &HeaderMap, peer: Option<IpAddr>, ip: Option<IpAddr>) -> RequestMeta {
    RequestMeta {
        ip,
        session_token: identity::session_cookie(headers),
        via_trusted_proxy: identity::is_trusted_proxy(peer, &state.app.auth.trusted_proxies),
        user_agent: headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok()).map(str::to_owned),
    }
}

/// The hot path of client applications: a request that is one lone `heartbeat` mutation with a
/// well-formed API key skips the key lookup; the heartbeat's batched statement verifies the key
/// instead (valid, not revoked, right scope), so a heartbeat costs the database no extra round
/// trip. Returns the key's digest when the request qualifies.
fn deferred_key(headers: &HeaderMap, batch: &mut BatchRequest) -> Option<Vec<u8>> {
    let key = headers.get("x-api-key")?.to_str().ok()?.trim();
    let BatchRequest::Single(request) = batch else { return None };
    if !api_keys::is_well_formed(key) {
        return None;
    }
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    let operation = selected_operation(document, name.as_deref())?;
    let fields = &operation.selection_set.node.items;
    let lone_heartbeat = operation.ty == OperationType::Mutation
        && fields.len() == 1
        && matches!(&fields[0].node, Selection::Field(f) if f.node.name.node == "heartbeat" && f.node.directives.is_empty());
    lone_heartbeat.then(|| api_keys::digest(key))
}

/// Root fields that someone not yet signed in may call.
const ANONYMOUS_FIELDS: [&str; 6] = ["login", "verifyTotp", "useRecoveryCode", "logout", "me", "__typename"];

fn selected_operation<'a>(document: &'a ExecutableDocument, name: Option<&str>) -> Option<&'a OperationDefinition> {
    match &document.operations {
        DocumentOperations::Single(op) => Some(&op.node),
        DocumentOperations::Multiple(ops) => match name {
            Some(name) => ops.get(name).map(|op| &op.node),
            None if ops.len() == 1 => ops.values().next().map(|op| &op.node),
            None => None,
        },
    }
}

fn only_anonymous_fields(operation: &OperationDefinition) -> bool {
    operation.selection_set.node.items.iter().all(|item| match &item.node {
        Selection::Field(field) => ANONYMOUS_FIELDS.contains(&field.node.name.node.as_str()),
        _ => false,
    })
}

type Refusal = Box<(StatusCode, ServerError)>;

fn refuse(status: StatusCode, code: &str, message: &str) -> Refusal {
    Box::new((status, with_code(ServerError::new(message, None), code)))
}

/// Attaches the caller and parses the document, then applies the rules that need the parsed
/// operation: who may call anonymously, cross-site protection for cookie mutations, and for
/// client keys one root field per operation and no introspection.
fn prepare(
    mut request: Request,
    caller: Option<&Caller>,
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> Result<Request, Refusal> {
    request = request.data(meta.clone());
    if let Some(caller) = caller {
        request = request.data(caller.clone());
    }
    let operation_name = request.operation_name.clone();
    let document = match request.parsed_query() {
        Ok(document) => document,
        Err(err) => return Err(Box::new((StatusCode::BAD_REQUEST, with_code(err, "GRAPHQL_PARSE_FAILED")))),
    };
    if let Some(operation) = selected_operation(document, operation_name.as_deref()) {
        if caller.is_none() && !only_anonymous_fields(operation) {
            return Err(refuse(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "sign in or send an X-API-Key header"));
        }
        let by_cookie = caller.is_none_or(|c| c.session.is_some());
        if operation.ty == OperationType::Mutation && by_cookie {
            // Cookie-borne mutations must come from our own pages; sign-in must not be forced
            // on a user from another site either.
            let allowed = match identity::same_origin(headers, meta.via_trusted_proxy) {
                Some(same) => same,
                None => caller.is_none(),
            };
            if !allowed {
                return Err(refuse(StatusCode::FORBIDDEN, "FORBIDDEN", "cross-site request refused"));
            }
        }
    }
    if caller.is_some_and(|c| c.scope == Scope::Client) {
        if selects_introspection(document) {
            return Err(refuse(StatusCode::FORBIDDEN, "FORBIDDEN", "introspection is not available to client keys"));
        }
        if selected_operation(document, operation_name.as_deref()).is_some_and(|op| !has_one_root_field(op)) {
            return Err(refuse(StatusCode::BAD_REQUEST, "GRAPHQL_VALIDATION_FAILED", ONE_ROOT_FIELD));
        }
        request = request.disable_introspection();
    }
    Ok(request)
}

const ONE_ROOT_FIELD: &str =
    "an operation with a client key selects exactly one root field, written as a field (no aliased copies, no fragments at the root)";

/// The client key is public, so what one operation may ask for is bounded: a single root field.
/// A fragment at the root is refused like a second field, since it may hold any number of them;
/// `__typename` counts.
fn has_one_root_field(operation: &OperationDefinition) -> bool {
    matches!(operation.selection_set.node.items.as_slice(), [item] if matches!(item.node, Selection::Field(_)))
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

/// Whether the operation selects nothing but `__schema`, `__type` and `__typename` at its root
/// (directly, or in fragments there).
fn only_introspection(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    fn walk(document: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
        depth < 8
            && set.items.iter().all(|item| match &item.node {
                Selection::Field(field) => {
                    matches!(field.node.name.node.as_str(), "__schema" | "__type" | "__typename")
                }
                Selection::InlineFragment(fragment) => walk(document, &fragment.node.selection_set.node, depth + 1),
                Selection::FragmentSpread(spread) => document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .is_some_and(|f| walk(document, &f.node.selection_set.node, depth + 1)),
            })
    }
    selected_operation(document, operation_name)
        .is_some_and(|op| op.ty == OperationType::Query && walk(document, &op.selection_set.node, 0))
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
fn finish(mut response: GqlResponse) -> Body {
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
    Body { response, request_error }
}

/// A response as its body shows it (`finish`): serialised straight from the executor's values,
/// so the fields keep the order the operation selected them in, and without `data` where the
/// request never executed.
struct Body {
    response: GqlResponse,
    /// The request failed before it executed (it did not parse or validate).
    request_error: bool,
}

impl serde::Serialize for Body {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let response = &self.response;
        let mut map = serializer.serialize_map(None)?;
        if !self.request_error {
            map.serialize_entry("data", &response.data)?;
        }
        if !response.errors.is_empty() {
            map.serialize_entry("errors", &response.errors)?;
        }
        if !response.extensions.is_empty() {
            map.serialize_entry("extensions", &response.extensions)?;
        }
        map.end()
    }
}

impl std::fmt::Display for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

fn respond_text(media: MediaType, status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(media.as_str()))], body).into_response()
}

fn respond(media: MediaType, status: StatusCode, body: impl serde::Serialize, headers: HeaderMap) -> Response {
    let body = serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = respond_text(media, status, body);
    for (name, value) in &headers {
        response.headers_mut().append(name, value.clone());
    }
    response
}

/// One request's context at the transport: who calls, from where, with which headers.
struct Incoming<'a> {
    state: &'a HttpState,
    media: MediaType,
    caller: Option<Caller>,
    meta: RequestMeta,
    headers: &'a HeaderMap,
}

/// A GraphQL request error (the document does not parse or validate) is 400 under
/// `application/graphql-response+json`, and 200 under `application/json`, whose clients read
/// any other status as a transport failure. Authentication (401) and permission (403) keep
/// their status under both.
fn legacy_status(media: MediaType, status: StatusCode) -> StatusCode {
    if media == MediaType::Json && status == StatusCode::BAD_REQUEST {
        StatusCode::OK
    } else {
        status
    }
}

/// Executes one request and maps request errors to 400 under `application/graphql-response+json`.
/// Returns the status, the body and the headers the resolvers set (the session cookie).
async fn execute_one(incoming: &Incoming<'_>, request: Request) -> (StatusCode, Body, HeaderMap) {
    match prepare(request, incoming.caller.as_ref(), &incoming.meta, incoming.headers) {
        Ok(mut request) => {
            let name = request.operation_name.clone();
            let (schema, operation) = match request.parsed_query() {
                Ok(document) if only_introspection(document, name.as_deref()) => (&incoming.state.introspection, None),
                Ok(document) => (&incoming.state.schema, selected_operation(document, name.as_deref()).map(|op| op.ty)),
                Err(_) => (&incoming.state.schema, None),
            };
            let caller = incoming.caller.as_ref();
            if operation == Some(OperationType::Query) {
                request = incoming.state.app.read_where_it_may(request, caller).await;
            }
            let response = schema.execute(request).await;
            if operation == Some(OperationType::Mutation) {
                incoming.state.app.note_write(caller).await;
            }
            let headers = response.http_headers.clone();
            let key_refused = incoming.caller.as_ref().is_some_and(|c| c.deferred_key.is_some())
                && response.errors.iter().any(|e| {
                    e.extensions.as_ref().and_then(|x| x.get("code"))
                        == Some(&async_graphql::Value::from("UNAUTHENTICATED"))
                });
            let retry_after = retry_after(&response);
            let body = finish(response);
            let mut headers = headers;
            let status = if let Some(seconds) = retry_after {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                StatusCode::TOO_MANY_REQUESTS
            } else if key_refused {
                // The key was checked late, but the answer is the one the lookup would have given.
                StatusCode::UNAUTHORIZED
            } else if body.request_error {
                legacy_status(incoming.media, StatusCode::BAD_REQUEST)
            } else {
                StatusCode::OK
            };
            (status, body, headers)
        }
        Err(refusal) => {
            let (status, err) = *refusal;
            (legacy_status(incoming.media, status), finish(GqlResponse::from_errors(vec![err])), HeaderMap::new())
        }
    }
}

/// The client's address as every limit and log of the request sees it.
fn client_ip(app: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
    identity::client_ip(peer, headers, &app.auth.trusted_proxies)
}

/// Every request first pays one unit from its client address's bucket, before authentication;
/// the refusal when the bucket is empty.
fn admit(app: &AppState, ip: Option<IpAddr>, media: MediaType) -> Option<Response> {
    app.limits.charge_address(ip, 1).err().map(|err| rate_limited(media, err))
}

/// A request refused by a rate limit: 429 with `Retry-After` and the error as GraphQL says it.
fn rate_limited(media: MediaType, err: crate::Error) -> Response {
    let response = GqlResponse::from_errors(vec![err.into_request_error()]);
    let seconds = retry_after(&response).unwrap_or(1);
    let body = finish(response);
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    respond(media, StatusCode::TOO_MANY_REQUESTS, body, headers)
}

/// When a rate limit refused part of the response: the longest wait it asked for, in seconds.
fn retry_after(response: &GqlResponse) -> Option<u64> {
    response
        .errors
        .iter()
        .filter_map(|e| e.extensions.as_ref())
        .filter(|x| x.get("code") == Some(&async_graphql::Value::from(crate::error::RATE_LIMITED)))
        .map(|x| match x.get("retryAfter") {
            Some(async_graphql::Value::Number(n)) => n.as_u64().unwrap_or(1),
            _ => 1,
        })
        .max()
}

/// `POST /graphql`. Reading and checking the request, and the heartbeat path (whose write
/// belongs to the heartbeat writer, not to this request), happen here; everything else runs to
/// completion whether or not the client waits for the answer.
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
    let peer = peer_ip(request.extensions());
    let (parts, body) = request.into_parts();
    // A body sent slowly holds a connection as long as slow headers would: it gets as long.
    let bytes =
        match tokio::time::timeout(state.body_read_timeout, axum::body::to_bytes(body, state.max_body_bytes)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                return error_body(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    media,
                    "PAYLOAD_TOO_LARGE",
                    &format!("request bodies are limited to {} bytes", state.max_body_bytes),
                )
            }
            Err(_) => {
                return error_body(
                    StatusCode::REQUEST_TIMEOUT,
                    media,
                    "REQUEST_TIMEOUT",
                    &format!("the request body did not arrive within {} s", state.body_read_timeout.as_secs()),
                )
            }
        };
    let ip = client_ip(&state.app, &parts.headers, peer);
    if let Some(response) = admit(&state.app, ip, media) {
        return response;
    }
    if let Some(response) = heartbeat::answer(&state.app, &state.heartbeat_plans, &parts.headers, &bytes, media).await {
        return response;
    }
    crate::metrics::run_to_completion(serve_post(state, parts.headers, peer, ip, bytes, media))
        .await
        .unwrap_or_else(shutting_down)
}

fn shutting_down() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down").into_response()
}

async fn serve_post(
    state: HttpState,
    headers: HeaderMap,
    peer: Option<IpAddr>,
    ip: Option<IpAddr>,
    bytes: axum::body::Bytes,
    media: MediaType,
) -> Response {
    let meta = request_meta(&state, &headers, peer, ip);
    // A body without a `query` (async-graphql reads it as an empty one) is no GraphQL request
    // either: 400 under both media types, as GET answers a missing `query` parameter.
    let mut batch: BatchRequest = match serde_json::from_slice::<BatchRequest>(&bytes) {
        Ok(batch) if batch.iter().all(|request| !request.query.is_empty()) => batch,
        _ => {
            return error_body(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_REQUEST",
                "the body must be a JSON GraphQL request: {\"query\": …, \"variables\": …, \"operationName\": …}",
            )
        }
    };
    // A key this instance has not read lately is read now (and remembered with its rate).
    let deferred = deferred_key(&headers, &mut batch).filter(|digest| state.app.limits.knows_key(digest));
    let caller = match deferred {
        Some(digest) => Some(Caller {
            actor: Actor { kind: ActorKind::ApiKey, id: None, name: "API key (checked with the heartbeat)".into() },
            scope: Scope::Client,
            ip: meta.ip,
            session: None,
            deferred_key: Some(digest),
        }),
        None => match authenticate(&state, &headers, &meta, media).await {
            Ok(caller) => caller,
            Err(response) => return response,
        },
    };
    let incoming = Incoming { state: &state, media, caller, meta, headers: &headers };
    match batch {
        BatchRequest::Single(request) => {
            let (status, body, headers) = execute_one(&incoming, request).await;
            respond(media, status, body, headers)
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
            let mut headers = HeaderMap::new();
            let mut status = StatusCode::OK;
            for request in requests {
                let (one, body, set) = execute_one(&incoming, request).await;
                if one == StatusCode::TOO_MANY_REQUESTS {
                    status = one;
                }
                bodies.push(body);
                headers.extend(set);
            }
            respond(media, status, bodies, headers)
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
/// Run to completion whether or not the client waits for the answer.
async fn graphql_get(
    State(state): State<HttpState>,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
    request: axum::extract::Request,
) -> Response {
    crate::metrics::run_to_completion(serve_get(state, params, request)).await.unwrap_or_else(shutting_down)
}

async fn serve_get(
    state: HttpState,
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
        let operation_type = selected_operation(document, params.operation_name.as_deref()).map(|op| op.ty);
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
    let peer = peer_ip(request.extensions());
    let ip = client_ip(&state.app, request.headers(), peer);
    if let Some(response) = admit(&state.app, ip, media) {
        return response;
    }
    let meta = request_meta(&state, request.headers(), peer, ip);
    let caller = match authenticate(&state, request.headers(), &meta, media).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let incoming = Incoming { state: &state, media, caller, meta, headers: request.headers() };
    let (status, body, headers) = execute_one(&incoming, gql_request).await;
    respond(media, status, body, headers)
}
