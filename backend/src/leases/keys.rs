//! The signing keys' life: the first key, rotation, and how long a retired key stays published.
//!
//! Exactly one key is current (the unique index `signing_keys_one_current`). A rotation retires
//! it and inserts its successor in one transaction under the rotation lock, so two rotations on
//! two instances run one after the other and never leave zero or two current keys. The private
//! halves are read only to sign: no query here returns one to a caller.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{generate, CurrentKey, Leases, MAX_KEY_AGE};
use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::sessions::SessionSettings;

/// The most keys `signingKeys` lists (newest first): the current one and recent retired ones.
pub const MAX_LISTED: i64 = 100;

/// Added to every retired key's publication: verifiers accept a lease a little past its `exp`
/// (jsonwebtoken's default leeway is 60 s) and their clocks may run behind the database's.
const PUBLICATION_MARGIN_SECS: u64 = 300;

/// Serialises rotations (exclusive) against each other and against offline issuance (shared),
/// which must record its lease's expiry on the key that is current when it commits.
const ROTATION_LOCK: &str = "license-server signing key rotation";

/// A lease signing key as admins see it: never its private half.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
pub struct SigningKey {
    /// The key's id, the `kid` in the header of every lease it signed: the RFC 7638 thumbprint
    /// of its public JWK.
    pub kid: String,
    pub created_at: DateTime<Utc>,
    /// When a rotation replaced it; null while it is current.
    pub retired_at: Option<DateTime<Utc>>,
    /// Until when `/.well-known/jwks.json` publishes a retired key: past the expiry of every
    /// lease it signed. Null while it is current (published as long as it is).
    pub published_until: Option<DateTime<Utc>>,
    /// Whether this key signs the leases issued now.
    pub current: bool,
}

const COLUMNS: &str = "kid, created_at, retired_at, published_until, retired_at IS NULL AS current";

/// Creates the first key if there is no current one (at first start; two instances starting
/// together create one between them). The server's own bootstrap, like its migrations: not audited.
pub(super) async fn create_first(pool: &PgPool) -> Result<()> {
    let (kid, private_key, public_key) = generate()?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, private_key, public_key) VALUES ($1, $2, $3)
         ON CONFLICT ((true)) WHERE retired_at IS NULL DO NOTHING",
    )
    .bind(&kid)
    .bind(&private_key)
    .bind(&public_key)
    .execute(pool)
    .await?;
    Ok(())
}

/// The keys, newest first, at most [`MAX_LISTED`].
pub async fn list(pool: &PgPool) -> Result<Vec<SigningKey>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid LIMIT $1"))
        .bind(MAX_LISTED)
        .fetch_all(pool)
        .await?)
}

/// How long after its retirement a key's online leases may still be valid, in seconds: another
/// instance may sign with it for up to [`MAX_KEY_AGE`] after the rotation, with a session deadline
/// up to the session timeout away, plus the largest offline grace a license has.
fn online_lease_horizon_secs(settings: &SessionSettings) -> f64 {
    settings.timeout_secs() + MAX_KEY_AGE.as_secs_f64() + PUBLICATION_MARGIN_SECS as f64
}

/// Replaces the current key with a new one, which signs from now on: on this instance at once, on
/// the others within [`super::REFRESH_PERIOD`]. The old key stays published until every lease it
/// signed has expired: online leases (the session timeout plus the largest offline grace any
/// license has, plus [`MAX_KEY_AGE`]) and offline leases (the latest expiry it signed for one).
/// Audited with the keys' ids only.
pub async fn rotate(pool: &PgPool, leases: &Leases, settings: &SessionSettings, caller: &Caller) -> Result<SigningKey> {
    let (kid, private_key, public_key) = generate()?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(ROTATION_LOCK).execute(&mut *tx).await?;
    // `offline_leases_until` is read by the UPDATE itself: an offline issuance holds the rotation
    // lock (shared) until it commits, so its expiry is in the row by now.
    let retired: Option<SigningKey> = sqlx::query_as(&format!(
        "UPDATE signing_keys
         SET retired_at = now(),
             published_until = greatest(
                 now() + make_interval(secs => $1 + (SELECT coalesce(max(offline_grace_seconds), 0) FROM licenses)),
                 offline_leases_until + make_interval(secs => $2))
         WHERE retired_at IS NULL
         RETURNING {COLUMNS}"
    ))
    .bind(online_lease_horizon_secs(settings))
    .bind(PUBLICATION_MARGIN_SECS as f64)
    .fetch_optional(&mut *tx)
    .await?;
    let new: SigningKey = sqlx::query_as(&format!(
        "INSERT INTO signing_keys (kid, private_key, public_key) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    ))
    .bind(&kid)
    .bind(&private_key)
    .bind(&public_key)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("signing_key.rotated", "signing_key", &new.kid)
            .old_values(serde_json::json!({"currentKid": retired.as_ref().map(|k| &k.kid)}))
            .new_values(serde_json::json!({
                "currentKid": new.kid,
                "retiredKid": retired.as_ref().map(|k| &k.kid),
                "retiredPublishedUntil": retired.as_ref().and_then(|k| k.published_until),
            })),
    )
    .await?;
    tx.commit().await?;
    leases.adopt(CurrentKey::new(kid, &private_key));
    Ok(new)
}

/// The current key, to sign an offline lease expiring at `exp` with, which is recorded on it (so a
/// later rotation keeps it published until then). Holds off rotations until the transaction ends.
pub(super) async fn current_for_offline_lease(conn: &mut PgConnection, exp: DateTime<Utc>) -> Result<CurrentKey> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared(hashtext($1))").bind(ROTATION_LOCK).execute(&mut *conn).await?;
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(
        "UPDATE signing_keys SET offline_leases_until = greatest(offline_leases_until, $1)
         WHERE retired_at IS NULL
         RETURNING kid, private_key",
    )
    .bind(exp)
    .fetch_optional(&mut *conn)
    .await?;
    let (kid, private_key) =
        row.ok_or_else(|| Error::Internal(anyhow::anyhow!("no current signing key to sign an offline lease")))?;
    Ok(CurrentKey::new(kid, &private_key))
}
