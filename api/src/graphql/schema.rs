//! Builds the schema with its limits, and labels each operation for metrics.

use std::sync::{Arc, Mutex};

use async_graphql::{
    EmptySubscription, Schema, ServerResult, ValidationResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation},
    parser::types::{ExecutableDocument, Selection},
};

use super::{context::AppData, mutation::Mutation, query::Query};

/// The api's schema type.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deepest selection nesting accepted.
pub const MAX_DEPTH: usize = 12;
/// Largest complexity accepted (each field costs 1; the staff dashboard
/// query with every list at its default page is well below).
pub const MAX_COMPLEXITY: usize = 2_000;

/// Builds the schema. `data` is `None` only for printing the SDL.
#[must_use]
pub fn build_schema(data: Option<AppData>) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(16)
        .extension(OperationLabeler);
    if let Some(data) = data {
        builder = builder.data(data);
    }
    builder.finish()
}

/// The metrics label of one request's operation, filled while parsing: the
/// root fields it selects (bounded by the schema once validated), or
/// `invalid` when it fails to parse or validate.
#[derive(Debug, Clone, Default)]
pub struct OperationLabel(pub Arc<Mutex<String>>);

impl OperationLabel {
    fn set(&self, value: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = value;
        }
    }

    /// The label recorded for the request.
    #[must_use]
    pub fn get(&self) -> String {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

struct OperationLabeler;

impl ExtensionFactory for OperationLabeler {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationLabelerExtension)
    }
}

struct OperationLabelerExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for OperationLabelerExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let result = next.run(ctx, query, variables).await;
        if let Some(label) = ctx.data_opt::<OperationLabel>() {
            label.set(match &result {
                Ok(doc) => root_fields(doc),
                Err(_) => "invalid".to_owned(),
            });
        }
        result
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<async_graphql::ServerError>> {
        let result = next.run(ctx).await;
        if result.is_err()
            && let Some(label) = ctx.data_opt::<OperationLabel>()
        {
            label.set("invalid".to_owned());
        }
        result
    }
}

/// `accounts`, `staffLogin`, or `account+viewer` for several root fields.
fn root_fields(doc: &ExecutableDocument) -> String {
    let mut names: Vec<&str> = doc
        .operations
        .iter()
        .flat_map(|(_, op)| op.node.selection_set.node.items.iter())
        .filter_map(|sel| match &sel.node {
            Selection::Field(field) => Some(field.node.name.node.as_str()),
            _ => None,
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names.truncate(3);
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join("+")
    }
}

#[cfg(test)]
mod tests {
    use super::build_schema;

    /// `schema.graphql` is generated: `cargo run -p api -- print-schema > schema.graphql`.
    #[test]
    fn schema_graphql_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        let generated = build_schema(None).sdl();
        assert!(
            committed == generated,
            "schema.graphql is out of date: run `cargo run -p api -- print-schema > schema.graphql`"
        );
    }
}
