//! Signing in to the dashboard: password, then TOTP (or a recovery code), then a session cookie;
//! plus the signed-in user's own 2FA and password.
//!
//! Checking a password never holds a pooled connection or a row lock: the attempt is counted
//! first in a short transaction of its own ([`throttle::reserve_now`]), the user row is read, the
//! connection goes back to the pool, argon2 runs under a permit of the [`Argon2Gate`] (or the
//! request is refused at once with `RATE_LIMITED`), and a second short transaction records the
//! outcome against the user row as it is then. Transactions that lock a user's row and the
//! throttle rows lock the user's row first.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject, Union};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::PgPool;
use uuid::Uuid;

use super::dashboard_sessions;
use super::passwords::Argon2Gate;
use super::totp::{self, Verification};
use super::users::{self, AdminUser};
use super::{passwords, recovery_codes, throttle};
use crate::admin::AuthSettings;
use crate::audit::{self, AuditEntry};
use crate::auth::{caller, request_meta, Actor, ActorKind, Scope, SessionInfo};
use crate::db::PrimaryPool;
use crate::error::{Error, GqlResultExt, Result};

const CHALLENGE_MINUTES: i32 = 5;

#[derive(SimpleObject)]
pub struct LoginSucceeded {
    pub user: AdminUser,
    /// The user must set up 2FA (`enrollTotp`, `confirmTotp`) before anything else.
    pub totp_enrollment_required: bool,
}

#[derive(SimpleObject)]
pub struct TotpRequired {
    /// Redeem with `verifyTotp` or `useRecoveryCode` before it expires.
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Union)]
pub enum LoginResult {
    LoginSucceeded(LoginSucceeded),
    TotpRequired(TotpRequired),
}

#[derive(SimpleObject)]
pub struct TotpEnrollment {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    pub otpauth_uri: String,
    /// The otpauth URI as a QR code (an SVG document).
    pub qr_code_svg: String,
}

/// A user row as the password step reads it.
#[derive(sqlx::FromRow)]
struct Credentials {
    id: Uuid,
    password_hash: String,
    is_disabled: bool,
}

#[derive(sqlx::FromRow)]
struct Account {
    id: Uuid,
    username: String,
    role: String,
    totp_secret: Option<Vec<u8>>,
    totp_last_step: i64,
}

pub(super) fn user_actor(id: Option<Uuid>, name: &str) -> Actor {
    Actor { kind: ActorKind::User, id: id.map(|id| id.to_string()), name: name.chars().take(64).collect() }
}

fn now_unix() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

fn invalid_credentials() -> Error {
    Error::Unauthenticated("invalid username or password".into())
}

/// Audits a failed attempt (already counted by the throttle) and the locks it started.
async fn fail(
    conn: &mut PgConnection,
    ip: Option<std::net::IpAddr>,
    actor: &Actor,
    action: &'static str,
    attempt: throttle::Attempt,
) -> Result<()> {
    let entity_id = actor.id.clone().unwrap_or_default();
    audit::record(conn, (actor, ip), AuditEntry::new(action, "admin_user", entity_id.clone())).await?;
    let locks = [("address", attempt.address_locked_until), ("account", attempt.account_locked_until)];
    for (scope, until) in locks {
        let Some(until) = until else { continue };
        tracing::warn!(account = %actor.name, scope, %until, "sign-in locked after repeated failures");
        audit::record(
            conn,
            (actor, ip),
            AuditEntry::new("auth.locked", "admin_user", entity_id.clone())
                .new_values(serde_json::json!({"lockedUntil": until, "scope": scope})),
        )
        .await?;
    }
    Ok(())
}

