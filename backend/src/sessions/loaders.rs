//! Batch loading of live sessions for nested queries (a license's, a device's): one statement per
//! level, with the session timeout of this instance.

use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use sqlx::PgPool;
use uuid::Uuid;

use super::{push_live_rows, LiveSession, SessionSettings};
use crate::error::Error;
use crate::graphql::filter::Sql;
use crate::graphql::loaders::{group, ids, LoadResult};

/// Loads live sessions for many parents with one statement.
pub struct LiveSessionLoader {
    pool: PgPool,
    settings: SessionSettings,
}

impl LiveSessionLoader {
    pub fn new(pool: PgPool, settings: SessionSettings) -> DataLoader<Self> {
        DataLoader::new(LiveSessionLoader { pool, settings }, tokio::spawn)
    }

    /// The live sessions whose `column` is one of `ids`, oldest first.
    async fn live_sessions(&self, column: &'static str, ids: Vec<Uuid>) -> Result<Vec<LiveSession>, Arc<Error>> {
        let mut sql = Sql::new("SELECT *");
        push_live_rows(&mut sql, &self.settings);
        sql.push(" AND ").push(column).push(" = ANY(").push_bind(ids).push(") ORDER BY started_at, id");
        sql.build_query_as().fetch_all(&self.pool).await.map_err(|e| Arc::new(Error::from(e)))
    }
}

crate::batch_keys! {
    /// A license's live sessions, oldest first.
    LiveSessionsOfLicense => LiveSessionLoader;
    /// A device's live session.
    LiveSessionOfDevice => LiveSessionLoader;
}

impl Loader<LiveSessionsOfLicense> for LiveSessionLoader {
    type Value = Vec<LiveSession>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LiveSessionsOfLicense]) -> LoadResult<LiveSessionsOfLicense, Vec<LiveSession>> {
        let rows = self.live_sessions("license_id", ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |s| s.license_id.0, LiveSessionsOfLicense))
    }
}

impl Loader<LiveSessionOfDevice> for LiveSessionLoader {
    type Value = LiveSession;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LiveSessionOfDevice]) -> LoadResult<LiveSessionOfDevice, LiveSession> {
        let rows = self.live_sessions("device_id", ids(keys, |k| k.0)).await?;
        Ok(rows.into_iter().map(|s| (LiveSessionOfDevice(s.device_id.0), s)).collect())
    }
}
