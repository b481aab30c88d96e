//! Session tokens are bearer secrets of the one client holding them: a whole session lifecycle
//! leaves none in the audit log, a NOTIFY payload, a subscription message, a query an admin or
//! analyst can make, or a log line; and the tokens earlier versions wrote into the audit log are
//! removed by a migration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use license_server::auth::Scope;
use license_server::rate_limit::{Rate, RateLimitSettings};
use license_server::sessions::events::CHANNEL;
use license_server::sessions::SessionSettings;
use serde_json::{json, Value};
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use crate::helpers::{age_session, eventually, spawn_app_with, Logs, Options, TestApp};
use crate::live::{connect_with_key, Subscriber, TRANSPORT_WS};

/// The fields of every object type, by type name, as introspection tells them.
async fn object_fields(app: &TestApp, key: &str) -> HashMap<String, Vec<Value>> {
    let reply = app
        .gql(
            key,
            "{ __schema { types { name kind fields { name args { name }
                 type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }",
            json!({}),
        )
        .await;
    let types = reply.data("__schema")["types"].as_array().unwrap();
    types
        .iter()
        .filter(|t| t["kind"] == "OBJECT")
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t["fields"].as_array().unwrap().clone()))
        .collect()
}

/// A selection of every field of `type_name` that takes no arguments: its scalars and enums,
/// and the objects it leads to, `depth` levels down. Made from the schema, so whatever field
/// these types gain later is read by the test too.
fn every_field(types: &HashMap<String, Vec<Value>>, type_name: &str, depth: u32) -> String {
    let mut selection = vec!["__typename".to_owned()];
    for field in &types[type_name] {
        if !field["args"].as_array().unwrap().is_empty() {
            continue;
        }
        let mut named = &field["type"];
        while named["ofType"].is_object() {
            named = &named["ofType"];
        }
        let name = field["name"].as_str().unwrap();
        match named["kind"].as_str().unwrap() {
            "SCALAR" | "ENUM" => selection.push(name.to_owned()),
            "OBJECT" if depth > 0 => selection
                .push(format!("{name} {{ {} }}", every_field(types, named["name"].as_str().unwrap(), depth - 1))),
            _ => {}
        }
    }
    selection.join(" ")
}

/// A subscriber to every session event and the live list, keeping every message it reads.
struct Watch {
    subscriber: Subscriber,
    messages: Vec<Value>,
    events: usize,
}

impl Watch {
    /// Reads messages until a `sessionEvents` event of `kind` (and `end_reason`) arrives.
    async fn until(&mut self, kind: &str, end_reason: Option<&str>) -> Value {
        loop {
            let message = self.subscriber.next_message().await;
            self.messages.push(message.clone());
            assert!(message["payload"].get("errors").is_none(), "{message}");
            if message["id"] != "events" {
                continue;
            }
            self.events += 1;
            let event = &message["payload"]["data"]["sessionEvents"];
            if event["kind"] == kind && end_reason.is_none_or(|reason| event["endReason"] == reason) {
                return event.clone();
            }
        }
    }
}

