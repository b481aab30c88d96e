//! Admin operations: customers, licenses, devices, sessions; validation, roles and the audit log.

use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{count, spawn_app};

const CREATE_LICENSE: &str = "mutation($i: CreateLicenseInput!) { createLicense(input: $i) { id } }";

#[sqlx::test(migrations = "../migrations")]
async fn invalid_license_terms_are_refused_naming_the_field_and_change_nothing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let customer = app.create_customer(&admin, "terms@example.com").await;
    let audit_before = count(&pool, "SELECT count(*) FROM audit_log").await;

    let cases = [
        (
            json!({"customerId": customer, "deviceLimit": 2, "concurrentSessionsLimit": 3}),
            "BAD_USER_INPUT",
            "concurrentSessionsLimit",
        ),
        (
            json!({"customerId": customer, "deviceLimit": 2, "concurrentSessionsLimit": 0}),
            "BAD_USER_INPUT",
            "concurrentSessionsLimit",
        ),
        (
            json!({"customerId": customer, "deviceLimit": 11, "concurrentSessionsLimit": 1}),
            "BAD_USER_INPUT",
            "deviceLimit",
        ),
        (
            json!({"customerId": customer, "deviceLimit": 0, "concurrentSessionsLimit": 1}),
            "BAD_USER_INPUT",
            "deviceLimit",
        ),
        (
            json!({"customerId": customer, "deviceLimit": 1, "concurrentSessionsLimit": 1, "validFrom": "2030-01-01T00:00:00Z", "validUntil": "2029-01-01T00:00:00Z"}),
            "BAD_USER_INPUT",
            "validUntil",
        ),
        (
            json!({"customerId": "not-an-id", "deviceLimit": 1, "concurrentSessionsLimit": 1}),
            "BAD_USER_INPUT",
            "customerId",
        ),
        (
            json!({"customerId": uuid::Uuid::new_v4(), "deviceLimit": 1, "concurrentSessionsLimit": 1}),
            "NOT_FOUND",
            "customerId",
        ),
    ];
    for (input, code, field) in cases {
        let reply = app.gql(&admin, CREATE_LICENSE, json!({"i": input})).await;
        assert_eq!(reply.error_code(), code, "{input}");
        assert_eq!(reply.error_field(), field, "{input}");
        assert!(reply.body["errors"][0]["message"].as_str().unwrap().len() > 10);
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM licenses").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log").await, audit_before);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_itself_refuses_a_concurrent_limit_above_the_device_limit(pool: PgPool) {
    let customer: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO customers (name, email) VALUES ('c', 'c@example.com') RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let result = sqlx::query("INSERT INTO licenses (license_key, customer_id, device_limit, concurrent_sessions_limit) VALUES ('K', $1, 2, 3)")
        .bind(customer)
        .execute(&pool)
        .await;
    let err = result.unwrap_err();
    assert_eq!(err.as_database_error().unwrap().constraint(), Some("licenses_concurrent_limit_range"));
}

