//! Batch loading of licenses for nested queries: one statement per level, however many parents
//! the page holds.

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::License;
use crate::error::Error;
use crate::graphql::loaders::{group, ids, BatchLoader, LoadResult};
use crate::graphql::pagination::MAX_PAGE_SIZE;

crate::batch_keys! {
    /// A license by id.
    LicenseById => BatchLoader;
    /// A customer's newest licenses, newest first: as many as one page of them may hold
    /// (`Customer.licenses(first:)` takes its page from these).
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
        let sql = format!(
            "SELECT {columns} FROM (SELECT *, row_number() OVER (PARTITION BY customer_id {order}) AS n
                                    FROM licenses WHERE customer_id = ANY($1)) l
             WHERE n <= {MAX_PAGE_SIZE} {order}",
            columns = super::COLUMNS,
            order = super::NEWEST_FIRST,
        );
        let rows: Vec<License> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |l| l.customer_id.0, LicensesOfCustomer))
    }
}
