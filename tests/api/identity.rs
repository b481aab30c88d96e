//! Dashboard identity: sign-in with password and TOTP, sessions, throttling, roles, API-key
//! management and the audit log, driven as a browser would (cookies, Origin).

use license_server::admin::users::Role;
use license_server::admin::AuthSettings;
use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{count, create_user, spawn_app, spawn_app_with, step_safe_now, totp_code, Browser, Options};

const PASSWORD: &str = "correct horse battery staple";
const LICENSES: &str = "{ licenses(first: 1) { totalCount } }";

/// Signs `username` in, enrolls 2FA and returns the base32 secret and the recovery codes.
async fn enroll(browser: &mut Browser<'_>, username: &str) -> (String, Vec<String>) {
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
    let recover = "mutation($c: String!, $r: String!) { useRecoveryCode(challenge: $c, code: $r) { __typename } }";

    let mut browser = Browser::new(&app);
    let login = browser.login("root", PASSWORD).await;
    let challenge = login.data("login")["challenge"].as_str().unwrap().to_owned();
    let typed = codes[0].to_lowercase().replace('-', " ");
    let used = browser.gql(recover, json!({"c": challenge, "r": typed})).await;
    assert_eq!(used.data("useRecoveryCode")["__typename"], "LoginSucceeded");

    let mut again = Browser::new(&app);
    let login = again.login("root", PASSWORD).await;
    let challenge = login.data("login")["challenge"].as_str().unwrap().to_owned();
    assert_eq!(again.gql(recover, json!({"c": challenge, "r": codes[0]})).await.error_code(), "UNAUTHENTICATED");
    assert_eq!(
        again.gql(recover, json!({"c": challenge, "r": codes[1]})).await.data("useRecoveryCode")["__typename"],
        "LoginSucceeded"
    );
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT code_hash FROM admin_recovery_codes").fetch_all(&pool).await.unwrap();
    assert_eq!(stored.len(), 10);
    assert!(stored.iter().all(|h| h.len() == 32), "stored as SHA-256 digests");
}

#[sqlx::test(migrations = "../migrations")]
async fn five_failures_lock_the_account_even_against_the_right_password(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut browser = Browser::new(&app);
    for attempt in 1..=5 {
        assert_eq!(browser.login("ana", "wrong password!").await.error_code(), "UNAUTHENTICATED", "attempt {attempt}");
    }
    let locked = browser.login("ana", PASSWORD).await;
    assert_eq!(locked.error_code(), "TOO_MANY_ATTEMPTS");
    assert!(locked.body["errors"][0]["extensions"]["retryAfter"].is_string());
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'auth.locked'").await, 1);
    // Another address or session changes nothing: the count is per account.
    let mut elsewhere = Browser::new(&app);
    assert_eq!(elsewhere.login("ANA", PASSWORD).await.error_code(), "TOO_MANY_ATTEMPTS");

    // When the lock runs out, the right password works and the count starts over.
    sqlx::query("UPDATE login_throttle SET locked_until = now() - interval '1 second'").execute(&pool).await.unwrap();
    assert_eq!(browser.login("ana", PASSWORD).await.data("login")["__typename"], "LoginSucceeded");
    assert_eq!(count(&pool, "SELECT failures::bigint FROM login_throttle").await, 0);

    // Unknown names lock the same way, so a lock tells nothing about who exists.
    for _ in 0..5 {
        browser.login("nobody", "wrong password!").await;
    }
    assert_eq!(browser.login("nobody", PASSWORD).await.error_code(), "TOO_MANY_ATTEMPTS");
}

#[sqlx::test(migrations = "../migrations")]
async fn aliasing_many_logins_into_one_request_counts_every_one(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let aliases: String =
        (0..20).map(|i| format!("a{i}: login(username: \"ana\", password: \"guess-{i}\") {{ __typename }} ")).collect();
    let reply = Browser::new(&app).gql(&format!("mutation {{ {aliases} }}"), json!({})).await;
    let codes: Vec<&str> =
        reply.body["errors"].as_array().unwrap().iter().map(|e| e["extensions"]["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 20);
    assert_eq!(codes.iter().filter(|c| **c == "UNAUTHENTICATED").count(), 5, "five passwords were checked");
    assert_eq!(codes.iter().filter(|c| **c == "TOO_MANY_ATTEMPTS").count(), 15, "the rest were refused unchecked");
    assert_eq!(count(&pool, "SELECT failures::bigint FROM login_throttle WHERE account = 'ana'").await, 5);
}

#[sqlx::test(migrations = "../migrations")]
async fn aliased_totp_guesses_are_throttled_too(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let (secret, _) = enroll(&mut Browser::new(&app), "root").await;
    let mut browser = Browser::new(&app);
    let login = browser.login("root", PASSWORD).await;
    let challenge = login.data("login")["challenge"].as_str().unwrap().to_owned();
    let guesses: String = (0..12)
        .map(|i| {
            format!(
                "g{i}: verifyTotp(challenge: \"{challenge}\", code: \"{:06}\") {{ __typename }} ",
                111_111 * (i % 9 + 1)
            )
        })
        .collect();
    let reply = browser.gql(&format!("mutation {{ {guesses} }}"), json!({})).await;
    let locked = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["extensions"]["code"] == "TOO_MANY_ATTEMPTS")
        .count();
    assert_eq!(locked, 7);
    let real = browser.verify_totp(&challenge, &totp_code(&secret, step_safe_now().await + 30)).await;
    assert_eq!(real.error_code(), "TOO_MANY_ATTEMPTS", "even the right code waits for the lock");
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
    auth.sessions.idle_timeout = std::time::Duration::from_secs(1);
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
    let disable = "mutation($p: String!, $c: String!) { disableTotp(password: $p, code: $c) { totpEnabled } }";

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
