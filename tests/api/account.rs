//! "My account": a signed-in user's password rules, their own dashboard sessions (listed, ended
//! one by one or all but the current one), new recovery codes, and turning 2FA off and on again,
//! driven as the dashboard does (cookie and Origin). Only their own, never with an API key.

use license_server::admin::users::Role;
use license_server::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{count, create_user, spawn_app, step_safe_now, totp_code, Browser, TestApp};
use crate::identity::enroll;

const PASSWORD: &str = "correct horse battery staple";
const LICENSES: &str = "{ licenses(first: 1) { totalCount } }";
const SESSIONS: &str = "{ myDashboardSessions { id createdAt lastSeenAt ipAddress userAgent current } }";
const END_ONE: &str = "mutation($id: ID!) { endDashboardSession(id: $id) }";
const END_OTHERS: &str = "mutation { endOtherDashboardSessions }";
const REGENERATE: &str = "mutation($p: String!, $c: String!) { regenerateRecoveryCodes(password: $p, code: $c) }";
const DISABLE: &str = "mutation($p: String!, $c: String!) { disableTotp(password: $p, code: $c) { totpEnabled } }";
const RECOVER: &str = "mutation($c: String!, $r: String!) { useRecoveryCode(challenge: $c, code: $r) { __typename } }";

/// Signs `username` in with a `User-Agent` header, as a real browser sends one.
async fn sign_in_with_agent<'a>(app: &'a TestApp, username: &str, agent: &str) -> Browser<'a> {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("Origin", &app.address)
        .header("User-Agent", agent)
        .json(&json!({
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { __typename } }",
            "variables": {"u": username, "p": PASSWORD},
        }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers().get("set-cookie").expect("signed in").to_str().unwrap();
    let mut browser = Browser::new(app);
    browser.cookie = Some(cookie.split(';').next().unwrap().to_owned());
    browser
}

async fn signed_in<'a>(app: &'a TestApp, username: &str) -> Browser<'a> {
    let mut browser = Browser::new(app);
    assert_eq!(browser.login(username, PASSWORD).await.data("login")["__typename"], "LoginSucceeded");
    browser
}