/// Starts a session for a user who passed every factor, sets the cookie, and audits the login.
/// The user's row is locked already (see the module documentation).
async fn sign_in(
    ctx: &Context<'_>,
    conn: &mut PgConnection,
    account: &Account,
    method: &str,
    attempt: throttle::Attempt,
) -> Result<LoginResult> {
    let meta = request_meta(ctx);
    let ip = meta.ip;
    throttle::succeeded(conn, attempt).await?;
    let enrollment_only = account.role == "admin"
        && ctx.data_unchecked::<Arc<AuthSettings>>().require_admin_totp
        && account.totp_secret.is_none();
    let origin = dashboard_sessions::Origin { ip, user_agent: meta.user_agent.as_deref() };
    let token = dashboard_sessions::create(conn, account.id, enrollment_only, origin).await?;
    sqlx::query("UPDATE admin_users SET last_login_at = now() WHERE id = $1")
        .bind(account.id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        (&user_actor(Some(account.id), &account.username), ip),
        AuditEntry::new("auth.login", "admin_user", account.id).new_values(serde_json::json!({"method": method})),
    )
    .await?;
    let user = users::find(conn, account.id).await?.ok_or_else(|| Error::not_found("user", "username"))?;
    ctx.append_http_header("set-cookie", dashboard_sessions::set_cookie(&token));
    Ok(LoginResult::LoginSucceeded(LoginSucceeded { user, totp_enrollment_required: enrollment_only }))
}

async fn login(ctx: &Context<'_>, username: &str, password: &str) -> Result<LoginResult> {
    let pool = ctx.data_unchecked::<PgPool>();
    let ip = request_meta(ctx).ip;
    // A saturated gate refuses before the database is touched at all.
    let permit = ctx.data_unchecked::<Argon2Gate>().try_permit()?;
    let attempt = throttle::reserve_now(pool, username, ip).await?;
    let row: Option<Credentials> =
        sqlx::query_as("SELECT id, password_hash, is_disabled FROM admin_users WHERE lower(username) = lower($1)")
            .bind(username.trim())
            .fetch_optional(pool)
            .await?;
    let matches = passwords::verify(&permit, row.as_ref().map(|r| r.password_hash.as_str()), password).await?;
    drop(permit);
    let mut tx = pool.begin().await?;
    // The user as the check saw them: a password changed or an account disabled meanwhile fails.
    let account = match row.filter(|r| matches && !r.is_disabled) {
        Some(checked) => {
            sqlx::query_as::<_, Account>(
                "SELECT id, username, role, totp_secret, totp_last_step FROM admin_users
                 WHERE id = $1 AND password_hash = $2 AND NOT is_disabled FOR UPDATE",
            )
            .bind(checked.id)
            .bind(&checked.password_hash)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let Some(account) = account else {
        // Unknown user, wrong password and disabled account all get the same answer.
        fail(&mut tx, ip, &user_actor(None, username.trim()), "auth.login_failed", attempt).await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    };
    if account.totp_secret.is_some() {
        // The password alone is no sign-in: its earlier failures keep counting for the code.
        throttle::take_back(&mut tx, attempt).await?;
        let challenge = dashboard_sessions::new_token();
        let expires_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO login_challenges (token_hash, user_id, expires_at)
             VALUES ($1, $2, now() + make_interval(mins => $3)) RETURNING expires_at",
        )
        .bind(dashboard_sessions::digest(&challenge))
        .bind(account.id)
        .bind(CHALLENGE_MINUTES)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(LoginResult::TotpRequired(TotpRequired { challenge, expires_at }));
    }
    let result = sign_in(ctx, &mut tx, &account, "password", attempt).await?;
    tx.commit().await?;
    Ok(result)
}

/// Redeems a sign-in challenge with a second factor: a TOTP code or a recovery code. Checking
/// either is cheap, so it all happens in one short transaction.
async fn second_factor(ctx: &Context<'_>, challenge: &str, method: &str, code: &str) -> Result<LoginResult> {
    let pool = ctx.data_unchecked::<PgPool>();
    let ip = request_meta(ctx).ip;
    let mut tx = pool.begin().await?;
    let account: Option<Account> = sqlx::query_as(
        "SELECT u.id, u.username, u.role, u.totp_secret, u.totp_last_step
         FROM login_challenges c JOIN admin_users u ON u.id = c.user_id
         WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > now() AND NOT u.is_disabled
         FOR UPDATE OF u, c",
    )
    .bind(dashboard_sessions::digest(challenge))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(account) = account else {
        return Err(Error::Unauthenticated("the sign-in challenge is unknown, used or expired: sign in again".into()));
    };
    let actor = user_actor(Some(account.id), &account.username);
    let attempt = throttle::reserve(&mut tx, &account.username, ip).await?;
    let outcome = if method == "totp" {
        check_totp(&mut tx, account.id, account.totp_secret.as_deref(), account.totp_last_step, code).await?
    } else if recovery_codes::redeem(&mut tx, account.id, code).await? {
        FactorOutcome::Accepted
    } else {
        FactorOutcome::Rejected
    };
    match outcome {
        FactorOutcome::Accepted => {
            sqlx::query("UPDATE login_challenges SET used_at = now() WHERE token_hash = $1")
                .bind(dashboard_sessions::digest(challenge))
                .execute(&mut *tx)
                .await?;
            let result = sign_in(ctx, &mut tx, &account, method, attempt).await?;
            tx.commit().await?;
            Ok(result)
        }
        FactorOutcome::Replayed => {
            tracing::warn!(account = %account.username, "a TOTP code was replayed");
            fail(&mut tx, ip, &actor, "auth.totp_replayed", attempt).await?;
            tx.commit().await?;
            Err(code_already_used())
        }
        FactorOutcome::Rejected => {
            let action = if method == "totp" { "auth.totp_failed" } else { "auth.recovery_code_failed" };
            fail(&mut tx, ip, &actor, action, attempt).await?;
            tx.commit().await?;
            Err(Error::Unauthenticated("invalid code".into()))
        }
    }
}

fn code_already_used() -> Error {
    Error::Unauthenticated("this code was already used: wait for the next one".into())
}

enum FactorOutcome {
    Accepted,
    Replayed,
    Rejected,
}

/// Checks a TOTP code and consumes its step; a concurrent request with the same code loses.
async fn check_totp(
    conn: &mut PgConnection,
    user_id: Uuid,
    secret: Option<&[u8]>,
    last_step: i64,
    code: &str,
) -> Result<FactorOutcome> {
    let Some(secret) = secret else { return Ok(FactorOutcome::Rejected) };
    Ok(match totp::verify(secret, code, now_unix(), last_step)? {
        Verification::Valid { step } => {
            let consumed =
                sqlx::query("UPDATE admin_users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2")
                    .bind(user_id)
                    .bind(step)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
            if consumed == 1 {
                FactorOutcome::Accepted
            } else {
                FactorOutcome::Replayed
            }
        }
        Verification::Replayed => FactorOutcome::Replayed,
        Verification::Invalid => FactorOutcome::Rejected,
    })
}

/// The signed-in dashboard user (API keys have none).
fn session<'a>(ctx: &Context<'a>) -> Result<&'a SessionInfo> {
    caller(ctx)?.session.as_ref().ok_or_else(|| Error::Forbidden("only a signed-in dashboard user can do this".into()))
}

