//! Ad-hoc querying: cursor connections with `filter` (equality, `in`, contains, ranges, `and` /
//! `or`) and `orderBy`, built safely whatever the input.

use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{count, spawn_app, TestApp};

const LICENSES: &str = "query($s: String, $f: LicenseFilter, $o: [LicenseOrder!], $first: Int, $after: String, $last: Int, $before: String) {
    licenses(search: $s, filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { notes } } } }";

/// Four licenses of two customers, each labelled by its notes.
async fn fixture(app: &TestApp, admin: &str) {
    let alpha = app.create_customer(admin, "it@alpha.example").await;
    let beta = app.create_customer(admin, "it@beta.example").await;
    for (id, name) in [(&alpha, "Alpha GmbH"), (&beta, "Beta AG")] {
        app.gql(
            admin,
            "mutation($id: ID!, $n: String!) { updateCustomer(id: $id, input: {name: $n}) { id } }",
            json!({"id": id, "n": name}),
        )
        .await
        .data("updateCustomer");
    }
    let licenses = [
        json!({"customerId": alpha, "notes": "A1", "licenseType": "TRIAL", "deviceLimit": 2, "concurrentSessionsLimit": 1, "validUntil": "2030-01-01T00:00:00Z"}),
        json!({"customerId": alpha, "notes": "A2", "licenseType": "SUBSCRIPTION", "deviceLimit": 5, "concurrentSessionsLimit": 3}),
        json!({"customerId": beta, "notes": "B1", "licenseType": "PERPETUAL", "deviceLimit": 10, "concurrentSessionsLimit": 10}),
        json!({"customerId": beta, "notes": "B2", "licenseType": "SUBSCRIPTION", "deviceLimit": 3, "concurrentSessionsLimit": 2}),
    ];
    for input in licenses {
        let (id, _) = app.create_license_for(admin, input.clone()).await;
        if input["notes"] == "B2" {
            app.gql(admin, "mutation($id: ID!) { deactivateLicense(id: $id) { id } }", json!({"id": id}))
                .await
                .data("deactivateLicense");
        }
    }
}

/// `(totalCount, notes of the page in order)`.
async fn licenses(app: &TestApp, key: &str, variables: Value) -> (i64, Vec<String>) {
    let reply = app.gql(key, LICENSES, variables).await;
    let connection = reply.data("licenses");
    let notes = connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["notes"].as_str().unwrap().to_owned())
        .collect();
    (connection["totalCount"].as_i64().unwrap(), notes)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[sqlx::test(migrations = "../migrations")]
