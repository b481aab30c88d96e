//! The heartbeat path: the one request every installed client sends every 30 seconds, answered
//! without parsing, validating and executing the same document again each time.
//!
//! A heartbeat document is compiled once into a plan (which response key, where the token comes
//! from, which fields of `HeartbeatAccepted` / `HeartbeatRefused` to answer, in order) and cached
//! by its text. A request whose document has a plan, sent with a well-formed API key, is answered
//! from the plan: the token goes to the group-commit writer (which checks the key in the same
//! statement), and the answer is built from the same [`heartbeat_answer`] the resolver uses and
//! serialised by the same code as every other response. Documents the compiler does not fully
//! understand — fragments spread by name, directives, nested fragments, repeated response keys,
//! anything but one `heartbeat` field — get no plan and take the general path, as does every
//! request whose variables do not fit the plan, so a client always gets exactly the answer the
//! schema defines. `tests/api/http.rs` holds both paths to that, document by document.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, Type,
};
use async_graphql::parser::{parse_query, Pos, Positioned};
use async_graphql::{ErrorExtensions, Name, PathSegment, ScalarType, Value};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::{finish, respond, respond_text, MediaType};
use crate::api_keys;
use crate::app::AppState;
use crate::error::Error;
use crate::sessions::client_api::{heartbeat_answer, HeartbeatAccepted, HeartbeatRefused, HeartbeatResult};
use crate::sessions::heartbeat::HeartbeatOutcome;

/// Documents whose compilation is remembered. Past this the cache starts afresh, so documents
/// made up by a caller cost a compilation each but never memory without bound.
const CACHE_CAPACITY: usize = 256;
/// Longest document considered; real heartbeat documents are a few hundred bytes.
const MAX_DOCUMENT_LEN: usize = 2048;

/// Compiled heartbeat documents by their text (`None`: not one this path answers).
#[derive(Default)]
pub struct PlanCache(RwLock<HashMap<Box<str>, Option<Arc<Plan>>>>);

impl PlanCache {
    fn plan(&self, document: &str) -> Option<Arc<Plan>> {
        if document.len() > MAX_DOCUMENT_LEN || !document.contains("heartbeat") {
            return None;
        }
        if let Some(known) = self.0.read().unwrap_or_else(|e| e.into_inner()).get(document) {
            return known.clone();
        }
        let plan = Plan::compile(document).map(Arc::new);
        let mut cache = self.0.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(document.into(), plan.clone());
        plan
    }
}

/// One field of the answer, as the document selects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Typename,
    NextDeadline,
    HeartbeatIntervalSeconds,
    ServerTime,
    Lease,
    Reason,
    Message,
}

impl Leaf {
    /// Whether its value changes from one accepted heartbeat to the next.
    fn varies(self) -> bool {
        matches!(self, Leaf::NextDeadline | Leaf::ServerTime | Leaf::Lease)
    }
}

/// The fields answered for one member of `HeartbeatResult`: response key and field, in order.
type Branch = Vec<(Name, Leaf)>;

/// Where a field is selected: its response key and position in the document.
type FieldAt = (Name, Pos);

enum TokenSource {
    Variable(Name),
    Literal(Uuid),
}

/// A literal in the document is a session token: it never shows up in `Debug` output.
impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Variable(name) => f.debug_tuple("Variable").field(name).finish(),
            TokenSource::Literal(_) => f.write_str("Literal([redacted])"),
        }
    }
}

/// How to answer one heartbeat document.
#[derive(Debug)]
pub struct Plan {
    operation_name: Option<String>,
    /// The root field's response key (its alias, or `heartbeat`) and position.
    key: Name,
    pos: Pos,
    token: TokenSource,
    /// The fields answered for each result type, in the order the document selects them.
    accepted: Branch,
    refused: Branch,
    /// Where the accepted branch selects `lease` (its response key and position), if it does:
    /// a lease is signed only then, and a failure to sign is reported there, as by the executor.
    lease: Option<FieldAt>,
    /// The accepted answer rendered once around placeholders for the fields that change from
    /// one heartbeat to the next (`nextDeadline`, `serverTime`, `lease`; the interval is fixed
    /// for the process). `None` if the placeholders could not be found again (never expected):
    /// each answer is then rendered whole.
    accepted_body: OnceLock<Option<AcceptedBody>>,
}

/// An accepted answer's body: `pieces[0]`, the value of `slots[0]`, `pieces[1]`, … ,
/// `pieces[n]`, each value a JSON string.
struct AcceptedBody {
    pieces: Vec<String>,
    slots: Vec<Leaf>,
}

