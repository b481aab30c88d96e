//! The GraphQL face of leases: the signing keys (never their private halves), their rotation,
//! and offline activation. Admins only.

use async_graphql::{Context, Object, ID};
use sqlx::PgPool;

use super::keys::{self, SigningKey};
use super::{offline, Leases};
use crate::auth::{caller, Permission, Require};
use crate::error::GqlResultExt;
use crate::graphql::ids::parse_id;
use crate::sessions::SessionSettings;

#[derive(Default)]
pub struct LeaseQuery;

#[Object]
impl LeaseQuery {
    /// The keys that sign leases, newest first (at most 100): the current one, and retired ones
    /// with how long `/.well-known/jwks.json` still publishes them.
    #[graphql(
        guard = "Require(Permission::Write)",
        complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity"
    )]
    async fn signing_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SigningKey>> {
        keys::list(ctx.data_unchecked::<PgPool>()).await.gql()
    }
}

#[derive(Default)]
pub struct LeaseMutation;

#[Object]
impl LeaseMutation {
    /// Replaces the current signing key with a new one, which signs every lease from now on (on
    /// other server instances within 10 s). The old key stays published until every lease it
    /// signed has expired. Use it on a schedule, or at once if a key may have leaked.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn rotate_signing_key(&self, ctx: &Context<'_>) -> async_graphql::Result<SigningKey> {
        let caller = caller(ctx).gql()?;
        let (pool, settings) = (ctx.data_unchecked::<PgPool>(), ctx.data_unchecked::<SessionSettings>());
        keys::rotate(pool, ctx.data_unchecked::<Leases>(), settings, caller).await.gql()
    }

    /// Offline activation for a machine that cannot reach the server: a signed lease (compact
    /// JWS) for the device with this hardware fingerprint, valid for `validDays` (1 to 3650) but
    /// never past the license's `validUntil`, without `session_id`. The device is registered on
    /// the license if it is not, taking one of its device slots; refused (`BAD_USER_INPUT` with
    /// `reason` `DEVICE_LIMIT_REACHED`, `LICENSE_INACTIVE`, `LICENSE_NOT_YET_VALID` or
    /// `LICENSE_EXPIRED`) when that cannot be.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn issue_offline_lease(
        &self,
        ctx: &Context<'_>,
        license_id: ID,
        hardware_fingerprint: String,
        valid_days: i32,
    ) -> async_graphql::Result<String> {
        let caller = caller(ctx).gql()?;
        let license_id = parse_id(&license_id, "licenseId").gql()?;
        let pool = ctx.data_unchecked::<PgPool>();
        offline::issue(pool, ctx.data_unchecked::<Leases>(), caller, license_id, &hardware_fingerprint, valid_days)
            .await
            .gql()
    }
}
