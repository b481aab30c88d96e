//! Rate limits through a real server: the 429 answer (status, `Retry-After`, `RATE_LIMITED` with
//! `retryAfter`), the buckets per client address, per API key (with a key's own limit set by an
//! admin, on the heartbeat path too) and per license key, and operations weighted by their cost.

use license_server::admin::AuthSettings;
use license_server::auth::Scope;
use license_server::rate_limit::{Rate, RateLimitSettings};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{count, spawn_app_with, Options, Reply, TestApp};
use crate::live::{try_open, TRANSPORT_WS};

fn rate(per_second: u32, burst: u32) -> Rate {
    Rate { per_second, burst }
}

async fn from_address(app: &TestApp, address: &str, key: Option<&str>, query: &str) -> (Reply, Option<String>) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("X-Forwarded-For", address)
        .json(&json!({"query": query}));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    let response = request.send().await.unwrap();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let status = response.status().as_u16();
    (Reply { status, body: response.json().await.unwrap() }, retry_after)
}

/// The refusal as the README promises it; returns `retryAfter`.
fn assert_limited(reply: &Reply, retry_after: Option<&str>, limit: &str) -> u64 {
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.error_code(), "RATE_LIMITED", "{}", reply.body);
    let extensions = &reply.body["errors"][0]["extensions"];
    assert_eq!(extensions["limit"], limit, "{}", reply.body);
    let seconds = extensions["retryAfter"].as_u64().unwrap_or_else(|| panic!("no retryAfter: {}", reply.body));
    assert!(seconds >= 1, "{}", reply.body);
    assert_eq!(retry_after, Some(seconds.to_string().as_str()), "Retry-After says the same");
    assert!(reply.body["data"].is_null(), "nothing ran: {}", reply.body);
    seconds
}

fn behind_proxy(rate_limits: RateLimitSettings) -> Options {
    Options {
        auth: AuthSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..AuthSettings::default() },
        rate_limits: Some(rate_limits),
        ..Options::default()
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn one_address_is_limited_before_authentication_and_others_are_not(pool: PgPool) {
    let limits = RateLimitSettings { address: rate(1, 3), ..RateLimitSettings::default() };
    let app = spawn_app_with(&pool, behind_proxy(limits)).await;
    let wrong_key = "AF-2026-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for _ in 0..3 {
        let (reply, _) = from_address(&app, "203.0.113.7", Some(wrong_key), "{ me { id } }").await;
        assert_eq!(reply.status, 401, "an unknown key is refused as such while the bucket lasts: {}", reply.body);
    }
    let (reply, retry_after) = from_address(&app, "203.0.113.7", Some(wrong_key), "{ me { id } }").await;
    assert_eq!(assert_limited(&reply, retry_after.as_deref(), "address"), 1);
    // A WebSocket handshake pays from the same bucket.
    let refused = try_open(&app, TRANSPORT_WS, &[("X-Forwarded-For", "203.0.113.7".to_owned())])
        .await
        .err()
        .expect("the handshake was upgraded");
    assert_eq!((refused.status, refused.body["errors"][0]["extensions"]["limit"].as_str()), (429, Some("address")));
    // Anonymous sign-in from the same address waits too; another address does not.
    let (reply, retry_after) = from_address(&app, "203.0.113.7", None, "{ me { id } }").await;
    assert_limited(&reply, retry_after.as_deref(), "address");
    let (reply, _) = from_address(&app, "198.51.100.20", None, "{ me { id } }").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // An IPv6 host counts by its /64.
    for i in 0..3 {
        let (reply, _) = from_address(&app, &format!("2001:db8:0:1::{i}"), None, "{ me { id } }").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let (reply, retry_after) = from_address(&app, "2001:db8:0:1::99", None, "{ me { id } }").await;
    assert_limited(&reply, retry_after.as_deref(), "address");
    // The bucket refills at its rate.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (reply, _) = from_address(&app, "203.0.113.7", None, "{ me { id } }").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn operations_cost_their_complexity(pool: PgPool) {
    let limits = RateLimitSettings { analyst_key: rate(1, 20), ..RateLimitSettings::default() };
    let app = spawn_app_with(&pool, Options { rate_limits: Some(limits), ..Options::default() }).await;
    let analyst = app.key(Scope::Analyst).await;
    // A page of licenses with nested fields (complexity 940) costs ten units, complexity being
    // charged in hundreds; three do not fit in 20.
    let page = "{ licenses(first: 20) { totalCount nodes { id licenseKey customer { name email }
                 devices { id deviceName liveSession { id } } } } }";
    let mut refused = None;
    for attempt in 0..3 {
        let reply = app.gql(&analyst, page, json!({})).await;
        if reply.status == 429 {
            refused = Some(attempt);
            break;
        }
        assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    }
    let refused = refused.expect("three expensive pages fit in a burst of 20 units");
    assert!(refused >= 1, "the first page fits");
    // A cheap query is one unit; the bucket has no unit left now, so it waits too.
    let cheap = app.gql(&analyst, "{ __typename }", json!({})).await;
    assert_eq!(cheap.status, 429, "{}", cheap.body);
    assert_eq!(cheap.body["errors"][0]["extensions"]["limit"], "apiKey");
}