/// The lines of `texts` (with what they are) that hold one of `tokens`.
fn holding<'a>(what: &str, texts: impl IntoIterator<Item = &'a String>, tokens: &[String]) -> Vec<String> {
    texts
        .into_iter()
        .filter(|text| tokens.iter().any(|token| text.contains(token.as_str())))
        .map(|text| format!("{what}: {text}"))
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn no_audit_row_notification_subscription_query_or_log_line_holds_a_session_token(pool: PgPool) {
    let logs = Logs::default();
    let sessions = SessionSettings::new(30, 60, 1).unwrap();
    // It reads every field of every list at once, over and over: more than an analyst's budget.
    let generous = Rate { per_second: 100_000, burst: 100_000 };
    let rate_limits = RateLimitSettings { analyst_key: generous, admin_key: generous, ..RateLimitSettings::default() };
    let options = Options {
        sessions,
        background: true,
        logs: Some(logs.clone()),
        rate_limits: Some(rate_limits),
        ..Default::default()
    };
    let app = spawn_app_with(&pool, options).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 5, 5).await;
    let types = object_fields(&app, &admin).await;

    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener.listen(CHANNEL).await.unwrap();
    let notifications = Arc::new(Mutex::new(Vec::<String>::new()));
    let received = notifications.clone();
    let listening = tokio::spawn(async move {
        while let Ok(notification) = listener.recv().await {
            received.lock().unwrap().push(notification.payload().to_owned());
        }
    });

    let mut subscriber = connect_with_key(&app, TRANSPORT_WS, &admin).await;
    let events = format!("subscription {{ sessionEvents {{ {} }} }}", every_field(&types, "SessionEvent", 2));
    let live = format!("subscription {{ liveSessions {{ {} }} }}", every_field(&types, "LiveSession", 2));
    subscriber.subscribe("events", &events, json!({})).await;
    subscriber.subscribe("live", &live, json!({})).await;
    // The first live list comes once both subscriptions have started.
    let first = subscriber.next_message().await;
    assert_eq!((first["id"].as_str(), &first["payload"]["data"]["liveSessions"]), (Some("live"), &json!([])));
    let mut watch = Watch { subscriber, messages: vec![first], events: 0 };

    // Every token handed out, as the client got it.
    let mut tokens = Vec::new();
    let activate = async |fingerprint: &str| {
        let granted = app.activate(&client, &license_key, fingerprint).await;
        assert_eq!(granted["__typename"], "SessionGranted", "{granted}");
        (granted["sessionToken"].as_str().unwrap().to_owned(), granted)
    };

    // Start, heartbeat, resume, end.
    let (token, laptop) = activate("laptop").await;
    tokens.push(token.clone());
    watch.until("STARTED", None).await;
    let token = token.as_str();
    assert_eq!(app.heartbeat(&client, token).await["__typename"], "HeartbeatAccepted");
    let resumed = app.activate(&client, &license_key, "laptop").await;
    assert_eq!((&resumed["resumed"], &resumed["sessionToken"]), (&json!(true), &laptop["sessionToken"]));
    watch.until("RESUMED", None).await;
    assert_eq!(app.end_session(&client, token).await["__typename"], "SessionEnded");
    watch.until("ENDED", Some("CLIENT_ENDED")).await;

    // An admin ends one by its id.
    tokens.push(activate("desktop").await.0);
    let started = watch.until("STARTED", None).await;
    let terminated = app
        .gql(&admin, "mutation($id: ID!) { terminateSession(id: $id) { id } }", json!({"id": started["sessionId"]}))
        .await;
    assert_eq!(terminated.data("terminateSession")["id"], started["sessionId"]);
    watch.until("ENDED", Some("ADMIN_TERMINATED")).await;

    // The cleanup files one that went quiet.
    tokens.push(activate("quiet").await.0);
    watch.until("STARTED", None).await;
    age_session(&pool, tokens.last().unwrap(), 120).await;
    watch.until("ENDED", Some("TIMEOUT")).await;

    // An admin deactivates a device.
    let (token, tablet) = activate("tablet").await;
    tokens.push(token);
    watch.until("STARTED", None).await;
    app.gql(&admin, "mutation($id: ID!) { deactivateDevice(id: $id) { id } }", json!({"id": tablet["deviceId"]}))
        .await
        .data("deactivateDevice");
    watch.until("ENDED", Some("DEVICE_DEACTIVATED")).await;

    // What admins and analysts can ask for while a session is live, and once it has ended.
    let reads = [
        format!("{{ liveSessions(first: 20) {{ nodes {{ {} }} }} }}", every_field(&types, "LiveSession", 2)),
        format!("{{ sessionHistory(first: 20) {{ nodes {{ {} }} }} }}", every_field(&types, "EndedSession", 2)),
        format!("{{ devices(first: 20) {{ nodes {{ {} }} }} }}", every_field(&types, "Device", 2)),
        format!("{{ auditLog(first: 100) {{ nodes {{ {} }} }} }}", every_field(&types, "AuditLogEntry", 2)),
    ];
    let read_everything = async || {
        let mut answers = Vec::new();
        for key in [&admin, &analyst] {
            for query in &reads {
                let reply = app.gql(key, query, json!({})).await;
                assert!(reply.body.get("errors").is_none(), "{query}: {}", reply.body);
                answers.push(reply.body.to_string());
            }
        }
        answers
    };
    tokens.push(activate("phone").await.0);
    watch.until("STARTED", None).await;
    let mut answers = read_everything().await;
    assert!(answers[0].contains("\"nodes\":[{"), "a live session was listed: {}", answers[0]);
    app.gql(&admin, "mutation($id: ID!) { deactivateLicense(id: $id) { id } }", json!({"id": license_id}))
        .await
        .data("deactivateLicense");
    watch.until("ENDED", Some("LICENSE_REVOKED")).await;
    answers.extend(read_everything().await);

    assert_eq!(tokens.len(), 5);
    let audit: Vec<String> =
        sqlx::query_scalar("SELECT a::text FROM audit_log a ORDER BY id").fetch_all(&pool).await.unwrap();
    let session_rows = |action: &str| audit.iter().filter(|row| row.contains(&format!(",{action},"))).count();
    assert_eq!((session_rows("session.started"), session_rows("session.ended")), (5, 5), "{audit:#?}");
    assert!(
        eventually(Duration::from_secs(10), || async { notifications.lock().unwrap().len() >= watch.events }).await,
        "every event the subscriber saw was a notification"
    );
    listening.abort();
    let notifications = notifications.lock().unwrap().clone();
    let messages: Vec<String> = watch.messages.iter().map(Value::to_string).collect();
    let logs = logs.text();
    assert!(logs.contains("\"message\":\"request\""), "the instance's log was captured");
    let log_lines: Vec<String> = logs.lines().map(str::to_owned).collect();

    let mut leaks = holding("audit row", &audit, &tokens);
    leaks.extend(holding("notification", &notifications, &tokens));
    leaks.extend(holding("subscription message", &messages, &tokens));
    leaks.extend(holding("answer", &answers, &tokens));
    leaks.extend(holding("log line", &log_lines, &tokens));
    assert!(leaks.is_empty(), "session tokens shown to others:\n{}", leaks.join("\n"));
}

