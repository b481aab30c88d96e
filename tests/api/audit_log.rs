//! API-key management through GraphQL and the audit log: what is written, what can be read,
//! what is never written.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use license_server::admin::AuthSettings;
use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::{ConnectOptions, PgPool};

use crate::helpers::{count, spawn_app, spawn_app_with, Options};

const PASSWORD: &str = "correct horse battery staple";

#[sqlx::test(migrations = "../migrations")]
async fn a_generated_api_key_is_shown_once_works_and_stops_when_revoked(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let generate = "mutation { generateApiKey(name: \"Desktop app\", scope: CLIENT) { key apiKey { id name scope prefix createdBy } } }";
    assert_eq!(app.gql(&analyst, generate, json!({})).await.error_code(), "FORBIDDEN");

    let generated = app.gql(&admin, generate, json!({})).await;
    let generated = generated.data("generateApiKey");
    let key = generated["key"].as_str().unwrap().to_owned();
    assert!(license_server::api_keys::is_well_formed(&key), "{key}");
    assert_eq!(generated["apiKey"]["scope"], "CLIENT");
    assert_eq!(generated["apiKey"]["createdBy"], "test Admin");
    assert!(key.starts_with(generated["apiKey"]["prefix"].as_str().unwrap()));

    let listed = app.gql(&admin, "{ apiKeys { id name prefix lastUsedAt revokedAt } }", json!({})).await;
    assert!(!listed.body.to_string().contains(&key), "the key is never shown again");
    assert_eq!(listed.data("apiKeys").as_array().unwrap().len(), 3);
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key_digest FROM api_keys").fetch_all(&pool).await.unwrap();
    assert!(stored.iter().all(|d| d.len() == 32), "only SHA-256 digests are stored");

    let client_call =
        "{ validateLicense(licenseKey: \"7K3QD-MX2PA-9RT4V-HB6W1\", hardwareFingerprint: \"x\") { __typename } }";
    assert_eq!(app.gql(&key, client_call, json!({})).await.status, 200);
    let revoked = app
        .gql(
            &admin,
            "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
            json!({"id": generated["apiKey"]["id"]}),
        )
        .await;
    assert!(revoked.data("revokeApiKey")["revokedAt"].is_string());
    assert_eq!(app.gql(&key, client_call, json!({})).await.status, 401);

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE entity_type = 'api_key' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(actions, ["api_key.created", "api_key.created", "api_key.created", "api_key.revoked"]);
    let leaked: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE audit_log::text LIKE '%' || $1 || '%'")
        .bind(&key[8..])
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(leaked, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_audit_log_is_filtered_and_paged_newest_first(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst, client) =
        (app.key(Scope::Admin).await, app.key(Scope::Analyst).await, app.key(Scope::Client).await);
    let (license_id, _) = app.create_license(&admin, 2, 1).await;
    for limit in [2, 3, 4] {
        app.gql(
            &admin,
            "mutation($id: ID!, $n: Int!) { updateLicense(id: $id, input: {deviceLimit: $n}) { id } }",
            json!({"id": license_id, "n": limit}),
        )
        .await
        .data("updateLicense");
    }
    let query = "query($f: AuditLogFilter, $after: String) { auditLog(filter: $f, first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { action actorType actorName entityId oldValues newValues occurredAt } } } }";

    let filter = json!({"entityType": "license", "entityId": license_id});
    let first = app.gql(&analyst, query, json!({"f": filter})).await;
    let page = first.data("auditLog");
    assert_eq!(page["totalCount"], 4);
    let nodes: Vec<&Value> = page["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    assert_eq!(nodes[0]["newValues"]["deviceLimit"], 4, "newest first");
    assert_eq!(nodes[0]["oldValues"]["deviceLimit"], 3, "old and new values side by side");
    assert_eq!(nodes[0]["actorType"], "api_key");
    let second = app.gql(&analyst, query, json!({"f": filter, "after": page["pageInfo"]["endCursor"]})).await;
    let rest = second.data("auditLog");
    assert_eq!(rest["edges"].as_array().unwrap().len(), 2);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest["edges"][1]["node"]["action"], "license.created");

    let by_action = app.gql(&analyst, query, json!({"f": {"action": "license.updated"}})).await;
    assert_eq!(by_action.data("auditLog")["totalCount"], 3);
    let by_prefix = app.gql(&analyst, query, json!({"f": {"action": "license"}})).await;
    assert_eq!(by_prefix.data("auditLog")["totalCount"], 4);
    let by_actor = app.gql(&analyst, query, json!({"f": {"actor": "test Admin", "action": "customer"}})).await;
    assert_eq!(by_actor.data("auditLog")["totalCount"], 1);
    let future = app.gql(&analyst, query, json!({"f": {"from": "2999-01-01T00:00:00Z"}})).await;
    assert_eq!(future.data("auditLog")["totalCount"], 0);
    assert_eq!(app.gql(&client, query, json!({})).await.error_code(), "FORBIDDEN");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_that_rolls_back_leaves_no_audit_row(pool: PgPool) {
    // A deferred check makes the commit fail after the change and its audit row were written.
    sqlx::query(
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.name = 'boom' THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE CONSTRAINT TRIGGER customers_refuse_boom AFTER INSERT ON customers
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let create = "mutation($n: String!) { createCustomer(input: {name: $n, email: \"x@example.com\"}) { id } }";

    let failed = app.gql(&admin, create, json!({"n": "boom"})).await;
    assert_eq!(failed.error_code(), "INTERNAL_SERVER_ERROR");
    assert!(!failed.body.to_string().contains("refused at commit"), "internal details are not shown");
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'customer.created'").await, 0);

    app.gql(&admin, create, json!({"n": "fine"})).await.data("createCustomer");
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'customer.created'").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(pool: PgPool) {
    let direct = spawn_app(&pool).await;
    let auth = AuthSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..AuthSettings::default() };
    let proxied = spawn_app_with(&pool, Options { auth, ..Options::default() }).await;
    let admin = direct.key(Scope::Admin).await;
    let create = "mutation($e: String!) { createCustomer(input: {name: \"N\", email: $e}) { id } }";
    for (app, email) in [(&direct, "direct@example.com"), (&proxied, "proxied@example.com")] {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("X-API-Key", &admin)
            .header("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
            .json(&json!({"query": create, "variables": {"e": email}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let ips: Vec<Option<String>> =
        sqlx::query_scalar("SELECT host(client_ip) FROM audit_log WHERE action = 'customer.created' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(ips, [Some("127.0.0.1".to_owned()), Some("198.51.100.7".to_owned())]);
}

#[sqlx::test(migrations = "../migrations")]
async fn no_secret_reaches_a_log_line_or_an_audit_row(pool: PgPool) {
    let url = pool.connect_options().to_url_lossy().to_string();
    let mut create = Command::new(env!("CARGO_BIN_EXE_license-server"))
        .args(["admin", "create", "--username", "ana", "--role", "analyst"])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    create.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let created = create.wait_with_output().unwrap();
    assert!(created.status.success());
    let mut logs = String::from_utf8_lossy(&created.stderr).into_owned();

    let mut server = Command::new(env!("CARGO_BIN_EXE_license-server"))
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("DATABASE_MAX_CONNECTIONS", "4")
        .env("RUST_LOG", "debug")
        .env("LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(server.stderr.take().unwrap());
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = address_tx.send(rest.split('/').next().unwrap().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let address = address_rx.recv_timeout(std::time::Duration::from_secs(30)).expect("server did not start");
    let client = reqwest::Client::new();
    let post = |body: Value, cookie: Option<String>| {
        let mut request =
            client.post(format!("http://{address}/graphql")).header("Origin", format!("http://{address}")).json(&body);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        request.send()
    };
    let login = post(json!({"query": "mutation($p: String!) { login(username: \"ana\", password: $p) { __typename } }", "variables": {"p": PASSWORD}}), None)
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let enrolled: Value = post(json!({"query": "mutation { enrollTotp { secret } }"}), Some(cookie.clone()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = enrolled["data"]["enrollTotp"]["secret"].as_str().unwrap().to_owned();
    let wrong = json!({"query": "mutation($p: String!) { login(username: \"ana\", password: $p) { __typename } }", "variables": {"p": "not-the-password-123"}});
    post(wrong, None).await.unwrap();

    Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    server.wait().unwrap();
    logs.push_str(&reader.join().unwrap());
    assert!(logs.contains("listening"), "the logs were captured");

    let token = cookie.split('=').nth(1).unwrap();
    let audit: String = sqlx::query_scalar("SELECT coalesce(string_agg(audit_log::text, ' '), '') FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    for secret_value in [PASSWORD, "not-the-password-123", secret.as_str(), token] {
        assert!(!logs.contains(secret_value), "a secret reached the logs");
        assert!(!audit.contains(secret_value), "a secret reached the audit log");
    }
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT action FROM audit_log ORDER BY 1").fetch_all(&pool).await.unwrap();
    assert_eq!(kinds, ["auth.login", "auth.login_failed", "user.created", "user.totp_enrollment_started"]);
}
