//! `/metrics` (Prometheus / OpenMetrics text) and the one log line per HTTP request.
//!
//! - GraphQL operations are counted and timed by a schema extension, labelled by what they do —
//!   the operation type and root fields, e.g. `mutation.heartbeat` — never by client-chosen names,
//!   so the label set stays bounded; the outcome is `ok` or the first error's code.
//! - An axum middleware times every HTTP request and writes one log line with its method, route,
//!   status, latency and the GraphQL operations it carried (JSON with `LOG_FORMAT=json`). Headers,
//!   variables and bodies are never logged: they may carry API keys, tokens and license keys.
//! - Domain code reports heartbeats, activation denials, cleanup runs and backups through the
//!   small functions below; live sessions and pool use are read when `/metrics` is scraped.
//!
//! The counters live in one registry per process (a process is one server instance).

use std::cell::RefCell;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextRequest, NextResolve, ResolveInfo,
};
use async_graphql::{Response as GqlResponse, ServerResult, Value};
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationOnly {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// One of a fixed set (`method_label`): a client cannot add label values with made-up methods.
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackupLabels {
    kind: &'static str,
    outcome: &'static str,
}

/// `pool` is `general` or `client` (see `crate::db`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolStateLabels {
    pool: &'static str,
    state: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

struct Metrics {
    registry: Registry,
    operations: Family<OperationLabels, Counter>,
    operation_seconds: Family<OperationOnly, Histogram, fn() -> Histogram>,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Family<RouteLabel, Histogram, fn() -> Histogram>,
    heartbeats: Family<OutcomeLabel, Counter>,
    heartbeats_deferred: Counter,
    heartbeat_batch_retries: Counter,
    heartbeat_path_answers: Counter,
    activation_denials: Family<ReasonLabel, Counter>,
    cleanup_runs: Family<OutcomeLabel, Counter>,
    sessions_timed_out: Counter,
    sessions_license_expired: Counter,
    backups: Family<BackupLabels, Counter>,
    backup_pushes: Family<OutcomeLabel, Counter>,
    live_sessions: Gauge,
    database_up: Gauge,
    pool_connections: Family<PoolStateLabels, Gauge>,
    pool_max_connections: Family<PoolLabel, Gauge>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("license_server");
    let metrics = Metrics {
        operations: Family::default(),
        operation_seconds: Family::new_with_constructor(latency_histogram),
        http_requests: Family::default(),
        http_seconds: Family::new_with_constructor(latency_histogram),
        heartbeats: Family::default(),
        heartbeats_deferred: Counter::default(),
        heartbeat_batch_retries: Counter::default(),
        heartbeat_path_answers: Counter::default(),
        activation_denials: Family::default(),
        cleanup_runs: Family::default(),
        sessions_timed_out: Counter::default(),
        sessions_license_expired: Counter::default(),
        backups: Family::default(),
        backup_pushes: Family::default(),
        live_sessions: Gauge::default(),
        database_up: Gauge::default(),
        pool_connections: Family::default(),
        pool_max_connections: Family::default(),
        registry: Registry::default(),
    };
    registry.register(
        "graphql_operations",
        "GraphQL operations by operation (type.rootField) and outcome (ok or the error code)",
        metrics.operations.clone(),
    );
    registry.register(
        "graphql_operation_duration_seconds",
        "GraphQL operation latency",
        metrics.operation_seconds.clone(),
    );
    registry.register("http_requests", "HTTP requests by method, route and status", metrics.http_requests.clone());
    registry.register("http_request_duration_seconds", "HTTP request latency by route", metrics.http_seconds.clone());
    registry.register("heartbeats", "Heartbeats by outcome (accepted, refused)", metrics.heartbeats.clone());
    registry.register(
        "heartbeats_deferred",
        "Heartbeats written in a later batch because another transaction held their session row",
        metrics.heartbeats_deferred.clone(),
    );
    registry.register(
        "heartbeat_batch_retries",
        "Heartbeat batches written again after a serialization failure, deadlock or lost connection",
        metrics.heartbeat_batch_retries.clone(),
    );
    registry.register(
        "heartbeat_path_answers",
        "Heartbeats answered from a compiled document, without the GraphQL executor",
        metrics.heartbeat_path_answers.clone(),
    );
    registry.register("activation_denials", "Activations denied, by reason", metrics.activation_denials.clone());
    registry.register("cleanup_runs", "Session cleanup runs by outcome", metrics.cleanup_runs.clone());
    registry.register(
        "sessions_timed_out",
        "Sessions ended by the cleanup for missing their heartbeats",
        metrics.sessions_timed_out.clone(),
    );
    registry.register(
        "sessions_license_expired",
        "Live sessions the cleanup ended because their license's validity ended",
        metrics.sessions_license_expired.clone(),
    );
    registry.register("backups", "Backups by kind and outcome", metrics.backups.clone());
    registry.register("backup_pushes", "Pushes of backups to the git remote by outcome", metrics.backup_pushes.clone());
    registry.register(
        "live_sessions",
        "Sessions whose last heartbeat is younger than the timeout (read at scrape time)",
        metrics.live_sessions.clone(),
    );
    registry.register("database_up", "1 when the database answered the scrape's query", metrics.database_up.clone());
    registry.register(
        "database_pool_connections",
        "Connections of this instance's pools by pool (general, client) and state (idle, in_use)",
        metrics.pool_connections.clone(),
    );
    registry.register(
        "database_pool_max_connections",
        "Size limit of each of this instance's pools (general, client)",
        metrics.pool_max_connections.clone(),
    );
    Metrics { registry, ..metrics }
});