#[sqlx::test(migrations = "../migrations")]
async fn customers_are_validated_and_unique_by_email(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let create = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id name email isTest } }";
    let ok = app
        .gql(&admin, create, json!({"i": {"name": "  ACME GmbH ", "email": "it@acme.example", "isTest": true}}))
        .await;
    assert_eq!(ok.data("createCustomer")["name"], "ACME GmbH");
    assert_eq!(ok.data("createCustomer")["isTest"], true);

    let dup = app.gql(&admin, create, json!({"i": {"name": "Other", "email": "IT@acme.example"}})).await;
    assert_eq!((dup.error_code(), dup.error_field()), ("BAD_USER_INPUT", "email"));
    let bad = app.gql(&admin, create, json!({"i": {"name": "", "email": "x@y.example"}})).await;
    assert_eq!((bad.error_code(), bad.error_field()), ("BAD_USER_INPUT", "name"));
    let bad = app.gql(&admin, create, json!({"i": {"name": "N", "email": "no-at-sign"}})).await;
    assert_eq!((bad.error_code(), bad.error_field()), ("BAD_USER_INPUT", "email"));
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 1);

    let id = ok.data("createCustomer")["id"].as_str().unwrap();
    let renamed = app
        .gql(
            &admin,
            "mutation($id: ID!) { updateCustomer(id: $id, input: {name: \"ACME AG\"}) { name email } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(renamed.data("updateCustomer")["name"], "ACME AG");
    assert_eq!(renamed.data("updateCustomer")["email"], "it@acme.example");
    let missing = app
        .gql(
            &admin,
            "mutation($id: ID!) { updateCustomer(id: $id, input: {name: \"X\"}) { name } }",
            json!({"id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(missing.error_code(), "NOT_FOUND");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_change_writes_one_audit_row_with_actor_ip_and_values(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let (license_id, _) = app.create_license(&admin, 3, 2).await;
    let update = "mutation($id: ID!, $i: UpdateLicenseInput!) { updateLicense(id: $id, input: $i) { deviceLimit concurrentSessionsLimit } }";
    let updated =
        app.gql(&admin, update, json!({"id": license_id, "i": {"deviceLimit": 5, "concurrentSessionsLimit": 4}})).await;
    assert_eq!(updated.data("updateLicense")["deviceLimit"], 5);

    let row: (String, String, Option<String>, serde_json::Value, serde_json::Value, String) = sqlx::query_as(
        "SELECT actor_type, actor_name, host(client_ip), old_values, new_values, entity_id
         FROM audit_log WHERE action = 'license.updated'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row.0, "api_key");
    assert_eq!(row.1, "test Admin");
    assert_eq!(row.2.as_deref(), Some("127.0.0.1"));
    assert_eq!(row.3["deviceLimit"], 3);
    assert_eq!(row.4["deviceLimit"], 5);
    assert_eq!(row.4["concurrentSessionsLimit"], 4);
    assert_eq!(row.5, license_id);

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(actions, ["api_key.created", "customer.created", "license.created", "license.updated"]);
    // Key material never lands in the audit log.
    let dump: String =
        sqlx::query_scalar("SELECT string_agg(audit_log::text, ' ') FROM audit_log").fetch_one(&pool).await.unwrap();
    assert!(!dump.contains(&admin[8..]), "the API key's secret part leaked into the audit log");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_audit_log_refuses_update_and_delete(pool: PgPool) {
    let app = spawn_app(&pool).await;
    app.key(Scope::Admin).await;
    for sql in ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn limits_cannot_be_lowered_below_what_is_in_use(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 3, 3).await;
    app.session(&client, &license_key, "a").await;
    app.session(&client, &license_key, "b").await;
    let update = "mutation($id: ID!, $i: UpdateLicenseInput!) { updateLicense(id: $id, input: $i) { id } }";
    let devices =
        app.gql(&admin, update, json!({"id": license_id, "i": {"deviceLimit": 1, "concurrentSessionsLimit": 1}})).await;
    assert_eq!((devices.error_code(), devices.error_field()), ("BAD_USER_INPUT", "deviceLimit"));
    let sessions = app.gql(&admin, update, json!({"id": license_id, "i": {"concurrentSessionsLimit": 1}})).await;
    assert_eq!((sessions.error_code(), sessions.error_field()), ("BAD_USER_INPUT", "concurrentSessionsLimit"));
    let (d, c): (i32, i32) =
        sqlx::query_as("SELECT device_limit, concurrent_sessions_limit FROM licenses").fetch_one(&pool).await.unwrap();
    assert_eq!((d, c), (3, 3));
}

#[sqlx::test(migrations = "../migrations")]
async fn deactivating_a_device_frees_its_slot_and_ends_its_session(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 1, 1).await;
    let granted = app.activate(&client, &license_key, "old-pc").await;
    let token = granted["sessionToken"].as_str().unwrap();
    assert_eq!(app.activate(&client, &license_key, "new-pc").await["reason"], "DEVICE_LIMIT_REACHED");

    let reply = app
        .gql(
            &admin,
            "mutation($id: ID!) { deactivateDevice(id: $id) { isActive deactivatedAt } }",
            json!({"id": granted["deviceId"]}),
        )
        .await;
    assert_eq!(reply.data("deactivateDevice")["isActive"], false);
    assert_eq!(app.heartbeat(&client, token).await["reason"], "DEVICE_DEACTIVATED");
    let reason: String = sqlx::query_scalar("SELECT end_reason FROM session_history").fetch_one(&pool).await.unwrap();
    assert_eq!(reason, "device_deactivated");
    assert_eq!(app.activate(&client, &license_key, "new-pc").await["__typename"], "SessionGranted");

    let devices = app
        .gql(
            &admin,
            "query($id: ID!) { license(id: $id) { devices(includeInactive: true) { hardwareFingerprint isActive } } }",
            json!({"id": license_id}),
        )
        .await;
    assert_eq!(
        devices.data("license")["devices"],
        json!([{"hardwareFingerprint": "new-pc", "isActive": true}, {"hardwareFingerprint": "old-pc", "isActive": false}])
    );
    let audited =
        count(&pool, "SELECT count(*) FROM audit_log WHERE action IN ('device.deactivated', 'session.ended')").await;
    assert_eq!(audited, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn admins_list_and_terminate_live_sessions_and_read_the_history(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 2, 2).await;
    let granted = app.activate(&client, &license_key, "a").await;
    let token = granted["sessionToken"].as_str().unwrap();
    app.session(&client, &license_key, "b").await;

    let live = app
        .gql(
            &admin,
            "query($id: ID) { liveSessions(licenseId: $id) { totalCount nodes { id deviceId device { deviceName } } } }",
            json!({"id": license_id}),
        )
        .await;
    assert_eq!(live.data("liveSessions")["totalCount"], 2);
    let sessions = live.data("liveSessions")["nodes"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    let target = sessions.iter().find(|s| s["deviceId"] == granted["deviceId"]).unwrap();
    assert_eq!(target["device"]["deviceName"], "Device a");

    let ended = app
        .gql(&admin, "mutation($id: ID!) { terminateSession(id: $id) { id endReason } }", json!({"id": target["id"]}))
        .await;
    assert_eq!(ended.data("terminateSession")["endReason"], "ADMIN_TERMINATED");
    assert_eq!(ended.data("terminateSession")["id"], target["id"]);
    assert_eq!(app.heartbeat(&client, token).await["reason"], "ADMIN_TERMINATED");
    let again = app
        .gql(&admin, "mutation($id: ID!) { terminateSession(id: $id) { endReason } }", json!({"id": target["id"]}))
        .await;
    assert_eq!(again.error_code(), "NOT_FOUND");

    let history = app
        .gql(&admin, "query($id: ID!) { license(id: $id) { liveSessions { id } sessionHistory(first: 10) { totalCount edges { node { endReason } } } } }", json!({"id": license_id}))
        .await;
    let license = history.data("license");
    assert_eq!(license["liveSessions"].as_array().unwrap().len(), 1);
    assert_eq!(license["sessionHistory"]["totalCount"], 1);
    assert_eq!(license["sessionHistory"]["edges"][0]["node"]["endReason"], "ADMIN_TERMINATED");
}

#[sqlx::test(migrations = "../migrations")]
async fn deactivating_a_license_ends_its_sessions_as_revoked(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (license_id, license_key) = app.create_license(&admin, 2, 2).await;
    let token = app.session(&client, &license_key, "a").await;
    app.gql(&admin, "mutation($id: ID!) { deactivateLicense(id: $id) { isActive } }", json!({"id": license_id}))
        .await
        .data("deactivateLicense");
    assert_eq!(app.heartbeat(&client, &token).await["reason"], "LICENSE_REVOKED");
    let reason: String = sqlx::query_scalar("SELECT end_reason FROM session_history").fetch_one(&pool).await.unwrap();
    assert_eq!(reason, "license_revoked");
    let reactivated = app
        .gql(&admin, "mutation($id: ID!) { activateLicense(id: $id) { isActive } }", json!({"id": license_id}))
        .await;
    assert_eq!(reactivated.data("activateLicense")["isActive"], true);
    assert_eq!(app.activate(&client, &license_key, "a").await["__typename"], "SessionGranted");
}

#[sqlx::test(migrations = "../migrations")]
async fn licenses_are_listed_in_pages_with_search_and_totals(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(app.create_license(&admin, 1, 1).await.1);
    }
    let page = "query($first: Int, $after: String, $search: String) { licenses(first: $first, after: $after, search: $search) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { licenseKey customer { email } } } } }";
    let first = app.gql(&admin, page, json!({"first": 2})).await;
    let conn = first.data("licenses");
    assert_eq!(conn["totalCount"], 5);
    assert_eq!(conn["edges"].as_array().unwrap().len(), 2);
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    assert_eq!(conn["pageInfo"]["hasPreviousPage"], false);
    let rest = app.gql(&admin, page, json!({"first": 10, "after": conn["pageInfo"]["endCursor"]})).await;
    let rest = rest.data("licenses");
    assert_eq!(rest["edges"].as_array().unwrap().len(), 3);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    let mut seen: Vec<String> = conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["edges"].as_array().unwrap())
        .map(|e| e["node"]["licenseKey"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    keys.sort();
    assert_eq!(seen, keys, "paging visits every license once");

    let found = app.gql(&admin, page, json!({"search": &keys[2][..11].to_lowercase()})).await;
    assert_eq!(found.data("licenses")["totalCount"], 1);
    let too_many = app.gql(&admin, page, json!({"first": 101})).await;
    assert_eq!((too_many.error_code(), too_many.error_field()), ("BAD_USER_INPUT", "first"));
}

#[sqlx::test(migrations = "../migrations")]
async fn each_scope_may_do_what_it_should_and_nothing_more(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 1, 1).await;
    let read = "{ licenses(first: 5) { totalCount } }";
    let write = "mutation { createCustomer(input: {name: \"N\", email: \"n@example.com\"}) { id } }";

    assert_eq!(app.gql(&analyst, read, json!({})).await.data("licenses")["totalCount"], 1);
    assert_eq!(app.gql(&analyst, write, json!({})).await.error_code(), "FORBIDDEN");
    let analyst_activate = app
        .gql(
            &analyst,
            "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }",
            json!({"i": {"licenseKey": license_key, "hardwareFingerprint": "fp"}}),
        )
        .await;
    assert_eq!(analyst_activate.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(&client, read, json!({})).await.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(&client, write, json!({})).await.error_code(), "FORBIDDEN");
    assert_eq!(app.activate(&client, &license_key, "fp").await["__typename"], "SessionGranted");
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_revoked_key_stops_working_on_the_next_request(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    assert_eq!(app.gql(&admin, "{ licenses { totalCount } }", json!({})).await.status, 200);
    let used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM api_keys").fetch_one(&pool).await.unwrap();
    assert!(used.is_some(), "last_used_at is kept");

    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM api_keys").fetch_one(&pool).await.unwrap();
    license_server::api_keys::revoke(&pool, &license_server::auth::Actor::cli(), None, id).await.unwrap();
    let refused = app.gql(&admin, "{ licenses { totalCount } }", json!({})).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.error_code(), "UNAUTHENTICATED");
}

#[sqlx::test(migrations = "../migrations")]
async fn license_and_customer_edits_from_a_stale_read_are_refused_even_when_saved_at_once(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let (license, _) = app.create_license(&admin, 5, 2).await;
    let read = app
        .gql(
            &admin,
            "query($id: ID!) { license(id: $id) { updatedAt customer { id updatedAt } } }",
            json!({"id": license}),
        )
        .await;
    let (license_at, customer, customer_at) = (
        read.data("license")["updatedAt"].clone(),
        read.data("license")["customer"]["id"].clone(),
        read.data("license")["customer"]["updatedAt"].clone(),
    );

    let update_license = "mutation($id: ID!, $n: String!, $at: DateTime) {
        updateLicense(id: $id, input: {notes: $n}, expectedUpdatedAt: $at) { notes } }";
    let (a, b) = tokio::join!(
        app.gql(&admin, update_license, json!({"id": license, "n": "from A", "at": license_at})),
        app.gql(&admin, update_license, json!({"id": license, "n": "from B", "at": license_at})),
    );
    let conflicts: Vec<_> = [&a, &b].into_iter().filter(|r| !r.body["errors"].is_null()).collect();
    assert_eq!(conflicts.len(), 1, "one of two saves from the same read wins: {} / {}", a.body, b.body);
    assert_eq!((conflicts[0].error_code(), conflicts[0].error_field()), ("CONFLICT", "expectedUpdatedAt"));
    let winner = if a.body["errors"].is_null() { "from A" } else { "from B" };
    let notes: String = sqlx::query_scalar("SELECT notes FROM licenses").fetch_one(&pool).await.unwrap();
    assert_eq!(notes, winner, "the refused save changed nothing");
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'license.updated'").await, 1);

    let update_customer = "mutation($id: ID!, $n: String!, $at: DateTime) {
        updateCustomer(id: $id, input: {name: $n}, expectedUpdatedAt: $at) { name } }";
    app.gql(&admin, update_customer, json!({"id": customer, "n": "Renamed", "at": customer_at}))
        .await
        .data("updateCustomer");
    let stale = app.gql(&admin, update_customer, json!({"id": customer, "n": "Stale", "at": customer_at})).await;
    assert_eq!(stale.error_code(), "CONFLICT");
    // Without `expectedUpdatedAt` an edit applies as before.
    let blind = app.gql(&admin, update_customer, json!({"id": customer, "n": "Blind"})).await;
    assert_eq!(blind.data("updateCustomer")["name"], "Blind");
}
