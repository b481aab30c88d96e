//! A license's terms beyond its limits (features, offline grace, device releases) and license
//! templates: set and changed by admins only, refused with the field named when bad (and then
//! nothing changes), audited, and filled into new licenses from a template.

use license_server::auth::Scope;
use license_server::error::Error;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{count, spawn_app, TestApp};

const TERMS: &str = "id licenseType deviceLimit concurrentSessionsLimit validFrom validUntil features offlineGraceSeconds maxDeviceReleases notes updatedAt";
const TEMPLATE: &str = "id name licenseType deviceLimit concurrentSessionsLimit durationDays features offlineGraceSeconds maxDeviceReleases createdAt updatedAt";

async fn create_license(app: &TestApp, key: &str, input: Value) -> crate::helpers::Reply {
    app.gql(
        key,
        &format!("mutation($i: CreateLicenseInput!) {{ createLicense(input: $i) {{ {TERMS} }} }}"),
        json!({"i": input}),
    )
    .await
}

async fn update_license(app: &TestApp, key: &str, id: &str, input: Value) -> crate::helpers::Reply {
    app.gql(
        key,
        &format!("mutation($id: ID!, $i: UpdateLicenseInput!) {{ updateLicense(id: $id, input: $i) {{ {TERMS} }} }}"),
        json!({"id": id, "i": input}),
    )
    .await
}

async fn create_template(app: &TestApp, key: &str, input: Value) -> crate::helpers::Reply {
    app.gql(
        key,
        &format!("mutation($i: CreateLicenseTemplateInput!) {{ createLicenseTemplate(input: $i) {{ {TEMPLATE} }} }}"),
        json!({"i": input}),
    )
    .await
}

async fn update_template(app: &TestApp, key: &str, id: &str, input: Value) -> crate::helpers::Reply {
    app.gql(
        key,
        &format!(
            "mutation($id: ID!, $i: UpdateLicenseTemplateInput!) {{ updateLicenseTemplate(id: $id, input: $i) {{ {TEMPLATE} }} }}"
        ),
        json!({"id": id, "i": input}),
    )
    .await
}

