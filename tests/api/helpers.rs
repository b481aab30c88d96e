//! Test helpers: real server instances on real sockets, each with its own runtime and pool, and
//! typed shortcuts for the GraphQL calls the tests make.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use license_server::admin::AuthSettings;
use license_server::api_keys;
use license_server::app::Settings;
use license_server::auth::{Actor, Scope};
use license_server::backups::BackupSettings;
use license_server::db::{PoolSettings, Pools};
use license_server::live::connection_caps::ConnectionLimits;
use license_server::rate_limit::RateLimitSettings;
use license_server::server::Application;
use license_server::sessions::SessionSettings;
use serde_json::{json, Value};
use sqlx::PgPool;

pub const MAX_BODY_BYTES: usize = license_server::app::DEFAULT_MAX_BODY_BYTES as usize;

/// The pools of a test instance: small, since many instances share the test server.
pub const TEST_POOLS: PoolSettings =
    PoolSettings { max_connections: 4, client_connections: 4, ..PoolSettings::DEFAULT };

/// An instance's two pools on the test's database, made as `serve` makes them.
pub async fn connect_pools(pool: &PgPool, settings: &PoolSettings) -> Pools {
    Pools::connect(&pool.connect_options(), settings).await.unwrap()
}

/// One running server instance. Dropping it shuts it down gracefully and closes its pool.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: mpsc::Receiver<()>,
}

#[derive(Clone, Default)]
pub struct Options {
    pub sessions: SessionSettings,
    /// Runs the cleanup and partition maintenance like `serve` does.
    pub background: bool,
    pub auth: AuthSettings,
    /// Backup settings (the defaults otherwise: no schedule, no git remote).
    pub backups: Option<BackupSettings>,
    /// Counts the SQL statements this instance's connections execute: sqlx reports each one as a
    /// `sqlx::query` tracing event on the thread that runs it, all of which are this instance's.
    pub statements: Option<Arc<AtomicUsize>>,
    /// Counts only the statements whose SQL contains this text.
    pub statements_containing: Option<&'static str>,
    /// Serves the dashboard from this directory, as `serve` does with FRONTEND_DIR.
    pub frontend_dir: Option<std::path::PathBuf>,
    /// Rate limits (the defaults of `serve` otherwise).
    pub rate_limits: Option<RateLimitSettings>,
    /// Pool sizes and timeouts ([`TEST_POOLS`] otherwise).
    pub pools: Option<PoolSettings>,
    /// Keeps everything this instance logs at debug level and above, as JSON lines.
    pub logs: Option<Logs>,
    /// Caps on open WebSocket connections (`serve`'s defaults otherwise).
    pub websockets: ConnectionLimits,
    /// HEADER_READ_TIMEOUT_SECS (`serve`'s default otherwise).
    pub header_read_timeout: Option<Duration>,
    /// LEASE_ISSUER (`serve`'s default otherwise).
    pub lease_issuer: Option<String>,
    /// A read replica of the test's database (DATABASE_READ_URL).
    pub read_replica: Option<sqlx::postgres::PgConnectOptions>,
}

/// The log lines of an instance (see [`Options::logs`]).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Counts `sqlx::query` events (one per executed statement), all or those whose SQL contains
/// `containing`.
#[derive(Clone)]
struct StatementCounter {
    count: Arc<AtomicUsize>,
    containing: Option<&'static str>,
}

/// The SQL of a `sqlx::query` event.
struct StatementText(String);

impl tracing::field::Visit for StatementText {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "db.statement" {
            value.clone_into(&mut self.0);
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let counted = self.containing.is_none_or(|text| {
            let mut sql = StatementText(String::new());
            event.record(&mut sql);
            sql.0.contains(text)
        });
        if counted {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Makes the statement counter and the log capture asked for this thread's subscriber for the
/// rest of its life.
fn observe_this_thread(statements: &Option<StatementCounter>, logs: &Option<Logs>) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;
    let logs = logs.clone().map(|logs| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(move || logs.clone())
            .with_filter(tracing_subscriber::EnvFilter::new("debug"))
    });
    let subscriber = tracing_subscriber::registry().with(statements.clone()).with(logs);
    std::mem::forget(tracing::subscriber::set_default(subscriber));
}

pub async fn spawn_app(pool: &PgPool) -> TestApp {
    spawn_app_with(pool, Options::default()).await
}

/// Starts an instance on its own thread and multi-threaded runtime, with its own pool on the
/// test's database: as separate from other instances as a second process would be.
pub async fn spawn_app_with(pool: &PgPool, options: Options) -> TestApp {
    let test_pool = pool.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (stopped_tx, stopped_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2).enable_all();
        if options.statements.is_some() || options.logs.is_some() {
            let statements = options
                .statements
                .clone()
                .map(|count| StatementCounter { count, containing: options.statements_containing });
            let logs = options.logs.clone();
            observe_this_thread(&statements, &logs);
            builder.on_thread_start(move || observe_this_thread(&statements, &logs));
        }
        let runtime = builder.build().unwrap();
        runtime.block_on(async move {
            let pool_settings = options.pools.unwrap_or(TEST_POOLS);
            let mut pools = connect_pools(&test_pool, &pool_settings).await;
            if let Some(replica) = &options.read_replica {
                pools = pools.with_read_replica(replica, &pool_settings);
            }
            let defaults = Settings::default();
            let settings = Settings {
                sessions: options.sessions,
                auth: options.auth,
                backups: options.backups.unwrap_or_default(),
                max_body_bytes: MAX_BODY_BYTES,
                rate_limits: options.rate_limits.unwrap_or_default(),
                websockets: options.websockets,
                header_read_timeout: options.header_read_timeout.unwrap_or(defaults.header_read_timeout),
                lease_issuer: options.lease_issuer.clone().unwrap_or_else(|| defaults.lease_issuer.clone()),
                ..defaults
            };
            let mut app = Application::new(&pools, settings);
            if let Some(dir) = &options.frontend_dir {
                app = app.with_dashboard(dir);
            }
            let background = options.background.then(|| app.start_background());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            ready_tx.send(listener.local_addr().unwrap()).unwrap();
            app.serve(listener, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
            drop(background);
            pools.close().await;
        });
        let _ = stopped_tx.send(());
    });
    let address = ready_rx.await.expect("server thread failed to start");
    TestApp {
        address: format!("http://{address}"),
        client: reqwest::Client::new(),
        pool: pool.clone(),
        stop: Some(stop_tx),
        stopped: stopped_rx,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.stopped.recv_timeout(Duration::from_secs(10));
    }
}