/// The signed-in dashboard user with a full session: not one that may only enroll 2FA.
pub(super) fn full_session<'a>(ctx: &Context<'a>) -> Result<&'a SessionInfo> {
    let session = session(ctx)?;
    if session.enrollment_only {
        return Err(Error::TotpEnrollmentRequired);
    }
    Ok(session)
}

async fn load_secret_state(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<(String, Option<Vec<u8>>, Option<Vec<u8>>, i64)> {
    Ok(sqlx::query_as(
        "SELECT password_hash, totp_secret, totp_pending, totp_last_step FROM admin_users WHERE id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_one(conn)
    .await?)
}

/// The signed-in user's password, read without a lock: it is checked outside any transaction.
async fn current_password_hash(pool: &PgPool, user_id: Uuid) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT password_hash FROM admin_users WHERE id = $1").bind(user_id).fetch_one(pool).await?)
}

/// The signed-in user proves again that it is them before a change to their own second factor:
/// with their password (argon2 under a permit of the [`Argon2Gate`], outside any transaction) and
/// a current code of their authenticator, whose step is used up as at sign-in. The attempt counts
/// for the sign-in throttle; a failure is audited as `failed_action` (a replayed code as
/// `auth.totp_replayed`) and refused with `UNAUTHENTICATED`, changing nothing else. 2FA must be on
/// (`BAD_USER_INPUT` on `code` otherwise). Returns the transaction for the change, with the user's
/// row locked as it was checked.
pub(super) async fn reauthenticate_with_code(
    ctx: &Context<'_>,
    session: &SessionInfo,
    password: &str,
    code: &str,
    failed_action: &'static str,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let ip = request_meta(ctx).ip;
    let actor = user_actor(Some(session.user_id), &session.username);
    let pool = ctx.data_unchecked::<PgPool>();
    let not_on = || Error::bad_input("code", "2FA is not on");
    let enabled: bool = sqlx::query_scalar("SELECT totp_secret IS NOT NULL FROM admin_users WHERE id = $1")
        .bind(session.user_id)
        .fetch_one(pool)
        .await?;
    if !enabled {
        return Err(not_on());
    }
    let permit = ctx.data_unchecked::<Argon2Gate>().try_permit()?;
    let attempt = throttle::reserve_now(pool, &session.username, ip).await?;
    let hash = current_password_hash(pool, session.user_id).await?;
    let password_ok = passwords::verify(&permit, Some(&hash), password).await?;
    drop(permit);
    let mut tx = pool.begin().await?;
    let (current_hash, secret, _, last_step) = load_secret_state(&mut tx, session.user_id).await?;
    let Some(secret) = secret else {
        // Turned off meanwhile (by a concurrent request with the same code, say).
        throttle::take_back(&mut tx, attempt).await?;
        tx.commit().await?;
        return Err(not_on());
    };
    // The code is looked at only with the right password, so a wrong password spends no step.
    let outcome = if password_ok && current_hash == hash {
        check_totp(&mut tx, session.user_id, Some(&secret), last_step, code).await?
    } else {
        FactorOutcome::Rejected
    };
    match outcome {
        FactorOutcome::Accepted => {
            throttle::take_back(&mut tx, attempt).await?;
            Ok(tx)
        }
        FactorOutcome::Replayed => {
            tracing::warn!(account = %session.username, action = failed_action, "a TOTP code was replayed");
            fail(&mut tx, ip, &actor, "auth.totp_replayed", attempt).await?;
            tx.commit().await?;
            Err(code_already_used())
        }
        FactorOutcome::Rejected => {
            fail(&mut tx, ip, &actor, failed_action, attempt).await?;
            tx.commit().await?;
            Err(Error::Unauthenticated("the password or the code is wrong".into()))
        }
    }
}

#[derive(Default)]
pub struct LoginQuery;

#[Object]
impl LoginQuery {
    /// The signed-in dashboard user; null for API keys and anonymous callers.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AdminUser>> {
        let Some(session) = ctx.data_opt::<crate::auth::Caller>().and_then(|c| c.session.as_ref()) else {
            return Ok(None);
        };
        // Sign-in state (role, 2FA) as the primary has it, like the session check before it.
        let mut conn = ctx.data_unchecked::<PrimaryPool>().0.acquire().await.gql()?;
        users::find(&mut conn, session.user_id).await.gql()
    }
}

