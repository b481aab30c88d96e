//! The complexity limit: an operation whose estimated cost (see [`super::MAX_COMPLEXITY`]) is over
//! the limit is refused before anything runs, with the estimate and the limit in the error, so a
//! caller can see by how much to shrink it.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{ErrorExtensionValues, ServerError, ValidationResult};

use super::MAX_COMPLEXITY;

/// The refusal of an operation estimated at `estimate`, or none when it is within the limit:
/// `QUERY_TOO_COMPLEX` with `estimate` and `limit` in its extensions.
pub fn refuse_if_too_complex(estimate: usize) -> Result<(), ServerError> {
    if estimate <= MAX_COMPLEXITY {
        return Ok(());
    }
    let mut err = ServerError::new(
        format!(
            "Query is too complex: its estimated cost is {estimate} (rows it may read times the fields selected \
             of them), the limit is {MAX_COMPLEXITY}. Ask for smaller pages (`first`) or fewer nested lists."
        ),
        None,
    );
    let extensions = err.extensions.get_or_insert_with(ErrorExtensionValues::default);
    extensions.set("code", "QUERY_TOO_COMPLEX");
    extensions.set("estimate", u64::try_from(estimate).unwrap_or(u64::MAX));
    extensions.set("limit", u64::try_from(MAX_COMPLEXITY).unwrap_or(u64::MAX));
    Err(err)
}

/// The schema extension that applies [`refuse_if_too_complex`] once validation has computed the
/// estimate. The rate limiter (`rate_limit::Charge`) applies it too, before it charges anything.
pub struct ComplexityLimit;

impl ExtensionFactory for ComplexityLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ComplexityLimit)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ComplexityLimit {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        refuse_if_too_complex(result.complexity).map_err(|err| vec![err])?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_estimate_over_the_limit_is_refused_with_the_estimate_and_the_limit() {
        assert!(refuse_if_too_complex(MAX_COMPLEXITY).is_ok());
        let err = refuse_if_too_complex(MAX_COMPLEXITY + 1).unwrap_err();
        assert!(err.message.contains("too complex") && err.message.contains(&(MAX_COMPLEXITY + 1).to_string()));
        let extensions = err.extensions.unwrap();
        assert_eq!(extensions.get("code"), Some(&async_graphql::Value::from("QUERY_TOO_COMPLEX")));
        assert_eq!(extensions.get("estimate"), Some(&async_graphql::Value::from((MAX_COMPLEXITY + 1) as u64)));
        assert_eq!(extensions.get("limit"), Some(&async_graphql::Value::from(MAX_COMPLEXITY as u64)));
    }
}