/// A GraphQL response: its HTTP status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// `data.<field>`, failing the test when the response carries errors.
    pub fn data(&self, field: &str) -> &Value {
        assert!(self.body.get("errors").is_none(), "unexpected errors: {}", self.body);
        &self.body["data"][field]
    }

    /// `extensions.code` of the first error.
    pub fn error_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.body))
    }

    /// `extensions.field` of the first error.
    pub fn error_field(&self) -> &str {
        self.body["errors"][0]["extensions"]["field"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field in {}", self.body))
    }
}

/// What the typed helpers accept, as the dashboard does: the current media type of GraphQL over
/// HTTP, under which a request error is 400 (`application/json` alone would get 200).
pub const MODERN_ACCEPT: &str = "application/graphql-response+json, application/json";

/// POSTs a GraphQL request with an API key to the server at `base` (`http://host:port`).
pub async fn post_gql(client: &reqwest::Client, base: &str, key: &str, query: &str, variables: Value) -> Reply {
    let response = client
        .post(format!("{base}/graphql"))
        .header("X-API-Key", key)
        .header("Accept", MODERN_ACCEPT)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request failed");
    let status = response.status().as_u16();
    let body = response.json().await.expect("response is not JSON");
    Reply { status, body }
}

impl TestApp {
    pub async fn key(&self, scope: Scope) -> String {
        api_keys::create(&self.pool, &Actor::cli(), None, &format!("test {scope:?}"), scope).await.unwrap().key
    }

    pub async fn gql(&self, key: &str, query: &str, variables: Value) -> Reply {
        post_gql(&self.client, &self.address, key, query, variables).await
    }

    pub async fn create_customer(&self, admin: &str, email: &str) -> String {
        let reply = self
            .gql(
                admin,
                "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
                json!({"i": {"name": "Customer", "email": email}}),
            )
            .await;
        reply.data("createCustomer")["id"].as_str().unwrap().to_owned()
    }

    /// Creates a customer and a license; returns the license's id and key.
    pub async fn create_license(&self, admin: &str, device_limit: i32, concurrent: i32) -> (String, String) {
        let customer = self.create_customer(admin, &format!("{}@example.com", uuid::Uuid::new_v4())).await;
        self.create_license_for(
            admin,
            json!({"customerId": customer, "deviceLimit": device_limit, "concurrentSessionsLimit": concurrent}),
        )
        .await
    }

    pub async fn create_license_for(&self, admin: &str, input: Value) -> (String, String) {
        let reply = self
            .gql(
                admin,
                "mutation($i: CreateLicenseInput!) { createLicense(input: $i) { id licenseKey } }",
                json!({"i": input}),
            )
            .await;
        let license = reply.data("createLicense");
        (license["id"].as_str().unwrap().to_owned(), license["licenseKey"].as_str().unwrap().to_owned())
    }

