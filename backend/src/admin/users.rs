//! Dashboard users (roles `admin` and `analyst`) and their management by admins.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{dashboard_sessions, passwords};
use crate::audit::{self, AuditEntry};
use crate::auth::{caller, Actor, Caller, Permission, Require};
use crate::error::{Error, GqlResultExt, Result};
use crate::graphql::ids::{parse_id, Id};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
        }
    }
}

/// A dashboard user as admins see it: never the password hash or the TOTP secret.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct AdminUser {
    pub username: String,
    #[graphql(skip)]
    pub role: String,
    pub is_disabled: bool,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub id: Id,
}

#[ComplexObject]
impl AdminUser {
    async fn role(&self) -> Role {
        if self.role == "admin" {
            Role::Admin
        } else {
            Role::Analyst
        }
    }
}

crate::input_constraint! {
    "admin_users_username_key" => "username", "this username is taken";
}

pub const COLUMNS: &str =
    "id, username, role, is_disabled, totp_secret IS NOT NULL AS totp_enabled, created_at, last_login_at";

pub fn check_username(username: &str) -> Result<String> {
    let username = username.trim();
    let valid = (1..=64).contains(&username.len())
        && username.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if !valid {
        return Err(Error::bad_input("username", "username must be 1 to 64 letters, digits or . _ @ -"));
    }
    Ok(username.to_owned())
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<AdminUser>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM admin_users WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Creates a user; hashing the password takes a permit of `argon2` (`RATE_LIMITED` when none is free).
pub async fn create(
    pool: &PgPool,
    argon2: &passwords::Argon2Gate,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    username: &str,
    role: Role,
    password: &str,
) -> Result<AdminUser> {
    let username = check_username(username)?;
    passwords::check_new(password, "password")?;
    let hash = passwords::hash(&argon2.try_permit()?, password).await?;
    let mut tx = pool.begin().await?;
    let user: AdminUser = sqlx::query_as(&format!(
        "INSERT INTO admin_users (username, role, password_hash) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    ))
    .bind(&username)
    .bind(role.as_str())
    .bind(hash)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(&mut tx, (actor, ip), AuditEntry::new("user.created", "admin_user", user.id).new_values(&user))
        .await?;
    tx.commit().await?;
    Ok(user)
}

/// What else a change to a user does, in the same transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Consequence {
    None,
    EndSessions,
    EndSessionsAndForgetRecoveryCodes,
}

/// Applies one change to a user, audited with before and after.
async fn change(
    pool: &PgPool,
    caller: &Caller,
    id: Uuid,
    action: &'static str,
    set: &str,
    consequence: Consequence,
) -> Result<AdminUser> {
    let mut tx = pool.begin().await?;
    let old: AdminUser = sqlx::query_as(&format!("SELECT {COLUMNS} FROM admin_users WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("user", "id"))?;
    let new: AdminUser = sqlx::query_as(&format!("UPDATE admin_users SET {set} WHERE id = $1 RETURNING {COLUMNS}"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    if consequence != Consequence::None {
        dashboard_sessions::end_all_for_user(&mut tx, id, None).await?;
    }
    if consequence == Consequence::EndSessionsAndForgetRecoveryCodes {
        sqlx::query("DELETE FROM admin_recovery_codes WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    }
    audit::record(&mut tx, caller, AuditEntry::new(action, "admin_user", id).old_values(&old).new_values(&new)).await?;
    tx.commit().await?;
    Ok(new)
}

fn not_yourself(caller: &Caller, id: Uuid, what: &str) -> Result<()> {
    if caller.user_id() == Some(id) {
        return Err(Error::bad_input("id", format!("you cannot {what} your own account")));
    }
    Ok(())
}

#[derive(InputObject)]
pub struct CreateAdminUserInput {
    pub username: String,
    pub role: Role,
    /// The initial password (8–128 characters); the user should change it.
    pub password: String,
}

#[derive(Default)]
pub struct AdminUserQuery;

#[Object]
impl AdminUserQuery {
    #[graphql(
        guard = "Require(Permission::Write)",
        complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity"
    )]
    async fn admin_users(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AdminUser>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM admin_users ORDER BY lower(username)"))
            .fetch_all(ctx.data_unchecked::<PgPool>())
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct AdminUserMutation;

#[Object]
impl AdminUserMutation {
    #[graphql(guard = "Require(Permission::Write)")]
    async fn create_admin_user(
        &self,
        ctx: &Context<'_>,
        input: CreateAdminUserInput,
    ) -> async_graphql::Result<AdminUser> {
        let caller = caller(ctx).gql()?;
        let (pool, argon2) = (ctx.data_unchecked::<PgPool>(), ctx.data_unchecked::<passwords::Argon2Gate>());
        create(pool, argon2, &caller.actor, caller.ip, &input.username, input.role, &input.password).await.gql()
    }

    /// Disables the user and ends all their sessions at once.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn disable_admin_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<AdminUser> {
        let (id, caller) = (parse_id(&id, "id").gql()?, caller(ctx).gql()?);
        not_yourself(caller, id, "disable").gql()?;
        change(
            ctx.data_unchecked::<PgPool>(),
            caller,
            id,
            "user.disabled",
            "is_disabled = true",
            Consequence::EndSessions,
        )
        .await
        .gql()
    }

    #[graphql(guard = "Require(Permission::Write)")]
    async fn enable_admin_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<AdminUser> {
        let id = parse_id(&id, "id").gql()?;
        change(
            ctx.data_unchecked::<PgPool>(),
            caller(ctx).gql()?,
            id,
            "user.enabled",
            "is_disabled = false",
            Consequence::None,
        )
        .await
        .gql()
    }

    /// Changes a user's role; their sessions end so the new role applies at once.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn set_admin_user_role(&self, ctx: &Context<'_>, id: ID, role: Role) -> async_graphql::Result<AdminUser> {
        let (id, caller) = (parse_id(&id, "id").gql()?, caller(ctx).gql()?);
        not_yourself(caller, id, "change the role of").gql()?;
        let set = format!("role = '{}'", role.as_str());
        change(ctx.data_unchecked::<PgPool>(), caller, id, "user.role_changed", &set, Consequence::EndSessions)
            .await
            .gql()
    }

    /// Removes the user's second factor and recovery codes (for a lost phone); they enroll again
    /// at their next login. Their sessions end.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn reset_admin_user_totp(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<AdminUser> {
        let id = parse_id(&id, "id").gql()?;
        change(
            ctx.data_unchecked::<PgPool>(),
            caller(ctx).gql()?,
            id,
            "user.totp_reset",
            "totp_secret = NULL, totp_pending = NULL, totp_enabled_at = NULL",
            Consequence::EndSessionsAndForgetRecoveryCodes,
        )
        .await
        .gql()
    }
}
