//! Batched loading of nested lists (customers → licenses → devices → sessions → resources, and
//! institutions → contacts → phones, e-mails, notes → versions): each level of a nested query
//! costs one statement however many parents the page holds.
//!
//! This is the plumbing; each domain declares its keys with [`batch_keys!`] and implements
//! `Loader<Key>` for [`BatchLoader`] next to its own SQL. The loaders keep no cache, so they are
//! shared by all requests: loads that arrive within the same millisecond are batched together
//! and every request sees current data.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::error::Error;

/// Loads rows for many parents with one statement (`… WHERE <column> = ANY($1)`).
pub struct BatchLoader {
    pool: PgPool,
}

/// The loader shared by every domain whose rows need nothing but the pool.
pub type AppLoader = DataLoader<BatchLoader>;

pub fn new(pool: PgPool) -> AppLoader {
    DataLoader::new(BatchLoader { pool }, tokio::spawn)
}

pub type LoadResult<K, V> = Result<HashMap<K, V>, Arc<Error>>;

impl BatchLoader {
    /// Runs `sql` with the parents' ids as `$1`.
    pub async fn rows<T>(&self, sql: &str, ids: Vec<Uuid>) -> Result<Vec<T>, Arc<Error>>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        sqlx::query_as(sql).bind(ids).fetch_all(&self.pool).await.map_err(|e| Arc::new(Error::from(e)))
    }
}

/// A key of a batch load: the id of one parent, and the loader (a `DataLoader` in the schema's
/// data) that resolves it.
pub trait BatchKey: Send + Sync + Hash + Eq + Clone + 'static {
    type Loader: Loader<Self, Error = Arc<Error>>;
}

/// Declares batch keys: `Name => Loader` makes `pub struct Name(pub Uuid)` resolved by `Loader`.
#[macro_export]
macro_rules! batch_keys {
    ($($(#[$doc:meta])* $name:ident => $loader:ty;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub uuid::Uuid);

        impl $crate::graphql::loaders::BatchKey for $name {
            type Loader = $loader;
        }
    )+};
}

/// Groups rows by their parent, keeping the statement's order within each group.
pub fn group<K: Hash + Eq + Copy, T>(
    keys: &[K],
    rows: Vec<T>,
    parent: impl Fn(&T) -> Uuid,
    key: impl Fn(Uuid) -> K,
) -> HashMap<K, Vec<T>> {
    let mut map: HashMap<K, Vec<T>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        map.entry(key(parent(&row))).or_default().push(row);
    }
    map
}

/// The parents' ids of `keys`.
pub fn ids<K: Copy>(keys: &[K], id: impl Fn(K) -> Uuid) -> Vec<Uuid> {
    keys.iter().map(|k| id(*k)).collect()
}

/// Rows that a statement planned from the selection set read ahead for a nested field of one
/// parent (see `customers::planned`), so the field's resolver answers from them instead of its
/// batch loader. Empty when the field goes through the loader. The loaders keep no cache (they
/// are shared by all requests), so the rows travel with the parent instead of primed into them.
#[derive(Debug, Clone)]
pub struct ReadAhead<T>(Option<Arc<Vec<T>>>);

impl<T> Default for ReadAhead<T> {
    fn default() -> Self {
        ReadAhead(None)
    }
}

impl<T> ReadAhead<T> {
    pub fn new(rows: Vec<T>) -> Self {
        ReadAhead(Some(Arc::new(rows)))
    }

    /// The rows read ahead, if any (shared, not copied).
    pub fn rows(&self) -> Option<Arc<Vec<T>>> {
        self.0.clone()
    }
}

/// Loads one key through its shared loader, keeping the error's GraphQL code.
pub async fn load<K: BatchKey>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<K::Loader as Loader<K>>::Value>> {
    ctx.data_unchecked::<DataLoader<K::Loader>>().load_one(key).await.map_err(|e| e.extend())
}
