//! Batch loading of customers for nested queries: one statement per level, however many parents
//! the page holds.

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::Customer;
use crate::error::Error;
use crate::graphql::loaders::{ids, BatchLoader, LoadResult};

crate::batch_keys! {
    /// A customer by id.
    CustomerById => BatchLoader;
}

impl Loader<CustomerById> for BatchLoader {
    type Value = Customer;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[CustomerById]) -> LoadResult<CustomerById, Customer> {
        let rows: Vec<Customer> = self
            .rows(&format!("SELECT {} FROM customers WHERE id = ANY($1)", super::COLUMNS), ids(keys, |k| k.0))
            .await?;
        Ok(rows.into_iter().map(|c| (CustomerById(c.id.0), c)).collect())
    }
}
