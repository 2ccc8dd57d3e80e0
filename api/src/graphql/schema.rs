//! Builds the schema with its limits, and labels each operation for metrics.

use async_graphql::{
    EmptySubscription, Schema,
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
        .limit_directives(16);
    if let Some(data) = data {
        builder = builder.data(data);
    }
    builder.finish()
}

/// The metrics label of a request's operation, from its parsed document:
/// the root fields it selects (see [`root_fields`]), or `invalid` when it
/// does not parse. The handler labels validation failures `invalid` too
/// ([`label_after`]).
///
/// This is deliberately not an async-graphql extension: any extension puts
/// every field's resolution through the extension chain (a boxed future per
/// field), which cost the staff dashboard several per cent of its time.
#[must_use]
pub fn operation_label(request: &mut async_graphql::Request) -> String {
    match request.parsed_query() {
        Ok(doc) => root_fields(doc),
        Err(_) => "invalid".to_owned(),
    }
}

/// The label once the response is known: `invalid` when the request failed
/// validation (no data, and errors without a path — execution errors carry
/// the path of their field), else `label`.
#[must_use]
pub fn label_after(label: String, response: &async_graphql::Response) -> String {
    let rejected = !response.errors.is_empty()
        && matches!(response.data, async_graphql::Value::Null)
        && response.errors.iter().all(|e| e.path.is_empty());
    if rejected { "invalid".to_owned() } else { label }
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
