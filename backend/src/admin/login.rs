//! Signing in to the dashboard: password, then TOTP (or a recovery code), then a session cookie;
//! plus the signed-in user's own 2FA and password.

use async_graphql::{Context, Object, SimpleObject, Union};
use chrono::{DateTime, Utc};
use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use sqlx::PgPool;
use uuid::Uuid;

use super::dashboard_sessions;
use super::totp::{self, Verification};
use super::users::{self, AdminUser};
use super::{passwords, throttle};
use crate::admin::AuthSettings;
use crate::audit::{self, AuditEntry};
use crate::auth::SessionInfo;
use crate::auth::{caller, request_meta, Actor, ActorKind};
use crate::error::{Error, GqlResultExt, Result};
use std::sync::Arc;

const CHALLENGE_MINUTES: i32 = 5;
const RECOVERY_CODES: usize = 10;
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

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
    username: String,
    role: String,
    password_hash: String,
    is_disabled: bool,
    totp_secret: Option<Vec<u8>>,
    totp_last_step: i64,
}

#[derive(sqlx::FromRow)]
struct Account {
    id: Uuid,
    username: String,
    role: String,
    totp_secret: Option<Vec<u8>>,
    totp_last_step: i64,
}

fn user_actor(id: Option<Uuid>, name: &str) -> Actor {
    Actor { kind: ActorKind::User, id: id.map(|id| id.to_string()), name: name.chars().take(64).collect() }
}

fn digest(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

fn now_unix() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

fn invalid_credentials() -> Error {
    Error::Unauthenticated("invalid username or password".into())
}

/// Records a failed attempt (and a lockout it causes) with its audit rows.
async fn fail(
    conn: &mut PgConnection,
    ip: Option<std::net::IpAddr>,
    actor: &Actor,
    action: &'static str,
) -> Result<()> {
    let account = throttle::account_key(&actor.name);
    let locked_until = throttle::record_failure(conn, &account).await?;
    audit::record(conn, (actor, ip), AuditEntry::new(action, "admin_user", actor.id.clone().unwrap_or_default()))
        .await?;
    if let Some(until) = locked_until {
        tracing::warn!(account = %actor.name, %until, "account locked after repeated failed sign-ins");
        audit::record(
            conn,
            (actor, ip),
            AuditEntry::new("auth.locked", "admin_user", actor.id.clone().unwrap_or_default())
                .new_values(serde_json::json!({"lockedUntil": until})),
        )
        .await?;
    }
    Ok(())
}

/// Starts a session for a user who passed every factor, sets the cookie, and audits the login.
async fn sign_in(ctx: &Context<'_>, conn: &mut PgConnection, account: &Account, method: &str) -> Result<LoginResult> {
    let ip = request_meta(ctx).ip;
    throttle::reset(conn, &throttle::account_key(&account.username)).await?;
    let enrollment_only = account.role == "admin"
        && ctx.data_unchecked::<Arc<AuthSettings>>().require_admin_totp
        && account.totp_secret.is_none();
    let token = dashboard_sessions::create(conn, account.id, enrollment_only, ip).await?;
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
    let mut tx = throttle::check(pool.begin().await?, &throttle::account_key(username)).await?;
    let row: Option<Credentials> = sqlx::query_as(
        "SELECT id, username, role, password_hash, is_disabled, totp_secret, totp_last_step
         FROM admin_users WHERE lower(username) = lower($1)",
    )
    .bind(username.trim())
    .fetch_optional(&mut *tx)
    .await?;
    let matches = passwords::verify(row.as_ref().map(|r| r.password_hash.as_str()), password).await?;
    let Some(user) = row.filter(|r| matches && !r.is_disabled) else {
        // Unknown user, wrong password and disabled account all get the same answer.
        fail(&mut tx, ip, &user_actor(None, username.trim()), "auth.login_failed").await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    };
    let account = Account {
        id: user.id,
        username: user.username,
        role: user.role,
        totp_secret: user.totp_secret,
        totp_last_step: user.totp_last_step,
    };
    if account.totp_secret.is_some() {
        let challenge = dashboard_sessions::new_token();
        let expires_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO login_challenges (token_hash, user_id, expires_at)
             VALUES ($1, $2, now() + make_interval(mins => $3)) RETURNING expires_at",
        )
        .bind(digest(&challenge))
        .bind(account.id)
        .bind(CHALLENGE_MINUTES)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(LoginResult::TotpRequired(TotpRequired { challenge, expires_at }));
    }
    let result = sign_in(ctx, &mut tx, &account, "password").await?;
    tx.commit().await?;
    Ok(result)
}