async fn license_row(pool: &PgPool, id: &str) -> String {
    sqlx::query_scalar("SELECT row_to_json(l)::text FROM licenses l WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The old and new values of the audit rows with this action, oldest first.
async fn audited(pool: &PgPool, action: &str) -> Vec<(Option<Value>, Option<Value>)> {
    sqlx::query_as("SELECT old_values, new_values FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(pool)
        .await
        .unwrap()
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn features_grace_and_releases_are_set_on_create_changed_on_update_and_audited(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let customer = app.create_customer(&admin, "terms@example.com").await;

    let plain =
        create_license(&app, &admin, json!({"customerId": customer, "deviceLimit": 2, "concurrentSessionsLimit": 1}))
            .await;
    let plain = plain.data("createLicense");
    assert_eq!(
        (&plain["features"], &plain["offlineGraceSeconds"], &plain["maxDeviceReleases"]),
        (&json!([]), &json!(0), &json!(3))
    );
    assert_eq!(plain["licenseType"], "SUBSCRIPTION");
    assert!(plain["validUntil"].is_null());

    let created = create_license(
        &app,
        &admin,
        json!({"customerId": customer, "deviceLimit": 2, "concurrentSessionsLimit": 1,
               "features": [" Pro ", "export.pdf", "PRO", "module:reports"], "offlineGraceSeconds": 3600, "maxDeviceReleases": 5}),
    )
    .await;
    let created = created.data("createLicense").clone();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["features"], json!(["pro", "export.pdf", "module:reports"]), "trimmed, lower-cased, once each");
    assert_eq!((created["offlineGraceSeconds"].as_i64(), created["maxDeviceReleases"].as_i64()), (Some(3600), Some(5)));

    let read = app
        .gql(
            &analyst,
            "query($id: ID!) { license(id: $id) { features offlineGraceSeconds maxDeviceReleases } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        read.data("license"),
        &json!({"features": ["pro", "export.pdf", "module:reports"], "offlineGraceSeconds": 3600, "maxDeviceReleases": 5})
    );

    let updated = update_license(&app, &admin, id, json!({"features": ["reports"], "offlineGraceSeconds": 0})).await;
    let updated = updated.data("updateLicense");
    assert_eq!(updated["features"], json!(["reports"]));
    assert_eq!(updated["offlineGraceSeconds"], 0);
    assert_eq!(updated["maxDeviceReleases"], 5, "left out: unchanged");
    assert_eq!(updated["deviceLimit"], 2);

    let cleared = update_license(&app, &admin, id, json!({"features": [], "maxDeviceReleases": 0})).await;
    let cleared = cleared.data("updateLicense");
    assert_eq!((&cleared["features"], &cleared["maxDeviceReleases"]), (&json!([]), &json!(0)));
    assert_eq!(cleared["offlineGraceSeconds"], 0);

    let updates = audited(&pool, "license.updated").await;
    assert_eq!(updates.len(), 2);
    let (old, new) = (updates[0].0.as_ref().unwrap(), updates[0].1.as_ref().unwrap());
    assert_eq!(
        (&old["features"], &new["features"]),
        (&json!(["pro", "export.pdf", "module:reports"]), &json!(["reports"]))
    );
    assert_eq!((&old["offlineGraceSeconds"], &new["offlineGraceSeconds"]), (&json!(3600), &json!(0)));
    let (old, new) = (updates[1].0.as_ref().unwrap(), updates[1].1.as_ref().unwrap());
    assert_eq!((&old["maxDeviceReleases"], &new["maxDeviceReleases"]), (&json!(5), &json!(0)));
    let creation = audited(&pool, "license.created").await;
    assert_eq!(creation[1].1.as_ref().unwrap()["features"], json!(["pro", "export.pdf", "module:reports"]));
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_terms_are_refused_naming_the_field_and_change_nothing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let customer = app.create_customer(&admin, "bad@example.com").await;
    let (id, _) = app
        .create_license_for(
            &admin,
            json!({"customerId": customer, "deviceLimit": 2, "concurrentSessionsLimit": 1, "features": ["pro"]}),
        )
        .await;
    let before = license_row(&pool, &id).await;
    let too_many: Vec<String> = (0..65).map(|i| format!("f{i}")).collect();
    let bad: Vec<(Value, &str)> = vec![
        (json!({"features": ["-pro"]}), "features"),
        (json!({"features": ["pro plus"]}), "features"),
        (json!({"features": [""]}), "features"),
        (json!({"features": ["prö"]}), "features"),
        (json!({"features": ["a".repeat(65)]}), "features"),
        (json!({"features": too_many}), "features"),
        (json!({"offlineGraceSeconds": -1}), "offlineGraceSeconds"),
        (json!({"offlineGraceSeconds": 2_592_001}), "offlineGraceSeconds"),
        (json!({"maxDeviceReleases": -1}), "maxDeviceReleases"),
        (json!({"maxDeviceReleases": 1001}), "maxDeviceReleases"),
    ];
    for (input, field) in &bad {
        let reply = update_license(&app, &admin, &id, input.clone()).await;
        assert_eq!(
            (reply.error_code(), reply.error_field()),
            ("BAD_USER_INPUT", *field),
            "update {input}: {}",
            reply.body
        );

        let mut create = input.clone();
        create["customerId"] = json!(customer);
        create["deviceLimit"] = json!(1);
        create["concurrentSessionsLimit"] = json!(1);
        let reply = create_license(&app, &admin, create).await;
        assert_eq!(
            (reply.error_code(), reply.error_field()),
            ("BAD_USER_INPUT", *field),
            "create {input}: {}",
            reply.body
        );
    }
    assert_eq!(license_row(&pool, &id).await, before, "the license is as it was");
    assert_eq!(count(&pool, "SELECT count(*) FROM licenses").await, 1, "no license was created");
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'license.updated'").await, 0);

    // The edges are allowed.
    let edges = update_license(
        &app,
        &admin,
        &id,
        json!({"offlineGraceSeconds": 2_592_000, "maxDeviceReleases": 1000, "features": ["a".repeat(64)]}),
    )
    .await;
    assert_eq!(edges.data("updateLicense")["offlineGraceSeconds"], 2_592_000);

    // What slips past the API anyway is refused by the database, and reported the same way.
    for (sql, field) in [
        ("UPDATE licenses SET features = '{Pro}' WHERE id = $1::uuid", "features"),
        ("UPDATE licenses SET features = '{a,a}' WHERE id = $1::uuid", "features"),
        ("UPDATE licenses SET offline_grace_seconds = -1 WHERE id = $1::uuid", "offlineGraceSeconds"),
        ("UPDATE licenses SET max_device_releases = 1001 WHERE id = $1::uuid", "maxDeviceReleases"),
    ] {
        let err = Error::from(sqlx::query(sql).bind(&id).execute(&pool).await.unwrap_err());
        assert!(matches!(&err, Error::BadInput { field: f, .. } if f == field), "{sql}: {err:?}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn admins_create_list_update_and_delete_templates_and_every_change_is_audited(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let pro = create_template(
        &app,
        &admin,
        json!({"name": "  Pro  ", "licenseType": "PERPETUAL", "deviceLimit": 5, "concurrentSessionsLimit": 3,
               "features": ["Reports", "export"], "offlineGraceSeconds": 604800}),
    )
    .await;
    let pro = pro.data("createLicenseTemplate").clone();
    assert_eq!(pro["name"], "Pro");
    assert_eq!(pro["licenseType"], "PERPETUAL");
    assert!(pro["durationDays"].is_null(), "open-ended unless said otherwise");
    assert_eq!(pro["features"], json!(["reports", "export"]));
    assert_eq!((pro["offlineGraceSeconds"].as_i64(), pro["maxDeviceReleases"].as_i64()), (Some(604800), Some(3)));
    let trial = create_template(
        &app,
        &admin,
        json!({"name": "basic trial", "licenseType": "TRIAL", "deviceLimit": 1, "concurrentSessionsLimit": 1, "durationDays": 14}),
    )
    .await;
    let trial = trial.data("createLicenseTemplate").clone();
    assert_eq!(trial["durationDays"], 14);

    let duplicate =
        create_template(&app, &admin, json!({"name": "PRO", "deviceLimit": 1, "concurrentSessionsLimit": 1})).await;
    assert_eq!((duplicate.error_code(), duplicate.error_field()), ("BAD_USER_INPUT", "name"), "{}", duplicate.body);

    let list = "{ licenseTemplates { totalCount nodes { name deviceLimit } } }";
    let listed = app.gql(&analyst, list, json!({})).await;
    assert_eq!(
        listed.data("licenseTemplates"),
        &json!({"totalCount": 2, "nodes": [{"name": "basic trial", "deviceLimit": 1}, {"name": "Pro", "deviceLimit": 5}]}),
        "ordered by name, case aside"
    );
    let found = app.gql(&analyst, "{ licenseTemplates(search: \"tri\") { nodes { id } } }", json!({})).await;
    assert_eq!(found.data("licenseTemplates")["nodes"], json!([{"id": trial["id"]}]));

    let pro_id = pro["id"].as_str().unwrap();
    let renamed =
        update_template(&app, &admin, pro_id, json!({"name": "Pro 2026", "durationDays": 365, "features": []})).await;
    let renamed = renamed.data("updateLicenseTemplate").clone();
    assert_eq!(
        (&renamed["name"], &renamed["durationDays"], &renamed["features"]),
        (&json!("Pro 2026"), &json!(365), &json!([]))
    );
    assert_eq!(renamed["deviceLimit"], 5, "left out: unchanged");
    let open = update_template(&app, &admin, pro_id, json!({"durationDays": null})).await;
    assert!(open.data("updateLicenseTemplate")["durationDays"].is_null(), "null makes it open-ended");
    let taken = update_template(&app, &admin, pro_id, json!({"name": "Basic Trial"})).await;
    assert_eq!((taken.error_code(), taken.error_field()), ("BAD_USER_INPUT", "name"));
    let stale = app
        .gql(
            &admin,
            "mutation($id: ID!, $at: DateTime!) { updateLicenseTemplate(id: $id, input: {deviceLimit: 6}, expectedUpdatedAt: $at) { id } }",
            json!({"id": pro_id, "at": pro["updatedAt"]}),
        )
        .await;
    assert_eq!(stale.error_code(), "CONFLICT");

    let deleted = app
        .gql(&admin, "mutation($id: ID!) { deleteLicenseTemplate(id: $id) { id name } }", json!({"id": trial["id"]}))
        .await;
    assert_eq!(deleted.data("deleteLicenseTemplate")["name"], "basic trial");
    let again = app
        .gql(&admin, "mutation($id: ID!) { deleteLicenseTemplate(id: $id) { id } }", json!({"id": trial["id"]}))
        .await;
    assert_eq!((again.error_code(), again.error_field()), ("NOT_FOUND", "id"));
    let missing = update_template(&app, &admin, trial["id"].as_str().unwrap(), json!({"name": "x"})).await;
    assert_eq!(missing.error_code(), "NOT_FOUND");
    assert_eq!(app.gql(&analyst, list, json!({})).await.data("licenseTemplates")["totalCount"], 1);

    let actions: Vec<(String, String, Option<Value>, Option<Value>)> = sqlx::query_as(
        "SELECT action, entity_id, old_values, new_values FROM audit_log WHERE entity_type = 'license_template' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let names: Vec<&str> = actions.iter().map(|(a, ..)| a.as_str()).collect();
    assert_eq!(
        names,
        [
            "license_template.created",
            "license_template.created",
            "license_template.updated",
            "license_template.updated",
            "license_template.deleted"
        ]
    );
    assert_eq!(actions[0].1, pro_id);
    assert_eq!(actions[0].3.as_ref().unwrap()["licenseType"], "perpetual");
    let (old, new) = (actions[2].2.as_ref().unwrap(), actions[2].3.as_ref().unwrap());
    assert_eq!((&old["name"], &new["name"]), (&json!("Pro"), &json!("Pro 2026")));
    assert_eq!((&old["durationDays"], &new["durationDays"]), (&Value::Null, &json!(365)));
    assert_eq!(actions[4].2.as_ref().unwrap()["name"], "basic trial");
    assert!(actions[4].3.is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_templates_are_refused_naming_the_field(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let base = json!({"name": "T", "deviceLimit": 2, "concurrentSessionsLimit": 1});
    let with = |change: Value| {
        let mut input = base.clone();
        input.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        input
    };
    let bad = [
        (json!({"name": "   "}), "name"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"deviceLimit": 0}), "deviceLimit"),
        (json!({"deviceLimit": 11}), "deviceLimit"),
        (json!({"concurrentSessionsLimit": 3}), "concurrentSessionsLimit"),
        (json!({"durationDays": 0}), "durationDays"),
        (json!({"durationDays": 36501}), "durationDays"),
        (json!({"features": ["Not ok"]}), "features"),
        (json!({"offlineGraceSeconds": 2_592_001}), "offlineGraceSeconds"),
        (json!({"maxDeviceReleases": -1}), "maxDeviceReleases"),
    ];
    for (change, field) in &bad {
        let reply = create_template(&app, &admin, with(change.clone())).await;
        assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", *field), "{change}: {}", reply.body);
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM license_templates").await, 0);

    let template = create_template(&app, &admin, base.clone()).await;
    let id = template.data("createLicenseTemplate")["id"].as_str().unwrap().to_owned();
    let before: String =
        sqlx::query_scalar("SELECT row_to_json(t)::text FROM license_templates t").fetch_one(&pool).await.unwrap();
    for (change, field) in &bad {
        let reply = update_template(&app, &admin, &id, change.clone()).await;
        assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", *field), "{change}: {}", reply.body);
    }
    let after: String =
        sqlx::query_scalar("SELECT row_to_json(t)::text FROM license_templates t").fetch_one(&pool).await.unwrap();
    assert_eq!(after, before);
    let malformed = update_template(&app, &admin, "not-an-id", json!({"name": "x"})).await;
    assert_eq!((malformed.error_code(), malformed.error_field()), ("BAD_USER_INPUT", "id"));

    let err =
        Error::from(sqlx::query("UPDATE license_templates SET features = '{X}'").execute(&pool).await.unwrap_err());
    assert!(matches!(&err, Error::BadInput { field, .. } if field == "features"), "{err:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn client_keys_and_analysts_cannot_change_templates_and_clients_cannot_read_them(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let template =
        create_template(&app, &admin, json!({"name": "Kept", "deviceLimit": 1, "concurrentSessionsLimit": 1})).await;
    let id = template.data("createLicenseTemplate")["id"].as_str().unwrap().to_owned();
    let before: String =
        sqlx::query_scalar("SELECT row_to_json(t)::text FROM license_templates t").fetch_one(&pool).await.unwrap();
    for key in [&analyst, &client] {
        let created =
            create_template(&app, key, json!({"name": "Mine", "deviceLimit": 1, "concurrentSessionsLimit": 1})).await;
        assert_eq!(created.error_code(), "FORBIDDEN", "{}", created.body);
        let updated = update_template(&app, key, &id, json!({"deviceLimit": 10, "concurrentSessionsLimit": 10})).await;
        assert_eq!(updated.error_code(), "FORBIDDEN");
        let deleted =
            app.gql(key, "mutation($id: ID!) { deleteLicenseTemplate(id: $id) { id } }", json!({"id": id})).await;
        assert_eq!(deleted.error_code(), "FORBIDDEN");
    }
    let read = app.gql(&client, "{ licenseTemplates { nodes { name } } }", json!({})).await;
    assert_eq!(read.error_code(), "FORBIDDEN");
    let read = app.gql(&client, "query($id: ID!) { licenseTemplate(id: $id) { name } }", json!({"id": id})).await;
    assert_eq!(read.error_code(), "FORBIDDEN");
    let after: String =
        sqlx::query_scalar("SELECT row_to_json(t)::text FROM license_templates t").fetch_one(&pool).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_templates").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE entity_type = 'license_template'").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_license_from_a_template_takes_every_term_its_input_leaves_out(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let customer = app.create_customer(&admin, "template@example.com").await;
    let template = create_template(
        &app,
        &admin,
        json!({"name": "Trial 14 days", "licenseType": "TRIAL", "deviceLimit": 2, "concurrentSessionsLimit": 1,
               "durationDays": 14, "features": ["basic", "export"], "offlineGraceSeconds": 86400, "maxDeviceReleases": 1}),
    )
    .await;
    let template_id = template.data("createLicenseTemplate")["id"].as_str().unwrap().to_owned();

    let from_template = create_license(
        &app,
        &admin,
        json!({"customerId": customer, "templateId": template_id, "validFrom": "2026-03-01T10:00:00Z"}),
    )
    .await;
    let license = from_template.data("createLicense");
    assert_eq!(license["licenseType"], "TRIAL");
    assert_eq!((license["deviceLimit"].as_i64(), license["concurrentSessionsLimit"].as_i64()), (Some(2), Some(1)));
    assert_eq!(at(license["validUntil"].as_str().unwrap()), at("2026-03-15T10:00:00Z"), "validFrom + 14 days");
    assert_eq!(license["features"], json!(["basic", "export"]));
    assert_eq!(
        (license["offlineGraceSeconds"].as_i64(), license["maxDeviceReleases"].as_i64()),
        (Some(86400), Some(1))
    );
    let created = audited(&pool, "license.created").await;
    assert_eq!(created[0].1.as_ref().unwrap()["templateId"], json!(template_id), "the audit row names the template");

    let overridden = create_license(
        &app,
        &admin,
        json!({"customerId": customer, "templateId": template_id, "licenseType": "SUBSCRIPTION", "deviceLimit": 5,
               "concurrentSessionsLimit": 3, "validUntil": null, "features": ["Pro"], "offlineGraceSeconds": 0, "maxDeviceReleases": 7}),
    )
    .await;
    let license = overridden.data("createLicense");
    assert_eq!(license["licenseType"], "SUBSCRIPTION");
    assert_eq!((license["deviceLimit"].as_i64(), license["concurrentSessionsLimit"].as_i64()), (Some(5), Some(3)));
    assert!(license["validUntil"].is_null(), "null wins over the template's duration");
    assert_eq!(license["features"], json!(["pro"]));
    assert_eq!((license["offlineGraceSeconds"].as_i64(), license["maxDeviceReleases"].as_i64()), (Some(0), Some(7)));

    let given_end = create_license(
        &app,
        &admin,
        json!({"customerId": customer, "templateId": template_id, "validFrom": "2026-03-01T10:00:00Z", "validUntil": "2026-04-01T00:00:00Z", "deviceLimit": 1}),
    )
    .await;
    let license = given_end.data("createLicense");
    assert_eq!(at(license["validUntil"].as_str().unwrap()), at("2026-04-01T00:00:00Z"));
    assert_eq!((license["deviceLimit"].as_i64(), license["concurrentSessionsLimit"].as_i64()), (Some(1), Some(1)));

    // The terms are checked once merged: the template's concurrent limit above the input's devices.
    let pro =
        create_template(&app, &admin, json!({"name": "Pro", "deviceLimit": 5, "concurrentSessionsLimit": 3})).await;
    let pro_id = pro.data("createLicenseTemplate")["id"].as_str().unwrap().to_owned();
    let merged =
        create_license(&app, &admin, json!({"customerId": customer, "templateId": pro_id, "deviceLimit": 2})).await;
    assert_eq!((merged.error_code(), merged.error_field()), ("BAD_USER_INPUT", "concurrentSessionsLimit"));
    let open = create_license(&app, &admin, json!({"customerId": customer, "templateId": pro_id})).await;
    assert!(open.data("createLicense")["validUntil"].is_null(), "an open-ended template makes an open-ended license");

    // Changing or deleting the template leaves its licenses alone.
    update_template(&app, &admin, &template_id, json!({"features": ["other"], "deviceLimit": 3}))
        .await
        .data("updateLicenseTemplate");
    app.gql(&admin, "mutation($id: ID!) { deleteLicenseTemplate(id: $id) { id } }", json!({"id": template_id}))
        .await
        .data("deleteLicenseTemplate");
    let features: Vec<Vec<String>> =
        sqlx::query_scalar("SELECT features FROM licenses ORDER BY created_at, id").fetch_all(&pool).await.unwrap();
    assert_eq!(features[0], ["basic", "export"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_template_the_limits_are_required_and_an_unknown_template_is_not_found(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let customer = app.create_customer(&admin, "required@example.com").await;
    let no_devices = create_license(&app, &admin, json!({"customerId": customer, "concurrentSessionsLimit": 1})).await;
    assert_eq!((no_devices.error_code(), no_devices.error_field()), ("BAD_USER_INPUT", "deviceLimit"));
    let no_sessions = create_license(&app, &admin, json!({"customerId": customer, "deviceLimit": 1})).await;
    assert_eq!((no_sessions.error_code(), no_sessions.error_field()), ("BAD_USER_INPUT", "concurrentSessionsLimit"));
    let unknown = create_license(
        &app,
        &admin,
        json!({"customerId": customer, "templateId": uuid::Uuid::new_v4().to_string(), "deviceLimit": 1, "concurrentSessionsLimit": 1}),
    )
    .await;
    assert_eq!((unknown.error_code(), unknown.error_field()), ("NOT_FOUND", "templateId"));
    let malformed = create_license(&app, &admin, json!({"customerId": customer, "templateId": "trial"})).await;
    assert_eq!((malformed.error_code(), malformed.error_field()), ("BAD_USER_INPUT", "templateId"));
    assert_eq!(count(&pool, "SELECT count(*) FROM licenses").await, 0);
}
