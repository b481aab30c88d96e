//! API keys: `AF-YYYY-<32 × [A-Z0-9]>`, stored only as a SHA-256 digest with a display prefix.

use chrono::{DateTime, Datelike, Utc};
use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use async_graphql::{ComplexObject, Context, Object, SimpleObject, ID};

use crate::audit::{self, AuditEntry};
use crate::auth::{caller, Actor, ActorKind, Caller, Permission, Require, Scope};
use crate::error::{Error, GqlResultExt, Result};
use crate::graphql::ids::{parse_id, Id};
use crate::rate_limit::{Rate, RateLimits};

const SECRET_LEN: usize = 32;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// `AF-2026-` plus the first four secret characters: enough to recognise a key, useless to guess it.
const PREFIX_LEN: usize = 12;

/// A key as generated, before it is shown once and forgotten.
pub struct GeneratedKey {
    pub key: String,
    pub record: ApiKeyRecord,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub name: String,
    pub scope: String,
    pub display_prefix: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
}

impl ApiKeyRecord {
    /// The key's own rate limit, if an admin set one.
    pub fn own_rate(&self) -> Option<Rate> {
        own_rate(self.rate_limit_per_second, self.rate_limit_burst)
    }
}

fn own_rate(per_second: Option<i32>, burst: Option<i32>) -> Option<Rate> {
    Some(Rate { per_second: u32::try_from(per_second?).ok()?, burst: u32::try_from(burst?).ok()? })
}

/// The columns of an [`ApiKeyRecord`].
const RECORD_COLUMNS: &str =
    "id, name, scope, display_prefix, created_by, created_at, last_used_at, revoked_at, rate_limit_per_second, rate_limit_burst";

/// 32 characters from a 36-symbol alphabet drawn from the OS CSPRNG: about 165 bits.
fn generate_key_material(now: DateTime<Utc>) -> String {
    let secret: String = (0..SECRET_LEN).map(|_| char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())])).collect();
    format!("AF-{:04}-{secret}", now.year())
}

