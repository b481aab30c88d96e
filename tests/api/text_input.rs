//! Text PostgreSQL would refuse (the NUL character) is a typed input error, wherever it is sent,
//! and changes nothing.

use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{count, spawn_app};

#[sqlx::test(migrations = "../migrations")]
async fn a_nul_character_in_any_text_is_bad_user_input_naming_where_it_was(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 2, 2).await;
    let keys_before = count(&pool, "SELECT count(*) FROM api_keys").await;
    let audit_before = count(&pool, "SELECT count(*) FROM audit_log").await;

    let cases = [
        (
            &admin,
            "mutation($input: InstitutionInput!) { createInstitution(input: $input) { id } }",
            json!({"input": {"name": "Lab\u{0}oratory"}}),
            "input.name",
        ),
        (&admin, r#"mutation { createInstitution(input: {name: "Lab\u0000"}) { id } }"#, json!({}), "input.name"),
        (
            &admin,
            "mutation($n: String!) { generateApiKey(name: $n, scope: CLIENT) { key } }",
            json!({"n": "ci\u{0}"}),
            "n",
        ),
        (
            &admin,
            "query($c: String) { licenses(filter: {licenseKey: {contains: $c}}) { totalCount } }",
            json!({"c": "\u{0}"}),
            "c",
        ),
        (
            &admin,
            "query($c: [String!]) { licenses(filter: {licenseKey: {in: $c}}) { totalCount } }",
            json!({"c": ["ok", "\u{0}"]}),
            "c.1",
        ),
        (
            &client,
            "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }",
            json!({"i": {"licenseKey": license_key, "hardwareFingerprint": "pc\u{0}"}}),
            "i.hardwareFingerprint",
        ),
    ];
    for (key, query, variables, field) in cases {
        let reply = app.gql(key, query, variables.clone()).await;
        assert_eq!(reply.error_code(), "BAD_USER_INPUT", "{query} {variables}: {}", reply.body);
        assert_eq!(reply.error_field(), field, "{query}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM institutions").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM api_keys").await, keys_before);
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log").await, audit_before, "nothing changed");

    // The same text without the NUL goes through.
    let fine = app
        .gql(
            &admin,
            "mutation($input: InstitutionInput!) { createInstitution(input: $input) { id } }",
            json!({"input": {"name": "Laboratory"}}),
        )
        .await;
    assert!(fine.data("createInstitution")["id"].is_string());
}
