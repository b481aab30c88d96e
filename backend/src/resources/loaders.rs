//! Batch loading of resources for nested queries: one statement per level, however many parents
//! the page holds.

use std::sync::Arc;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::Resource;
use crate::error::Error;
use crate::graphql::loaders::{group, ids, BatchLoader, LoadResult};

crate::batch_keys! {
    /// The resources allocated to a license, by type and value.
    ResourcesOfLicense => BatchLoader;
}

impl Loader<ResourcesOfLicense> for BatchLoader {
    type Value = Vec<Resource>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ResourcesOfLicense]) -> LoadResult<ResourcesOfLicense, Vec<Resource>> {
        let sql = format!(
            "SELECT {} FROM resource_pools WHERE license_id = ANY($1) ORDER BY resource_type, value",
            super::COLUMNS
        );
        let rows: Vec<Resource> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |r| r.license_id.map(Uuid::from).unwrap_or_default(), ResourcesOfLicense))
    }
}