/// The ids of the caller's sessions, the current one first.
async fn session_ids(browser: &mut Browser<'_>) -> Vec<String> {
    let reply = browser.gql(SESSIONS, json!({})).await;
    reply.data("myDashboardSessions").as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

/// A code for a step after `last_step` that the server accepts now (one step of skew either
/// way), waiting for the clock when `last_step` is already the next one; and that step.
async fn code_after(secret: &str, last_step: u64) -> (String, u64) {
    loop {
        let current = step_safe_now().await / 30;
        if last_step < current + 1 {
            let step = (last_step + 1).max(current);
            return (totp_code(secret, step * 30), step);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn audit_count(pool: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1").bind(action).fetch_one(pool).await.unwrap()
}

/// Whether any audit row holds `text` (case and dashes aside, as recovery codes are typed).
async fn audit_mentions(pool: &PgPool, text: &str) -> bool {
    let bare: String = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM audit_log
                        WHERE upper(regexp_replace(audit_log::text, '[^A-Za-z0-9]', '', 'g')) LIKE '%' || upper($1) || '%')",
    )
    .bind(bare)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_password_rules_shown_are_the_ones_the_server_enforces(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut ana = signed_in(&app, "ana").await;
    let policy = ana.gql("{ passwordPolicy { minLength maxLength } }", json!({})).await;
    let (min, max) = (
        policy.data("passwordPolicy")["minLength"].as_u64().unwrap() as usize,
        policy.data("passwordPolicy")["maxLength"].as_u64().unwrap() as usize,
    );
    assert_eq!((min, max), (8, 128));

    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    for refused in ["x".repeat(min - 1), "x".repeat(max + 1)] {
        let reply = ana.gql(change, json!({"c": PASSWORD, "n": refused})).await;
        assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", "newPassword"), "{}", refused.len());
    }
    assert_eq!(ana.gql(change, json!({"c": PASSWORD, "n": "ä".repeat(min)})).await.data("changePassword"), true);

    // Keys that read may see the rules (admins create users with them); client keys and
    // anonymous callers may not.
    for scope in [Scope::Admin, Scope::Analyst] {
        let key = app.key(scope).await;
        let reply = app.gql(&key, "{ passwordPolicy { minLength } }", json!({})).await;
        assert_eq!(reply.data("passwordPolicy")["minLength"], min, "{scope:?}");
    }
    let client = app.key(Scope::Client).await;
    assert_eq!(app.gql(&client, "{ passwordPolicy { minLength } }", json!({})).await.error_code(), "FORBIDDEN");
    assert_eq!(Browser::new(&app).gql("{ passwordPolicy { minLength } }", json!({})).await.status, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_user_sees_only_their_own_live_sessions_with_address_and_browser(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    create_user(&pool, "bob", Role::Analyst, PASSWORD).await;
    let mut here = sign_in_with_agent(&app, "ana", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0").await;
    let mut there = signed_in(&app, "ana").await;
    let mut stale = signed_in(&app, "ana").await;
    let mut bob = signed_in(&app, "bob").await;
    let bob_ids = session_ids(&mut bob).await;
    // Past the idle timeout: no longer a session, though the purge has not run yet.
    let stale_id = session_ids(&mut stale).await[0].clone();
    sqlx::query("UPDATE admin_sessions SET last_seen_at = now() - interval '31 minutes' WHERE id = $1::uuid")
        .bind(&stale_id)
        .execute(&pool)
        .await
        .unwrap();
    let there_id = session_ids(&mut there).await[0].clone();

    let reply = here.gql(SESSIONS, json!({})).await;
    let sessions = reply.data("myDashboardSessions").as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let (current, other) = (&sessions[0], &sessions[1]);
    assert_eq!(current["current"], true, "the current session comes first");
    assert_eq!(current["userAgent"], "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    assert_eq!(current["ipAddress"], "127.0.0.1");
    assert_eq!((other["id"].as_str().unwrap(), &other["current"]), (there_id.as_str(), &json!(false)));
    assert_eq!(other["userAgent"], json!(null), "no User-Agent sent, none recorded");
    let listed: Vec<&str> = sessions.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(!listed.contains(&stale_id.as_str()), "a timed-out session is not listed");
    assert!(bob_ids.iter().all(|id| !listed.contains(&id.as_str())), "another user's sessions are never listed");

    // A User-Agent is kept to 256 characters, without control characters.
    let mut long = sign_in_with_agent(&app, "bob", &format!("Agent/{}", "x".repeat(400))).await;
    let agent = long.gql(SESSIONS, json!({})).await.data("myDashboardSessions")[0]["userAgent"].clone();
    assert_eq!(agent.as_str().unwrap().chars().count(), 256);

    let admin_key = app.key(Scope::Admin).await;
    let refused = app.gql(&admin_key, SESSIONS, json!({})).await;
    assert_eq!(refused.error_code(), "FORBIDDEN", "an API key has no account");
    assert_eq!(Browser::new(&app).gql(SESSIONS, json!({})).await.status, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_ended_session_is_signed_out_and_only_ones_own_other_sessions_can_be_ended(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    create_user(&pool, "bob", Role::Analyst, PASSWORD).await;
    let mut here = signed_in(&app, "ana").await;
    let mut there = signed_in(&app, "ana").await;
    let mut bob = signed_in(&app, "bob").await;
    let (here_id, there_id, bob_id) = (
        session_ids(&mut here).await[0].clone(),
        session_ids(&mut there).await[0].clone(),
        session_ids(&mut bob).await[0].clone(),
    );
    let sessions_before = count(&pool, "SELECT count(*) FROM admin_sessions").await;

    let others = here.gql(END_ONE, json!({"id": bob_id})).await;
    assert_eq!((others.error_code(), others.error_field()), ("NOT_FOUND", "id"), "{:?}", others.body);
    let unknown = here.gql(END_ONE, json!({"id": uuid::Uuid::new_v4().to_string()})).await;
    assert_eq!(unknown.error_code(), "NOT_FOUND");
    let own = here.gql(END_ONE, json!({"id": here_id})).await;
    assert_eq!((own.error_code(), own.error_field()), ("BAD_USER_INPUT", "id"), "the current one signs out instead");
    let malformed = here.gql(END_ONE, json!({"id": "not-an-id"})).await;
    assert_eq!(malformed.error_code(), "BAD_USER_INPUT");
    let admin_key = app.key(Scope::Admin).await;
    assert_eq!(app.gql(&admin_key, END_ONE, json!({"id": there_id})).await.error_code(), "FORBIDDEN");
    assert_eq!(count(&pool, "SELECT count(*) FROM admin_sessions").await, sessions_before, "nothing ended");
    assert_eq!(audit_count(&pool, "user.session_ended").await, 0);
    assert_eq!(bob.gql(LICENSES, json!({})).await.status, 200);

    assert_eq!(here.gql(END_ONE, json!({"id": there_id})).await.data("endDashboardSession"), true);
    let refused = there.gql(LICENSES, json!({})).await;
    assert_eq!((refused.status, refused.error_code()), (401, "UNAUTHENTICATED"), "its cookie is refused");
    assert_eq!(session_ids(&mut here).await, vec![here_id.clone()]);
    assert_eq!(here.gql(END_ONE, json!({"id": there_id})).await.error_code(), "NOT_FOUND", "ended once");

    let (actor, values): (String, serde_json::Value) =
        sqlx::query_as("SELECT actor_name, new_values FROM audit_log WHERE action = 'user.session_ended'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((actor.as_str(), values), ("ana", json!({"sessionId": there_id})));
}

#[sqlx::test(migrations = "../migrations")]
async fn signing_out_everywhere_else_keeps_the_current_session_and_other_users_alone(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    create_user(&pool, "bob", Role::Analyst, PASSWORD).await;
    let mut here = signed_in(&app, "ana").await;
    let mut elsewhere = [signed_in(&app, "ana").await, signed_in(&app, "ana").await];
    let mut bob = signed_in(&app, "bob").await;

    assert_eq!(here.gql(END_OTHERS, json!({})).await.data("endOtherDashboardSessions"), 2);
    for other in &mut elsewhere {
        assert_eq!(other.gql(LICENSES, json!({})).await.status, 401);
    }
    assert_eq!(here.gql(LICENSES, json!({})).await.status, 200, "the current session stays");
    assert_eq!(bob.gql(LICENSES, json!({})).await.status, 200, "another user's sessions stay");
    assert_eq!(session_ids(&mut here).await.len(), 1);
    assert_eq!(here.gql(END_OTHERS, json!({})).await.data("endOtherDashboardSessions"), 0, "none left");

    let values: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT new_values FROM audit_log WHERE action = 'user.other_sessions_ended' AND actor_name = 'ana' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(values, vec![json!({"ended": 2}), json!({"ended": 0})]);
    let key = app.key(Scope::Admin).await;
    assert_eq!(app.gql(&key, END_OTHERS, json!({})).await.error_code(), "FORBIDDEN");
    assert_eq!(bob.gql(LICENSES, json!({})).await.status, 200, "an API key ended nobody's sessions");
}

#[sqlx::test(migrations = "../migrations")]
async fn changing_the_password_ends_the_other_sessions_but_not_after_a_wrong_current_one(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut here = signed_in(&app, "ana").await;
    let mut there = signed_in(&app, "ana").await;
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let hash_before: String =
        sqlx::query_scalar("SELECT password_hash FROM admin_users").fetch_one(&pool).await.unwrap();

    let wrong = here.gql(change, json!({"c": "not the password", "n": "a brand new password"})).await;
    assert_eq!((wrong.error_code(), wrong.error_field()), ("BAD_USER_INPUT", "currentPassword"));
    let hash_after: String =
        sqlx::query_scalar("SELECT password_hash FROM admin_users").fetch_one(&pool).await.unwrap();
    assert_eq!(hash_before, hash_after);
    assert_eq!(there.gql(LICENSES, json!({})).await.status, 200, "a refused change ends nothing");
    assert_eq!(audit_count(&pool, "auth.password_change_failed").await, 1);

    assert_eq!(
        here.gql(change, json!({"c": PASSWORD, "n": "a brand new password"})).await.data("changePassword"),
        true
    );
    assert_eq!(there.gql(LICENSES, json!({})).await.status, 401);
    assert_eq!(session_ids(&mut here).await.len(), 1, "only the session that changed it is left");
    assert_eq!(audit_count(&pool, "user.password_changed").await, 1);
    for secret in [PASSWORD, "a brand new password"] {
        assert!(!audit_mentions(&pool, secret).await, "no password in the audit log");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn new_recovery_codes_need_the_password_and_a_fresh_code_and_the_old_ones_stop_working(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let mut browser = Browser::new(&app);
    let (secret, old_codes) = enroll(&mut browser, "root").await;
    let enrolled_step: u64 =
        sqlx::query_scalar::<_, i64>("SELECT totp_last_step FROM admin_users").fetch_one(&pool).await.unwrap() as u64;
    let stored = || async {
        sqlx::query_scalar::<_, Vec<u8>>("SELECT code_hash FROM admin_recovery_codes ORDER BY code_hash")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    let before = stored().await;
    let (code, _) = code_after(&secret, enrolled_step).await;

    let wrong_password = browser.gql(REGENERATE, json!({"p": "not the password", "c": code})).await;
    assert_eq!(wrong_password.error_code(), "UNAUTHENTICATED");
    let wrong_code = browser.gql(REGENERATE, json!({"p": PASSWORD, "c": "000000"})).await;
    assert_eq!(wrong_code.error_code(), "UNAUTHENTICATED");
    assert_eq!(stored().await, before, "nothing changed");
    assert_eq!(audit_count(&pool, "auth.recovery_codes_regeneration_failed").await, 2);
    let key = app.key(Scope::Admin).await;
    assert_eq!(app.gql(&key, REGENERATE, json!({"p": PASSWORD, "c": code})).await.error_code(), "FORBIDDEN");

    // A wrong password spent no step: the same code works with the right one, once.
    let regenerated = browser.gql(REGENERATE, json!({"p": PASSWORD, "c": code})).await;
    let new_codes: Vec<String> = regenerated
        .data("regenerateRecoveryCodes")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|c| !old_codes.contains(c)));
    let replayed = browser.gql(REGENERATE, json!({"p": PASSWORD, "c": code})).await;
    assert_eq!(replayed.error_code(), "UNAUTHENTICATED");
    assert!(replayed.body["errors"][0]["message"].as_str().unwrap().contains("already used"));
    assert_eq!(audit_count(&pool, "auth.totp_replayed").await, 1);
    assert_eq!(audit_count(&pool, "user.recovery_codes_regenerated").await, 1);
    for shown in new_codes.iter().chain(&old_codes) {
        assert!(!audit_mentions(&pool, shown).await, "no recovery code in the audit log");
    }

    // At sign-in, an old code is refused and a new one accepted.
    let mut other = Browser::new(&app);
    let challenge = other.login("root", PASSWORD).await.data("login")["challenge"].as_str().unwrap().to_owned();
    let old = other.gql(RECOVER, json!({"c": challenge, "r": old_codes[0]})).await;
    assert_eq!(old.error_code(), "UNAUTHENTICATED");
    let new = other.gql(RECOVER, json!({"c": challenge, "r": new_codes[0]})).await;
    assert_eq!(new.data("useRecoveryCode")["__typename"], "LoginSucceeded");

    // Without 2FA there is nothing to regenerate.
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut ana = signed_in(&app, "ana").await;
    let off = ana.gql(REGENERATE, json!({"p": PASSWORD, "c": "123456"})).await;
    assert_eq!((off.error_code(), off.error_field()), ("BAD_USER_INPUT", "code"));
    assert_eq!(count(&pool, "SELECT count(*) FROM admin_recovery_codes WHERE used_at IS NULL").await, 9);

    // One credential check per operation, as for every other.
    let twice = "mutation { a: regenerateRecoveryCodes(password: \"p\", code: \"1\")
                            b: regenerateRecoveryCodes(password: \"p\", code: \"2\") }";
    let refused = browser.gql(twice, json!({})).await;
    assert_eq!(refused.error_code(), "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(refused.body["errors"][0]["extensions"]["rule"], "ONE_CREDENTIAL_CHECK_PER_OPERATION");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_who_turns_2fa_off_may_only_enroll_again_and_then_works_on(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "root", Role::Admin, PASSWORD).await;
    let mut browser = Browser::new(&app);
    let (secret, recovery) = enroll(&mut browser, "root").await;
    let step: u64 =
        sqlx::query_scalar::<_, i64>("SELECT totp_last_step FROM admin_users").fetch_one(&pool).await.unwrap() as u64;
    let mut elsewhere = Browser::new(&app);
    let challenge = elsewhere.login("root", PASSWORD).await.data("login")["challenge"].as_str().unwrap().to_owned();
    let signed_in = elsewhere.gql(RECOVER, json!({"c": challenge, "r": recovery[0]})).await;
    assert_eq!(signed_in.data("useRecoveryCode")["__typename"], "LoginSucceeded");
    let (code, step) = code_after(&secret, step).await;

    assert_eq!(browser.gql(DISABLE, json!({"p": PASSWORD, "c": code})).await.data("disableTotp")["totpEnabled"], false);
    assert_eq!(elsewhere.gql(LICENSES, json!({})).await.status, 401, "the other sessions end");
    let refused = browser.gql(LICENSES, json!({})).await;
    assert_eq!(refused.body["errors"][0]["extensions"]["reason"], "TOTP_ENROLLMENT_REQUIRED");
    assert_eq!(
        browser.gql(SESSIONS, json!({})).await.body["errors"][0]["extensions"]["reason"],
        "TOTP_ENROLLMENT_REQUIRED"
    );
    assert_eq!(browser.gql("{ me { totpEnabled } }", json!({})).await.data("me")["totpEnabled"], false);

    let enrollment = browser.gql("mutation { enrollTotp { secret } }", json!({})).await;
    let new_secret = enrollment.data("enrollTotp")["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let (code, _) = code_after(&new_secret, step).await;
    let codes = browser.gql("mutation($c: String!) { confirmTotp(code: $c) }", json!({"c": code})).await;
    assert_eq!(codes.data("confirmTotp").as_array().unwrap().len(), 10);
    assert_eq!(browser.gql(LICENSES, json!({})).await.status, 200);
    assert!(browser.gql(LICENSES, json!({})).await.body["errors"].is_null());
    assert_eq!(session_ids(&mut browser).await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_analyst_who_turns_2fa_off_keeps_working(pool: PgPool) {
    let app = spawn_app(&pool).await;
    create_user(&pool, "ana", Role::Analyst, PASSWORD).await;
    let mut browser = signed_in(&app, "ana").await;
    let enrollment = browser.gql("mutation { enrollTotp { secret } }", json!({})).await;
    let secret = enrollment.data("enrollTotp")["secret"].as_str().unwrap().to_owned();
    let now = step_safe_now().await;
    browser.gql("mutation($c: String!) { confirmTotp(code: $c) }", json!({"c": totp_code(&secret, now)})).await;
    let done = browser.gql(DISABLE, json!({"p": PASSWORD, "c": totp_code(&secret, now + 30)})).await;
    assert_eq!(done.data("disableTotp")["totpEnabled"], false);
    assert!(browser.gql(LICENSES, json!({})).await.body["errors"].is_null(), "analysts need no 2FA");
    assert_eq!(session_ids(&mut browser).await.len(), 1);
}
