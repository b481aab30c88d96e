//! Nested lists resolved without the executor's per-field machinery.
//!
//! With any schema extension installed (ours count operations, charge rate limits and check
//! inputs), async-graphql resolves every field and every list item through the extension chain:
//! a `ResolveInfo` with registry lookups and formatted type names, one boxed future per field and
//! per extension. A page of fifty customers with their licenses and devices is some 3,000 of
//! them, and that, not the database, was where an analyst's nested read spent its time (the
//! PostGraphile comparison, `make bench-analytics`). None of our extensions looks at a nested
//! field (operations are named after their root fields), so [`DirectList`] resolves its items'
//! fields by calling each type's own generated `resolve_field` (guards, arguments and scalars
//! exactly as the executor would) and builds the objects itself.
//!
//! It does so only for the selections it understands: plain fields and `__typename`, each
//! response key once, no directives left after `@skip`/`@include`. For anything else (fragments,
//! merged keys), and whenever a field fails, the list is resolved again the executor's way, so
//! errors, their paths and null propagation are the executor's own.

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_list, ContainerType};
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use futures_util::future::join_all;

/// The first `len` items of `items`, shown as `[T!]!`.
pub struct DirectList<T> {
    items: Arc<Vec<T>>,
    len: usize,
}

impl<T> DirectList<T> {
    /// At most `limit` of `items`.
    pub fn new(items: Arc<Vec<T>>, limit: usize) -> Self {
        let len = items.len().min(limit);
        DirectList { items, len }
    }

    fn items(&self) -> &[T] {
        &self.items[..self.len]
    }
}

impl<T> From<Vec<T>> for DirectList<T> {
    fn from(items: Vec<T>) -> Self {
        DirectList::new(Arc::new(items), usize::MAX)
    }
}

impl<T: ContainerType + Sync> OutputType for DirectList<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        if let Some(fields) = plain_fields(ctx) {
            if let Some(items) = resolve_items(ctx, &fields, self.items()).await {
                return Ok(Value::List(items));
            }
        }
        resolve_list(ctx, field, self.items(), Some(self.len)).await
    }
}

/// The fields of the selection when it is nothing but fields, each response key once, with no
/// directive left to apply (the executor has already dropped what `@skip`/`@include` exclude).
fn plain_fields<'a>(ctx: &ContextSelectionSet<'a>) -> Option<Vec<&'a Positioned<Field>>> {
    let mut fields: Vec<&'a Positioned<Field>> = Vec::with_capacity(ctx.item.node.items.len());
    for selection in &ctx.item.node.items {
        let Selection::Field(field) = &selection.node else { return None };
        let plain = field.node.directives.iter().all(|d| matches!(d.node.name.node.as_str(), "skip" | "include"));
        let key = field.node.response_key();
        if !plain || fields.iter().any(|f| f.node.response_key().node == key.node) {
            return None;
        }
        fields.push(field);
    }
    Some(fields)
}

/// Every item's object, all items at once (so that their fields' batch loads are batched
/// together); `None` as soon as a field fails or is unknown.
async fn resolve_items<T: ContainerType + Sync>(
    ctx: &ContextSelectionSet<'_>,
    fields: &[&Positioned<Field>],
    items: &[T],
) -> Option<Vec<Value>> {
    let objects = join_all(items.iter().enumerate().map(|(index, item)| async move {
        let ctx = ctx.with_index(index);
        let mut object: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
        for field in fields {
            let key = field.node.response_key().node.clone();
            let value = if field.node.name.node == "__typename" {
                Value::String(item.introspection_type_name().into_owned())
            } else {
                item.resolve_field(&ctx.with_field(field)).await.ok()??
            };
            object.insert(key, value);
        }
        Some(Value::Object(object))
    }))
    .await;
    objects.into_iter().collect()
}