/// Redeems a sign-in challenge with a second factor: a TOTP code or a recovery code.
async fn second_factor(ctx: &Context<'_>, challenge: &str, method: &str, code: &str) -> Result<LoginResult> {
    let pool = ctx.data_unchecked::<PgPool>();
    let ip = request_meta(ctx).ip;
    let mut tx = pool.begin().await?;
    let account: Option<Account> = sqlx::query_as(
        "SELECT u.id, u.username, u.role, u.totp_secret, u.totp_last_step
         FROM login_challenges c JOIN admin_users u ON u.id = c.user_id
         WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > now() AND NOT u.is_disabled
         FOR UPDATE OF c",
    )
    .bind(digest(challenge))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(account) = account else {
        return Err(Error::Unauthenticated("the sign-in challenge is unknown, used or expired: sign in again".into()));
    };
    let actor = user_actor(Some(account.id), &account.username);
    let mut tx = throttle::check(tx, &throttle::account_key(&account.username)).await?;
    let outcome = if method == "totp" {
        check_totp(&mut tx, &account, code).await?
    } else {
        use_recovery_code(&mut tx, account.id, code).await?
    };
    match outcome {
        FactorOutcome::Accepted => {
            sqlx::query("UPDATE login_challenges SET used_at = now() WHERE token_hash = $1")
                .bind(digest(challenge))
                .execute(&mut *tx)
                .await?;
            let result = sign_in(ctx, &mut tx, &account, method).await?;
            tx.commit().await?;
            Ok(result)
        }
        FactorOutcome::Replayed => {
            tracing::warn!(account = %account.username, "a TOTP code was replayed");
            fail(&mut tx, ip, &actor, "auth.totp_replayed").await?;
            tx.commit().await?;
            Err(Error::Unauthenticated("this code was already used: wait for the next one".into()))
        }
        FactorOutcome::Rejected => {
            let action = if method == "totp" { "auth.totp_failed" } else { "auth.recovery_code_failed" };
            fail(&mut tx, ip, &actor, action).await?;
            tx.commit().await?;
            Err(Error::Unauthenticated("invalid code".into()))
        }
    }
}

enum FactorOutcome {
    Accepted,
    Replayed,
    Rejected,
}

/// Checks a TOTP code and consumes its step; a concurrent request with the same code loses.
async fn check_totp(conn: &mut PgConnection, account: &Account, code: &str) -> Result<FactorOutcome> {
    let Some(secret) = &account.totp_secret else { return Ok(FactorOutcome::Rejected) };
    Ok(match totp::verify(secret, code, now_unix(), account.totp_last_step)? {
        Verification::Valid { step } => {
            let consumed =
                sqlx::query("UPDATE admin_users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2")
                    .bind(account.id)
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

fn normalize_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

async fn use_recovery_code(conn: &mut PgConnection, user_id: Uuid, code: &str) -> Result<FactorOutcome> {
    let used = sqlx::query(
        "UPDATE admin_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(digest(&normalize_recovery_code(code)))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(if used == 1 { FactorOutcome::Accepted } else { FactorOutcome::Rejected })
}

/// Ten single-use codes of 50 random bits each, `XXXXX-XXXXX`; only their SHA-256 is stored.
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let symbols: String =
                (0..10).map(|_| char::from(RECOVERY_ALPHABET[OsRng.gen_range(0..RECOVERY_ALPHABET.len())])).collect();
            format!("{}-{}", &symbols[..5], &symbols[5..])
        })
        .collect()
}

/// The signed-in dashboard user (API keys have none).
fn session<'a>(ctx: &Context<'a>) -> Result<&'a SessionInfo> {
    caller(ctx)?.session.as_ref().ok_or_else(|| Error::Forbidden("only a signed-in dashboard user can do this".into()))
}

/// The signed-in dashboard user with a full session: not one that may only enroll 2FA.
fn full_session<'a>(ctx: &Context<'a>) -> Result<&'a SessionInfo> {
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

#[derive(Default)]
pub struct LoginQuery;

#[Object]
impl LoginQuery {
    /// The signed-in dashboard user; null for API keys and anonymous callers.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AdminUser>> {
        let Some(session) = ctx.data_opt::<crate::auth::Caller>().and_then(|c| c.session.as_ref()) else {
            return Ok(None);
        };
        let mut conn = ctx.data_unchecked::<PgPool>().acquire().await.gql()?;
        users::find(&mut conn, session.user_id).await.gql()
    }
}

#[derive(Default)]
pub struct LoginMutation;

#[Object]
impl LoginMutation {
    /// First step of signing in. Sets the session cookie, or asks for a second factor.
    async fn login(&self, ctx: &Context<'_>, username: String, password: String) -> async_graphql::Result<LoginResult> {
        login(ctx, &username, &password).await.gql()
    }

    /// Completes a sign-in with the current code of the user's authenticator.
    async fn verify_totp(
        &self,
        ctx: &Context<'_>,
        challenge: String,
        code: String,
    ) -> async_graphql::Result<LoginResult> {
        second_factor(ctx, &challenge, "totp", &code).await.gql()
    }