    /// The `activate` result object (`__typename` is `SessionGranted` or `ActivationDenied`).
    pub async fn activate(&self, client: &str, license_key: &str, fingerprint: &str) -> Value {
        let reply = self
            .gql(
                client,
                "mutation($i: ActivateInput!) { activate(input: $i) {
                    __typename
                    ... on SessionGranted { sessionToken resumed licenseId deviceId heartbeatIntervalSeconds sessionTimeoutSeconds expiresAt }
                    ... on ActivationDenied { reason message retryAfter liveSessions { deviceName deviceType startedAt lastHeartbeatAt expiresAt } }
                } }",
                json!({"i": {"licenseKey": license_key, "hardwareFingerprint": fingerprint, "deviceName": format!("Device {fingerprint}"), "deviceType": "test"}}),
            )
            .await;
        reply.data("activate").clone()
    }

    /// Activates and returns the session token, failing the test if denied.
    pub async fn session(&self, client: &str, license_key: &str, fingerprint: &str) -> String {
        let result = self.activate(client, license_key, fingerprint).await;
        assert_eq!(result["__typename"], "SessionGranted", "{result}");
        result["sessionToken"].as_str().unwrap().to_owned()
    }

    pub async fn heartbeat(&self, client: &str, token: &str) -> Value {
        let reply = self
            .gql(
                client,
                "mutation($t: UUID!) { heartbeat(sessionToken: $t) {
                    __typename
                    ... on HeartbeatAccepted { nextDeadline heartbeatIntervalSeconds }
                    ... on HeartbeatRefused { reason message }
                } }",
                json!({"t": token}),
            )
            .await;
        reply.data("heartbeat").clone()
    }

    pub async fn end_session(&self, client: &str, token: &str) -> Value {
        let reply = self
            .gql(
                client,
                "mutation($t: UUID!) { endSession(sessionToken: $t) {
                    __typename
                    ... on SessionEnded { sessionToken endedAt }
                    ... on EndSessionRefused { reason message }
                } }",
                json!({"t": token}),
            )
            .await;
        reply.data("endSession").clone()
    }
}

/// Polls `check` until it holds (every 50 ms, for at most `limit`): for states that change in
/// the background, awaited rather than slept for.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Moves a session's last heartbeat into the past, as if the client had gone quiet that long.
pub async fn age_session(pool: &PgPool, token: &str, seconds: i64) {
    sqlx::query("UPDATE license_sessions SET last_heartbeat_at = now() - make_interval(secs => $2) WHERE session_token = $1::uuid")
        .bind(token)
        .bind(seconds as f64)
        .execute(pool)
        .await
        .unwrap();
}

/// The id of the session (live or ended) a client was handed `token` for: tests know sessions by
/// their tokens, while admins, analysts and events know them only by id.
pub async fn session_id(pool: &PgPool, token: &str) -> String {
    sqlx::query_scalar(
        "SELECT id::text FROM license_sessions WHERE session_token = $1::uuid
         UNION ALL SELECT id::text FROM session_history WHERE session_token = $1::uuid",
    )
    .bind(token)
    .fetch_one(pool)
    .await
    .unwrap()
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// A browser-like client of the dashboard API: keeps the session cookie it is given and sends
/// `Origin` like a page of the server's own would.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
    /// The raw `Set-Cookie` headers of the last response.
    pub last_set_cookies: Vec<String>,
    pub origin: String,
    /// Sent as `X-Forwarded-For`: the client's address when the app trusts 127.0.0.1 as a proxy.
    pub forwarded_for: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser { app, cookie: None, last_set_cookies: Vec::new(), origin: app.address.clone(), forwarded_for: None }
    }

    pub async fn gql(&mut self, query: &str, variables: Value) -> Reply {
        let mut request = self
            .app
            .client
            .post(format!("{}/graphql", self.app.address))
            .header("Origin", &self.origin)
            .header("Accept", MODERN_ACCEPT)
            .json(&json!({"query": query, "variables": variables}));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        if let Some(address) = &self.forwarded_for {
            request = request.header("X-Forwarded-For", address);
        }
        let response = request.send().await.expect("request failed");
        self.last_set_cookies =
            response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for set in &self.last_set_cookies {
            let pair = set.split(';').next().unwrap().to_owned();
            // An emptied cookie is deleted, as a browser would.
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        let status = response.status().as_u16();
        Reply { status, body: response.json().await.expect("response is not JSON") }
    }

    /// Signs in with username and password (no second factor expected).
    pub async fn login(&mut self, username: &str, password: &str) -> Reply {
        self.gql(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
                __typename
                ... on LoginSucceeded { totpEnrollmentRequired user { id username role totpEnabled } }
                ... on TotpRequired { challenge expiresAt } } }",
            json!({"u": username, "p": password}),
        )
        .await
    }

    pub async fn verify_totp(&mut self, challenge: &str, code: &str) -> Reply {
        self.gql(
            "mutation($c: String!, $t: String!) { verifyTotp(challenge: $c, code: $t) { __typename } }",
            json!({"c": challenge, "t": code}),
        )
        .await
    }
}

/// A dashboard user created directly through the library, as the CLI does.
pub async fn create_user(pool: &PgPool, username: &str, role: license_server::admin::users::Role, password: &str) {
    let argon2 = license_server::admin::passwords::Argon2Gate::new(1);
    license_server::admin::users::create(pool, &argon2, &Actor::cli(), None, username, role, password).await.unwrap();
}

/// The TOTP code an authenticator app shows for `secret` (base32) at `unix_time`, computed
/// independently of the server's code path.
pub fn totp_code(secret: &str, unix_time: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes, None, String::new()).generate(unix_time)
}

/// The current time, at least three seconds before the end of its 30-second step, so that codes
/// computed now are still in the step the server sees.
pub async fn step_safe_now() -> u64 {
    loop {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        if now % 30 < 27 {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
