//! GraphQL `ID`s are UUIDs in text form.
//!
//! Row structs hold their `uuid` columns as [`Id`]: sqlx reads and binds it as the `uuid` it
//! wraps, and GraphQL shows it as the built-in `ID` scalar, so `SimpleObject` exposes id and
//! foreign-key columns without a resolver of their own. Inputs stay `ID` and go through
//! [`parse_id`], which turns a malformed one into `BAD_USER_INPUT` naming the argument.
//!
//! `SimpleObject` lists a struct's fields in declaration order, before any `ComplexObject`
//! field; the id fields are declared after the other columns so that every type keeps the field
//! order its schema has always had.

use std::borrow::Cow;
use std::fmt;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value, ID};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

pub fn parse_id(id: &ID, field: &str) -> Result<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| Error::bad_input(field, format!("{field} is not a valid id")))
}

/// A row's id or foreign key: a `uuid` column in PostgreSQL, an `ID` in GraphQL, the UUID's
/// string in JSON (audit values, event payloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type, Serialize, Deserialize)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct Id(pub Uuid);

impl From<Uuid> for Id {
    fn from(id: Uuid) -> Self {
        Id(id)
    }
}

impl From<Id> for Uuid {
    fn from(id: Id) -> Self {
        id.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Shown as the built-in `ID` scalar: the name and registration are `ID`'s own, so the schema
/// has one `ID` type whether a field returns `ID` or `Id`.
impl OutputType for Id {
    fn type_name() -> Cow<'static, str> {
        <ID as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <ID as OutputType>::create_type_info(registry)
    }

    async fn resolve(&self, _ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        Ok(Value::String(self.0.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        async fn id(&self) -> Id {
            Id(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef))
        }

        async fn missing(&self) -> Option<Id> {
            None
        }
    }

    #[tokio::test]
    async fn an_id_is_the_id_scalar_holding_the_uuid_text() {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        assert!(schema.sdl().contains("id: ID!"), "{}", schema.sdl());
        assert!(schema.sdl().contains("missing: ID\n"), "{}", schema.sdl());
        let response = schema.execute("{ id missing }").await.into_result().expect("no errors");
        assert_eq!(
            response.data.into_json().expect("json"),
            serde_json::json!({"id": "01234567-89ab-cdef-0123-456789abcdef", "missing": null})
        );
    }
}
