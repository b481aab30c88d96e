//! Dashboard identity: sign-in with password and TOTP, sessions, throttling, roles, API-key
//! management and the audit log, driven as a browser would (cookies, Origin).

use license_server::admin::users::Role;
use license_server::admin::AuthSettings;
use license_server::auth::Scope;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{
    count, create_user, eventually, spawn_app, spawn_app_with, step_safe_now, totp_code, Browser, Options, TestApp,
};

const PASSWORD: &str = "correct horse battery staple";
const LICENSES: &str = "{ licenses(first: 1) { totalCount } }";
const RECOVER: &str = "mutation($c: String!, $r: String!) { useRecoveryCode(challenge: $c, code: $r) { __typename } }";
const DISABLE: &str = "mutation($p: String!, $c: String!) { disableTotp(password: $p, code: $c) { totpEnabled } }";

/// Signs `username` in, enrolls 2FA and returns the base32 secret and the recovery codes.
pub async fn enroll(browser: &mut Browser<'_>, username: &str) -> (String, Vec<String>) {
    let login = browser.login(username, PASSWORD).await;
    assert_eq!(login.data("login")["totpEnrollmentRequired"], true, "{:?}", login.body);
    let enrollment = browser.gql("mutation { enrollTotp { secret otpauthUri qrCodeSvg } }", json!({})).await;
    let secret = enrollment.data("enrollTotp")["secret"].as_str().unwrap().to_owned();
    assert!(enrollment.data("enrollTotp")["qrCodeSvg"].as_str().unwrap().contains("<svg"));
    let code = totp_code(&secret, step_safe_now().await);
    let confirmed = browser.gql("mutation($c: String!) { confirmTotp(code: $c) }", json!({"c": code})).await;
    let codes =
        confirmed.data("confirmTotp").as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    (secret, codes)
}

