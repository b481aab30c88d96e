//! The real server, in-process on a fixed local port so that a test can stop it and start it
//! again where the SDK expects it; short heartbeat interval (1 s) and session timeout (2 s).

use std::sync::mpsc;
use std::time::Duration;

use license_client::{Backoff, Event, Events, LicenseClient};
use license_server::api_keys;
use license_server::app::Settings;
use license_server::auth::{Actor, Scope};
use license_server::db::{PoolSettings, Pools};
use license_server::server::Application;
use license_server::sessions::SessionSettings;
use serde_json::{json, Value};
use sqlx::PgPool;

pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(2);

const POOLS: PoolSettings = PoolSettings { max_connections: 4, client_connections: 4, ..PoolSettings::DEFAULT };

/// A server instance that can be stopped and started again on the same port.
pub struct Server {
    pub pool: PgPool,
    port: u16,
    running: Option<Running>,
    http: reqwest::Client,
}

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: mpsc::Receiver<()>,
}

impl Server {
    pub async fn start(pool: &PgPool) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Server { pool: pool.clone(), port, running: None, http: reqwest::Client::new() };
        server.resume().await;
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the instance (again) on its port, with its background work (cleanup, key refresh).
    pub async fn resume(&mut self) {
        assert!(self.running.is_none(), "already running");
        let (pool, port) = (self.pool.clone(), self.port);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let pools = Pools::connect(&pool.connect_options(), &POOLS).await.unwrap();
                let settings = Settings {
                    sessions: SessionSettings::new(
                        HEARTBEAT_INTERVAL.as_secs() as u32,
                        SESSION_TIMEOUT.as_secs() as u32,
                        1,
                    )
                    .unwrap(),
                    ..Settings::default()
                };
                let app = Application::new(&pools, settings);
                let background = app.start_background();
                let listener = bind(port).await;
                ready_tx.send(()).unwrap();
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
        ready_rx.await.expect("the server thread failed to start");
        self.running = Some(Running { stop: stop_tx, stopped: stopped_rx });
    }

    /// Stops the instance and waits until it has let go of its port and its connections.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            tokio::task::spawn_blocking(move || running.stopped.recv_timeout(Duration::from_secs(10)))
                .await
                .unwrap()
                .expect("the server did not stop");
        }
    }

    pub async fn key(&self, scope: Scope) -> String {
        api_keys::create(&self.pool, &Actor::cli(), None, &format!("sdk test {scope:?}"), scope).await.unwrap().key
    }

    /// `data` of a GraphQL call, failing the test on errors.
    pub async fn gql(&self, key: &str, query: &str, variables: Value) -> Value {
        let body: Value = self
            .http
            .post(format!("{}/graphql", self.url()))
            .header("X-API-Key", key)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request failed")
            .json()
            .await
            .expect("not JSON");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// A customer and a license with these extra `CreateLicenseInput` fields; its id and key.
    pub async fn license(&self, admin: &str, input: Value) -> (String, String) {
        let customer = self
            .gql(
                admin,
                "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
                json!({"i": {"name": "SDK customer", "email": format!("{}@example.com", uuid::Uuid::new_v4())}}),
            )
            .await["createCustomer"]["id"]
            .clone();
        let mut fields = json!({"customerId": customer, "deviceLimit": 2, "concurrentSessionsLimit": 1});
        fields.as_object_mut().unwrap().extend(input.as_object().unwrap().clone());
        let license = self
            .gql(
                admin,
                "mutation($i: CreateLicenseInput!) { createLicense(input: $i) { id licenseKey } }",
                json!({"i": fields}),
            )
            .await["createLicense"]
            .clone();
        (license["id"].as_str().unwrap().to_owned(), license["licenseKey"].as_str().unwrap().to_owned())
    }

    /// A client of this server whose retries are quick (the outages in these tests last seconds).
    pub async fn client(&self) -> LicenseClient {
        let key = self.key(Scope::Client).await;
        LicenseClient::builder(self.url(), key)
            .backoff(Backoff { initial: Duration::from_millis(200), max: Duration::from_millis(800) })
            .request_timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            let _ = running.stopped.recv_timeout(Duration::from_secs(10));
        }
    }
}

/// Binds the port again; the previous instance's connections may take a moment to let go of it.
async fn bind(port: u16) -> tokio::net::TcpListener {
    let mut tries = 0;
    loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(err) if tries < 50 => {
                tries += 1;
                eprintln!("port {port} not free yet: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("port {port} stays taken: {err}"),
        }
    }
}

/// Waits at most `within` for an event that `wanted` accepts, failing the test with the events
/// seen meanwhile otherwise.
pub async fn expect_event(events: &mut Events, within: Duration, wanted: impl Fn(&Event) -> bool) -> Event {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) if wanted(&event) => return event,
            Ok(Some(event)) => seen.push(event),
            Ok(None) => panic!("the events ended; seen: {seen:?}"),
            Err(_) => panic!("no such event within {within:?}; seen: {seen:?}"),
        }
    }
}

/// The events that arrive within `period`.
pub async fn events_during(events: &mut Events, period: Duration) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + period;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        seen.push(event);
    }
    seen
}

pub async fn count(pool: &PgPool, sql: &str, license_id: &str) -> i64 {
    sqlx::query_scalar(sql).bind(license_id).fetch_one(pool).await.unwrap()
}