/// Whether `key` has the shape of an API key; anything else is refused before any lookup.
pub fn is_well_formed(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == 8 + SECRET_LEN
        && key.starts_with("AF-")
        && bytes[3..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
        && bytes[8..].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The one rule for a key that may be used: not revoked. `alias` names the `api_keys` row.
pub fn usable_key_sql(alias: &str) -> String {
    format!("{alias}.revoked_at IS NULL")
}

/// Refreshes `last_used_at` of the keys with these digests, skipping a key whose row another
/// transaction holds (bookkeeping never waits for a lock, so it cannot deadlock with anything).
pub async fn touch(pool: &PgPool, digests: &[Vec<u8>]) -> Result<()> {
    sqlx::query(&format!(
        "UPDATE api_keys SET last_used_at = now()
         WHERE id IN (SELECT k.id FROM api_keys k
                      WHERE k.key_digest = ANY ($1) AND {}
                        AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
                      ORDER BY k.id FOR UPDATE SKIP LOCKED)",
        usable_key_sql("k")
    ))
    .bind(digests)
    .execute(pool)
    .await?;
    Ok(())
}

pub fn digest(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    name: &str,
    scope: Scope,
) -> Result<GeneratedKey> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::bad_input("name", "name must be 1 to 100 characters"));
    }
    let key = generate_key_material(Utc::now());
    let mut tx = pool.begin().await?;
    let record: ApiKeyRecord = sqlx::query_as(&format!(
        "INSERT INTO api_keys (name, scope, key_digest, display_prefix, created_by)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING {RECORD_COLUMNS}"
    ))
    .bind(name)
    .bind(scope.as_str())
    .bind(digest(&key))
    .bind(&key[..PREFIX_LEN])
    .bind(&actor.name)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        (actor, ip),
        AuditEntry::new("api_key.created", "api_key", record.id).new_values(
            serde_json::json!({"name": record.name, "scope": record.scope, "prefix": record.display_prefix}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(GeneratedKey { key, record })
}

pub async fn list(pool: &PgPool) -> Result<Vec<ApiKeyRecord>> {
    Ok(sqlx::query_as(&format!("SELECT {RECORD_COLUMNS} FROM api_keys ORDER BY created_at DESC"))
        .fetch_all(pool)
        .await?)
}

pub async fn revoke(pool: &PgPool, actor: &Actor, ip: Option<std::net::IpAddr>, id: Uuid) -> Result<ApiKeyRecord> {
    let mut tx = pool.begin().await?;
    let record: ApiKeyRecord = sqlx::query_as(&format!(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING {RECORD_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found("API key", "id"))?;
    audit::record(&mut tx, (actor, ip), AuditEntry::new("api_key.revoked", "api_key", id)).await?;
    tx.commit().await?;
    Ok(record)
}

/// Sets (`Some`) or clears (`None`: the scope's default applies again) a key's own rate limit.
pub async fn set_rate_limit(pool: &PgPool, caller: &Caller, id: Uuid, rate: Option<Rate>) -> Result<ApiKeyRecord> {
    let mut tx = pool.begin().await?;
    let before: Option<ApiKeyRecord> =
        sqlx::query_as(&format!("SELECT {RECORD_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let before = before.ok_or_else(|| Error::not_found("API key", "id"))?;
    let record: ApiKeyRecord = sqlx::query_as(&format!(
        "UPDATE api_keys SET rate_limit_per_second = $2, rate_limit_burst = $3 WHERE id = $1 RETURNING {RECORD_COLUMNS}"
    ))
    .bind(id)
    .bind(rate.map(|r| r.per_second as i32))
    .bind(rate.map(|r| r.burst as i32))
    .fetch_one(&mut *tx)
    .await?;
    let as_json = |rate: Option<Rate>| {
        rate.map(|r| serde_json::json!({"perSecond": r.per_second, "burst": r.burst})).unwrap_or_default()
    };
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("api_key.rate_limit_set", "api_key", id)
            .old_values(serde_json::json!({"rateLimit": as_json(before.own_rate())}))
            .new_values(serde_json::json!({"rateLimit": as_json(record.own_rate())})),
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// Looks a presented key up. `None` for unknown or revoked keys. `last_used_at` is refreshed at
/// most once a minute per key, so a busy client key does not turn every request into a write.
/// A key found is remembered in `limits` with the rate it runs at.
pub async fn authenticate(
    pool: &PgPool,
    limits: &RateLimits,
    key: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<Option<Caller>> {
    if !is_well_formed(key) {
        return Ok(None);
    }
    let digest = digest(key);
    #[derive(sqlx::FromRow)]
    struct Found {
        id: Uuid,
        name: String,
        scope: String,
        rate_limit_per_second: Option<i32>,
        rate_limit_burst: Option<i32>,
    }
    let row: Option<Found> = sqlx::query_as(&format!(
        "WITH found AS (
             SELECT k.id, k.name, k.scope, k.last_used_at, k.rate_limit_per_second, k.rate_limit_burst
             FROM api_keys k
             WHERE k.key_digest = $1 AND {}
         ), touched AS (
             UPDATE api_keys SET last_used_at = now()
             FROM found
             WHERE api_keys.id = found.id
               AND (found.last_used_at IS NULL OR found.last_used_at < now() - interval '1 minute')
         )
         SELECT id, name, scope, rate_limit_per_second, rate_limit_burst FROM found",
        usable_key_sql("k")
    ))
    .bind(&digest)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|Found { id, name, scope, rate_limit_per_second, rate_limit_burst }| {
        let scope = Scope::parse(&scope)?;
        let own = own_rate(rate_limit_per_second, rate_limit_burst);
        limits.remember_key(id, &digest, limits.rate_for_key(scope, own));
        Some(Caller {
            actor: Actor { kind: ActorKind::ApiKey, id: Some(id.to_string()), name },
            scope,
            ip,
            session: None,
            deferred_key: None,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate_key_material(Utc::now());
        let b = generate_key_material(Utc::now());
        assert!(is_well_formed(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_keys_are_recognised() {
        for bad in [
            "",
            "AF-2026-",
            "AF-2026-abcdefghijklmnopqrstuvwxyz012345",
            "XX-2026-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            "AF-20A6-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            "AF-2026-ABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
        ] {
            assert!(!is_well_formed(bad), "{bad}");
        }
        assert!(is_well_formed("AF-2026-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"));
    }
}

/// An API key as admins see it: never the key itself nor its digest.
#[derive(SimpleObject)]
#[graphql(name = "ApiKey", complex)]
pub struct ApiKeyView {
    pub id: Id,
    pub name: String,
    pub scope: Scope,
    /// The first characters of the key, to recognise it by.
    pub prefix: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    own_rate: Option<Rate>,
}

/// The token bucket a key's requests are charged to, per instance, in units of cost (an
/// operation's complexity in hundreds, at least one; a heartbeat is one).
#[derive(SimpleObject)]
pub struct ApiKeyRateLimit {
    pub per_second: i32,
    pub burst: i32,
    /// True when set for this key with `setApiKeyRateLimit`; false: its scope's default.
    pub custom: bool,
}

#[ComplexObject]
impl ApiKeyView {
    /// The rate limit the key runs at.
    async fn rate_limit(&self, ctx: &Context<'_>) -> ApiKeyRateLimit {
        let rate = ctx.data_unchecked::<std::sync::Arc<RateLimits>>().rate_for_key(self.scope, self.own_rate);
        ApiKeyRateLimit {
            per_second: rate.per_second as i32,
            burst: rate.burst as i32,
            custom: self.own_rate.is_some(),
        }
    }
}

impl From<ApiKeyRecord> for ApiKeyView {
    fn from(record: ApiKeyRecord) -> Self {
        let own_rate = record.own_rate();
        ApiKeyView {
            id: record.id.into(),
            scope: Scope::parse(&record.scope).unwrap_or(Scope::Client),
            name: record.name,
            prefix: record.display_prefix,
            created_by: record.created_by,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
            revoked_at: record.revoked_at,
            own_rate,
        }
    }
}

#[derive(SimpleObject)]
pub struct GeneratedApiKey {
    /// The key itself, shown this once; only its SHA-256 digest is kept.
    pub key: String,
    pub api_key: ApiKeyView,
}

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// Every API key, newest first, revoked ones included.
    #[graphql(
        guard = "Require(Permission::Write)",
        complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity"
    )]
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKeyView>> {
        let pool = ctx.data_unchecked::<PgPool>();
        Ok(list(pool).await.gql()?.into_iter().map(ApiKeyView::from).collect())
    }
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// "System-API-Key generieren": a new key, shown once.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn generate_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
        scope: Scope,
    ) -> async_graphql::Result<GeneratedApiKey> {
        let caller = caller(ctx).gql()?;
        let pool = ctx.data_unchecked::<PgPool>();
        let generated = create(pool, &caller.actor, caller.ip, &name, scope).await.gql()?;
        Ok(GeneratedApiKey { key: generated.key, api_key: generated.record.into() })
    }

    /// Revokes a key; it stops working on the next request.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKeyView> {
        let caller = caller(ctx).gql()?;
        let id = parse_id(&id, "id").gql()?;
        let pool = ctx.data_unchecked::<PgPool>();
        Ok(revoke(pool, &caller.actor, caller.ip, id).await.gql()?.into())
    }

    /// Gives a key its own rate limit (per instance; `perSecond` units refilled each second, at
    /// most `burst` held): to hold back a misbehaving integration or to make room for a large
    /// fleet behind one client key. Applies on this instance at once, on others within a minute.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn set_api_key_rate_limit(
        &self,
        ctx: &Context<'_>,
        id: ID,
        per_second: i32,
        burst: i32,
    ) -> async_graphql::Result<ApiKeyView> {
        let rate = Rate::new(per_second.into(), burst.into()).gql()?;
        self.change_rate_limit(ctx, id, Some(rate)).await
    }

    /// Takes a key's own rate limit away: its scope's default applies again.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn clear_api_key_rate_limit(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKeyView> {
        self.change_rate_limit(ctx, id, None).await
    }
}

impl ApiKeyMutation {
    async fn change_rate_limit(
        &self,
        ctx: &Context<'_>,
        id: ID,
        rate: Option<Rate>,
    ) -> async_graphql::Result<ApiKeyView> {
        let caller = caller(ctx).gql()?;
        let id = parse_id(&id, "id").gql()?;
        let pool = ctx.data_unchecked::<PgPool>();
        let record = set_rate_limit(pool, caller, id, rate).await.gql()?;
        let limits = ctx.data_unchecked::<std::sync::Arc<RateLimits>>();
        if let Some(scope) = Scope::parse(&record.scope) {
            limits.key_rate_changed(id, limits.rate_for_key(scope, record.own_rate()));
        }
        Ok(record.into())
    }
}
