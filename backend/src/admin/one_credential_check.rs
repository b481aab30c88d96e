//! One operation may check credentials once. Aliases would otherwise let one request carry
//! hundreds of password or code checks (`a1: login(…) a2: login(…) …`), each one argon2 or a
//! throttle reservation; so an operation selecting more than one of [`CREDENTIAL_FIELDS`] at its
//! root, through aliases, fragments or inline fragments alike, is refused before anything runs
//! with `GRAPHQL_VALIDATION_FAILED` and `extensions.rule = "ONE_CREDENTIAL_CHECK_PER_OPERATION"`.
//! A schema extension, so it holds over HTTP and WebSocket alike.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};

/// The root fields that check a password, a TOTP code or a recovery code.
pub const CREDENTIAL_FIELDS: [&str; 7] = [
    "login",
    "verifyTotp",
    "useRecoveryCode",
    "confirmTotp",
    "changePassword",
    "disableTotp",
    "regenerateRecoveryCodes",
];
pub const RULE: &str = "ONE_CREDENTIAL_CHECK_PER_OPERATION";

/// The schema extension; see the module documentation.
pub struct OneCredentialCheckPerOperation;

impl ExtensionFactory for OneCredentialCheckPerOperation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OneCredentialCheckPerOperation)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OneCredentialCheckPerOperation {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mut counter = Counter { fragments: &document.fragments, counted: HashMap::new() };
        for (_, operation) in document.operations.iter() {
            let checks = counter.count(&operation.node.selection_set.node);
            if checks > 1 {
                let message = format!(
                    "an operation may check credentials only once ({RULE}): this one selects {} of {} \
                     (aliases included); send them as separate requests",
                    checks,
                    CREDENTIAL_FIELDS.join(", ")
                );
                let mut error = ServerError::new(message, Some(operation.pos));
                let extensions = error.extensions.get_or_insert_with(Default::default);
                extensions.set("code", "GRAPHQL_VALIDATION_FAILED");
                extensions.set("rule", RULE);
                return Err(error);
            }
        }
        Ok(document)
    }
}

/// Counts credential fields at the root of a selection, each fragment counted once however often
/// it is spread (so nested spreads cannot make the walk exponential) and every spread of it
/// adding its count (so spreading one twice counts twice).
struct Counter<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// `None` while a fragment is being counted: a cycle, which validation refuses anyway.
    counted: HashMap<&'a str, Option<usize>>,
}

impl<'a> Counter<'a> {
    fn count(&mut self, set: &'a SelectionSet) -> usize {
        set.items.iter().fold(0usize, |sum, item| {
            let here = match &item.node {
                Selection::Field(field) => usize::from(CREDENTIAL_FIELDS.contains(&field.node.name.node.as_str())),
                Selection::InlineFragment(fragment) => self.count(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str()),
            };
            sum.saturating_add(here)
        })
    }

    fn fragment(&mut self, name: &'a str) -> usize {
        if let Some(known) = self.counted.get(name) {
            return known.unwrap_or(0);
        }
        let Some(definition) = self.fragments.get(name) else { return 0 };
        self.counted.insert(name, None);
        let count = self.count(&definition.node.selection_set.node);
        self.counted.insert(name, Some(count));
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(query: &str) -> usize {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let mut counter = Counter { fragments: &document.fragments, counted: HashMap::new() };
        document.operations.iter().map(|(_, op)| counter.count(&op.node.selection_set.node)).max().unwrap()
    }

    #[test]
    fn aliases_fragments_and_inline_fragments_all_count() {
        assert_eq!(checks("mutation { login(username: \"a\", password: \"b\") { __typename } logout }"), 1);
        assert_eq!(checks("mutation { a: login(username: \"a\", password: \"b\") { __typename } b: login(username: \"a\", password: \"c\") { __typename } }"), 2);
        assert_eq!(checks("mutation { ... on Mutation { verifyTotp(challenge: \"x\", code: \"1\") { __typename } } changePassword(currentPassword: \"a\", newPassword: \"b\") }"), 2);
        assert_eq!(
            checks(
                "mutation { ...F ...F } fragment F on Mutation { disableTotp(password: \"a\", code: \"b\") { id } }"
            ),
            2
        );
        assert_eq!(checks("mutation { ...A } fragment A on Mutation { ...A login(username: \"a\", password: \"b\") { __typename } }"), 1);
        assert_eq!(checks("{ me { username } }"), 0);
    }

    #[test]
    fn nested_spreads_are_counted_without_walking_every_path() {
        // 40 levels of fragments spreading the next one twice: 2^40 paths, one count each.
        let mut query = String::from("mutation { ...F0 } ");
        for level in 0..40 {
            query.push_str(&format!("fragment F{level} on Mutation {{ ...F{next} ...F{next} }} ", next = level + 1));
        }
        query.push_str("fragment F40 on Mutation { logout }");
        assert_eq!(checks(&query), 0);
    }
}
