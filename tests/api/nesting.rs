//! Nested queries cost a bounded number of SQL statements whatever the page size (batched
//! loading), and a query that would fetch too much is refused before it runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{spawn_app_with, Options, Reply, TestApp};

const NESTED: &str = "query($n: Int!) { customers(first: $n) { edges { node { name
    licenses { licenseKey customer { name }
        devices { deviceName liveSession { startedAt } }
        liveSessions { startedAt }
        resources { value } } } } } }";

/// The reply and how many statements the server ran for it.
async fn counted(app: &TestApp, statements: &AtomicUsize, key: &str, query: &str, n: i32) -> (Reply, usize) {
    let before = statements.load(Ordering::SeqCst);
    let reply = app.gql(key, query, json!({"n": n})).await;
    (reply, statements.load(Ordering::SeqCst) - before)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_nested_query_runs_the_same_few_statements_for_one_customer_or_many(pool: PgPool) {
    let statements = Arc::new(AtomicUsize::new(0));
    let app = spawn_app_with(&pool, Options { statements: Some(statements.clone()), ..Options::default() }).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let ips: Vec<String> = (0..8).map(|i| format!("198.51.100.{i}")).collect();
    app.gql(
        &admin,
        "mutation($v: [String!]!) { importResources(type: IPV4, values: $v) { added } }",
        json!({"v": ips}),
    )
    .await
    .data("importResources");
    for c in 0..4 {
        let customer = app.create_customer(&admin, &format!("c{c}@example.com")).await;
        for l in 0..2 {
            let (license, key) = app
                .create_license_for(
                    &admin,
                    json!({"customerId": customer, "deviceLimit": 3, "concurrentSessionsLimit": 3}),
                )
                .await;
            for d in 0..2 {
                app.session(&client, &key, &format!("c{c}-l{l}-d{d}")).await;
            }
            let allocate =
                "mutation($l: ID!) { allocateResources(licenseId: $l, type: IPV4, count: 1) { __typename } }";
            app.gql(&admin, allocate, json!({"l": license})).await.data("allocateResources");
        }
    }

    let (one, for_one) = counted(&app, &statements, &analyst, NESTED, 1).await;
    let (four, for_four) = counted(&app, &statements, &analyst, NESTED, 4).await;
    let customers = four.data("customers")["edges"].as_array().unwrap();
    assert_eq!(customers.len(), 4);
    for customer in customers {
        let licenses = customer["node"]["licenses"].as_array().unwrap();
        assert_eq!(licenses.len(), 2);
        for license in licenses {
            assert_eq!(license["customer"]["name"], customer["node"]["name"]);
            assert_eq!(license["liveSessions"].as_array().unwrap().len(), 2);
            assert_eq!(license["resources"].as_array().unwrap().len(), 1);
            let devices = license["devices"].as_array().unwrap();
            assert_eq!(devices.len(), 2);
            assert!(devices.iter().all(|d| d["liveSession"]["startedAt"].is_string()));
        }
    }
    assert_eq!(one.data("customers")["edges"].as_array().unwrap().len(), 1);
    // Key check, the planned statement (count, page, licenses and devices: planned_reads.rs), then
    // one statement per loaded level: customers, device sessions, license sessions, resources —
    // 6. On a busy machine a loader's batch may
    // split in two, so allow a little slack; per-row loading would need 30 or more for four
    // customers (2 licenses each, 2 devices each).
    assert!((3..=12).contains(&for_one), "{for_one} statements for one customer");
    assert!((3..=12).contains(&for_four), "{for_four} statements for four customers");
    assert!(for_four <= for_one + 2, "the page size barely changes the count: {for_one} vs {for_four}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_query_that_would_fetch_too_much_is_refused_before_it_runs(pool: PgPool) {
    let statements = Arc::new(AtomicUsize::new(0));
    let app = spawn_app_with(&pool, Options { statements: Some(statements.clone()), ..Options::default() }).await;
    let analyst = app.key(Scope::Analyst).await;

    let (reply, ran) = counted(&app, &statements, &analyst, NESTED, 100).await;
    let message = reply.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("too complex"), "{}", reply.body);
    assert!(reply.body["data"].is_null());
    // The key check, and on a busy machine perhaps one more bookkeeping statement of the pool;
    // the query itself would add at least four (count, page, licenses, devices, …).
    assert!(ran <= 2, "only the key check ran, not the query ({ran} statements)");

    // The same shape over a small page is fine; so is a wide page of a flat selection.
    let (small, _) = counted(&app, &statements, &analyst, NESTED, 2).await;
    assert!(small.body["errors"].is_null(), "{}", small.body);
    let flat = "query($n: Int!) { licenses(first: $n) { totalCount edges { node { licenseKey customer { name } } } } }";
    let (wide, _) = counted(&app, &statements, &analyst, flat, 100).await;
    assert!(wide.body["errors"].is_null(), "{}", wide.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn live_sessions_and_history_load_their_devices_and_licenses_in_batches(pool: PgPool) {
    let statements = Arc::new(AtomicUsize::new(0));
    let app = spawn_app_with(&pool, Options { statements: Some(statements.clone()), ..Options::default() }).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let query = "{ liveSessions(first: 20) { nodes { device { deviceName } license { licenseKey } } }
                   sessionHistory(first: 20) { edges { node { device { deviceName } } } } }";
    let (_, key) = app.create_license(&admin, 10, 10).await;
    let first = app.session(&client, &key, "d0").await;
    app.end_session(&client, &first).await;
    app.session(&client, &key, "d1").await;
    let (one, for_one) = counted(&app, &statements, &analyst, query, 0).await;
    assert_eq!(one.data("liveSessions")["nodes"].as_array().unwrap().len(), 1);

    for device in 2..8 {
        let token = app.session(&client, &key, &format!("d{device}")).await;
        if device % 2 == 0 {
            app.end_session(&client, &token).await;
        }
    }
    let (many, for_many) = counted(&app, &statements, &analyst, query, 0).await;
    assert_eq!(many.data("liveSessions")["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(many.data("sessionHistory")["edges"].as_array().unwrap().len(), 4);
    assert!(many.data("liveSessions")["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["device"]["deviceName"].is_string()));
    // Per-row loading would add a statement per session and field (more than 10 here).
    assert!(for_many <= for_one + 2, "{for_one} statements for 2 sessions, {for_many} for 8");
}

#[sqlx::test(migrations = "../migrations")]
async fn institutions_with_contacts_and_versioned_notes_load_in_batches(pool: PgPool) {
    let statements = Arc::new(AtomicUsize::new(0));
    let app = spawn_app_with(&pool, Options { statements: Some(statements.clone()), ..Options::default() }).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let note =
        "mutation($inst: ID, $c: ID, $b: String!) { addNote(institutionId: $inst, contactId: $c, body: $b) { id } }";
    let edit = "mutation($id: ID!, $b: String!) { editNote(id: $id, body: $b) { version } }";
    for i in 0..4 {
        let reply = app
            .gql(
                &admin,
                "mutation($n: String!) { createInstitution(input: {name: $n}) { id } }",
                json!({"n": format!("Institution {i}")}),
            )
            .await;
        let inst = reply.data("createInstitution")["id"].as_str().unwrap().to_owned();
        let id = app.gql(&admin, note, json!({"inst": inst, "b": "first"})).await.data("addNote")["id"].clone();
        app.gql(&admin, edit, json!({"id": id, "b": "second"})).await.data("editNote");
        for c in 0..2 {
            let contact = app
                .gql(
                    &admin,
                    "mutation($inst: ID!, $i: ContactInput!) { createContact(institutionId: $inst, input: $i) { id } }",
                    json!({"inst": inst, "i": {"name": format!("Contact {i}.{c}"),
                        "phones": [{"kind": "WORK", "number": format!("+49 30 1234 56{i}{c}")}],
                        "emails": [{"kind": "WORK", "email": format!("c{i}{c}@example.org")}]}}),
                )
                .await
                .data("createContact")["id"]
                .clone();
            app.gql(&admin, note, json!({"c": contact, "b": "met at a fair"})).await.data("addNote");
        }
        if i % 2 == 0 {
            app.gql(
                &admin,
                "mutation($id: ID!, $c: CreateCustomerInput!) { convertInstitutionToCustomer(institutionId: $id, customer: $c) { id } }",
                json!({"id": inst, "c": {"name": format!("Institution {i}"), "email": format!("i{i}@example.org")}}),
            )
            .await
            .data("convertInstitutionToCustomer");
        }
    }

    let query = "query($n: Int!) { institutions(first: $n, orderBy: [{field: NAME}]) { edges { node { name
        customer { name } notes { body versions { body } }
        contacts { name institution { name } phones { number } emails { email } notes { body versions { body } } } } } } }";
    let (one, for_one) = counted(&app, &statements, &analyst, query, 1).await;
    let (four, for_four) = counted(&app, &statements, &analyst, query, 4).await;
    assert_eq!(one.data("institutions")["edges"].as_array().unwrap().len(), 1);
    let institutions = four.data("institutions")["edges"].as_array().unwrap();
    assert_eq!(institutions.len(), 4);
    for (i, edge) in institutions.iter().enumerate() {
        let node = &edge["node"];
        assert_eq!(node["customer"].is_null(), i % 2 == 1, "{node}");
        assert_eq!(node["notes"], json!([{"body": "second", "versions": [{"body": "first"}, {"body": "second"}]}]));
        let contacts = node["contacts"].as_array().unwrap();
        assert_eq!(contacts.len(), 2);
        for contact in contacts {
            assert_eq!(contact["institution"]["name"], node["name"]);
            assert_eq!(contact["phones"].as_array().unwrap().len(), 1);
            assert_eq!(contact["emails"].as_array().unwrap().len(), 1);
            assert_eq!(contact["notes"][0]["versions"].as_array().unwrap().len(), 1);
        }
    }
    // Key check, count, page, then one statement per nested field: customer, notes, contacts,
    // institution, phones, e-mails, contact notes, versions (institution and contact notes may
    // share a batch) — about 11. Per-row loading would need more than 50 for four institutions.
    assert!((3..=16).contains(&for_one), "{for_one} statements for one institution");
    assert!((3..=16).contains(&for_four), "{for_four} statements for four institutions");
    assert!(for_four <= for_one + 2, "the page size barely changes the count: {for_one} vs {for_four}");
}

/// The page the issue found refused under the old estimates (every nested list ten items).
const FIFTY_CUSTOMERS: &str = "{ customers(first: 50, orderBy: [{field: NAME}]) { nodes { name
    licenses { licenseKey devices { hardwareFingerprint deviceName } } } } }";