async fn set_limit(app: &TestApp, admin: &str, id: &str, per_second: i64, burst: i64) -> Reply {
    app.gql(
        admin,
        "mutation($id: ID!, $r: Int!, $b: Int!) { setApiKeyRateLimit(id: $id, perSecond: $r, burst: $b) {
            id rateLimit { perSecond burst custom } } }",
        json!({"id": id, "r": per_second, "b": burst}),
    )
    .await
}

async fn key_id(app: &TestApp, admin: &str, scope: &str) -> String {
    let keys = app.gql(admin, "{ apiKeys { id scope rateLimit { perSecond burst custom } } }", json!({})).await;
    let keys = keys.data("apiKeys").as_array().unwrap().clone();
    let key = keys.iter().find(|k| k["scope"] == scope).unwrap();
    assert_eq!(key["rateLimit"]["custom"], false, "{key}");
    key["id"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_sets_a_keys_own_limit_and_heartbeats_obey_it(pool: PgPool) {
    let app = spawn_app_with(&pool, Options::default()).await;
    let admin = app.key(Scope::Admin).await;
    let client = app.key(Scope::Client).await;
    let (_, license_key) = app.create_license(&admin, 3, 3).await;
    let token = app.session(&client, &license_key, "fp-rate-1").await;
    let id = key_id(&app, &admin, "CLIENT").await;
    let defaults = RateLimitSettings::default().client_key;

    // Bad numbers are refused, naming the field, and change nothing.
    for (per_second, burst, field) in [(0, 10, "perSecond"), (10, 0, "burst"), (-5, 10, "perSecond")] {
        let reply = set_limit(&app, &admin, &id, per_second, burst).await;
        assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", field), "{}", reply.body);
    }
    let reply = set_limit(&app, &admin, "00000000-0000-0000-0000-000000000000", 1, 1).await;
    assert_eq!(reply.error_code(), "NOT_FOUND");
    let analyst = app.key(Scope::Analyst).await;
    assert_eq!(set_limit(&app, &analyst, &id, 1, 1).await.error_code(), "FORBIDDEN");
    assert_eq!(set_limit(&app, &client, &id, 1, 1).await.error_code(), "FORBIDDEN");
    assert_eq!(count(&pool, "SELECT count(*) FROM api_keys WHERE rate_limit_per_second IS NOT NULL").await, 0);

    let limited = set_limit(&app, &admin, &id, 1, 3).await;
    assert_eq!(limited.data("setApiKeyRateLimit")["rateLimit"], json!({"perSecond": 1, "burst": 3, "custom": true}));
    let audit: Value = sqlx::query_scalar(
        "SELECT jsonb_build_object('old', old_values, 'new', new_values) FROM audit_log WHERE action = 'api_key.rate_limit_set'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audit, json!({"old": {"rateLimit": null}, "new": {"rateLimit": {"perSecond": 1, "burst": 3}}}));

    // Three heartbeats fit in the burst (the heartbeat path charges the key too), the fourth waits.
    let heartbeat = "mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename } }";
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("X-API-Key", &client)
            .json(&json!({"query": heartbeat, "variables": {"t": token}}))
            .send()
            .await
            .unwrap();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let status = response.status().as_u16();
        let reply = Reply { status, body: response.json().await.unwrap() };
        if status == 429 {
            assert_limited(&reply, retry_after.as_deref(), "apiKey");
        } else {
            assert_eq!(reply.data("heartbeat")["__typename"], "HeartbeatAccepted");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 429], "the key's own burst of 3");

    // Back to the scope's default: the key works at once.
    let cleared = app
        .gql(
            &admin,
            "mutation($id: ID!) { clearApiKeyRateLimit(id: $id) { rateLimit { perSecond burst custom } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        cleared.data("clearApiKeyRateLimit")["rateLimit"],
        json!({"perSecond": defaults.per_second, "burst": defaults.burst, "custom": false})
    );
    assert_eq!(app.heartbeat(&client, &token).await["__typename"], "HeartbeatAccepted");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_license_key_is_limited_across_callers_and_addresses(pool: PgPool) {
    let limits = RateLimitSettings { license_key: rate(1, 2), ..RateLimitSettings::default() };
    let app = spawn_app_with(&pool, behind_proxy(limits)).await;
    let admin = app.key(Scope::Admin).await;
    let client = app.key(Scope::Client).await;
    let (_, hot) = app.create_license(&admin, 5, 5).await;
    let (_, other) = app.create_license(&admin, 5, 5).await;
    let validate = |key: &str| {
        format!(r#"{{ validateLicense(licenseKey: "{key}", hardwareFingerprint: "fp") {{ __typename }} }}"#)
    };
    let (first, _) = from_address(&app, "203.0.113.1", Some(&client), &validate(&hot)).await;
    // (`LicenseInvalid`: the device is not registered; what matters is that it was answered.)
    assert_eq!(first.data("validateLicense")["__typename"], "LicenseInvalid");
    // The same key typed differently is the same license.
    let (second, _) = from_address(&app, "203.0.113.2", Some(&client), &validate(&hot.to_lowercase())).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let activate = app
        .gql(
            &client,
            "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }",
            json!({"i": {"licenseKey": hot, "hardwareFingerprint": "fp-3", "deviceName": "PC", "deviceType": "test"}}),
        )
        .await;
    assert_eq!((activate.status, activate.error_code()), (429, "RATE_LIMITED"), "{}", activate.body);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM device_registrations").await,
        0,
        "the refused activation registered nothing"
    );
    let (third, retry_after) = from_address(&app, "203.0.113.3", Some(&client), &validate(&hot)).await;
    assert_limited(&third, retry_after.as_deref(), "licenseKey");
    let (elsewhere, _) = from_address(&app, "203.0.113.3", Some(&client), &validate(&other)).await;
    assert_eq!(elsewhere.data("validateLicense")["__typename"], "LicenseInvalid");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sign_in_attempt_costs_as_much_as_twenty_ordinary_calls(pool: PgPool) {
    let limits = RateLimitSettings { address: rate(1, 100), ..RateLimitSettings::default() };
    let app = spawn_app_with(&pool, behind_proxy(limits)).await;
    let login =
        |name: usize| format!(r#"mutation {{ login(username: "nobody{name}", password: "wrong") {{ __typename }} }}"#);
    // Twenty units each (the check's weight, the request's own unit included): five fit in 100.
    for name in 0..5 {
        let (reply, _) = from_address(&app, "203.0.113.50", None, &login(name)).await;
        assert_eq!(reply.error_code(), "UNAUTHENTICATED", "{}", reply.body);
    }
    let (reply, retry_after) = from_address(&app, "203.0.113.50", None, &login(5)).await;
    assert_limited(&reply, retry_after.as_deref(), "address");
    // A second later one unit is back: enough for an ordinary call, not for a sign-in.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (reply, _) = from_address(&app, "203.0.113.50", None, "{ me { id } }").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