impl std::fmt::Debug for AcceptedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptedBody").finish_non_exhaustive()
    }
}

/// Stands for the value of the accepted branch's field number `index` while the answer is
/// rendered; no other value of the answer (type names, an interval) can contain it.
fn placeholder(index: usize) -> String {
    format!("@@slot{index}@@")
}

impl Plan {
    /// A plan for `document` when it is one `heartbeat` mutation this path answers exactly as
    /// the executor would; `None` sends it down the general path.
    fn compile(document: &str) -> Option<Plan> {
        let document: ExecutableDocument = parse_query(document).ok()?;
        if !document.fragments.is_empty() {
            return None;
        }
        let (operation_name, operation) = match &document.operations {
            DocumentOperations::Single(operation) => (None, operation),
            DocumentOperations::Multiple(operations) if operations.len() == 1 => {
                let (name, operation) = operations.iter().next()?;
                (Some(name.to_string()), operation)
            }
            DocumentOperations::Multiple(_) => return None,
        };
        let operation = &operation.node;
        if operation.ty != OperationType::Mutation || !operation.directives.is_empty() {
            return None;
        }
        let root = only_field(&operation.selection_set.node)?;
        let field = &root.node;
        if field.name.node != "heartbeat" || !field.directives.is_empty() || field.arguments.len() != 1 {
            return None;
        }
        let (argument, value) = &field.arguments[0];
        if argument.node != "sessionToken" {
            return None;
        }
        let token = match (&value.node, operation.variable_definitions.as_slice()) {
            (async_graphql_value::Value::String(literal), []) => TokenSource::Literal(Uuid::parse_str(literal).ok()?),
            (async_graphql_value::Value::Variable(name), [definition]) => {
                let definition = &definition.node;
                let uuid_non_null =
                    definition.var_type.node == Type { base: BaseType::Named(Name::new("UUID")), nullable: false };
                if definition.name.node != *name
                    || !uuid_non_null
                    || definition.default_value.is_some()
                    || !definition.directives.is_empty()
                {
                    return None;
                }
                TokenSource::Variable(name.clone())
            }
            _ => return None,
        };
        let (accepted, refused, lease) = branches(&field.selection_set.node)?;
        Some(Plan {
            operation_name,
            key: field.response_key().node.clone(),
            pos: root.pos,
            token,
            lease,
            accepted,
            refused,
            accepted_body: OnceLock::new(),
        })
    }

    fn token(&self, variables: Option<&serde_json::Map<String, serde_json::Value>>) -> Option<Uuid> {
        match &self.token {
            TokenSource::Literal(token) => variables.is_none_or(|v| v.is_empty()).then_some(*token),
            TokenSource::Variable(name) => {
                let variables = variables?;
                if variables.len() != 1 {
                    return None;
                }
                Uuid::parse_str(variables.get(name.as_str())?.as_str()?).ok()
            }
        }
    }

    /// The body of an accepted answer, rendered by the same code as every response: once, with
    /// placeholders for the fields that vary, then by splicing in each heartbeat's values.
    /// `lease` is the signed lease when the document selects it.
    fn accepted_body(&self, accepted: &HeartbeatAccepted, lease: Option<&str>) -> String {
        let template = self.accepted_body.get_or_init(|| {
            let data = self.accepted_data(accepted, |index, _| Value::String(placeholder(index)));
            let mut rest = finish(async_graphql::Response::new(data)).to_string();
            let (mut pieces, mut slots) = (Vec::new(), Vec::new());
            for (index, (_, leaf)) in self.accepted.iter().enumerate().filter(|(_, (_, leaf))| leaf.varies()) {
                let (before, after) = rest.split_once(&format!("\"{}\"", placeholder(index)))?;
                pieces.push(before.to_owned());
                slots.push(*leaf);
                rest = after.to_owned();
            }
            pieces.push(rest);
            Some(AcceptedBody { pieces, slots })
        });
        let value = |leaf: Leaf| match leaf {
            Leaf::NextDeadline => date_time(&accepted.next_deadline),
            Leaf::ServerTime => date_time(&accepted.server_time),
            _ => Value::String(lease.unwrap_or_default().to_owned()),
        };
        let Some(template) = template else {
            let data = self.accepted_data(accepted, |_, leaf| value(leaf));
            return finish(async_graphql::Response::new(data)).to_string();
        };
        let values: Vec<String> =
            template.slots.iter().map(|leaf| value(*leaf).into_json().unwrap_or_default().to_string()).collect();
        let mut body = String::with_capacity(
            template.pieces.iter().map(String::len).sum::<usize>() + values.iter().map(String::len).sum::<usize>(),
        );
        for (piece, value) in template.pieces.iter().zip(values.iter().map(Some).chain(std::iter::once(None))) {
            body.push_str(piece);
            if let Some(value) = value {
                body.push_str(value);
            }
        }
        body
    }