/// 100 customers × 100 licenses × 100 ended sessions each: a million rows at worst.
const A_MILLION_ROWS: &str = "{ customers(first: 100) { nodes { licenses(first: 100) {
    sessionHistory(first: 100) { nodes { endedAt endReason } } } } } }";

#[sqlx::test(migrations = "../migrations")]
async fn a_page_of_fifty_customers_with_their_licenses_and_devices_is_accepted(pool: PgPool) {
    let app = spawn_app_with(&pool, Options::default()).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let customer = app.create_customer(&admin, "one@example.com").await;
    app.create_license_for(&admin, json!({"customerId": customer, "deviceLimit": 10, "concurrentSessionsLimit": 1}))
        .await;

    let reply = app.gql(&analyst, FIFTY_CUSTOMERS, json!({})).await;
    assert!(reply.body["errors"].is_null(), "{}", reply.body);
    assert_eq!(reply.data("customers")["nodes"][0]["licenses"].as_array().map(Vec::len), Some(1));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_query_that_would_read_a_million_rows_is_refused_with_its_estimate_and_the_limit(pool: PgPool) {
    let statements = Arc::new(AtomicUsize::new(0));
    let app = spawn_app_with(&pool, Options { statements: Some(statements.clone()), ..Options::default() }).await;
    let analyst = app.key(Scope::Analyst).await;

    let before = statements.load(Ordering::SeqCst);
    let reply = app.gql(&analyst, A_MILLION_ROWS, json!({})).await;
    let ran = statements.load(Ordering::SeqCst) - before;
    assert_eq!(reply.error_code(), "QUERY_TOO_COMPLEX", "{}", reply.body);
    let error = &reply.body["errors"][0];
    let estimate = error["extensions"]["estimate"].as_u64().unwrap_or_default();
    assert!(estimate >= 1_000_000, "the estimate counts the million rows: {error}");
    assert_eq!(error["extensions"]["limit"], license_server::graphql::MAX_COMPLEXITY as u64);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("too complex") && message.contains(&estimate.to_string()), "{message}");
    assert!(reply.body["data"].is_null());
    assert!(ran <= 2, "only the key check ran, not the query ({ran} statements)");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_customers_licenses_are_a_bounded_page_newest_first(pool: PgPool) {
    let app = spawn_app_with(&pool, Options::default()).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let customer = app.create_customer(&admin, "many@example.com").await;
    let mut keys = Vec::new();
    for _ in 0..3 {
        let input = json!({"customerId": customer, "deviceLimit": 1, "concurrentSessionsLimit": 1});
        keys.push(app.create_license_for(&admin, input).await.1);
    }
    let query = "query($id: ID!, $n: Int) { customer(id: $id) { licenses(first: $n) { licenseKey } } }";
    let newest = app.gql(&analyst, query, json!({"id": customer, "n": 2})).await;
    let listed: Vec<&str> = newest.data("customer")["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["licenseKey"].as_str())
        .collect();
    assert_eq!(listed, [keys[2].as_str(), keys[1].as_str()]);
    let all = app.gql(&analyst, query, json!({"id": customer, "n": null})).await;
    assert_eq!(all.data("customer")["licenses"].as_array().map(Vec::len), Some(3), "the default page holds them");

    for bad in [-1, 101] {
        let refused = app.gql(&analyst, query, json!({"id": customer, "n": bad})).await;
        assert_eq!(refused.error_code(), "BAD_USER_INPUT", "first: {bad}: {}", refused.body);
    }
}