#[derive(Default)]
pub struct LoginMutation;

#[Object]
impl LoginMutation {
    /// First step of signing in. Sets the session cookie, or asks for a second factor.
    #[graphql(complexity = "crate::graphql::CREDENTIAL_CHECK_COMPLEXITY + child_complexity")]
    async fn login(&self, ctx: &Context<'_>, username: String, password: String) -> async_graphql::Result<LoginResult> {
        login(ctx, &username, &password).await.gql()
    }

    /// Completes a sign-in with the current code of the user's authenticator.
    #[graphql(complexity = "crate::graphql::CREDENTIAL_CHECK_COMPLEXITY + child_complexity")]
    async fn verify_totp(
        &self,
        ctx: &Context<'_>,
        challenge: String,
        code: String,
    ) -> async_graphql::Result<LoginResult> {
        second_factor(ctx, &challenge, "totp", &code).await.gql()
    }

    /// Completes a sign-in with one of the user's single-use recovery codes.
    #[graphql(complexity = "crate::graphql::CREDENTIAL_CHECK_COMPLEXITY + child_complexity")]
    async fn use_recovery_code(
        &self,
        ctx: &Context<'_>,
        challenge: String,
        code: String,
    ) -> async_graphql::Result<LoginResult> {
        second_factor(ctx, &challenge, "recovery_code", &code).await.gql()
    }

