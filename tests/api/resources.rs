//! Resource pools: validated imports, all-or-nothing allocation (also under parallel requests
//! against two instances), release, quarantine, and the history of every move.

use std::time::Duration;

use futures_util::future::join_all;
use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{count, eventually, spawn_app, TestApp};

const IMPORT: &str = "mutation($t: ResourceType!, $v: [String!]!) {
    importResources(type: $t, values: $v) { added duplicates invalid { value reason } } }";

const ALLOCATE: &str = "mutation($l: ID!, $t: ResourceType!, $n: Int!) {
    allocateResources(licenseId: $l, type: $t, count: $n) {
        __typename
        ... on ResourcesAllocated { resources { id value state licenseId } }
        ... on AllocationDenied { reason available message } } }";

const COUNTS: &str = "{ resourcePoolCounts { resourceType available allocated quarantined total } }";

async fn import(app: &TestApp, key: &str, kind: &str, values: Value) -> Value {
    app.gql(key, IMPORT, json!({"t": kind, "v": values})).await.data("importResources").clone()
}

async fn allocate(app: &TestApp, key: &str, license: &str, kind: &str, n: i32) -> Value {
    app.gql(key, ALLOCATE, json!({"l": license, "t": kind, "n": n})).await.data("allocateResources").clone()
}