async fn license_filters_combine_equality_membership_text_ranges_and_or(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    fixture(&app, &admin).await;
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();

    let cases = [
        (json!({"licenseType": {"in": ["TRIAL", "PERPETUAL"]}}), vec!["A1", "B1"]),
        (json!({"licenseType": {"eq": "SUBSCRIPTION"}, "isActive": true}), vec!["A2"]),
        (json!({"customerName": {"contains": "alp"}, "deviceLimit": {"gte": 3}}), vec!["A2"]),
        (json!({"deviceLimit": {"gt": 2, "lte": 5}}), vec!["A2", "B2"]),
        (json!({"or": [{"deviceLimit": {"lt": 3}}, {"isActive": false}]}), vec!["A1", "B2"]),
        (json!({"validUntil": {"isNull": false}}), vec!["A1"]),
        (json!({"validUntil": {"lt": "2031-01-01T00:00:00Z"}}), vec!["A1"]),
        (
            json!({"createdAt": {"gte": hour_ago}, "and": [{"concurrentSessionsLimit": {"in": [2, 3]}}]}),
            vec!["A2", "B2"],
        ),
        (
            json!({"or": [{"and": [{"customerEmail": {"eq": "it@beta.example"}}, {"isActive": true}]}, {"notes": {"eq": "A1"}}]}),
            vec!["A1", "B1"],
        ),
        (json!({"notes": {"ne": "A1"}, "licenseKey": {"contains": "-"}}), vec!["A2", "B1", "B2"]),
        (json!({"createdAt": {"lt": hour_ago}}), vec![]),
    ];
    for (filter, expected) in cases {
        let (total, notes) = licenses(&app, &analyst, json!({"f": filter})).await;
        assert_eq!(sorted(notes), expected, "{filter}");
        assert_eq!(total, expected.len() as i64, "{filter}");
    }

    // The dashboard's `search` keeps working, alone and with a filter.
    assert_eq!(sorted(licenses(&app, &analyst, json!({"s": "beta"})).await.1), ["B1", "B2"]);
    assert_eq!(licenses(&app, &analyst, json!({"s": "beta", "f": {"isActive": true}})).await.1, ["B1"]);
    let by_customer = app
        .gql(
            &analyst,
            "query($c: ID!) { licenses(customerId: $c, isActive: true) { totalCount } }",
            json!({"c": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(by_customer.data("licenses")["totalCount"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn licenses_are_ordered_as_asked_and_paged_forwards_and_backwards(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    fixture(&app, &admin).await;

    let order = json!([{"field": "DEVICE_LIMIT", "direction": "DESC"}]);
    assert_eq!(licenses(&app, &admin, json!({"o": order})).await.1, ["B1", "A2", "B2", "A1"]);
    let by_customer_then_limit =
        json!([{"field": "CUSTOMER_NAME"}, {"field": "CONCURRENT_SESSIONS_LIMIT", "direction": "DESC"}]);
    assert_eq!(licenses(&app, &admin, json!({"o": by_customer_then_limit})).await.1, ["A2", "A1", "B1", "B2"]);

    let page = app.gql(&admin, LICENSES, json!({"o": order, "first": 2})).await;
    let connection = page.data("licenses");
    assert_eq!(connection["totalCount"], 4);
    assert_eq!(connection["pageInfo"]["hasNextPage"], true);
    assert_eq!(connection["pageInfo"]["hasPreviousPage"], false);
    let end = connection["pageInfo"]["endCursor"].as_str().unwrap();
    assert_eq!(licenses(&app, &admin, json!({"o": order, "first": 2, "after": end})).await.1, ["B2", "A1"]);
    assert_eq!(licenses(&app, &admin, json!({"o": order, "last": 1, "before": end})).await.1, ["B1"]);
    assert_eq!(licenses(&app, &admin, json!({"o": order, "last": 3})).await.1, ["A2", "B2", "A1"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_filters_are_refused_naming_the_input_and_values_never_become_sql(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    fixture(&app, &admin).await;

    let cases = [
        (json!({"f": {"customerId": {"eq": "nope"}}}), "filter.customerId"),
        (json!({"f": {"or": [{"isActive": true}, {"id": {"in": ["x"]}}]}}), "filter.or.1.id"),
        (json!({"f": {"licenseKey": {"in": vec!["K"; 1001]}}}), "filter.licenseKey"),
        (json!({"first": 101}), "first"),
        (
            json!({"o": [{"field": "DEVICE_LIMIT"}, {"field": "LICENSE_KEY"}, {"field": "CREATED_AT"}, {"field": "VALID_FROM"}]}),
            "orderBy",
        ),
    ];
    for (variables, field) in cases {
        let reply = app.gql(&admin, LICENSES, variables.clone()).await;
        assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", field), "{variables}");
    }
    let unknown = app.gql(&admin, LICENSES, json!({"o": [{"field": "license_key; DROP TABLE licenses"}]})).await;
    assert!(unknown.body["errors"].is_array(), "only the listed order fields exist");

    for hostile in ["'; DROP TABLE licenses; --", "%", "_", "\\"] {
        let (total, _) = licenses(&app, &admin, json!({"f": {"notes": {"contains": hostile}}})).await;
        assert_eq!(total, 0, "{hostile} is matched literally");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM licenses").await, 4);
}

/// `(totalCount, the values of `field` on the page)` of any list.
async fn list_values(app: &TestApp, key: &str, query: &str, list: &str, field: &str) -> (i64, Vec<String>) {
    let reply = app.gql(key, query, json!({})).await;
    let connection = reply.data(list);
    let values =
        connection["edges"].as_array().unwrap().iter().map(|e| e["node"][field].as_str().unwrap().to_owned()).collect();
    (connection["totalCount"].as_i64().unwrap(), values)
}

#[sqlx::test(migrations = "../migrations")]
async fn customers_sessions_resources_and_institutions_take_filters_and_orders_too(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);

    for (name, email, is_test) in
        [("Zeta", "z@example.com", false), ("Eta", "e@test.example", true), ("Theta", "t@example.com", false)]
    {
        app.gql(
            &admin,
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
            json!({"i": {"name": name, "email": email, "isTest": is_test}}),
        )
        .await
        .data("createCustomer");
    }
    let customers = "{ customers(filter: {isTest: false, or: [{email: {contains: \"example.com\"}}]}, orderBy: [{field: NAME, direction: DESC}]) { totalCount edges { node { name } } } }";
    assert_eq!(
        list_values(&app, &analyst, customers, "customers", "name").await,
        (2, vec!["Zeta".into(), "Theta".into()])
    );

    let (_, key) = app.create_license(&admin, 3, 3).await;
    let first = app.session(&client, &key, "d1").await;
    app.end_session(&client, &first).await;
    app.session(&client, &key, "d2").await;
    let live: String = sqlx::query_scalar("SELECT id::text FROM license_sessions").fetch_one(&pool).await.unwrap();
    app.gql(&admin, "mutation($id: ID!) { terminateSession(id: $id) { id } }", json!({"id": live}))
        .await
        .data("terminateSession");
    let sessions = "{ sessionHistory(filter: {endReason: {in: [ADMIN_TERMINATED]}, endedAt: {gte: \"2020-01-01T00:00:00Z\"}}) { totalCount edges { node { endReason } } } }";
    assert_eq!(
        list_values(&app, &analyst, sessions, "sessionHistory", "endReason").await,
        (1, vec!["ADMIN_TERMINATED".into()])
    );
    let ordered = "{ sessionHistory(orderBy: [{field: STARTED_AT}]) { totalCount edges { node { endReason } } } }";
    assert_eq!(
        list_values(&app, &analyst, ordered, "sessionHistory", "endReason").await,
        (2, vec!["CLIENT_ENDED".into(), "ADMIN_TERMINATED".into()])
    );

    app.gql(&admin, "mutation { importResources(type: DOMAIN, values: [\"a.example\", \"b.example\", \"c.example.org\"]) { added } }", json!({}))
        .await
        .data("importResources");
    let resources = "{ resources(filter: {state: {in: [AVAILABLE]}, value: {contains: \".example\"}, resourceType: {eq: DOMAIN}}, orderBy: [{field: VALUE, direction: DESC}]) { totalCount edges { node { value } } } }";
    assert_eq!(
        list_values(&app, &analyst, resources, "resources", "value").await,
        (3, vec!["c.example.org".into(), "b.example".into(), "a.example".into()])
    );

    for name in ["Lead One", "Lead Two"] {
        app.gql(&admin, "mutation($n: String!) { createInstitution(input: {name: $n}) { id } }", json!({"n": name}))
            .await
            .data("createInstitution");
    }
    let leads = "{ institutions(filter: {customerId: {isNull: true}, name: {in: [\"Lead Two\", \"Nobody\"]}}) { totalCount edges { node { name } } } }";
    assert_eq!(list_values(&app, &analyst, leads, "institutions", "name").await, (1, vec!["Lead Two".into()]));
}

/// The hardware fingerprints on a page of `devices`, or of the devices of a page of `liveSessions`.
async fn fingerprints(app: &TestApp, key: &str, query: &str, list: &str) -> (i64, Vec<String>, Value) {
    let reply = app.gql(key, query, json!({})).await;
    let connection = reply.data(list).clone();
    let values = connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let device = if list == "devices" { n } else { &n["device"] };
            device["hardwareFingerprint"].as_str().unwrap().to_owned()
        })
        .collect();
    (connection["totalCount"].as_i64().unwrap(), values, connection["pageInfo"].clone())
}

#[sqlx::test(migrations = "../migrations")]
async fn devices_and_live_sessions_are_connections_with_filters_and_orders(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let (first_license, first_key) = app.create_license(&admin, 4, 4).await;
    let (second_license, second_key) = app.create_license(&admin, 2, 2).await;
    let first_customer: String = sqlx::query_scalar("SELECT customer_id::text FROM licenses WHERE id = $1::uuid")
        .bind(&first_license)
        .fetch_one(&pool)
        .await
        .unwrap();
    for fingerprint in ["fp-a1", "fp-a2", "fp-a3"] {
        app.session(&client, &first_key, fingerprint).await;
    }
    app.session(&client, &second_key, "fp-b1").await;
    let device = |fingerprint: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT id::text FROM device_registrations WHERE hardware_fingerprint = $1")
                .bind(fingerprint)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    app.gql(&admin, "mutation($id: ID!) { deactivateDevice(id: $id) { id } }", json!({"id": device("fp-a2").await}))
        .await
        .data("deactivateDevice");
    // fp-b1 was activated two days ago and its session went silent ten minutes ago: not live any more.
    sqlx::query(
        "UPDATE device_registrations SET first_activated_at = now() - interval '2 days',
             last_seen_at = now() - interval '2 days' WHERE hardware_fingerprint = 'fp-b1'",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE license_sessions SET started_at = now() - interval '2 days', last_heartbeat_at = now() - interval '10 minutes'
         WHERE license_id = $1::uuid",
    )
    .bind(&second_license)
    .execute(&pool)
    .await
    .unwrap();

    let devices = |args: &str| {
        format!("{{ devices({args}) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ hardwareFingerprint }} }} }}")
    };
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (total, page, _) = fingerprints(
        &app,
        &analyst,
        &devices("filter: {isActive: true}, orderBy: [{field: FIRST_ACTIVATED_AT}]"),
        "devices",
    )
    .await;
    assert_eq!((total, page), (3, names(&["fp-b1", "fp-a1", "fp-a3"])));
    let customer_filter = format!("filter: {{customerId: {{eq: \"{first_customer}\"}}}}, orderBy: [{{field: DEVICE_NAME, direction: DESC}}, {{field: FIRST_ACTIVATED_AT}}]");
    let (total, _, _) = fingerprints(&app, &analyst, &devices(&customer_filter), "devices").await;
    assert_eq!(total, 3, "the first customer's license has three devices, one deactivated");
    let (total, page, _) = fingerprints(&app, &analyst, &devices("search: \"B1\""), "devices").await;
    assert_eq!((total, page), (1, names(&["fp-b1"])));
    let either = format!(
        "filter: {{or: [{{hardwareFingerprint: {{eq: \"fp-a2\"}}}}, {{licenseId: {{eq: \"{second_license}\"}}}}]}}, orderBy: [{{field: FIRST_ACTIVATED_AT, direction: DESC}}]"
    );
    let (total, page, _) = fingerprints(&app, &analyst, &devices(&either), "devices").await;
    assert_eq!((total, page), (2, names(&["fp-a2", "fp-b1"])));
    // Last seen folds in the latest heartbeat: ten minutes ago for fp-b1, now for the others.
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let (total, page, _) =
        fingerprints(&app, &analyst, &devices(&format!("filter: {{lastSeenAt: {{lt: \"{since}\"}}}}")), "devices")
            .await;
    assert_eq!((total, page), (1, names(&["fp-b1"])));
    let (total, first_page, info) =
        fingerprints(&app, &analyst, &devices("first: 3, orderBy: [{field: FIRST_ACTIVATED_AT}]"), "devices").await;
    assert_eq!((total, first_page.len(), &info["hasNextPage"]), (4, 3, &json!(true)));
    let after = format!("first: 3, after: {}, orderBy: [{{field: FIRST_ACTIVATED_AT}}]", info["endCursor"]);
    let (_, rest, info) = fingerprints(&app, &analyst, &devices(&after), "devices").await;
    assert_eq!((rest, &info["hasNextPage"]), (names(&["fp-a3"]), &json!(false)));

    let live = |args: &str| {
        format!("{{ liveSessions({args}) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ device {{ hardwareFingerprint }} }} }} }}")
    };
    let (total, page, _) =
        fingerprints(&app, &analyst, &live("orderBy: [{field: STARTED_AT, direction: DESC}]"), "liveSessions").await;
    assert_eq!((total, page), (2, names(&["fp-a3", "fp-a1"])), "ended and silent sessions are not live");
    let (total, page, _) =
        fingerprints(&app, &analyst, &live(&format!("licenseId: \"{second_license}\"")), "liveSessions").await;
    assert_eq!((total, page), (0, vec![]));
    let one_device = format!("filter: {{deviceId: {{in: [\"{}\"]}}}}", device("fp-a3").await);
    let (total, page, _) = fingerprints(&app, &analyst, &live(&one_device), "liveSessions").await;
    assert_eq!((total, page), (1, names(&["fp-a3"])));
    let (total, page, info) = fingerprints(&app, &analyst, &live("first: 1"), "liveSessions").await;
    assert_eq!((total, page, &info["hasNextPage"]), (2, names(&["fp-a1"]), &json!(true)));
    let refused = app.gql(&analyst, &live("first: 101"), json!({})).await;
    assert_eq!(refused.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{}", refused.body);
}