    /// The answer's `data` for an accepted heartbeat; `varying` renders the fields that change
    /// from one heartbeat to the next, given their index in the accepted branch.
    fn accepted_data(&self, accepted: &HeartbeatAccepted, varying: impl Fn(usize, Leaf) -> Value) -> Value {
        let mut fields = async_graphql::indexmap::IndexMap::new();
        for (index, (key, leaf)) in self.accepted.iter().enumerate() {
            let value = match leaf {
                Leaf::Typename => Value::String("HeartbeatAccepted".into()),
                Leaf::HeartbeatIntervalSeconds => Value::from(accepted.heartbeat_interval_seconds),
                Leaf::NextDeadline | Leaf::ServerTime | Leaf::Lease => varying(index, *leaf),
                Leaf::Reason | Leaf::Message => continue,
            };
            fields.insert(key.clone(), value);
        }
        self.wrap(fields)
    }

    /// The answer's `data` for a refused heartbeat.
    fn refused_data(&self, refused: &HeartbeatRefused) -> Value {
        let mut fields = async_graphql::indexmap::IndexMap::new();
        for (key, leaf) in &self.refused {
            let value = match leaf {
                Leaf::Typename => Value::String("HeartbeatRefused".into()),
                Leaf::Reason => async_graphql::resolver_utils::enum_value(refused.reason),
                Leaf::Message => Value::String(refused.message.clone()),
                Leaf::NextDeadline | Leaf::HeartbeatIntervalSeconds | Leaf::ServerTime | Leaf::Lease => continue,
            };
            fields.insert(key.clone(), value);
        }
        self.wrap(fields)
    }

    fn wrap(&self, fields: async_graphql::indexmap::IndexMap<Name, Value>) -> Value {
        let mut data = async_graphql::indexmap::IndexMap::new();
        data.insert(self.key.clone(), Value::Object(fields));
        Value::Object(data)
    }
}

/// A `DateTime` as the schema's scalar renders it.
fn date_time(at: &DateTime<Utc>) -> Value {
    <DateTime<Utc> as ScalarType>::to_value(at)
}

fn only_field(set: &SelectionSet) -> Option<&Positioned<async_graphql::parser::types::Field>> {
    match set.items.as_slice() {
        [Positioned { node: Selection::Field(field), .. }] => Some(field),
        _ => None,
    }
}

/// The leaves selected for each member of `HeartbeatResult`: `__typename` and inline fragments
/// on a member (or on the union, or without a type condition) holding that member's scalar
/// fields. Response keys must be unique across the whole selection, so no merging is needed.
fn branches(set: &SelectionSet) -> Option<(Branch, Branch, Option<FieldAt>)> {
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    let mut lease = None;
    let mut keys = Vec::new();
    let mut leaf_of = |field: &async_graphql::parser::types::Field, on: &str| -> Option<(Name, Leaf)> {
        if !field.arguments.is_empty() || !field.directives.is_empty() || !field.selection_set.node.items.is_empty() {
            return None;
        }
        let leaf = match (on, field.name.node.as_str()) {
            (_, "__typename") => Leaf::Typename,
            ("HeartbeatAccepted", "nextDeadline") => Leaf::NextDeadline,
            ("HeartbeatAccepted", "heartbeatIntervalSeconds") => Leaf::HeartbeatIntervalSeconds,
            ("HeartbeatAccepted", "serverTime") => Leaf::ServerTime,
            ("HeartbeatAccepted", "lease") => Leaf::Lease,
            ("HeartbeatRefused", "reason") => Leaf::Reason,
            ("HeartbeatRefused", "message") => Leaf::Message,
            _ => return None,
        };
        let key = field.response_key().node.clone();
        if keys.contains(&key) {
            return None;
        }
        keys.push(key.clone());
        Some((key, leaf))
    };
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                let (key, leaf) = leaf_of(&field.node, "HeartbeatResult")?;
                accepted.push((key.clone(), leaf));
                refused.push((key, leaf));
            }
            Selection::InlineFragment(fragment) => {
                let fragment = &fragment.node;
                if !fragment.directives.is_empty() {
                    return None;
                }
                let on = fragment.type_condition.as_ref().map_or("HeartbeatResult", |c| c.node.on.node.as_str());
                for inner in &fragment.selection_set.node.items {
                    let Selection::Field(field) = &inner.node else { return None };
                    let selected = leaf_of(&field.node, on)?;
                    if selected.1 == Leaf::Lease {
                        lease = Some((selected.0.clone(), field.pos));
                    }
                    match on {
                        "HeartbeatAccepted" => accepted.push(selected),
                        "HeartbeatRefused" => refused.push(selected),
                        "HeartbeatResult" => {
                            accepted.push(selected.clone());
                            refused.push(selected);
                        }
                        _ => return None,
                    }
                }
            }
            Selection::FragmentSpread(_) => return None,
        }
    }
    // A member without fields is answered `null` by the executor, not `{}`: left to it.
    (!accepted.is_empty() && !refused.is_empty()).then_some((accepted, refused, lease))
}