/// `[available, allocated, quarantined, total]` of one type.
async fn pool_counts(app: &TestApp, key: &str, kind: &str) -> [i64; 4] {
    let reply = app.gql(key, COUNTS, json!({})).await;
    let row = reply.data("resourcePoolCounts").as_array().unwrap().iter().find(|r| r["resourceType"] == kind).cloned();
    let row = row.unwrap_or_else(|| panic!("no counts for {kind}"));
    ["available", "allocated", "quarantined", "total"].map(|k| row[k].as_i64().unwrap())
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_import_reports_every_value_as_added_duplicate_or_invalid_and_stores_the_normal_form(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;

    let report = import(
        &app,
        &admin,
        "DOMAIN",
        json!(["Example.COM", "example.com.", "bücher.example", "not a domain", "shop.example.org", "-bad.example"]),
    )
    .await;
    assert_eq!(strings(&report["added"]), ["example.com", "xn--bcher-kva.example", "shop.example.org"]);
    assert_eq!(strings(&report["duplicates"]), ["example.com."], "a repeat within the list is a duplicate");
    let invalid = report["invalid"].as_array().unwrap();
    assert_eq!(
        invalid.iter().map(|i| i["value"].as_str().unwrap()).collect::<Vec<_>>(),
        ["not a domain", "-bad.example"]
    );
    assert!(invalid.iter().all(|i| i["reason"].as_str().unwrap().len() > 10), "{report}");

    let again = import(&app, &admin, "DOMAIN", json!(["EXAMPLE.com", "new.example"])).await;
    assert_eq!(strings(&again["added"]), ["new.example"]);
    assert_eq!(strings(&again["duplicates"]), ["EXAMPLE.com"], "a value already in the pool is a duplicate");

    let ips =
        import(&app, &admin, "IPV4", json!(["192.0.2.1", " 192.0.2.2 ", "192.0.2.1", "300.1.1.1", "01.2.3.4"])).await;
    assert_eq!(strings(&ips["added"]), ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(strings(&ips["duplicates"]), ["192.0.2.1"]);
    assert_eq!(ips["invalid"].as_array().unwrap().len(), 2);

    let phones =
        import(&app, &admin, "PHONE", json!(["+49 30 12345678", "+493012345678", "030 12345678", "+1 202 555 0143"]))
            .await;
    assert_eq!(strings(&phones["added"]), ["+493012345678", "+12025550143"]);
    assert_eq!(strings(&phones["duplicates"]), ["+493012345678"], "formatting does not make a new number");
    assert_eq!(phones["invalid"][0]["value"], "030 12345678");

    // The same value may sit in different pools: uniqueness is per type.
    assert_eq!(count(&pool, "SELECT count(*) FROM resource_pools").await, 4 + 2 + 2);
    assert_eq!(pool_counts(&app, &admin, "DOMAIN").await, [4, 0, 0, 4]);
    assert_eq!(pool_counts(&app, &admin, "IPV4").await, [2, 0, 0, 2]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM resource_history WHERE from_state IS NULL AND to_state = 'available'").await,
        8,
        "each added resource has its first move in the history"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'resources.imported'").await, 4);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_import_that_fails_in_the_database_adds_nothing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    // The history insert comes after the pool insert: failing it must undo the pool rows too.
    sqlx::raw_sql(
        "CREATE FUNCTION fail_history() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'simulated failure'; END $$;
         CREATE TRIGGER fail_history BEFORE INSERT ON resource_history FOR EACH STATEMENT EXECUTE FUNCTION fail_history();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let reply = app.gql(&admin, IMPORT, json!({"t": "DOMAIN", "v": ["a.example", "b.example"]})).await;
    assert_eq!(reply.error_code(), "INTERNAL_SERVER_ERROR");
    assert!(!reply.body.to_string().contains("simulated"), "database details are not shown");
    assert_eq!(count(&pool, "SELECT count(*) FROM resource_pools").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'resources.imported'").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_license_gets_all_the_resources_it_asks_for_or_none(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let (first, _) = app.create_license(&admin, 1, 1).await;
    let (second, _) = app.create_license(&admin, 1, 1).await;
    import(&app, &admin, "IPV4", json!(["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"])).await;

    let granted = allocate(&app, &admin, &first, "IPV4", 3).await;
    assert_eq!(granted["__typename"], "ResourcesAllocated", "{granted}");
    let resources = granted["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 3);
    assert!(resources.iter().all(|r| r["state"] == "ALLOCATED" && r["licenseId"] == first.as_str()));

    let denied = allocate(&app, &admin, &second, "IPV4", 3).await;
    assert_eq!(denied["__typename"], "AllocationDenied");
    assert_eq!(denied["reason"], "INSUFFICIENT_RESOURCES");
    assert_eq!(denied["available"], 2);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM resource_pools WHERE state = 'allocated'").await,
        3,
        "a refused allocation takes nothing"
    );
    assert_eq!(allocate(&app, &admin, &second, "DOMAIN", 1).await["available"], 0, "pools are per type");

    let license = app
        .gql(&admin, "query($id: ID!) { license(id: $id) { resources { value resourceType } } }", json!({"id": first}))
        .await;
    let held: Vec<&str> =
        license.data("license")["resources"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    assert_eq!(held, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    assert_eq!(pool_counts(&app, &admin, "IPV4").await, [2, 3, 0, 5]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM resource_history WHERE from_state = 'available' AND to_state = 'allocated' AND license_id IS NOT NULL").await,
        3
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'resources.allocated'").await, 1);

    for (input, code, field) in [
        (json!({"l": first, "t": "IPV4", "n": 0}), "BAD_USER_INPUT", "count"),
        (json!({"l": first, "t": "IPV4", "n": 1001}), "BAD_USER_INPUT", "count"),
        (json!({"l": "nope", "t": "IPV4", "n": 1}), "BAD_USER_INPUT", "licenseId"),
        (json!({"l": uuid::Uuid::new_v4(), "t": "IPV4", "n": 1}), "NOT_FOUND", "licenseId"),
    ] {
        let reply = app.gql(&admin, ALLOCATE, input.clone()).await;
        assert_eq!((reply.error_code(), reply.error_field()), (code, field), "{input}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM resource_pools WHERE state = 'allocated'").await, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn release_and_quarantine_move_a_resource_and_every_move_is_in_its_history(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let (license, _) = app.create_license(&admin, 1, 1).await;
    import(&app, &admin, "PHONE", json!(["+49 30 12345678"])).await;
    let granted = allocate(&app, &admin, &license, "PHONE", 1).await;
    let id = granted["resources"][0]["id"].as_str().unwrap().to_owned();

    let quarantine = "mutation($id: ID!, $r: String!) { quarantineResource(id: $id, reason: $r) { state quarantineReason licenseId } }";
    let release = "mutation($id: ID!) { releaseResource(id: $id) { state quarantineReason licenseId } }";

    let reply = app.gql(&admin, quarantine, json!({"id": id, "r": "  "})).await;
    assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", "reason"));

    let moved = app.gql(&admin, quarantine, json!({"id": id, "r": "reported as spam"})).await;
    assert_eq!(
        moved.data("quarantineResource"),
        &json!({"state": "QUARANTINED", "quarantineReason": "reported as spam", "licenseId": null})
    );
    let reply = app.gql(&admin, quarantine, json!({"id": id, "r": "again"})).await;
    assert_eq!(reply.error_code(), "BAD_USER_INPUT", "already quarantined");

    let back = app.gql(&admin, release, json!({"id": id})).await;
    assert_eq!(
        back.data("releaseResource"),
        &json!({"state": "AVAILABLE", "quarantineReason": null, "licenseId": null})
    );
    let reply = app.gql(&admin, release, json!({"id": id})).await;
    assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", "id"), "already available");
    let reply = app.gql(&admin, release, json!({"id": uuid::Uuid::new_v4()})).await;
    assert_eq!(reply.error_code(), "NOT_FOUND");

    // Allocated again, then released straight back to the pool.
    assert_eq!(allocate(&app, &admin, &license, "PHONE", 1).await["__typename"], "ResourcesAllocated");
    assert_eq!(app.gql(&admin, release, json!({"id": id})).await.data("releaseResource")["state"], "AVAILABLE");

    let history = app
        .gql(
            &admin,
            "query($id: ID!) { resource(id: $id) { value history { fromState toState licenseId reason actorName occurredAt } } }",
            json!({"id": id}),
        )
        .await;
    let resource = history.data("resource");
    assert_eq!(resource["value"], "+493012345678");
    let moves: Vec<(Value, Value, Value, Value)> = resource["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["fromState"].clone(), m["toState"].clone(), m["licenseId"].clone(), m["reason"].clone()))
        .collect();
    let lic = json!(license);
    assert_eq!(
        moves,
        [
            (Value::Null, json!("AVAILABLE"), Value::Null, Value::Null),
            (json!("AVAILABLE"), json!("ALLOCATED"), lic.clone(), Value::Null),
            (json!("ALLOCATED"), json!("QUARANTINED"), lic.clone(), json!("reported as spam")),
            (json!("QUARANTINED"), json!("AVAILABLE"), Value::Null, Value::Null),
            (json!("AVAILABLE"), json!("ALLOCATED"), lic.clone(), Value::Null),
            (json!("ALLOCATED"), json!("AVAILABLE"), lic, Value::Null),
        ]
    );
    assert!(resource["history"].as_array().unwrap().iter().all(|m| m["actorName"] == "test Admin"));
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_log WHERE action IN ('resource.released', 'resource.quarantined')")
            .await,
        3
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_allocations_on_two_instances_never_share_a_resource_nor_fail_while_enough_are_free(pool: PgPool) {
    let (one, two) = (spawn_app(&pool).await, spawn_app(&pool).await);
    let admin = one.key(Scope::Admin).await;
    let mut licenses = Vec::new();
    for _ in 0..10 {
        licenses.push(one.create_license(&admin, 1, 1).await.0);
    }
    for round in 0..6 {
        // Earlier rounds' resources leave circulation, so that exactly 20 are free.
        sqlx::query(
            "UPDATE resource_pools SET state = 'quarantined', license_id = NULL, quarantine_reason = 'old round'",
        )
        .execute(&pool)
        .await
        .unwrap();
        // 20 free, ten licenses ask for 3 each at once: exactly six can be served, and must be.
        let values: Vec<String> = (0..20).map(|i| format!("10.{round}.0.{i}")).collect();
        import(&one, &admin, "IPV4", json!(values)).await;
        let results = join_all(licenses.iter().enumerate().map(|(i, license)| {
            let app = if i % 2 == 0 { &one } else { &two };
            allocate(app, &admin, license, "IPV4", 3)
        }))
        .await;
        let granted: Vec<&Value> = results.iter().filter(|r| r["__typename"] == "ResourcesAllocated").collect();
        assert_eq!(granted.len(), 6, "round {round}: {results:?}");
        assert!(results
            .iter()
            .filter(|r| r["__typename"] == "AllocationDenied")
            .all(|d| d["available"].as_i64() < Some(3)));
        let ids: std::collections::HashSet<&str> = granted
            .iter()
            .flat_map(|g| g["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()))
            .collect();
        assert_eq!(ids.len(), 18, "round {round}: no resource went to two licenses");
        let per_license: Vec<i64> =
            sqlx::query_scalar("SELECT count(*) FROM resource_pools WHERE state = 'allocated' GROUP BY license_id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(per_license, vec![3; 6], "round {round}: all or nothing per license");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn analysts_read_the_pools_but_cannot_change_them(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let (license, _) = app.create_license(&admin, 1, 1).await;
    import(&app, &admin, "DOMAIN", json!(["a.example", "b.example"])).await;
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM resource_pools WHERE value = 'a.example'").fetch_one(&pool).await.unwrap();

    for (query, variables) in [
        (IMPORT, json!({"t": "DOMAIN", "v": ["c.example"]})),
        (ALLOCATE, json!({"l": license, "t": "DOMAIN", "n": 1})),
        ("mutation($id: ID!) { releaseResource(id: $id) { id } }", json!({"id": id})),
        ("mutation($id: ID!) { quarantineResource(id: $id, reason: \"x\") { id } }", json!({"id": id})),
    ] {
        let reply = app.gql(&analyst, query, variables).await;
        assert_eq!(reply.error_code(), "FORBIDDEN", "{query}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM resource_pools WHERE state <> 'available'").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM resource_pools").await, 2);

    assert_eq!(pool_counts(&app, &analyst, "DOMAIN").await, [2, 0, 0, 2]);
    let list = app
        .gql(
            &analyst,
            "{ resources(resourceType: DOMAIN, first: 1) { totalCount edges { node { value state } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list.data("resources")["totalCount"], 2);
    assert_eq!(list.data("resources")["edges"][0]["node"], json!({"value": "a.example", "state": "AVAILABLE"}));
}

#[sqlx::test(migrations = "../migrations")]
async fn an_allocation_waits_for_rows_an_unfinished_request_holds_instead_of_failing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let (license, _) = app.create_license(&admin, 1, 1).await;
    import(&app, &admin, "IPV4", json!(["192.0.2.1", "192.0.2.2", "192.0.2.3"])).await;

    // Another request holds every free row (as one that will come up short and roll back does).
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM resource_pools WHERE state = 'available' FOR UPDATE")
        .execute(&mut *other)
        .await
        .unwrap();

    let (result, ()) = tokio::join!(allocate(&app, &admin, &license, "IPV4", 3), async {
        let waiting = eventually(Duration::from_secs(10), || async {
            count(
                &pool,
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%resource_pools%'",
            )
            .await
                > 0
        })
        .await;
        assert!(waiting, "the allocation waits for the held rows");
        other.rollback().await.unwrap();
    });
    assert_eq!(result["__typename"], "ResourcesAllocated", "{result}");
    assert_eq!(result["resources"].as_array().unwrap().len(), 3);
}
