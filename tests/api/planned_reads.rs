//! `customers → licenses → devices` read in one statement planned from the selection set: the
//! same answer as the batch loaders give, for the same caller, in one statement.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{spawn_app_with, Options, Reply, TestApp};

/// The page with everything a customer, license and device show; `$page` picks the page.
fn page_query(page: &str) -> String {
    format!(
        "{{ customers({page}) {{ totalCount pageInfo {{ hasNextPage hasPreviousPage }} edges {{ cursor node {{
            id name email isTest createdAt updatedAt
            licenses {{ id licenseKey licenseType isActive deviceLimit concurrentSessionsLimit features
                        validFrom validUntil notes createdAt updatedAt
                        devices {{ id hardwareFingerprint deviceName deviceType isActive firstActivatedAt
                                   lastSeenAt deactivatedAt }} }} }} }} }} }}"
    )
}

/// Three customers: two with licenses whose devices include a deactivated one and a license
/// without devices, one with no license at all.
async fn seed(app: &TestApp) {
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    for c in 0..2 {
        let customer = app.create_customer(&admin, &format!("c{c}@example.com")).await;
        for l in 0..3 {
            let input = json!({"customerId": customer, "deviceLimit": 3, "concurrentSessionsLimit": 3});
            let (_, key) = app.create_license_for(&admin, input).await;
            for d in 0..l {
                app.session(&client, &key, &format!("c{c}-l{l}-d{d}")).await;
            }
        }
    }
    app.create_customer(&admin, "alone@example.com").await;
    let devices = app.gql(&admin, "{ devices(first: 100) { nodes { id hardwareFingerprint } } }", json!({})).await;
    let deactivated = devices.data("devices")["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["hardwareFingerprint"] == "c1-l2-d0")
        .map(|d| d["id"].clone())
        .unwrap();
    let reply =
        app.gql(&admin, "mutation($id: ID!) { deactivateDevice(id: $id) { id } }", json!({"id": deactivated})).await;
    reply.data("deactivateDevice");
}

async fn counted(app: &TestApp, statements: &AtomicUsize, key: &str, query: &str) -> (Reply, usize) {
    let before = statements.load(Ordering::SeqCst);
    let reply = app.gql(key, query, json!({})).await;
    (reply, statements.load(Ordering::SeqCst) - before)
}

fn devices_in(reply: &Reply) -> usize {
    let edges = reply.data("customers")["edges"].as_array().unwrap();
    edges
        .iter()
        .flat_map(|e| e["node"]["licenses"].as_array().unwrap())
        .map(|l| l["devices"].as_array().unwrap().len())
        .sum()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_planned_page_answers_as_the_loaders_do_in_one_statement(pool: PgPool) {
    let statements = Arc::new(AtomicUsize::new(0));
    let app = spawn_app_with(&pool, Options { statements: Some(statements.clone()), ..Options::default() }).await;
    seed(&app).await;
    let analyst = app.key(Scope::Analyst).await;

    // A forward page is planned; a backward one (`last`) goes through the loaders. With fewer
    // customers than either page holds, both are the same page.
    let (planned, planned_statements) = counted(&app, &statements, &analyst, &page_query("first: 10")).await;
    let (loaded, loaded_statements) = counted(&app, &statements, &analyst, &page_query("last: 10")).await;
    assert!(planned.body["errors"].is_null(), "{}", planned.body);
    assert_eq!(planned.body, loaded.body, "the planned statement answers as the loaders do");
    assert_eq!(planned.data("customers")["totalCount"], 3);
    assert_eq!(devices_in(&planned), 5, "six registered, one deactivated");
    // The key check, then the one planned statement; the loaders need count, page, licenses and
    // devices after the key check.
    assert!(planned_statements <= 2, "{planned_statements} statements for the planned page");
    assert!(loaded_statements >= 5, "{loaded_statements} statements through the loaders");

    // Without `lastSeenAt` the statement skips the sightings; the rest is the same.
    let unsighted = "{ customers(first: 10) { nodes { licenses { devices { id hardwareFingerprint deviceName } } } } }";
    let (reply, ran) = counted(&app, &statements, &analyst, unsighted).await;
    assert_eq!(reply.body, app.gql(&analyst, &unsighted.replace("first", "last"), json!({})).await.body);
    assert!(ran <= 2, "{ran} statements without sightings");

    // Pages after a cursor, shapes without devices, and `nodes` agree with the loaders too.
    let first = planned.data("customers")["edges"][0]["cursor"].as_str().unwrap().to_owned();
    let after = counted(&app, &statements, &analyst, &page_query(&format!("first: 1, after: \"{first}\""))).await.0;
    let second = &planned.data("customers")["edges"][1];
    assert_eq!(after.data("customers")["edges"][0], *second);
    assert_eq!(after.data("customers")["pageInfo"], json!({"hasNextPage": true, "hasPreviousPage": true}));
    let shallow = "{ customers(first: 10) { nodes { name licenses(first: 1) { licenseKey } } } }";
    let shallow_loaded = "{ customers(last: 10) { nodes { name licenses(first: 1) { licenseKey } } } }";
    let (reply, ran) = counted(&app, &statements, &analyst, shallow).await;
    assert_eq!(reply.body, app.gql(&analyst, shallow_loaded, json!({})).await.body);
    assert!(ran <= 2, "{ran} statements without devices");
    // Every customer is named "Customer", so their order is by id: count the licenses in any order.
    let mut listed: Vec<usize> = reply.data("customers")["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["licenses"].as_array().map_or(0, Vec::len))
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, [0, 1, 1], "the customer without licenses, and one license each for the others");
}

/// Selections that read only some columns, or that need all of them again (a fragment with a
/// field showing no column of its own, relations by foreign key, aliases, `__typename`) answer as
/// the loaders do.
#[sqlx::test(migrations = "../migrations")]
async fn a_planned_page_reading_only_the_selected_columns_answers_as_the_loaders_do(pool: PgPool) {
    let app = spawn_app_with(&pool, Options::default()).await;
    seed(&app).await;
    // No column holds its type's default, so one left out where it was selected would show.
    sqlx::query("UPDATE licenses SET notes = 'note ' || license_key, features = ARRAY['pro'], valid_until = now() + interval '9 days'")
        .execute(&pool)
        .await
        .unwrap();
    let analyst = app.key(Scope::Analyst).await;
    for selection in [
        "licenses { licenseKey devices { hardwareFingerprint deviceName } }",
        "licenses { type: licenseType notes features devices { __typename kind: deviceType deactivatedAt } }",
        "licenses { ...terms customer { email } devices { lastSeenAt license { licenseKey } liveSession { id } } }",
        "licenses { licenseKey liveSessions { id } resources { value } devices { ... on Device { isActive } } }",
        "licenses { validUntil deviceLimit sessionHistory(first: 2) { totalCount } }",
    ] {
        let fragment = "fragment terms on License { isActive maxDeviceReleases offlineGraceSeconds updatedAt }";
        let fragment = if selection.contains("...terms") { fragment } else { "" };
        let query = |page: &str| format!("{{ customers({page}) {{ nodes {{ name {selection} }} }} }} {fragment}");
        let planned = app.gql(&analyst, &query("first: 10"), json!({})).await;
        let loaded = app.gql(&analyst, &query("last: 10"), json!({})).await;
        assert!(planned.body["errors"].is_null(), "{selection}: {}", planned.body);
        assert_eq!(planned.body, loaded.body, "{selection}");
    }
}

/// The body lists each object's fields in the order the operation selected them (GraphQL's
/// rule), at every level of the nested lists.
#[sqlx::test(migrations = "../migrations")]
async fn a_nested_answer_keeps_the_order_of_the_selection(pool: PgPool) {
    let app = spawn_app_with(&pool, Options::default()).await;
    seed(&app).await;
    let analyst = app.key(Scope::Analyst).await;
    let query = "{ customers(first: 10) { nodes { name licenses { licenseKey isActive devices { hardwareFingerprint deviceName } } } } }";
    let body = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("X-API-Key", &analyst)
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = |needle: &str| body.find(needle).unwrap_or_else(|| panic!("{needle} missing in {body}"));
    assert!(at("\"name\"") < at("\"licenses\""), "{body}");
    assert!(at("\"licenseKey\"") < at("\"isActive\"") && at("\"isActive\"") < at("\"devices\""), "{body}");
    assert!(at("\"hardwareFingerprint\"") < at("\"deviceName\""), "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_planned_page_keeps_search_filter_and_order(pool: PgPool) {
    let app = spawn_app_with(&pool, Options::default()).await;
    seed(&app).await;
    let analyst = app.key(Scope::Analyst).await;
    for args in [
        "first: 10, search: \"c1@\"",
        "first: 10, filter: {email: {contains: \"example\"}}, orderBy: [{field: EMAIL, direction: DESC}]",
    ] {
        let planned = app.gql(&analyst, &page_query(args), json!({})).await;
        let loaded = app.gql(&analyst, &page_query(&args.replace("first", "last")), json!({})).await;
        assert!(planned.body["errors"].is_null(), "{args}: {}", planned.body);
        assert_eq!(planned.body, loaded.body, "{args}");
    }
    let searched = app.gql(&analyst, &page_query("first: 10, search: \"c1@\""), json!({})).await;
    assert_eq!(searched.data("customers")["totalCount"], 1);
    assert_eq!(devices_in(&searched), 2, "c1's devices but the deactivated one");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_planned_page_is_refused_to_callers_the_loaders_refuse(pool: PgPool) {
    let app = spawn_app_with(&pool, Options::default()).await;
    seed(&app).await;
    let client = app.key(Scope::Client).await;
    let reply = app.gql(&client, &page_query("first: 10"), json!({})).await;
    assert!(reply.body["data"]["customers"].is_null(), "{}", reply.body);
    assert_eq!(reply.error_code(), "FORBIDDEN", "{}", reply.body);
}