/// The JSON request body, read only as far as this path needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(borrow)]
    query: std::borrow::Cow<'a, str>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    extensions: Option<serde_json::Value>,
}

/// Answers `body` when it is a heartbeat this path has a plan for, sent with a well-formed API
/// key; `None` leaves the request to the general path (nothing has been done then).
pub(super) async fn answer(
    state: &AppState,
    plans: &PlanCache,
    headers: &HeaderMap,
    body: &[u8],
    media: MediaType,
) -> Option<Response> {
    let started = Instant::now();
    let key = headers.get("x-api-key")?.to_str().ok()?.trim();
    if !api_keys::is_well_formed(key) {
        return None;
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    if body.extensions.is_some() {
        return None;
    }
    let plan = plans.plan(&body.query)?;
    if body.operation_name.is_some() && body.operation_name != plan.operation_name {
        return None;
    }
    let token = plan.token(body.variables.as_ref())?;
    let digest = api_keys::digest(key);
    // A key this instance has not read lately takes the general path, which reads it.
    if let Err(err) = state.limits.charge_heartbeat(&digest)? {
        crate::metrics::heartbeat_operation(crate::error::RATE_LIMITED, started.elapsed());
        return Some(super::rate_limited(media, err));
    }
    let response = match state.heartbeats.record(token, Some(digest)).await {
        // Nothing was written: the general path checks the key again and answers the error.
        Ok(HeartbeatOutcome::Unauthenticated | HeartbeatOutcome::Forbidden) => return None,
        Ok(outcome) => match heartbeat_answer(&state.sessions, outcome) {
            Ok(HeartbeatResult::HeartbeatAccepted(accepted)) => {
                let lease = match &plan.lease {
                    Some(at) => {
                        let subject = &accepted.lease_subject;
                        match subject.sign(&state.leases, accepted.server_time, accepted.next_deadline).await {
                            Ok(lease) => Some(lease),
                            Err(err) => return Some(lease_failed(&plan, at, media, err, started)),
                        }
                    }
                    None => None,
                };
                let body = plan.accepted_body(&accepted, lease.as_deref());
                crate::metrics::heartbeat_operation("ok", started.elapsed());
                return Some(respond_text(media, StatusCode::OK, body));
            }
            Ok(HeartbeatResult::HeartbeatRefused(refused)) => async_graphql::Response::new(plan.refused_data(&refused)),
            Err(err) => error_response(&plan, err),
        },
        Err(err) => error_response(&plan, err),
    };
    Some(send(response, media, started))
}

fn send(response: async_graphql::Response, media: MediaType, started: Instant) -> Response {
    let outcome = response.errors.first().map_or("ok", |_| "INTERNAL_SERVER_ERROR");
    crate::metrics::heartbeat_operation(outcome, started.elapsed());
    let body = finish(response);
    respond(media, StatusCode::OK, body, HeaderMap::new())
}

/// The answer when the heartbeat was recorded but its lease could not be signed, as the
/// executor gives it: the error at the `lease` field, and `data` null (the lease is non-null, and
/// so is the root field).
fn lease_failed(plan: &Plan, (key, pos): &FieldAt, media: MediaType, err: Error, started: Instant) -> Response {
    let path = vec![PathSegment::Field(plan.key.to_string()), PathSegment::Field(key.to_string())];
    let error = err.extend().into_server_error(*pos).with_path(path);
    send(async_graphql::Response::from_errors(vec![error]), media, started)
}

/// The root field failed: `data` is null (the field is non-null), the error carries its path.
fn error_response(plan: &Plan, err: Error) -> async_graphql::Response {
    let error = err.extend().into_server_error(plan.pos).with_path(vec![PathSegment::Field(plan.key.to_string())]);
    async_graphql::Response::from_errors(vec![error])
}
