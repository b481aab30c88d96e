//! Analysts read everything but secrets and change nothing: checked against the whole schema, so
//! a new mutation or a secret-looking field makes these tests fail until it is accounted for.

use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::spawn_app;

/// Row counts of every table: nothing an analyst does may change them.
async fn table_counts(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT table_name::text,
                (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', table_name), false, true, '')))[1]::text::bigint
         FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn field_names(app: &crate::helpers::TestApp, key: &str) -> Vec<(String, String)> {
    let reply = app.gql(key, "{ __schema { types { name kind fields { name } } } }", json!({})).await;
    let mut names = Vec::new();
    for t in reply.data("__schema")["types"].as_array().unwrap() {
        for f in t["fields"].as_array().into_iter().flatten() {
            names.push((t["name"].as_str().unwrap().to_owned(), f["name"].as_str().unwrap().to_owned()));
        }
    }
    names
}

#[sqlx::test(migrations = "../migrations")]
async fn every_mutation_is_refused_to_an_analyst_and_changes_nothing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let (license, key) = app.create_license(&admin, 2, 1).await;
    let id = uuid::Uuid::new_v4().to_string();
    let customer = json!({"name": "X", "email": "x@example.com"});
    let activate = json!({"licenseKey": key, "hardwareFingerprint": "fp"});
    let calls: Vec<(&str, &str, Value)> = vec![
        ("activate", "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }", json!({"i": activate})),
        ("heartbeat", "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename } }", json!({"t": id})),
        ("endSession", "mutation($t: UUID!) { endSession(sessionToken: $t) { __typename } }", json!({"t": id})),
        (
            "releaseDevice",
            "mutation($k: String!) { releaseDevice(licenseKey: $k, hardwareFingerprint: \"pc\") { __typename } }",
            json!({"k": key}),
        ),
        ("createCustomer", "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }", json!({"i": customer})),
        ("updateCustomer", "mutation($id: ID!) { updateCustomer(id: $id, input: {name: \"Y\"}) { id } }", json!({"id": id})),
        (
            "createLicense",
            "mutation($c: ID!) { createLicense(input: {customerId: $c, deviceLimit: 1, concurrentSessionsLimit: 1}) { id } }",
            json!({"c": id}),
        ),
        ("updateLicense", "mutation($id: ID!) { updateLicense(id: $id, input: {notes: \"n\"}) { id } }", json!({"id": license})),
        ("activateLicense", "mutation($id: ID!) { activateLicense(id: $id) { id } }", json!({"id": license})),
        ("deactivateLicense", "mutation($id: ID!) { deactivateLicense(id: $id) { id } }", json!({"id": license})),
        (
            "createLicenseTemplate",
            "mutation { createLicenseTemplate(input: {name: \"T\", deviceLimit: 1, concurrentSessionsLimit: 1}) { id } }",
            json!({}),
        ),
        (
            "updateLicenseTemplate",
            "mutation($id: ID!) { updateLicenseTemplate(id: $id, input: {name: \"U\"}) { id } }",
            json!({"id": id}),
        ),
        ("deleteLicenseTemplate", "mutation($id: ID!) { deleteLicenseTemplate(id: $id) { id } }", json!({"id": id})),
        ("deactivateDevice", "mutation($id: ID!) { deactivateDevice(id: $id) { id } }", json!({"id": id})),
        ("terminateSession", "mutation($id: ID!) { terminateSession(id: $id) { id } }", json!({"id": id})),
        ("importResources", "mutation { importResources(type: DOMAIN, values: [\"a.example\"]) { added } }", json!({})),
        (
            "allocateResources",
            "mutation($l: ID!) { allocateResources(licenseId: $l, type: IPV4, count: 1) { __typename } }",
            json!({"l": license}),
        ),
        ("releaseResource", "mutation($id: ID!) { releaseResource(id: $id) { id } }", json!({"id": id})),
        ("quarantineResource", "mutation($id: ID!) { quarantineResource(id: $id, reason: \"r\") { id } }", json!({"id": id})),
        ("createInstitution", "mutation { createInstitution(input: {name: \"I\"}) { id } }", json!({})),
        ("updateInstitution", "mutation($id: ID!) { updateInstitution(id: $id, input: {name: \"I\"}) { id } }", json!({"id": id})),
        ("createContact", "mutation($id: ID!) { createContact(institutionId: $id, input: {name: \"C\"}) { id } }", json!({"id": id})),
        ("updateContact", "mutation($id: ID!) { updateContact(id: $id, input: {name: \"C\"}) { id } }", json!({"id": id})),
        ("addNote", "mutation($id: ID!) { addNote(institutionId: $id, body: \"b\") { id } }", json!({"id": id})),
        ("editNote", "mutation($id: ID!) { editNote(id: $id, body: \"b\") { id } }", json!({"id": id})),
        (
            "linkInstitutionToCustomer",
            "mutation($id: ID!) { linkInstitutionToCustomer(institutionId: $id, customerId: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "unlinkInstitutionFromCustomer",
            "mutation($id: ID!) { unlinkInstitutionFromCustomer(institutionId: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "convertInstitutionToCustomer",
            "mutation($id: ID!, $c: CreateCustomerInput!) { convertInstitutionToCustomer(institutionId: $id, customer: $c) { id } }",
            json!({"id": id, "c": customer}),
        ),
        ("createAdminUser", "mutation { createAdminUser(input: {username: \"u\", role: ADMIN, password: \"long enough pw\"}) { id } }", json!({})),
        ("disableAdminUser", "mutation($id: ID!) { disableAdminUser(id: $id) { id } }", json!({"id": id})),
        ("enableAdminUser", "mutation($id: ID!) { enableAdminUser(id: $id) { id } }", json!({"id": id})),
        ("setAdminUserRole", "mutation($id: ID!) { setAdminUserRole(id: $id, role: ADMIN) { id } }", json!({"id": id})),
        ("resetAdminUserTotp", "mutation($id: ID!) { resetAdminUserTotp(id: $id) { id } }", json!({"id": id})),
        ("generateApiKey", "mutation { generateApiKey(name: \"k\", scope: ADMIN) { key } }", json!({})),
        ("revokeApiKey", "mutation($id: ID!) { revokeApiKey(id: $id) { id } }", json!({"id": id})),
        (
            "setApiKeyRateLimit",
            "mutation($id: ID!) { setApiKeyRateLimit(id: $id, perSecond: 1, burst: 1) { id } }",
            json!({"id": id}),
        ),
        ("clearApiKeyRateLimit", "mutation($id: ID!) { clearApiKeyRateLimit(id: $id) { id } }", json!({"id": id})),
        ("createBackup", "mutation { createBackup { id } }", json!({})),
        ("verifyBackup", "mutation($id: ID!) { verifyBackup(id: $id) { __typename } }", json!({"id": id})),
        ("restoreBackup", "mutation($id: ID!) { restoreBackup(id: $id, confirm: true) { __typename } }", json!({"id": id})),
        (
            "restoreRemoteBackup",
            "mutation { restoreRemoteBackup(fileName: \"x.dump\", confirm: true) { fileName } }",
            json!({}),
        ),
        ("rotateSigningKey", "mutation { rotateSigningKey { kid } }", json!({})),
        (
            "issueOfflineLease",
            "mutation($l: ID!) { issueOfflineLease(licenseId: $l, hardwareFingerprint: \"fp\", validDays: 30) }",
            json!({"l": license}),
        ),
        // A user's own account: only for a signed-in dashboard user, never for a key.
        ("enrollTotp", "mutation { enrollTotp { secret } }", json!({})),
        ("confirmTotp", "mutation { confirmTotp(code: \"123456\") }", json!({})),
        ("disableTotp", "mutation { disableTotp(password: \"p\", code: \"123456\") { id } }", json!({})),
        ("changePassword", "mutation { changePassword(currentPassword: \"p\", newPassword: \"long enough pw\") }", json!({})),
        ("endDashboardSession", "mutation($id: ID!) { endDashboardSession(id: $id) }", json!({"id": id})),
        ("endOtherDashboardSessions", "mutation { endOtherDashboardSessions }", json!({})),
        ("regenerateRecoveryCodes", "mutation { regenerateRecoveryCodes(password: \"p\", code: \"123456\") }", json!({})),
    ];
    // Signing in is open to everyone and changes only the caller's own sign-in state; identity.rs
    // tests it.
    let sign_in = ["login", "logout", "useRecoveryCode", "verifyTotp"];

    let mut mutations: Vec<String> =
        field_names(&app, &analyst).await.into_iter().filter(|(t, _)| t == "Mutation").map(|(_, f)| f).collect();
    mutations.sort();
    let mut covered: Vec<String> =
        calls.iter().map(|(name, _, _)| name.to_string()).chain(sign_in.iter().map(|n| n.to_string())).collect();
    covered.sort();
    assert_eq!(covered, mutations, "every mutation in the schema is tried below");

    let before = table_counts(&pool).await;
    for (name, query, variables) in &calls {
        let reply = app.gql(&analyst, query, variables.clone()).await;
        assert_eq!(reply.error_code(), "FORBIDDEN", "{name}: {}", reply.body);
        assert!(reply.body["data"].is_null() || reply.body["data"][name].is_null(), "{name}");
    }
    assert_eq!(table_counts(&pool).await, before);
    let license_after: bool = sqlx::query_scalar("SELECT is_active FROM licenses WHERE id = $1::uuid")
        .bind(&license)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(license_after, "deactivateLicense did nothing");
}

#[sqlx::test(migrations = "../migrations")]
async fn no_field_an_analyst_can_read_holds_a_secret(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let analyst = app.key(Scope::Analyst).await;
    let fields = field_names(&app, &analyst).await;
    assert!(fields.iter().any(|(t, f)| t == "Query" && f == "licenses"), "introspection works for analysts");
    let secret_words =
        ["digest", "hash", "secret", "password", "totp", "recovery", "apikey", "token", "fingerprint", "private"];
    // Reviewed: flags, key metadata without key material (admins only), and the enrollment secret
    // that `enrollTotp` returns to the signed-in user enrolling their own authenticator.
    let reviewed = [
        ("AdminUser", "totpEnabled"),
        ("LoginSucceeded", "totpEnrollmentRequired"),
        ("GeneratedApiKey", "apiKey"),
        ("Query", "apiKeys"),
        ("TotpEnrollment", "secret"),
        // The rules a new password must meet (its lengths), not a password.
        ("Query", "passwordPolicy"),
        // Results of `activate` and `endSession` only, which only client keys may call: the
        // token goes back to the one client that holds it, never to an analyst or admin.
        ("SessionGranted", "sessionToken"),
        ("SessionEnded", "sessionToken"),
        // The identifier a client chose for its machine, shown so that people can tell devices
        // apart (and find one by it). It is not a credential by itself, but it is not harmless
        // either: with the license key, which analysts read too, and the public client key,
        // `activate` resumes the device's live session and hands back its token. Left readable
        // as an open question of issue 12 rather than hidden here.
        ("Device", "hardwareFingerprint"),
    ];
    let exposed: Vec<&(String, String)> = fields
        .iter()
        .filter(|(t, _)| !t.starts_with("__") && t != "Mutation")
        .filter(|(t, f)| !reviewed.contains(&(t.as_str(), f.as_str())))
        .filter(|(_, f)| secret_words.iter().any(|w| f.to_lowercase().contains(w)))
        .collect();
    assert!(exposed.is_empty(), "secret-looking fields: {exposed:?}");
    assert_eq!(app.gql(&analyst, "{ apiKeys { id } }", json!({})).await.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(&analyst, "{ signingKeys { kid } }", json!({})).await.error_code(), "FORBIDDEN");

    // And the data an analyst asks for is there to read.
    for query in [
        "{ licenses(first: 1) { totalCount } }",
        "{ customers(first: 1) { totalCount } }",
        "{ sessionHistory(first: 1) { totalCount } }",
        "{ resources(first: 1) { totalCount } }",
        "{ institutions(first: 1) { totalCount } }",
        "{ resourcePoolCounts { total } }",
        "{ licenseCounts { count } }",
        "{ licenseUsage { liveSessions } }",
        "{ searchCrm(query: \"a\") { __typename } }",
        "{ heartbeatCounts(from: \"2026-01-01T00:00:00Z\", to: \"2026-01-02T00:00:00Z\", bucket: HOUR) { count } }",
        "{ sessionsPerDay(from: \"2026-01-01T00:00:00Z\", to: \"2026-01-02T00:00:00Z\") { day } }",
        "{ peakConcurrentSessions(from: \"2026-01-01T00:00:00Z\", to: \"2026-01-02T00:00:00Z\") { peak } }",
    ] {
        let reply = app.gql(&analyst, query, json!({})).await;
        assert!(reply.body["errors"].is_null(), "{query}: {}", reply.body);
    }
}
