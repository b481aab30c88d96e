//! GraphQL `ID`s are UUIDs in text form.

use async_graphql::ID;
use uuid::Uuid;

use crate::error::{Error, Result};

pub fn parse_id(id: &ID, field: &str) -> Result<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| Error::bad_input(field, format!("{field} is not a valid id")))
}

pub fn to_id(id: Uuid) -> ID {
    ID(id.to_string())
}
