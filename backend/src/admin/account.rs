//! A signed-in dashboard user's own account, as the "My account" page manages it: the password
//! rules, their own dashboard sessions (listed, ended one by one or all but the current one) and
//! new recovery codes. Changing the password and turning 2FA off are sign-in matters
//! (`changePassword`, `disableTotp` in [`super::login`]).
//!
//! Everything here is about the caller's own credentials, so analysts may do it as well as
//! admins; an API key has no account and is refused with `FORBIDDEN`, and so is a session that
//! may only enroll 2FA (`TOTP_ENROLLMENT_REQUIRED`). No session is ever named by its token or its
//! digest, and no other user's session is listed or ended, whatever id is sent.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};
use sqlx::PgPool;

use super::dashboard_sessions::{self, DashboardSession};
use super::login::{full_session, reauthenticate_with_code, user_actor};
use super::passwords::{PasswordPolicy, POLICY};
use super::{recovery_codes, AuthSettings};
use crate::audit::{self, AuditEntry};
use crate::auth::{request_meta, Permission, Require};
use crate::db::PrimaryPool;
use crate::error::{Error, GqlResultExt};
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// What a new password must be: the rule `changePassword` and `createAdminUser` enforce.
    #[graphql(guard = "Require(Permission::Read)")]
    async fn password_policy(&self) -> PasswordPolicy {
        POLICY
    }

    /// The signed-in user's own dashboard sessions that still hold, the current one first, then
    /// the most recently active (at most 100).
    #[graphql(complexity = "dashboard_sessions::MAX_LISTED as usize * child_complexity")]
    async fn my_dashboard_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DashboardSession>> {
        let session = full_session(ctx).gql()?;
        let policy = &ctx.data_unchecked::<Arc<AuthSettings>>().sessions;
        // The sessions are sign-in state: read on the primary, which knows the newest of them.
        let mut conn = ctx.data_unchecked::<PrimaryPool>().0.acquire().await.gql()?;
        dashboard_sessions::list_live(&mut conn, session.user_id, &session.token_hash, policy).await.gql()
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Ends one of the signed-in user's other dashboard sessions (signed out at its next
    /// request). `NOT_FOUND` for an id that is not one of theirs; the current session ends with
    /// `logout` instead (`BAD_USER_INPUT`).
    async fn end_dashboard_session(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let session = full_session(ctx).gql()?;
        let id = parse_id(&id, "id").gql()?;
        let mut tx = ctx.data_unchecked::<PgPool>().begin().await.gql()?;
        if !dashboard_sessions::end_one_of_user(&mut tx, session.user_id, id, &session.token_hash).await.gql()? {
            let current: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM admin_sessions WHERE id = $1 AND token_hash = $2)")
                    .bind(id)
                    .bind(&session.token_hash)
                    .fetch_one(&mut *tx)
                    .await
                    .gql()?;
            return Err(if current {
                Error::bad_input("id", "this is the current session: sign out to end it")
            } else {
                Error::not_found("dashboard session", "id")
            })
            .gql();
        }
        audit::record(
            &mut tx,
            (&user_actor(Some(session.user_id), &session.username), request_meta(ctx).ip),
            AuditEntry::new("user.session_ended", "admin_user", session.user_id)
                .new_values(serde_json::json!({"sessionId": id})),
        )
        .await
        .gql()?;
        tx.commit().await.gql()?;
        Ok(true)
    }

    /// Signs the signed-in user out everywhere else: every other dashboard session of theirs
    /// ends, the current one stays. Returns how many ended.
    async fn end_other_dashboard_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let session = full_session(ctx).gql()?;
        let mut tx = ctx.data_unchecked::<PgPool>().begin().await.gql()?;
        let ended =
            dashboard_sessions::end_all_for_user(&mut tx, session.user_id, Some(&session.token_hash)).await.gql()?;
        audit::record(
            &mut tx,
            (&user_actor(Some(session.user_id), &session.username), request_meta(ctx).ip),
            AuditEntry::new("user.other_sessions_ended", "admin_user", session.user_id)
                .new_values(serde_json::json!({"ended": ended})),
        )
        .await
        .gql()?;
        tx.commit().await.gql()?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Replaces the signed-in user's recovery codes with ten new ones, returned this once; the
    /// old ones stop working. Needs the password and a current code of the authenticator, which
    /// is used up like at sign-in.
    #[graphql(complexity = "crate::graphql::CREDENTIAL_CHECK_COMPLEXITY + child_complexity")]
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        password: String,
        code: String,
    ) -> async_graphql::Result<Vec<String>> {
        let session = full_session(ctx).gql()?;
        let mut tx =
            reauthenticate_with_code(ctx, session, &password, &code, "auth.recovery_codes_regeneration_failed")
                .await
                .gql()?;
        let codes = recovery_codes::replace(&mut tx, session.user_id).await.gql()?;
        audit::record(
            &mut tx,
            (&user_actor(Some(session.user_id), &session.username), request_meta(ctx).ip),
            AuditEntry::new("user.recovery_codes_regenerated", "admin_user", session.user_id)
                .new_values(serde_json::json!({"count": codes.len()})),
        )
        .await
        .gql()?;
        tx.commit().await.gql()?;
        Ok(codes)
    }
}