/// A heartbeat was accepted or refused.
pub fn heartbeat(accepted: bool) {
    METRICS.heartbeats.get_or_create(&OutcomeLabel { outcome: if accepted { "accepted" } else { "refused" } }).inc();
}

/// Heartbeats whose session row another transaction held; they go into a later batch.
pub fn heartbeats_deferred(count: usize) {
    METRICS.heartbeats_deferred.inc_by(u64::try_from(count).unwrap_or(u64::MAX));
}

/// A heartbeat batch failed as a whole (serialization failure, deadlock, lost connection) and
/// is written again.
pub fn heartbeat_batch_retried() {
    METRICS.heartbeat_batch_retries.inc();
}

/// An activation was denied; `reason` is the GraphQL enum value's name in Rust (`DeviceLimitReached`).
pub fn activation_denied(reason: impl std::fmt::Debug) {
    METRICS.activation_denials.get_or_create(&ReasonLabel { reason: screaming_snake(&format!("{reason:?}")) }).inc();
}

/// A cleanup run finished: how many sessions it ended, or that it failed.
/// A cleanup run: `Ok((timed_out, license_expired))`, the sessions it filed for each reason.
pub fn cleanup_run(result: Result<(u64, u64), ()>) {
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    METRICS.cleanup_runs.get_or_create(&OutcomeLabel { outcome }).inc();
    if let Ok((timed_out, license_expired)) = result {
        METRICS.sessions_timed_out.inc_by(timed_out);
        METRICS.sessions_license_expired.inc_by(license_expired);
    }
}

/// A backup finished; `kind` is `manual` or `scheduled`.
pub fn backup_finished(kind: &'static str, succeeded: bool) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    METRICS.backups.get_or_create(&BackupLabels { kind, outcome }).inc();
}

/// A push of backups to the git remote finished.
pub fn backup_pushed(succeeded: bool) {
    METRICS
        .backup_pushes
        .get_or_create(&OutcomeLabel { outcome: if succeeded { "succeeded" } else { "failed" } })
        .inc();
}

fn screaming_snake(camel: &str) -> String {
    crate::graphql::snake_case(camel).to_ascii_uppercase()
}

