//! Batch loading of devices for nested queries: one statement per level, however many parents
//! the page holds.

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::Device;
use crate::error::Error;
use crate::graphql::loaders::{group, ids, BatchLoader, LoadResult};

crate::batch_keys! {
    /// A device by id (active or not).
    DeviceById => BatchLoader;
    /// A license's active devices.
    ActiveDevicesOfLicense => BatchLoader;
}

impl Loader<DeviceById> for BatchLoader {
    type Value = Device;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[DeviceById]) -> LoadResult<DeviceById, Device> {
        let rows: Vec<Device> =
            self.rows(&format!("{} WHERE d.id = ANY($1)", super::SELECT), ids(keys, |k| k.0)).await?;
        Ok(rows.into_iter().map(|d| (DeviceById(d.id.0), d)).collect())
    }
}

impl Loader<ActiveDevicesOfLicense> for BatchLoader {
    type Value = Vec<Device>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ActiveDevicesOfLicense]) -> LoadResult<ActiveDevicesOfLicense, Vec<Device>> {
        let sql =
            format!("{} WHERE d.license_id = ANY($1) AND d.is_active ORDER BY {}", super::SELECT, super::ACTIVE_ORDER);
        let rows: Vec<Device> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |d| d.license_id.0, ActiveDevicesOfLicense))
    }
}
