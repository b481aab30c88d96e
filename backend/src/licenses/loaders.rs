//! Batch loading of licenses for nested queries: one statement per level, however many parents
//! the page holds.

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::License;
use crate::error::Error;
use crate::graphql::loaders::{group, ids, BatchLoader, LoadResult};

crate::batch_keys! {
    /// A license by id.
    LicenseById => BatchLoader;
    /// A customer's licenses, newest first.
    LicensesOfCustomer => BatchLoader;
}

impl Loader<LicenseById> for BatchLoader {
    type Value = License;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LicenseById]) -> LoadResult<LicenseById, License> {
        let rows: Vec<License> = self
            .rows(&format!("SELECT {} FROM licenses WHERE id = ANY($1)", super::COLUMNS), ids(keys, |k| k.0))
            .await?;
        Ok(rows.into_iter().map(|l| (LicenseById(l.id.0), l)).collect())
    }
}

impl Loader<LicensesOfCustomer> for BatchLoader {
    type Value = Vec<License>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LicensesOfCustomer]) -> LoadResult<LicensesOfCustomer, Vec<License>> {
        let sql =
            format!("SELECT {} FROM licenses WHERE customer_id = ANY($1) ORDER BY created_at DESC, id", super::COLUMNS);
        let rows: Vec<License> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |l| l.customer_id.0, LicensesOfCustomer))
    }
}