#[sqlx::test(migrations = "../migrations")]
async fn an_analyst_signs_in_with_a_password_and_gets_a_locked_down_cookie(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut browser = Browser::new(&app);

    let login = browser.login("ana", PASSWORD).await;
    assert_eq!(login.data("login")["__typename"], "LoginSucceeded");
    assert_eq!(login.data("login")["user"]["role"], "ANALYST");
    let cookie = &browser.last_set_cookies[0];
    assert!(cookie.starts_with("__Host-license-session="), "{cookie}");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    let token = browser.cookie.clone().unwrap();
    assert!(token.len() > "__Host-license-session=".len() + 40, "at least 128 random bits");

    assert_eq!(browser.gql("{ me { username } }", json!({})).await.data("me")["username"], "ana");
    assert_eq!(browser.gql(LICENSES, json!({})).await.data("licenses")["totalCount"], 0);
    let write = browser
        .gql("mutation { createCustomer(input: {name: \"N\", email: \"n@example.com\"}) { id } }", json!({}))
        .await;
    assert_eq!(write.error_code(), "FORBIDDEN");

    // Every login gets a fresh token.
    browser.login("ana", PASSWORD).await;
    assert_ne!(browser.cookie.clone().unwrap(), token);
    let stored = count(&pool, "SELECT count(*) FROM admin_sessions").await;
    assert_eq!(stored, 2);
    let plain: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM admin_sessions WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'",
    )
    .bind(token.split('=').nth(1).unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(plain, 0, "only the token's digest is stored");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_user_a_wrong_password_and_a_disabled_user_get_the_same_answer(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    create_user(&pool, "gone", Role::Analyst, PASSWORD).await;
    sqlx::query("UPDATE admin_users SET is_disabled = true WHERE username = 'gone'").execute(&pool).await.unwrap();
    let mut browser = Browser::new(&app);
    let mut answers = Vec::new();
    for (user, password) in [("nobody", PASSWORD), ("ana", "wrong password!"), ("gone", PASSWORD)] {
        let reply = browser.login(user, password).await;
        answers.push((reply.status, reply.error_code().to_owned(), reply.body["errors"][0]["message"].clone()));
        assert!(browser.cookie.is_none());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
    assert_eq!(answers[0].1, "UNAUTHENTICATED");
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed'").await, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_without_2fa_may_only_enroll_and_then_signs_in_with_totp(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.login("root", PASSWORD).await;

    let refused = browser.gql(LICENSES, json!({})).await;
    assert_eq!(refused.error_code(), "FORBIDDEN");
    assert_eq!(refused.body["errors"][0]["extensions"]["reason"], "TOTP_ENROLLMENT_REQUIRED");
    assert_eq!(browser.gql("{ me { username totpEnabled } }", json!({})).await.data("me")["totpEnabled"], false);
    let change = "mutation { changePassword(currentPassword: \"correct horse battery staple\", newPassword: \"another long one\") }";
    assert_eq!(
        browser.gql(change, json!({})).await.body["errors"][0]["extensions"]["reason"],
        "TOTP_ENROLLMENT_REQUIRED"
    );

    let enrollment = browser.gql("mutation { enrollTotp { secret otpauthUri qrCodeSvg } }", json!({})).await;
    let secret = enrollment.data("enrollTotp")["secret"].as_str().unwrap().to_owned();
    assert!(enrollment.data("enrollTotp")["otpauthUri"].as_str().unwrap().contains(&secret));
    let wrong = browser.gql("mutation { confirmTotp(code: \"000000\") }", json!({})).await;
    assert_eq!(wrong.error_code(), "BAD_USER_INPUT");
    let code = totp_code(&secret, step_safe_now().await);
    let codes = browser.gql("mutation($c: String!) { confirmTotp(code: $c) }", json!({"c": code})).await;
    assert_eq!(codes.data("confirmTotp").as_array().unwrap().len(), 10);
    // The session is a full one now.
    assert_eq!(browser.gql(LICENSES, json!({})).await.data("licenses")["totalCount"], 0);

    // Next time the password alone is not enough.
    let mut second = Browser::new(&app);
    let login = second.login("root", PASSWORD).await;
    assert_eq!(login.data("login")["__typename"], "TotpRequired");
    assert!(second.cookie.is_none(), "no session before the second factor");
    let challenge = login.data("login")["challenge"].as_str().unwrap().to_owned();
    let now = step_safe_now().await;
    let verified = second.verify_totp(&challenge, &totp_code(&secret, now + 30)).await;
    assert_eq!(verified.data("verifyTotp")["__typename"], "LoginSucceeded");
    assert_eq!(second.gql(LICENSES, json!({})).await.data("licenses")["totalCount"], 0);

    let secrets_in_audit: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE audit_log::text ILIKE '%' || $1 || '%'")
            .bind(&secret)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(secrets_in_audit, 0, "the TOTP secret never reaches the audit log");
}

#[sqlx::test(migrations = "../migrations")]
async fn totp_accepts_one_step_of_skew_refuses_two_and_never_the_same_step_twice(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let (secret, _) = enroll(&mut Browser::new(&app), "root").await;
    // Confirming the enrollment consumed the current step; pretend that was long ago so that
    // the step before the current one is still unused.
    sqlx::query("UPDATE admin_users SET totp_last_step = 0").execute(&pool).await.unwrap();
    let challenge = |reply: crate::helpers::Reply| reply.data("login")["challenge"].as_str().unwrap().to_owned();

    let mut browser = Browser::new(&app);
    let first = challenge(browser.login("root", PASSWORD).await);
    let now = step_safe_now().await;
    for offset in [-60i64, 60] {
        let reply = browser.verify_totp(&first, &totp_code(&secret, (now as i64 + offset) as u64)).await;
        assert_eq!(reply.error_code(), "UNAUTHENTICATED", "two steps off ({offset} s) is refused");
    }
    let behind = browser.verify_totp(&first, &totp_code(&secret, now - 30)).await;
    assert_eq!(behind.data("verifyTotp")["__typename"], "LoginSucceeded", "one step behind is accepted");

    // That step is spent now, for every later sign-in.
    let mut other = Browser::new(&app);
    let second = challenge(other.login("root", PASSWORD).await);
    let replay = other.verify_totp(&second, &totp_code(&secret, now - 30)).await;
    assert_eq!(replay.error_code(), "UNAUTHENTICATED");
    assert!(replay.body["errors"][0]["message"].as_str().unwrap().contains("already used"));
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'auth.totp_replayed'").await, 1);
    let ahead = other.verify_totp(&second, &totp_code(&secret, now + 30)).await;
    assert_eq!(ahead.data("verifyTotp")["__typename"], "LoginSucceeded", "one step ahead is accepted");
    let used_up = other.verify_totp(&second, &totp_code(&secret, now + 30)).await;
    assert_eq!(used_up.error_code(), "UNAUTHENTICATED", "a challenge is redeemed once");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_recovery_code_works_exactly_once(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let (_, codes) = enroll(&mut Browser::new(&app), "root").await;
    for code in &codes {
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 4, "four groups: {code}");
        assert!(
            groups.iter().all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())),
            "of four symbols each (16 × 5 bits = 80 bits): {code}"
        );
    }

    let mut browser = Browser::new(&app);
    let login = browser.login("root", PASSWORD).await;
    let challenge = login.data("login")["challenge"].as_str().unwrap().to_owned();
    let typed = codes[0].to_lowercase().replace('-', " ");
    let used = browser.gql(RECOVER, json!({"c": challenge, "r": typed})).await;
    assert_eq!(used.data("useRecoveryCode")["__typename"], "LoginSucceeded");

    let mut again = Browser::new(&app);
    let login = again.login("root", PASSWORD).await;
    let challenge = login.data("login")["challenge"].as_str().unwrap().to_owned();
    assert_eq!(again.gql(RECOVER, json!({"c": challenge, "r": codes[0]})).await.error_code(), "UNAUTHENTICATED");
    assert_eq!(
        again.gql(RECOVER, json!({"c": challenge, "r": codes[1]})).await.data("useRecoveryCode")["__typename"],
        "LoginSucceeded"
    );

    // Stored salted: a salt of its own per code, and no digest is the plain SHA-256 of its code.
    let stored: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT salt, code_hash FROM admin_recovery_codes").fetch_all(&pool).await.unwrap();
    assert_eq!(stored.len(), 10);
    assert!(stored.iter().all(|(salt, digest)| salt.len() == 16 && digest.len() == 32));
    let salts: std::collections::HashSet<_> = stored.iter().map(|(salt, _)| salt).collect();
    assert_eq!(salts.len(), 10, "every code has its own salt");
    let plain: Vec<Vec<u8>> = codes.iter().map(|c| Sha256::digest(c.replace('-', "").as_bytes()).to_vec()).collect();
    assert!(stored.iter().all(|(_, digest)| !plain.contains(digest)), "no unsalted digest is stored");
    let in_audit: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log, unnest($1::text[]) AS code WHERE strpos(audit_log::text, code) > 0",
    )
    .bind(&codes)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(in_audit, 0, "recovery codes never reach the audit log");
}