/// The `/metrics` response, given the live sessions just counted (`None` when the database did
/// not answer) and the pools whose use it reports, each under its fixed name.
pub fn render(live_sessions: Option<i64>, pools: &[(&'static str, &sqlx::PgPool)]) -> Response {
    match live_sessions {
        Some(live) => {
            METRICS.live_sessions.set(live);
            METRICS.database_up.set(1);
        }
        None => {
            METRICS.database_up.set(0);
        }
    }
    for &(name, pool) in pools {
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
        let open = i64::from(pool.size());
        let gauge = |state| METRICS.pool_connections.get_or_create(&PoolStateLabels { pool: name, state });
        gauge("idle").set(idle);
        gauge("in_use").set((open - idle).max(0));
        METRICS
            .pool_max_connections
            .get_or_create(&PoolLabel { pool: name })
            .set(i64::from(pool.options().get_max_connections()));
    }
    let mut body = String::new();
    if encode(&mut body, &METRICS.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// What the log line of an HTTP request says about one GraphQL operation it carried.
#[derive(Debug, Clone)]
struct OperationRecord {
    operation: std::borrow::Cow<'static, str>,
    outcome: std::borrow::Cow<'static, str>,
}

tokio::task_local! {
    /// The GraphQL operations of the HTTP request being served on this task.
    static OPERATIONS: RefCell<Vec<OperationRecord>>;
}

/// A matched route as a label without an allocation per request. The router's routes are a
/// fixed set (a path nobody routed is `unmatched`), so each is leaked once and kept.
fn route_label(route: &str) -> &'static str {
    static ROUTES: LazyLock<Mutex<std::collections::HashSet<&'static str>>> = LazyLock::new(Mutex::default);
    let mut routes = ROUTES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = routes.get(route) {
        return known;
    }
    let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
    routes.insert(leaked);
    leaked
}

/// The method as a metric label: the standard methods by name, anything else as `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Middleware: times the request, counts it, and logs one line for it.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| route_label(p.as_str()));
    let (response, operations) = OPERATIONS
        .scope(RefCell::new(Vec::new()), async move {
            let response = next.run(request).await;
            (response, OPERATIONS.with(|ops| ops.take()))
        })
        .await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    METRICS.http_requests.get_or_create(&HttpLabels { method: method_label(&method), route, status }).inc();
    METRICS.http_seconds.get_or_create(&RouteLabel { route }).observe(elapsed.as_secs_f64());
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let operation = operations.iter().map(|o| o.operation.as_ref()).collect::<Vec<_>>().join(",");
    let outcome = operations.iter().map(|o| o.outcome.as_ref()).collect::<Vec<_>>().join(",");
    // Probes and successful heartbeats are counted above; a line each would be most of the log
    // (a fleet sends one heartbeat per device every 30 s), so they are logged at debug only.
    let routine = matches!(route, "/healthz" | "/readyz" | "/metrics")
        || (status == 200 && outcome == "ok" && operation == "mutation.heartbeat");
    if routine {
        tracing::debug!(target: "license_server::request", %method, route, status, latency_ms, operation, outcome, "request");
    } else {
        tracing::info!(target: "license_server::request", %method, route, status, latency_ms, operation, outcome, "request");
    }
    response
}

/// Counts and times one GraphQL operation and names it in its HTTP request's log line (the schema
/// extension below reports every operation the executor runs).
fn operation_finished(operation: String, outcome: String, elapsed: std::time::Duration) {
    METRICS.operations.get_or_create(&OperationLabels { operation: operation.clone(), outcome: outcome.clone() }).inc();
    METRICS
        .operation_seconds
        .get_or_create(&OperationOnly { operation: operation.clone() })
        .observe(elapsed.as_secs_f64());
    let record = OperationRecord { operation: operation.into(), outcome: outcome.into() };
    let _ = OPERATIONS.try_with(|ops| ops.borrow_mut().push(record));
}

/// The series of a successful `mutation.heartbeat`, looked up once: the HTTP heartbeat path
/// counts into them without hashing labels per request.
static HEARTBEAT_OK: LazyLock<(Counter, Histogram)> = LazyLock::new(|| {
    let operation = "mutation.heartbeat".to_owned();
    let counter = METRICS
        .operations
        .get_or_create(&OperationLabels { operation: operation.clone(), outcome: "ok".into() })
        .clone();
    let histogram = METRICS.operation_seconds.get_or_create(&OperationOnly { operation }).clone();
    (counter, histogram)
});

/// A heartbeat answered by the HTTP heartbeat path, which does not run the executor: counted,
/// timed and named in the request's log line as the schema extension would. `outcome` is `ok`
/// or the error code.
pub fn heartbeat_operation(outcome: &str, elapsed: std::time::Duration) {
    METRICS.heartbeat_path_answers.inc();
    if outcome == "ok" {
        let (counter, histogram) = &*HEARTBEAT_OK;
        counter.inc();
        histogram.observe(elapsed.as_secs_f64());
        let record = || OperationRecord { operation: "mutation.heartbeat".into(), outcome: "ok".into() };
        let _ = OPERATIONS.try_with(|ops| ops.borrow_mut().push(record()));
    } else {
        operation_finished("mutation.heartbeat".into(), outcome.into(), elapsed);
    }
}

/// Runs `work` on a task of its own and waits for it. If the client goes away meanwhile, the
/// request's future is dropped but `work` still runs to its end: a transaction is never cut off
/// half-way (sqlx can return a connection whose `BEGIN` was cancelled to the pool with the
/// transaction still open on the server, where the next statement would run inside it and hold
/// its locks for good). The operations `work` reports reach the request's log line as usual.
/// `None` when the task could not finish (the runtime is shutting down; a panic is resumed).
pub async fn run_to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    let task = tokio::spawn(OPERATIONS.scope(RefCell::new(Vec::new()), async move {
        let output = work.await;
        (output, OPERATIONS.with(|ops| ops.take()))
    }));
    match task.await {
        Ok((output, operations)) => {
            let _ = OPERATIONS.try_with(|outer| outer.borrow_mut().extend(operations));
            Some(output)
        }
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => None,
    }
}

/// The schema extension that counts and times GraphQL operations.
pub struct OperationMetrics;

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationMetricsExtension::default())
    }
}

