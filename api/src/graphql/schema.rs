//! Builds the schema with its limits, and labels each operation for metrics.

use async_graphql::{
    Schema,
    parser::types::{ExecutableDocument, Selection},
};

use super::{context::AppData, mutation::Mutation, query::Query, subscription::Subscription};

/// The api's schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Deepest selection nesting accepted.
pub const MAX_DEPTH: usize = 12;
/// Largest complexity accepted. Each field costs 1 and a list costs its
/// page size (`first`, default 20) times its rows' selection
/// ([`super::connection::page_cost`]), so this bounds the fields a document
/// can make the api produce, however its lists nest: three nested lists of
/// 100 (a million rows) are refused before anything runs, while the staff
/// dashboard of 50 accounts with their default pages of locations and
/// assets (about 125,000) is answered.
pub const MAX_COMPLEXITY: usize = 250_000;

/// Deepest nesting of an introspection-only document: the standard
/// introspection queries of GraphiQL and graphql-js nest `ofType` about 13
/// levels deep, past [`MAX_DEPTH`].
pub const INTROSPECTION_MAX_DEPTH: usize = 32;
/// Largest complexity of an introspection-only document (it reads the
/// schema held in memory, never the database).
pub const INTROSPECTION_MAX_COMPLEXITY: usize = 20_000;

/// Builds the schema. `data` is `None` only for printing the SDL.
#[must_use]
pub fn build_schema(data: Option<AppData>) -> AppSchema {
    build(data, MAX_DEPTH, MAX_COMPLEXITY)
}

/// The same schema with the looser limits of [`INTROSPECTION_MAX_DEPTH`]
/// and [`INTROSPECTION_MAX_COMPLEXITY`], for documents that select nothing
/// but `__schema`, `__type` and `__typename` (executed with
/// `only_introspection`, so they can reach no data). Data queries never run
/// on it: their limits stay those of [`build_schema`].
#[must_use]
pub fn build_introspection_schema() -> AppSchema {
    build(None, INTROSPECTION_MAX_DEPTH, INTROSPECTION_MAX_COMPLEXITY)
}

fn build(data: Option<AppData>, depth: usize, complexity: usize) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .limit_depth(depth)
        .limit_complexity(complexity)
        .limit_recursive_depth(32)
        .limit_directives(16);
    if let Some(data) = data {
        builder = builder.data(data);
    }
    builder.finish()
}

/// Whether `viewer` may introspect under `GRAPHQL_INTROSPECTION` (`policy`),
/// over HTTP and over websockets alike.
#[must_use]
pub fn may_introspect(policy: common::Introspection, viewer: &service::auth::Viewer) -> bool {
    match policy {
        common::Introspection::All => true,
        common::Introspection::Off => false,
        common::Introspection::Staff => viewer.require_staff().is_ok(),
    }
}

/// How a document uses introspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntrospectionUse {
    /// No `__schema` or `__type` at the root of any operation.
    None,
    /// Only `__schema`, `__type` and `__typename` at the roots.
    Only,
    /// Introspection beside data fields.
    Mixed,
}

/// Whether `doc` introspects the schema (its operations' root fields,
/// through fragments too).
#[must_use]
pub fn introspection_use(doc: &ExecutableDocument) -> IntrospectionUse {
    let names = root_field_names(doc);
    let introspects = names.iter().any(|n| *n == "__schema" || *n == "__type");
    let data = names.iter().any(|n| !n.starts_with("__"));
    match (introspects, data) {
        (false, _) => IntrospectionUse::None,
        (true, false) => IntrospectionUse::Only,
        (true, true) => IntrospectionUse::Mixed,
    }
}

/// Most root fields (aliases counted, `__typename` not) one operation of an
/// anonymous caller may select: the public operations are used one or two
/// at a time, and a thousand aliases of `invitationPreview` in one document
/// would be a thousand lookups for one request.
pub const MAX_ANONYMOUS_ROOT_FIELDS: usize = 5;

/// The most root fields one operation of `doc` selects (through
/// fragments, aliases counted, `__typename` not).
#[must_use]
pub fn max_root_fields(doc: &ExecutableDocument) -> usize {
    doc.operations
        .iter()
        .map(|(_, operation)| {
            let mut names = Vec::new();
            collect_root_fields(doc, &operation.node.selection_set.node, &mut names, 0);
            names.iter().filter(|name| **name != "__typename").count()
        })
        .max()
        .unwrap_or(0)
}

/// The root fields every operation of `doc` selects, through fragments.
fn root_field_names(doc: &ExecutableDocument) -> Vec<&str> {
    let mut names = Vec::new();
    for (_, operation) in doc.operations.iter() {
        collect_root_fields(doc, &operation.node.selection_set.node, &mut names, 0);
    }
    names
}

fn collect_root_fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a async_graphql::parser::types::SelectionSet,
    names: &mut Vec<&'a str>,
    depth: usize,
) {
    // Fragments may not form cycles (validation refuses them), but this
    // runs before validation: bound the walk.
    if depth > 16 {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => names.push(field.node.name.node.as_str()),
            Selection::InlineFragment(fragment) => {
                collect_root_fields(doc, &fragment.node.selection_set.node, names, depth + 1);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    collect_root_fields(doc, &fragment.node.selection_set.node, names, depth + 1);
                }
            }
        }
    }
}

/// Removes async-graphql's "Did you mean …?" hints from validation errors:
/// for callers who may not introspect, they would spell out the schema.
pub fn strip_suggestions(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        if let Some(at) = error.message.find(" Did you mean") {
            error.message.truncate(at);
        }
    }
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
    if is_request_error(response) {
        "invalid".to_owned()
    } else {
        label
    }
}

/// Whether a response is a request error: the document did not parse or
/// validate, or was refused before execution (no data, and errors without a
/// path; execution errors carry the path of their field).
#[must_use]
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    !response.errors.is_empty()
        && matches!(response.data, async_graphql::Value::Null)
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// `accounts`, `staffLogin`, or `account+viewer` for several root fields.
fn root_fields(doc: &ExecutableDocument) -> String {
    let mut names = root_field_names(doc);
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
    use async_graphql::parser::parse_query;

    use super::{IntrospectionUse, build_schema, introspection_use};

    #[test]
    fn introspection_use_looks_at_root_fields_through_fragments() {
        let of = |q: &str| introspection_use(&parse_query(q).expect("parses"));
        assert_eq!(of("{ accounts { totalCount } }"), IntrospectionUse::None);
        assert_eq!(of("{ __typename }"), IntrospectionUse::None);
        assert_eq!(
            of("query Q { __schema { queryType { name } } }"),
            IntrospectionUse::Only
        );
        assert_eq!(
            of("{ __type(name: \"Account\") { name } __typename }"),
            IntrospectionUse::Only
        );
        assert_eq!(
            of("{ __schema { types { name } } viewer { __typename } }"),
            IntrospectionUse::Mixed
        );
        assert_eq!(
            of("{ ...F } fragment F on Query { __schema { types { name } } }"),
            IntrospectionUse::Only
        );
        assert_eq!(
            of("{ ... on Query { accounts { totalCount } __type(name: \"X\") { name } } }"),
            IntrospectionUse::Mixed
        );
    }

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