#[sqlx::test(migrations = "../migrations")]
async fn recovery_codes_issued_before_salting_keep_working_once(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    enroll(&mut Browser::new(&app), "root").await;
    // A code of the old kind: 10 symbols, stored as the unsalted SHA-256 with no salt.
    sqlx::query(
        "INSERT INTO admin_recovery_codes (user_id, code_hash)
         SELECT id, sha256(convert_to('ABCDE12345', 'UTF8')) FROM admin_users",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut browser = Browser::new(&app);
    let challenge = browser.login("root", PASSWORD).await.data("login")["challenge"].as_str().unwrap().to_owned();
    let used = browser.gql(RECOVER, json!({"c": challenge, "r": "abcde-12345"})).await;
    assert_eq!(used.data("useRecoveryCode")["__typename"], "LoginSucceeded");
    let challenge = browser.login("root", PASSWORD).await.data("login")["challenge"].as_str().unwrap().to_owned();
    assert_eq!(browser.gql(RECOVER, json!({"c": challenge, "r": "ABCDE12345"})).await.error_code(), "UNAUTHENTICATED");
}

/// An app that believes `X-Forwarded-For` from 127.0.0.1, so that a test can speak from any address.
async fn spawn_behind_proxy(pool: &PgPool) -> TestApp {
    let auth = AuthSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..AuthSettings::default() };
    spawn_app_with(pool, Options { auth, ..Options::default() }).await
}

fn browser_at<'a>(app: &'a TestApp, address: &str) -> Browser<'a> {
    let mut browser = Browser::new(app);
    browser.forwarded_for = Some(address.to_owned());
    browser
}