    /// Completes a sign-in with one of the user's single-use recovery codes.
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
    async fn confirm_totp(&self, ctx: &Context<'_>, code: String) -> async_graphql::Result<Vec<String>> {
        let session = session(ctx).gql()?;
        let ip = request_meta(ctx).ip;
        let actor = user_actor(Some(session.user_id), &session.username);
        let pool = ctx.data_unchecked::<PgPool>();
        let tx = pool.begin().await.gql()?;
        let account_key = throttle::account_key(&session.username);
        let mut tx = throttle::check(tx, &account_key).await.gql()?;
        let (_, _, pending, last_step) = load_secret_state(&mut tx, session.user_id).await.gql()?;
        let Some(pending) = pending else {
            return Err(Error::bad_input("code", "start with enrollTotp")).gql();
        };
        let Verification::Valid { step } = totp::verify(&pending, &code, now_unix(), last_step).gql()? else {
            fail(&mut tx, ip, &actor, "auth.totp_failed").await.gql()?;
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
        let codes = new_recovery_codes();
        sqlx::query("DELETE FROM admin_recovery_codes WHERE user_id = $1")
            .bind(session.user_id)
            .execute(&mut *tx)
            .await
            .gql()?;
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| digest(&normalize_recovery_code(c))).collect();
        sqlx::query("INSERT INTO admin_recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])")
            .bind(session.user_id)
            .bind(&hashes)
            .execute(&mut *tx)
            .await
            .gql()?;
        sqlx::query("UPDATE admin_sessions SET kind = 'full' WHERE token_hash = $1")
            .bind(&session.token_hash)
            .execute(&mut *tx)
            .await
            .gql()?;
        throttle::reset(&mut tx, &account_key).await.gql()?;
        audit::record(&mut tx, (&actor, ip), AuditEntry::new("user.totp_enabled", "admin_user", session.user_id))
            .await
            .gql()?;
        tx.commit().await.gql()?;
        Ok(codes)
    }

    /// Turns 2FA off; needs the password and a current code.
    async fn disable_totp(
        &self,
        ctx: &Context<'_>,
        password: String,
        code: String,
    ) -> async_graphql::Result<AdminUser> {
        let session = full_session(ctx).gql()?;
        let ip = request_meta(ctx).ip;
        let actor = user_actor(Some(session.user_id), &session.username);
        let pool = ctx.data_unchecked::<PgPool>();
        let tx = pool.begin().await.gql()?;
        let mut tx = throttle::check(tx, &throttle::account_key(&session.username)).await.gql()?;
        let (hash, secret, _, last_step) = load_secret_state(&mut tx, session.user_id).await.gql()?;
        let Some(secret) = secret else {
            return Err(Error::bad_input("code", "2FA is not on")).gql();
        };
        let password_ok = passwords::verify(Some(&hash), &password).await.gql()?;
        let code_ok = matches!(totp::verify(&secret, &code, now_unix(), last_step).gql()?, Verification::Valid { .. });
        if !(password_ok && code_ok) {
            fail(&mut tx, ip, &actor, "auth.totp_disable_failed").await.gql()?;
            tx.commit().await.gql()?;
            return Err(Error::Unauthenticated("the password or the code is wrong".into())).gql();
        }
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
        audit::record(&mut tx, (&actor, ip), AuditEntry::new("user.totp_disabled", "admin_user", session.user_id))
            .await
            .gql()?;
        let user =
            users::find(&mut tx, session.user_id).await.gql()?.ok_or_else(|| Error::not_found("user", "id")).gql()?;
        tx.commit().await.gql()?;
        Ok(user)
    }

    /// Changes the signed-in user's password; their other sessions end.
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
        let tx = pool.begin().await.gql()?;
        let mut tx = throttle::check(tx, &throttle::account_key(&session.username)).await.gql()?;
        let (hash, _, _, _) = load_secret_state(&mut tx, session.user_id).await.gql()?;
        if !passwords::verify(Some(&hash), &current_password).await.gql()? {
            fail(&mut tx, ip, &actor, "auth.password_change_failed").await.gql()?;
            tx.commit().await.gql()?;
            return Err(Error::bad_input("currentPassword", "the current password is wrong")).gql();
        }
        let new_hash = passwords::hash(&new_password).await.gql()?;
        sqlx::query("UPDATE admin_users SET password_hash = $2 WHERE id = $1")
            .bind(session.user_id)
            .bind(new_hash)
            .execute(&mut *tx)
            .await
            .gql()?;
        dashboard_sessions::end_all_for_user(&mut tx, session.user_id, Some(&session.token_hash)).await.gql()?;
        audit::record(&mut tx, (&actor, ip), AuditEntry::new("user.password_changed", "admin_user", session.user_id))
            .await
            .gql()?;
        tx.commit().await.gql()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_typed_forgivingly() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        assert_eq!(normalize_recovery_code(&codes[0].to_lowercase().replace('-', " ")), codes[0].replace('-', ""));
    }
}
