//! Devices and ended sessions across licenses, as the dashboard's /devices and /history pages ask
//! for them: found by license key, device name or fingerprint, each with its license.

use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{spawn_app, Reply, TestApp};

const DEVICES: &str = "query($s: String, $f: DeviceFilter) {
    devices(search: $s, filter: $f, orderBy: [{field: DEVICE_NAME}]) {
        totalCount nodes { hardwareFingerprint deviceName isActive license { id licenseKey } } } }";

const HISTORY: &str = "query($f: EndedSessionFilter) {
    sessionHistory(filter: $f) {
        totalCount nodes { endReason device { hardwareFingerprint } license { licenseKey } } } }";

/// Two licenses: `fp-one` and `fp-two` on the first, `fp-three` on the second, all active.
/// Returns the two keys and the id of `fp-two`.
async fn fixture(app: &TestApp, admin: &str, client: &str) -> (String, String, String) {
    let (_, first) = app.create_license(admin, 3, 3).await;
    let (_, second) = app.create_license(admin, 3, 3).await;
    app.session(client, &first, "fp-one").await;
    let two = app.activate(client, &first, "fp-two").await;
    app.session(client, &second, "fp-three").await;
    (first, second, two["deviceId"].as_str().unwrap().to_owned())
}

/// `(fingerprint, license key)` of each node of a `devices` reply, and the total.
fn devices_of(reply: &Reply) -> (i64, Vec<(String, String)>) {
    let connection = reply.data("devices");
    let nodes = connection["nodes"].as_array().unwrap();
    let pairs = nodes
        .iter()
        .map(|d| {
            (
                d["hardwareFingerprint"].as_str().unwrap().to_owned(),
                d["license"]["licenseKey"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (connection["totalCount"].as_i64().unwrap(), pairs)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn devices_are_found_by_part_of_their_license_key_or_the_whole_key_as_a_person_types_it(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let client = app.key(Scope::Client).await;
    let (first, second, _) = fixture(&app, &admin, &client).await;

    // The middle groups of a key: part of it, as someone reads it off an invoice.
    let part = &first[6..17];
    let reply = app.gql(&analyst, DEVICES, json!({"s": part})).await;
    assert_eq!(devices_of(&reply), (2, pairs(&[("fp-one", &first), ("fp-two", &first)])));

    // The whole key typed in lower case without hyphens is still that license's key.
    let typed = first.replace('-', "").to_lowercase();
    let reply = app.gql(&analyst, DEVICES, json!({"s": typed})).await;
    assert_eq!(devices_of(&reply), (2, pairs(&[("fp-one", &first), ("fp-two", &first)])));

    // Fingerprint and name still match, each device with its own license.
    let reply = app.gql(&analyst, DEVICES, json!({"s": "FP-THREE"})).await;
    assert_eq!(devices_of(&reply), (1, pairs(&[("fp-three", &second)])));
    let reply = app.gql(&analyst, DEVICES, json!({"s": "Device fp-t"})).await;
    assert_eq!(devices_of(&reply), (2, pairs(&[("fp-three", &second), ("fp-two", &first)])));

    // The key as a filter, combined with the others.
    let reply = app.gql(&analyst, DEVICES, json!({"f": {"licenseKey": {"eq": second}}})).await;
    assert_eq!(devices_of(&reply), (1, pairs(&[("fp-three", &second)])));
    let reply =
        app.gql(&analyst, DEVICES, json!({"s": "fp-", "f": {"licenseKey": {"ne": second}, "isActive": true}})).await;
    assert_eq!(devices_of(&reply).0, 2);

    // Wildcards typed into the search are taken literally.
    let reply = app.gql(&analyst, DEVICES, json!({"s": "%"})).await;
    assert_eq!(devices_of(&reply).0, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_session_history_across_licenses_filters_by_license_key_device_end_reason_and_time(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let client = app.key(Scope::Client).await;
    let before = chrono::Utc::now();
    let (first, second, two) = fixture(&app, &admin, &client).await;
    // fp-one and fp-three end their sessions; an admin deactivates fp-two, which ends its session.
    for (key, fingerprint) in [(&first, "fp-one"), (&second, "fp-three")] {
        let token = app.session(&client, key, fingerprint).await;
        assert_eq!(app.end_session(&client, &token).await["__typename"], "SessionEnded");
    }
    app.gql(&admin, "mutation($id: ID!) { deactivateDevice(id: $id) { id } }", json!({"id": two}))
        .await
        .data("deactivateDevice");

    let history = |filter: Value| {
        let (app, analyst) = (&app, &analyst);
        async move {
            let reply = app.gql(analyst, HISTORY, json!({"f": filter})).await;
            let connection = reply.data("sessionHistory").clone();
            let nodes = connection["nodes"].as_array().unwrap().clone();
            let rows: Vec<(String, String, String)> = nodes
                .iter()
                .map(|s| {
                    (
                        s["device"]["hardwareFingerprint"].as_str().unwrap().to_owned(),
                        s["license"]["licenseKey"].as_str().unwrap().to_owned(),
                        s["endReason"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (connection["totalCount"].as_i64().unwrap(), rows)
        }
    };
    let row = |fp: &str, key: &str, reason: &str| (fp.to_owned(), key.to_owned(), reason.to_owned());

    // Newest ended first, across licenses.
    let (total, rows) = history(json!(null)).await;
    assert_eq!(total, 3);
    assert_eq!(
        rows,
        vec![
            row("fp-two", &first, "DEVICE_DEACTIVATED"),
            row("fp-three", &second, "CLIENT_ENDED"),
            row("fp-one", &first, "CLIENT_ENDED"),
        ]
    );

    let (total, rows) = history(json!({"licenseKey": {"eq": first}})).await;
    assert_eq!((total, rows[1].clone()), (2, row("fp-one", &first, "CLIENT_ENDED")));
    let (total, rows) = history(
        json!({"licenseKey": {"contains": &first[..5].to_lowercase()}, "endReason": {"eq": "DEVICE_DEACTIVATED"}}),
    )
    .await;
    assert_eq!((total, rows), (1, vec![row("fp-two", &first, "DEVICE_DEACTIVATED")]));
    let either = json!({"or": [{"deviceName": {"contains": "three"}}, {"hardwareFingerprint": {"contains": "three"}}]});
    assert_eq!(history(either).await, (1, vec![row("fp-three", &second, "CLIENT_ENDED")]));
    let (total, _) = history(json!({"hardwareFingerprint": {"in": ["fp-one", "fp-two"]}})).await;
    assert_eq!(total, 2);

    // The time range: everything ended after the fixture began, nothing ends in the future.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    assert_eq!(history(json!({"endedAt": {"gte": before.to_rfc3339(), "lt": later}})).await.0, 3);
    assert_eq!(history(json!({"endedAt": {"gte": later}})).await.0, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn devices_and_history_are_read_by_analysts_and_admins_only_and_bad_filters_are_refused(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let client = app.key(Scope::Client).await;
    let (first, _, two) = fixture(&app, &admin, &client).await;

    for key in [&admin, &analyst] {
        assert_eq!(devices_of(&app.gql(key, DEVICES, json!({"s": first})).await).0, 2);
        let reply = app.gql(key, HISTORY, json!({})).await;
        assert_eq!(reply.data("sessionHistory")["totalCount"], 0);
    }
    // The public client key reads neither devices nor sessions, nor a license through them.
    for query in [DEVICES, HISTORY] {
        let reply = app.gql(&client, query, json!({})).await;
        assert_eq!(reply.error_code(), "FORBIDDEN", "{}", reply.body);
        assert!(reply.body["data"].is_null(), "{}", reply.body);
    }
    // Analysts read; only admins deactivate, and the refusal changes nothing.
    let deactivate = "mutation($id: ID!) { deactivateDevice(id: $id) { isActive } }";
    let reply = app.gql(&analyst, deactivate, json!({"id": two})).await;
    assert_eq!(reply.error_code(), "FORBIDDEN");
    let active: bool = sqlx::query_scalar("SELECT is_active FROM device_registrations WHERE id = $1::uuid")
        .bind(&two)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(active);

    // Bad filters are the caller's error, never the server's.
    let too_many: Vec<String> = (0..1001).map(|i| format!("K{i}")).collect();
    let reply = app.gql(&analyst, HISTORY, json!({"f": {"licenseKey": {"in": too_many}}})).await;
    assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", "filter.licenseKey"));
    let reply = app.gql(&analyst, DEVICES, json!({"f": {"or": [{"licenseKey": {"in": too_many}}]}})).await;
    assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", "filter.or.0.licenseKey"));
    let reply = app.gql(&analyst, HISTORY, json!({"f": {"deviceName": {"contains": "\u{0}"}}})).await;
    assert_eq!(reply.error_code(), "BAD_USER_INPUT");
}
