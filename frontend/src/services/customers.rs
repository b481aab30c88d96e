//! Customers: who holds licenses.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::decode::{field, from_json, FromJson};
use super::licenses::License;
use super::{documents, gql, with_page, ApiError, Connection, Page};

from_json! {
    /// A customer as other records name it.
    #[derive(Clone, Debug, PartialEq)]
    pub struct CustomerRef {
        pub id: String,
        pub name: String,
        pub email: String,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct Customer {
        pub id: String,
        pub name: String,
        pub email: String,
        pub is_test: bool,
        pub created_at: DateTime<Utc>,
        /// As the server wrote it: sent back unchanged as `expectedUpdatedAt` with an edit.
        pub updated_at: String,
    }
}

impl Customer {
    /// The customer as other records name it.
    pub fn to_ref(&self) -> CustomerRef {
        CustomerRef { id: self.id.clone(), name: self.name.clone(), email: self.email.clone() }
    }
}

/// A customer with its licenses, newest first (the customer page).
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerDetail {
    pub customer: Customer,
    pub licenses: Vec<License>,
}

impl FromJson for CustomerDetail {
    fn from_json(json: &Value) -> Option<Self> {
        Some(CustomerDetail { customer: Customer::from_json(json)?, licenses: field(json, "licenses")? })
    }
}

/// The customer with this id and its licenses; `None` when there is none.
pub async fn customer(id: &str) -> Result<Option<CustomerDetail>, ApiError> {
    gql(documents::CUSTOMER_DETAIL, json!({"id": id}), "customer").await
}

pub async fn customers(search: &str, page: &Page) -> Result<Connection<Customer>, ApiError> {
    let search = (!search.trim().is_empty()).then(|| search.trim());
    gql(documents::CUSTOMERS, with_page(json!({"s": search}), page), "customers").await
}

pub async fn create_customer(name: &str, email: &str, is_test: bool) -> Result<Customer, ApiError> {
    let input = json!({"name": name, "email": email, "isTest": is_test});
    gql(documents::CREATE_CUSTOMER, json!({"i": input}), "createCustomer").await
}

/// Saves the customer, unless someone else changed it after `read_at` (its `updatedAt` when read).
pub async fn update_customer(
    id: &str,
    read_at: &str,
    name: &str,
    email: &str,
    is_test: bool,
) -> Result<Customer, ApiError> {
    let input = json!({"name": name, "email": email, "isTest": is_test});
    gql(documents::UPDATE_CUSTOMER, json!({"id": id, "i": input, "at": read_at}), "updateCustomer").await
}