/// The version of the migration that removes the tokens earlier versions wrote.
const SCRUB_MIGRATION: i64 = 20261203000001;

#[sqlx::test(migrations = false)]
async fn the_tokens_earlier_versions_wrote_into_the_audit_log_are_removed_by_a_migration(pool: PgPool) {
    // The database as an earlier version left it: the migrations before the scrub, and audit
    // rows as that version wrote them.
    let all = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"));
    let earlier = std::env::temp_dir().join(format!("license-server-migrations-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&earlier).unwrap();
    for file in std::fs::read_dir(all).unwrap() {
        let file = file.unwrap();
        let version: i64 = file.file_name().to_str().unwrap().split('_').next().unwrap().parse().unwrap();
        if version < SCRUB_MIGRATION {
            std::fs::copy(file.path(), earlier.join(file.file_name())).unwrap();
        }
    }
    let migrated = sqlx::migrate::Migrator::new(earlier.as_path()).await.unwrap().run(&pool).await;
    std::fs::remove_dir_all(&earlier).unwrap();
    migrated.unwrap();

    let (started, ended) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let (session, license, device) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    sqlx::query(
        "INSERT INTO audit_log (actor_type, actor_name, action, entity_type, entity_id, old_values, new_values) VALUES
           ('api_key', 'desktop-app', 'session.started', 'session', $1,
            NULL, jsonb_build_object('licenseId', $2, 'deviceId', $3, 'sessionToken', $4)),
           ('system', 'system', 'session.ended', 'session', $1,
            NULL, jsonb_build_object('sessionToken', $5, 'licenseId', $2, 'endReason', 'timeout')),
           ('user', 'alice', 'customer.updated', 'customer', $2,
            '{\"name\": \"Old\"}', '{\"name\": \"New\"}')",
    )
    .bind(session.to_string())
    .bind(license.to_string())
    .bind(device.to_string())
    .bind(&started)
    .bind(&ended)
    .execute(&pool)
    .await
    .unwrap();

    license_server::db::MIGRATOR.run(&pool).await.unwrap();

    let rows: Vec<(String, Option<Value>, Option<Value>)> =
        sqlx::query_as("SELECT action, old_values, new_values FROM audit_log ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let text = format!("{rows:?}");
    assert!(!text.contains(&started) && !text.contains(&ended), "{text}");
    assert_eq!(
        rows[..3],
        [
            (
                "session.started".to_owned(),
                None,
                Some(json!({"licenseId": license.to_string(), "deviceId": device.to_string()}))
            ),
            ("session.ended".to_owned(), None, Some(json!({"licenseId": license.to_string(), "endReason": "timeout"}))),
            ("customer.updated".to_owned(), Some(json!({"name": "Old"})), Some(json!({"name": "New"}))),
        ]
    );
    let (action, _, recorded) = &rows[3];
    assert_eq!(action, "audit.session_tokens_removed", "the rewrite is itself audited");
    assert_eq!(recorded.as_ref().unwrap()["rows"], 2);

    // The append-only guard is back.
    let refused = sqlx::query("UPDATE audit_log SET action = action").execute(&pool).await.unwrap_err();
    assert_eq!(refused.as_database_error().unwrap().code().as_deref(), Some("42501"), "{refused}");
}