#[sqlx::test(migrations = "../migrations")]
async fn five_failures_lock_that_address_out_but_the_right_password_still_works_from_another(pool: PgPool) {
    let app = spawn_behind_proxy(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut attacker = browser_at(&app, "203.0.113.66");
    for attempt in 1..=5 {
        assert_eq!(attacker.login("ana", "wrong password!").await.error_code(), "UNAUTHENTICATED", "attempt {attempt}");
    }
    let locked = attacker.login("ana", PASSWORD).await;
    assert_eq!(locked.error_code(), "TOO_MANY_ATTEMPTS", "locked even against the right password");
    assert!(locked.body["errors"][0]["extensions"]["retryAfter"].is_string());
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM audit_log WHERE action = 'auth.locked' AND new_values->>'scope' = 'address'
               AND client_ip = '203.0.113.66'"
        )
        .await,
        1
    );
    // Another session from the same address changes nothing.
    assert_eq!(browser_at(&app, "203.0.113.66").login("ANA", PASSWORD).await.error_code(), "TOO_MANY_ATTEMPTS");
    // The real user, elsewhere, is not locked out.
    let mut user = browser_at(&app, "198.51.100.7");
    assert_eq!(user.login("ana", PASSWORD).await.data("login")["__typename"], "LoginSucceeded");

    // IPv6 addresses count by their /64, which one subscriber usually holds whole.
    for _ in 0..5 {
        browser_at(&app, "2001:db8:1:2::1").login("ana", "wrong password!").await;
    }
    assert_eq!(browser_at(&app, "2001:db8:1:2::ffff").login("ana", PASSWORD).await.error_code(), "TOO_MANY_ATTEMPTS");
    assert_eq!(
        browser_at(&app, "2001:db8:1:3::1").login("ana", PASSWORD).await.data("login")["__typename"],
        "LoginSucceeded"
    );

    // When the lock runs out, the right password works and that address starts over.
    sqlx::query("UPDATE login_throttle SET locked_until = now() - interval '1 second' WHERE address = '203.0.113.66'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(attacker.login("ana", PASSWORD).await.data("login")["__typename"], "LoginSucceeded");
    assert_eq!(count(&pool, "SELECT failures::bigint FROM login_throttle WHERE address = '203.0.113.66'").await, 0);

    // Unknown names lock the same way, so a lock tells nothing about who exists.
    for _ in 0..5 {
        attacker.login("nobody", "wrong password!").await;
    }
    assert_eq!(attacker.login("nobody", PASSWORD).await.error_code(), "TOO_MANY_ATTEMPTS");
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_from_many_addresses_close_the_account_to_all_at_the_account_wide_cap(pool: PgPool) {
    let app = spawn_behind_proxy(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    create_user(&pool, "bob", Role::Analyst, PASSWORD).await;
    let mut user = browser_at(&app, "198.51.100.7");
    for _ in 0..3 {
        assert_eq!(user.login("ana", PASSWORD).await.data("login")["__typename"], "LoginSucceeded");
    }
    assert_eq!(
        count(&pool, "SELECT failures::bigint FROM login_throttle_accounts WHERE account = 'ana'").await,
        0,
        "sign-ins that succeed do not use up the account's allowance"
    );

    // 20 addresses, each within its own free failures, make up the cap of 100.
    let cap = license_server::admin::throttle::ACCOUNT_FAILURES_PER_WINDOW;
    let per_address = license_server::admin::throttle::FREE_FAILURES;
    for address in 0..cap / per_address {
        let mut guesser = browser_at(&app, &format!("203.0.113.{address}"));
        for guess in 0..per_address {
            let reply = guesser.login("ana", &format!("guess {address}.{guess}")).await;
            assert_eq!(reply.error_code(), "UNAUTHENTICATED", "{:?}", reply.body);
        }
    }
    assert_eq!(
        count(&pool, "SELECT failures::bigint FROM login_throttle_accounts WHERE account = 'ana'").await,
        i64::from(cap)
    );
    assert_eq!(user.login("ana", PASSWORD).await.error_code(), "TOO_MANY_ATTEMPTS", "closed to every address");
    assert_eq!(browser_at(&app, "192.0.2.1").login("ana", PASSWORD).await.error_code(), "TOO_MANY_ATTEMPTS");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM audit_log WHERE action = 'auth.locked' AND new_values->>'scope' = 'account'"
        )
        .await,
        1
    );
    assert_eq!(
        browser_at(&app, "203.0.113.1").login("bob", PASSWORD).await.data("login")["__typename"],
        "LoginSucceeded",
        "other accounts are not affected"
    );

    sqlx::query("UPDATE login_throttle_accounts SET window_started_at = now() - interval '1 hour'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(user.login("ana", PASSWORD).await.data("login")["__typename"], "LoginSucceeded", "a new window");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_saturated_password_check_answers_rate_limited_at_once(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let login = "mutation($u: String!) { login(username: $u, password: \"wrong password!\") { __typename } }";
    let send = |name: String| {
        let app = &app;
        async move {
            let sent = Instant::now();
            let response = app
                .client
                .post(format!("{}/graphql", app.address))
                .json(&json!({"query": login, "variables": {"u": name}}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let body: serde_json::Value = response.json().await.unwrap();
            (status, retry_after, body, sent.elapsed())
        }
    };
    // The first check of an unknown name also makes the dummy hash; time the second.
    send("warm-up".into()).await;
    let (_, _, _, one_check) = send("warm-up 2".into()).await;

    let flood = 16 * std::thread::available_parallelism().unwrap().get();
    let started = Instant::now();
    let replies = join_all((0..flood).map(|i| send(format!("random-{i}")))).await;
    let whole_flood = started.elapsed();

    let code = |body: &serde_json::Value| body["errors"][0]["extensions"]["code"].as_str().unwrap_or("").to_owned();
    let limited: Vec<_> = replies.iter().filter(|r| code(&r.2) == "RATE_LIMITED").collect();
    let checked = replies.iter().filter(|r| code(&r.2) == "UNAUTHENTICATED").count();
    assert_eq!(limited.len() + checked, flood, "only two answers: {replies:?}");
    assert!(!limited.is_empty(), "{flood} parallel checks saturate one permit per core");
    assert!(checked >= 1);
    for (status, retry_after, body, _) in &limited {
        assert_eq!(*status, 429);
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
        assert_eq!(body["errors"][0]["extensions"]["limit"], "login");
    }
    // A refused request waits for no check: queued, the last would wait flood / cores checks.
    let slowest_refusal = limited.iter().map(|r| r.3).max().unwrap();
    println!("one check {one_check:?}, slowest refusal {slowest_refusal:?}, the flood {whole_flood:?}");
    assert!(slowest_refusal < one_check * 3, "slowest refusal {slowest_refusal:?}, one check {one_check:?}");
    // Refused before the database was touched: only the checked names have throttle rows.
    assert_eq!(count(&pool, "SELECT count(*) FROM login_throttle").await, checked as i64 + 2);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed'").await,
        checked as i64 + 2
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn aliased_credential_checks_are_refused_before_any_runs(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let aliases: String =
        (0..20).map(|i| format!("a{i}: login(username: \"ana\", password: \"guess-{i}\") {{ __typename }} ")).collect();
    let reply = Browser::new(&app).gql(&format!("mutation {{ {aliases} }}"), json!({})).await;
    assert_eq!((reply.status, reply.error_code()), (400, "GRAPHQL_VALIDATION_FAILED"), "{:?}", reply.body);
    assert_eq!(reply.body["errors"][0]["extensions"]["rule"], "ONE_CREDENTIAL_CHECK_PER_OPERATION");
    assert!(reply.body.get("data").is_none(), "nothing ran");
    let mixed = "mutation { login(username: \"ana\", password: \"x\") { __typename }
                            verifyTotp(challenge: \"c\", code: \"123456\") { __typename } }";
    assert_eq!(Browser::new(&app).gql(mixed, json!({})).await.error_code(), "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(count(&pool, "SELECT count(*) FROM login_throttle").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action LIKE 'auth.%'").await, 0);

    // Signed in, fragments hide nothing either.
    let mut browser = Browser::new(&app);
    browser.login("ana", PASSWORD).await;
    let hidden = "mutation { ...Twice ...Twice } fragment Twice on Mutation {
                      changePassword(currentPassword: \"guess\", newPassword: \"a new long password\") }";
    assert_eq!(browser.gql(hidden, json!({})).await.error_code(), "GRAPHQL_VALIDATION_FAILED");
    let one = "mutation { ...Once } fragment Once on Mutation {
                   changePassword(currentPassword: \"guess\", newPassword: \"a new long password\") }";
    assert_eq!(browser.gql(one, json!({})).await.error_field(), "currentPassword", "one check is fine");
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_wrong_passwords_from_one_address_are_counted_one_by_one(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut checked = 0;
    for _round in 0..20 {
        let replies =
            join_all((0..12).map(|_| async { Browser::new(&app).login("ana", "wrong password!").await })).await;
        let codes: Vec<&str> = replies.iter().map(|r| r.error_code()).collect();
        assert!(
            codes.iter().all(|c| ["UNAUTHENTICATED", "TOO_MANY_ATTEMPTS", "RATE_LIMITED"].contains(c)),
            "{codes:?}"
        );
        checked += codes.iter().filter(|c| **c == "UNAUTHENTICATED").count();
        if codes.iter().all(|c| *c == "TOO_MANY_ATTEMPTS") {
            break;
        }
    }
    assert_eq!(checked, 5, "five passwords were checked, however many arrived at once");
    assert_eq!(count(&pool, "SELECT failures::bigint FROM login_throttle WHERE account = 'ana'").await, 5);
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_totp_guesses_are_counted_one_by_one(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let (secret, _) = enroll(&mut Browser::new(&app), "root").await;
    let mut browser = Browser::new(&app);
    let login = browser.login("root", PASSWORD).await;
    let challenge = login.data("login")["challenge"].as_str().unwrap().to_owned();
    let now = step_safe_now().await;
    let valid: Vec<String> = [now - 30, now, now + 30].iter().map(|t| totp_code(&secret, *t)).collect();
    let wrong: Vec<String> =
        (0..100_000u32).map(|i| format!("{:06}", i * 7)).filter(|c| !valid.contains(c)).take(12).collect();
    let replies = join_all(wrong.iter().map(|code| {
        let challenge = challenge.clone();
        let app = &app;
        async move { Browser::new(app).verify_totp(&challenge, code).await }
    }))
    .await;
    let codes: Vec<&str> = replies.iter().map(|r| r.error_code()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "UNAUTHENTICATED").count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == "TOO_MANY_ATTEMPTS").count(), 7, "{codes:?}");
    let real = browser.verify_totp(&challenge, &totp_code(&secret, now + 30)).await;
    assert_eq!(real.error_code(), "TOO_MANY_ATTEMPTS", "even the right code waits for the lock");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_purge_removes_spent_counters_and_old_challenges_and_keeps_live_ones(pool: PgPool) {
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    sqlx::query(
        "INSERT INTO login_throttle (account, address, failures, locked_until, last_failure_at) VALUES
             ('forgiven', '203.0.113.1', 3, NULL, now() - interval '61 minutes'),
             ('lock-long-over', '203.0.113.2', 7, now() - interval '61 minutes', now() - interval '70 minutes'),
             ('succeeded', '203.0.113.3', 0, NULL, NULL),
             ('recent', '203.0.113.4', 2, NULL, now() - interval '10 minutes'),
             ('locked', '203.0.113.5', 9, now() + interval '30 minutes', now() - interval '30 minutes'),
             ('lock-just-over', '203.0.113.6', 6, now() - interval '10 minutes', now() - interval '70 minutes')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO login_throttle_accounts (account, failures, window_started_at) VALUES
             ('window-over', 50, now() - interval '61 minutes'), ('window-open', 50, now() - interval '30 minutes')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO login_challenges (token_hash, user_id, expires_at, used_at)
         SELECT convert_to(c.kind, 'UTF8'), u.id, c.expires_at, c.used_at FROM admin_users u,
                (VALUES ('used', now() + interval '4 minutes', now()),
                        ('expired', now() - interval '1 second', NULL::timestamptz),
                        ('live', now() + interval '4 minutes', NULL)) AS c (kind, expires_at, used_at)",
    )
    .execute(&pool)
    .await
    .unwrap();

    let _app = spawn_app_with(&pool, Options { background: true, ..Options::default() }).await;
    let remaining = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, String>(sql).fetch_all(&pool).await.unwrap() }
    };
    let purged = eventually(Duration::from_secs(10), || async {
        remaining("SELECT account FROM login_throttle").await.len() == 3
    })
    .await;
    assert!(purged, "{:?}", remaining("SELECT account FROM login_throttle").await);
    assert_eq!(
        remaining("SELECT account FROM login_throttle ORDER BY account").await,
        ["lock-just-over", "locked", "recent"]
    );
    assert_eq!(remaining("SELECT account FROM login_throttle_accounts").await, ["window-open"]);
    assert_eq!(
        remaining("SELECT convert_from(token_hash, 'UTF8') FROM login_challenges").await,
        ["live"],
        "used and expired challenges go"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn sessions_end_after_the_idle_and_the_absolute_timeout(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.login("ana", PASSWORD).await;

    // Activity within the idle timeout (30 min) keeps the session alive and moves its clock.
    sqlx::query("UPDATE admin_sessions SET last_seen_at = now() - interval '29 minutes'").execute(&pool).await.unwrap();
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 200);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM admin_sessions WHERE last_seen_at > now() - interval '1 minute'").await,
        1
    );

    sqlx::query("UPDATE admin_sessions SET last_seen_at = now() - interval '31 minutes'").execute(&pool).await.unwrap();
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 401, "idle too long");

    browser.login("ana", PASSWORD).await;
    sqlx::query("UPDATE admin_sessions SET created_at = now() - interval '12 hours 1 minute'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 401, "older than the absolute timeout, however active");
}

#[sqlx::test(migrations = "../migrations")]
async fn configured_timeouts_apply(pool: PgPool) {
    let mut auth = AuthSettings::default();
    auth.sessions.idle_timeout = Duration::from_secs(1);
    let app = spawn_app_with(&pool, Options { auth, ..Options::default() }).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.login("ana", PASSWORD).await;
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 200);
    sqlx::query("UPDATE admin_sessions SET last_seen_at = now() - interval '2 seconds'").execute(&pool).await.unwrap();
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn logout_ends_the_session_on_the_server(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.login("ana", PASSWORD).await;
    let stolen = browser.cookie.clone();
    assert_eq!(browser.gql("mutation { logout }", json!({})).await.data("logout"), true);
    assert!(browser.last_set_cookies[0].contains("Max-Age=0"), "the cookie is cleared");
    assert_eq!(count(&pool, "SELECT count(*) FROM admin_sessions").await, 0);
    browser.cookie = stolen;
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 401, "a copy of the old cookie is worthless");
}

#[sqlx::test(migrations = "../migrations")]
async fn disabling_a_user_kills_their_sessions_at_once(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut browser = Browser::new(&app);
    let id = browser.login("ana", PASSWORD).await.data("login")["user"]["id"].as_str().unwrap().to_owned();

    let disabled =
        app.gql(&admin, "mutation($id: ID!) { disableAdminUser(id: $id) { isDisabled } }", json!({"id": id})).await;
    assert_eq!(disabled.data("disableAdminUser")["isDisabled"], true);
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 401);
    assert_eq!(browser.login("ana", PASSWORD).await.error_code(), "UNAUTHENTICATED");

    app.gql(&admin, "mutation($id: ID!) { enableAdminUser(id: $id) { isDisabled } }", json!({"id": id}))
        .await
        .data("enableAdminUser");
    assert_eq!(browser.login("ana", PASSWORD).await.data("login")["__typename"], "LoginSucceeded");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'user.%abled' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(actions, ["user.disabled", "user.enabled"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn cookie_mutations_from_another_origin_are_refused(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let mut browser = Browser::new(&app);
    let (_, _) = enroll(&mut browser, "root").await;
    let create = "mutation { createCustomer(input: {name: \"N\", email: \"n@example.com\"}) { id } }";

    browser.origin = "https://evil.example".into();
    let refused = browser.gql(create, json!({})).await;
    assert_eq!((refused.status, refused.error_code()), (403, "FORBIDDEN"));
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("Cookie", browser.cookie.clone().unwrap())
        .header("Sec-Fetch-Site", "cross-site")
        .json(&json!({"query": create}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let no_origin = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("Cookie", browser.cookie.clone().unwrap())
        .json(&json!({"query": create}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_origin.status().as_u16(), 403, "a cookie mutation must show where it comes from");
    // X-Forwarded-Host is believed only from a trusted proxy (none is configured here): a page
    // elsewhere cannot make its own origin match by naming itself there.
    let forged_host = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("Cookie", browser.cookie.clone().unwrap())
        .header("Origin", "https://evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .json(&json!({"query": create}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged_host.status().as_u16(), 403, "X-Forwarded-Host from an untrusted peer");
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 0);

    browser.origin = app.address.clone();
    assert!(browser.gql(create, json!({})).await.data("createCustomer")["id"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn anonymous_callers_may_only_sign_in(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.gql("{ me { username } }", json!({})).await.data("me"), &json!(null));
    let refused = browser.gql(LICENSES, json!({})).await;
    assert_eq!((refused.status, refused.error_code()), (401, "UNAUTHENTICATED"));
    let mixed = browser.gql("{ me { username } licenses { totalCount } }", json!({})).await;
    assert_eq!(mixed.status, 401, "one protected field makes the whole operation need a sign-in");
}

#[sqlx::test(migrations = "../migrations")]
async fn passwords_change_only_with_the_current_one_and_other_sessions_end(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut here = Browser::new(&app);
    let mut there = Browser::new(&app);
    here.login("ana", PASSWORD).await;
    there.login("ana", PASSWORD).await;
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

    let wrong = here.gql(change, json!({"c": "not it at all", "n": "a new long password"})).await;
    assert_eq!((wrong.error_code(), wrong.error_field()), ("BAD_USER_INPUT", "currentPassword"));
    let short = here.gql(change, json!({"c": PASSWORD, "n": "short"})).await;
    assert_eq!((short.error_code(), short.error_field()), ("BAD_USER_INPUT", "newPassword"));
    assert_eq!(here.gql(change, json!({"c": PASSWORD, "n": "a new long password"})).await.data("changePassword"), true);

    assert_eq!(here.gql(LICENSES, json!({})).await.status, 200, "the session that changed it stays");
    assert_eq!(there.gql(LICENSES, json!({})).await.status, 401, "every other session ends");
    assert_eq!(Browser::new(&app).login("ana", PASSWORD).await.error_code(), "UNAUTHENTICATED");
    assert_eq!(
        Browser::new(&app).login("ana", "a new long password").await.data("login")["__typename"],
        "LoginSucceeded"
    );
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM admin_users").fetch_one(&pool).await.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
}

#[sqlx::test(migrations = "../migrations")]
async fn disabling_2fa_needs_the_password_and_a_current_code(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.login("ana", PASSWORD).await;
    let enrollment = browser.gql("mutation { enrollTotp { secret } }", json!({})).await;
    let secret = enrollment.data("enrollTotp")["secret"].as_str().unwrap().to_owned();
    let now = step_safe_now().await;
    browser
        .gql("mutation($c: String!) { confirmTotp(code: $c) }", json!({"c": totp_code(&secret, now)}))
        .await
        .data("confirmTotp");
    let disable = DISABLE;

    let no_code = browser.gql(disable, json!({"p": PASSWORD, "c": "123456"})).await;
    assert_eq!(no_code.error_code(), "UNAUTHENTICATED");
    let no_password = browser.gql(disable, json!({"p": "wrong password!", "c": totp_code(&secret, now + 30)})).await;
    assert_eq!(no_password.error_code(), "UNAUTHENTICATED");
    let done = browser.gql(disable, json!({"p": PASSWORD, "c": totp_code(&secret, now + 30)})).await;
    assert_eq!(done.data("disableTotp")["totpEnabled"], false);
    assert_eq!(count(&pool, "SELECT count(*) FROM admin_recovery_codes").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'user.totp_disabled'").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn disabling_2fa_with_a_code_already_used_to_sign_in_fails(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let mut browser = Browser::new(&app);
    let (secret, _) = enroll(&mut browser, "root").await;
    let code = totp_code(&secret, step_safe_now().await + 30);
    let mut elsewhere = Browser::new(&app);
    let challenge = elsewhere.login("root", PASSWORD).await.data("login")["challenge"].as_str().unwrap().to_owned();
    assert_eq!(elsewhere.verify_totp(&challenge, &code).await.data("verifyTotp")["__typename"], "LoginSucceeded");

    let replayed = browser.gql(DISABLE, json!({"p": PASSWORD, "c": code})).await;
    assert_eq!(replayed.error_code(), "UNAUTHENTICATED");
    assert!(replayed.body["errors"][0]["message"].as_str().unwrap().contains("already used"), "{:?}", replayed.body);
    assert_eq!(browser.gql("{ me { totpEnabled } }", json!({})).await.data("me")["totpEnabled"], true);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'auth.totp_replayed'").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn of_two_concurrent_disables_with_one_code_one_wins(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let mut first = Browser::new(&app);
    let (secret, _) = enroll(&mut first, "root").await;
    let mut second = Browser::new(&app);
    second.cookie = first.cookie.clone();
    let code = totp_code(&secret, step_safe_now().await + 30);
    let variables = json!({"p": PASSWORD, "c": code});
    let (a, b) = tokio::join!(first.gql(DISABLE, variables.clone()), second.gql(DISABLE, variables.clone()));
    let won = [&a, &b].iter().filter(|r| r.body["data"]["disableTotp"]["totpEnabled"] == false).count();
    assert_eq!(won, 1, "{:?} {:?}", a.body, b.body);
    let loser = if a.body["data"]["disableTotp"].is_object() { &b } else { &a };
    assert!(["UNAUTHENTICATED", "BAD_USER_INPUT", "RATE_LIMITED"].contains(&loser.error_code()), "{:?}", loser.body);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'user.totp_disabled'").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn admins_manage_users_roles_and_second_factors(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let analyst = app.key(Scope::Analyst).await;
    let create = "mutation($i: CreateAdminUserInput!) { createAdminUser(input: $i) { id username role isDisabled totpEnabled } }";
    let created =
        app.gql(&admin, create, json!({"i": {"username": "bea", "role": "ANALYST", "password": PASSWORD}})).await;
    let id = created.data("createAdminUser")["id"].as_str().unwrap().to_owned();
    let dup = app.gql(&admin, create, json!({"i": {"username": "BEA", "role": "ADMIN", "password": PASSWORD}})).await;
    assert_eq!((dup.error_code(), dup.error_field()), ("BAD_USER_INPUT", "username"));
    let short =
        app.gql(&admin, create, json!({"i": {"username": "cid", "role": "ADMIN", "password": "1234567"}})).await;
    assert_eq!((short.error_code(), short.error_field()), ("BAD_USER_INPUT", "password"));
    assert_eq!(
        app.gql(&analyst, create, json!({"i": {"username": "x", "role": "ADMIN", "password": PASSWORD}}))
            .await
            .error_code(),
        "FORBIDDEN"
    );

    let promoted = app
        .gql(&admin, "mutation($id: ID!) { setAdminUserRole(id: $id, role: ADMIN) { role } }", json!({"id": id}))
        .await;
    assert_eq!(promoted.data("setAdminUserRole")["role"], "ADMIN");
    let mut browser = Browser::new(&app);
    let (_, _) = enroll(&mut browser, "bea").await;
    let reset =
        app.gql(&admin, "mutation($id: ID!) { resetAdminUserTotp(id: $id) { totpEnabled } }", json!({"id": id})).await;
    assert_eq!(reset.data("resetAdminUserTotp")["totpEnabled"], false);
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 401, "a 2FA reset ends the user's sessions");
    assert_eq!(browser.login("bea", PASSWORD).await.data("login")["totpEnrollmentRequired"], true);

    let users = app.gql(&admin, "{ adminUsers { username role } }", json!({})).await;
    assert_eq!(users.data("adminUsers"), &json!([{"username": "bea", "role": "ADMIN"}]));
    let listed = users.body.to_string();
    assert!(!listed.contains("argon2"), "no hashes in the API");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cli_creates_the_first_admin_reading_the_password_from_stdin(pool: PgPool) {
    use sqlx::ConnectOptions;
    use std::io::Write;
    let url = pool.connect_options().to_url_lossy().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_license-server"))
        .args(["admin", "create", "--username", "first", "--role", "admin"])
        .env("DATABASE_URL", url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!printed.contains(PASSWORD), "the password is never echoed");

    let app = spawn_app(&pool).await;
    let login = Browser::new(&app).login("first", PASSWORD).await;
    assert_eq!(login.data("login")["user"]["role"], "ADMIN");
}