#[derive(Default)]
struct OperationMetricsExtension {
    /// `query.customers`, `mutation.heartbeat`: root fields as they are resolved.
    root_fields: Mutex<Vec<String>>,
    executed: Mutex<bool>,
}

/// Error codes our API produces; anything else is counted as `error`.
const KNOWN_CODES: &[&str] = &[
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "INTERNAL_SERVER_ERROR",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "CONFLICT",
    "TOO_MANY_ATTEMPTS",
    crate::error::RATE_LIMITED,
];

fn outcome_of(response: &GqlResponse) -> String {
    let Some(first) = response.errors.first() else {
        return "ok".into();
    };
    let code = first.extensions.as_ref().and_then(|e| e.get("code")).and_then(|v| match v {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    });
    match code {
        Some(code) if KNOWN_CODES.contains(&code) => code.to_owned(),
        _ => "error".into(),
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationMetricsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> GqlResponse {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let elapsed = started.elapsed();
        let executed = *self.executed.lock().unwrap_or_else(|e| e.into_inner());
        let operation = {
            let mut fields = self.root_fields.lock().unwrap_or_else(|e| e.into_inner()).clone();
            fields.sort();
            fields.dedup();
            match fields.len() {
                0 if executed => "empty".to_owned(),
                0 => "invalid".to_owned(),
                1..=3 => fields.join("+"),
                _ => format!("{}.multiple", fields[0].split('.').next().unwrap_or("operation")),
            }
        };
        operation_finished(operation, outcome_of(&response), elapsed);
        response
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> GqlResponse {
        *self.executed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        next.run(ctx, operation_name).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none() {
            let field = format!("{}.{}", info.parent_type.to_ascii_lowercase(), info.name);
            self.root_fields.lock().unwrap_or_else(|e| e.into_inner()).push(field);
        }
        next.run(ctx, info).await
    }
}