    /// Ends the current dashboard session on the server and clears the cookie.
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        ctx.append_http_header("set-cookie", dashboard_sessions::clear_cookie());
        let Some(session) = ctx.data_opt::<crate::auth::Caller>().and_then(|c| c.session.as_ref()) else {
            return Ok(false);
        };
        let pool = ctx.data_unchecked::<PgPool>();
        let mut tx = pool.begin().await.gql()?;
        dashboard_sessions::end(&mut tx, &session.token_hash).await.gql()?;
        audit::record(
            &mut tx,
            (&user_actor(Some(session.user_id), &session.username), request_meta(ctx).ip),
            AuditEntry::new("auth.logout", "admin_user", session.user_id),
        )
        .await
        .gql()?;
        tx.commit().await.gql()?;
        Ok(true)
    }

    /// Starts 2FA enrollment: a new secret, its otpauth URI and QR code. Confirm with `confirmTotp`.
    async fn enroll_totp(&self, ctx: &Context<'_>) -> async_graphql::Result<TotpEnrollment> {
        let session = session(ctx).gql()?;
        let pool = ctx.data_unchecked::<PgPool>();
        let mut tx = pool.begin().await.gql()?;
        let (_, active, _, _) = load_secret_state(&mut tx, session.user_id).await.gql()?;
        if active.is_some() {
            return Err(Error::bad_input("totp", "2FA is already on; disable it first to enroll a new device")).gql();
        }
        let secret = totp::new_secret();
        sqlx::query("UPDATE admin_users SET totp_pending = $2 WHERE id = $1")
            .bind(session.user_id)
            .bind(&secret)
            .execute(&mut *tx)
            .await
            .gql()?;
        audit::record(
            &mut tx,
            (&user_actor(Some(session.user_id), &session.username), request_meta(ctx).ip),
            AuditEntry::new("user.totp_enrollment_started", "admin_user", session.user_id),
        )
        .await
        .gql()?;
        tx.commit().await.gql()?;
        let enrollment = totp::enrollment(&secret, &session.username).gql()?;
        Ok(TotpEnrollment {
            secret: enrollment.secret,
            otpauth_uri: enrollment.otpauth_uri,
            qr_code_svg: enrollment.qr_code_svg,
        })
    }

    /// Turns 2FA on with a code from the newly enrolled authenticator. Returns ten single-use
    /// recovery codes, shown this once.
    #[graphql(complexity = "crate::graphql::CREDENTIAL_CHECK_COMPLEXITY + child_complexity")]
    async fn confirm_totp(&self, ctx: &Context<'_>, code: String) -> async_graphql::Result<Vec<String>> {
        let session = session(ctx).gql()?;
        let ip = request_meta(ctx).ip;
        let actor = user_actor(Some(session.user_id), &session.username);
        let pool = ctx.data_unchecked::<PgPool>();
        let mut tx = pool.begin().await.gql()?;
        let (_, _, pending, last_step) = load_secret_state(&mut tx, session.user_id).await.gql()?;
        let Some(pending) = pending else {
            return Err(Error::bad_input("code", "start with enrollTotp")).gql();
        };
        let attempt = throttle::reserve(&mut tx, &session.username, ip).await.gql()?;
        let Verification::Valid { step } = totp::verify(&pending, &code, now_unix(), last_step).gql()? else {
            fail(&mut tx, ip, &actor, "auth.totp_failed", attempt).await.gql()?;
            tx.commit().await.gql()?;
            return Err(Error::bad_input("code", "the code does not match: check the authenticator's clock")).gql();
        };
        sqlx::query(
            "UPDATE admin_users SET totp_secret = totp_pending, totp_pending = NULL, totp_enabled_at = now(),
                                    totp_last_step = $2
             WHERE id = $1",
        )
        .bind(session.user_id)
        .bind(step)
        .execute(&mut *tx)
        .await
        .gql()?;
        let codes = recovery_codes::replace(&mut tx, session.user_id).await.gql()?;
        sqlx::query("UPDATE admin_sessions SET kind = 'full' WHERE token_hash = $1")
            .bind(&session.token_hash)
            .execute(&mut *tx)
            .await
            .gql()?;
        throttle::succeeded(&mut tx, attempt).await.gql()?;
        audit::record(&mut tx, (&actor, ip), AuditEntry::new("user.totp_enabled", "admin_user", session.user_id))
            .await
            .gql()?;
        tx.commit().await.gql()?;
        Ok(codes)
    }

    /// Turns 2FA off; needs the password and a current code, which is used up like at sign-in.
    /// The user's other sessions end. An admin, who must use 2FA, keeps a session that may only
    /// enroll again (`enrollTotp`, `confirmTotp`) until they have.
    #[graphql(complexity = "crate::graphql::CREDENTIAL_CHECK_COMPLEXITY + child_complexity")]
    async fn disable_totp(
        &self,
        ctx: &Context<'_>,
        password: String,
        code: String,
    ) -> async_graphql::Result<AdminUser> {
        let session = full_session(ctx).gql()?;
        let mut tx =
            reauthenticate_with_code(ctx, session, &password, &code, "auth.totp_disable_failed").await.gql()?;
        sqlx::query(
            "UPDATE admin_users SET totp_secret = NULL, totp_pending = NULL, totp_enabled_at = NULL WHERE id = $1",
        )
        .bind(session.user_id)
        .execute(&mut *tx)
        .await
        .gql()?;
        sqlx::query("DELETE FROM admin_recovery_codes WHERE user_id = $1")
            .bind(session.user_id)
            .execute(&mut *tx)
            .await
            .gql()?;
        dashboard_sessions::end_all_for_user(&mut tx, session.user_id, Some(&session.token_hash)).await.gql()?;
        if session.scope == Scope::Admin && ctx.data_unchecked::<Arc<AuthSettings>>().require_admin_totp {
            sqlx::query("UPDATE admin_sessions SET kind = 'enrollment' WHERE token_hash = $1")
                .bind(&session.token_hash)
                .execute(&mut *tx)
                .await
                .gql()?;
        }
        let actor = user_actor(Some(session.user_id), &session.username);
        audit::record(
            &mut tx,
            (&actor, request_meta(ctx).ip),
            AuditEntry::new("user.totp_disabled", "admin_user", session.user_id),
        )
        .await
        .gql()?;
        let user =
            users::find(&mut tx, session.user_id).await.gql()?.ok_or_else(|| Error::not_found("user", "id")).gql()?;
        tx.commit().await.gql()?;
        Ok(user)
    }

    /// Changes the signed-in user's password; their other sessions end.
    #[graphql(complexity = "crate::graphql::CREDENTIAL_CHECK_COMPLEXITY + child_complexity")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let session = full_session(ctx).gql()?;
        passwords::check_new(&new_password, "newPassword").gql()?;
        let ip = request_meta(ctx).ip;
        let actor = user_actor(Some(session.user_id), &session.username);
        let pool = ctx.data_unchecked::<PgPool>();
        let permit = ctx.data_unchecked::<Argon2Gate>().try_permit().gql()?;
        let attempt = throttle::reserve_now(pool, &session.username, ip).await.gql()?;
        let hash = current_password_hash(pool, session.user_id).await.gql()?;
        let new_hash = if passwords::verify(&permit, Some(&hash), &current_password).await.gql()? {
            Some(passwords::hash(&permit, &new_password).await.gql()?)
        } else {
            None
        };
        drop(permit);
        let mut tx = pool.begin().await.gql()?;
        let Some(new_hash) = new_hash else {
            fail(&mut tx, ip, &actor, "auth.password_change_failed", attempt).await.gql()?;
            tx.commit().await.gql()?;
            return Err(Error::bad_input("currentPassword", "the current password is wrong")).gql();
        };
        // Only over the password that was checked: of two concurrent changes, one wins.
        let changed = sqlx::query("UPDATE admin_users SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
            .bind(session.user_id)
            .bind(&hash)
            .bind(new_hash)
            .execute(&mut *tx)
            .await
            .gql()?
            .rows_affected();
        throttle::take_back(&mut tx, attempt).await.gql()?;
        if changed == 0 {
            tx.commit().await.gql()?;
            return Err(Error::conflict("currentPassword", "the password was changed meanwhile: sign in again")).gql();
        }
        dashboard_sessions::end_all_for_user(&mut tx, session.user_id, Some(&session.token_hash)).await.gql()?;
        audit::record(&mut tx, (&actor, ip), AuditEntry::new("user.password_changed", "admin_user", session.user_id))
            .await
            .gql()?;
        tx.commit().await.gql()?;
        Ok(true)
    }
}
