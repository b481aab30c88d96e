//! Text that PostgreSQL would refuse never reaches it: a text column takes any UTF-8 but the NUL
//! character, so a string argument, variable or variable default holding one is refused as
//! `BAD_USER_INPUT` naming where it was, before the operation runs (and so for every mutation, query and subscription,
//! whatever field the string was meant for).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Pos, ServerError, ServerResult, Value, Variables};

use crate::error::Error;

/// The schema extension; see the module documentation.
pub struct RejectNulText;

impl ExtensionFactory for RejectNulText {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RejectNulText)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RejectNulText {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        for (name, value) in variables.iter() {
            if let Some(path) = nul_in_value(value, name.as_str()) {
                return Err(refusal(&path, None));
            }
        }
        // A variable the request leaves out takes its declared default, which the document holds.
        for (_, operation) in document.operations.iter() {
            for definition in &operation.node.variable_definitions {
                let definition = &definition.node;
                if let Some(default) = &definition.default_value {
                    if let Some(path) = nul_in_value(&default.node, definition.name.node.as_str()) {
                        return Err(refusal(&path, Some(default.pos)));
                    }
                }
            }
        }
        let sets = document
            .operations
            .iter()
            .map(|(_, operation)| &operation.node.selection_set.node)
            .chain(document.fragments.values().map(|fragment| &fragment.node.selection_set.node));
        for set in sets {
            if let Some((path, pos)) = nul_in_selection(set) {
                return Err(refusal(&path, Some(pos)));
            }
        }
        Ok(document)
    }
}

fn refusal(field: &str, pos: Option<Pos>) -> ServerError {
    let message = format!("{field} must not contain the NUL character (U+0000)");
    let error = async_graphql::ErrorExtensions::extend(&Error::bad_input(field, message));
    match pos {
        Some(pos) => error.into_server_error(pos),
        None => {
            let mut server_error = ServerError::new(error.message, None);
            server_error.extensions = error.extensions;
            server_error
        }
    }
}

/// The path of the first string holding a NUL in `value`, which sits at `path`.
fn nul_in_value(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(text) => text.contains('\0').then(|| path.to_owned()),
        Value::List(items) => items.iter().enumerate().find_map(|(i, item)| nul_in_value(item, &format!("{path}.{i}"))),
        Value::Object(fields) => fields.iter().find_map(|(name, item)| nul_in_value(item, &format!("{path}.{name}"))),
        _ => None,
    }
}

/// The same for a literal in the document (variables stand for values checked above).
fn nul_in_literal(value: &async_graphql_value::Value, path: &str) -> Option<String> {
    use async_graphql_value::Value as Literal;
    match value {
        Literal::String(text) => text.contains('\0').then(|| path.to_owned()),
        Literal::List(items) => {
            items.iter().enumerate().find_map(|(i, item)| nul_in_literal(item, &format!("{path}.{i}")))
        }
        Literal::Object(fields) => {
            fields.iter().find_map(|(name, item)| nul_in_literal(item, &format!("{path}.{name}")))
        }
        _ => None,
    }
}

/// The first argument (of a field or directive) in `set` whose literal holds a NUL.
fn nul_in_selection(set: &SelectionSet) -> Option<(String, Pos)> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => {
            let field = &field.node;
            let directive_arguments = field.directives.iter().flat_map(|d| d.node.arguments.iter());
            field
                .arguments
                .iter()
                .chain(directive_arguments)
                .find_map(|(name, value)| Some((nul_in_literal(&value.node, name.node.as_str())?, value.pos)))
                .or_else(|| nul_in_selection(&field.selection_set.node))
        }
        Selection::InlineFragment(fragment) => nul_in_selection(&fragment.node.selection_set.node),
        Selection::FragmentSpread(_) => None,
    })
}
