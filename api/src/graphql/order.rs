//! Answers in the document's order.
//!
//! The GraphQL spec asks for an object's fields in the order the document
//! selects them (CollectFields order). async-graphql inserts each field as
//! its resolver completes, so an object whose fields load through two
//! DataLoaders, or a document with two root fields, could come back with
//! its keys in one order on one run and in another on the next. After
//! execution, [`document_order`] puts every object of the answer back into
//! the document's order (and the errors into the order of their paths), so
//! the same document on the same data is answered with the same bytes
//! every time, whichever path executed it.
//!
//! The order is computed once per selection of the operation (a page of a
//! thousand rows shares one), and an object already in order (the common
//! case) is only compared, not rebuilt.

use std::cmp::Ordering;

use async_graphql::{
    Name, PathSegment, Positioned, ServerError, Value, Variables,
    indexmap::IndexMap,
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
    },
};

/// Deepest selection this pass follows (the schema refuses deeper documents).
const MAX_DEPTH: usize = 64;

/// The response keys of one selection, in order, each with the shape of
/// its value.
#[derive(Debug, Default)]
struct Shape {
    keys: Vec<(Name, Shape)>,
    /// The selection has fragments on two or more types (a union's
    /// members): the keys present depend on the row's type, so the object
    /// is left as it is.
    ambiguous: bool,
}

/// Puts `data` and `errors` of the answer to `operation_name` of `document`
/// into the document's order (see the module docs).
pub fn document_order(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    data: &mut Value,
    errors: &mut [ServerError],
) {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) => operations.values().next(),
    };
    let Some(operation) = operation else { return };
    let builder = Builder {
        fragments: &document.fragments,
        variables,
    };
    let shape = builder.shape(&[&operation.node.selection_set], 0);
    reorder(data, &shape);
    if errors.len() > 1 {
        errors.sort_by(|a, b| compare_paths(&a.path, &b.path).then_with(|| a.message.cmp(&b.message)));
    }
}

struct Builder<'d> {
    fragments: &'d std::collections::HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'d Variables,
}

impl<'d> Builder<'d> {
    /// The shape of the fields merged from `sets` (the selection sets of
    /// every field that answers one response key).
    fn shape(&self, sets: &[&'d Positioned<SelectionSet>], depth: usize) -> Shape {
        let mut collected: IndexMap<Name, Vec<&'d Positioned<Field>>> = IndexMap::new();
        let mut conditions: Vec<&'d str> = Vec::new();
        for set in sets {
            self.collect(set, &mut collected, &mut conditions, depth);
        }
        let ambiguous = conditions.len() > 1;
        let keys = if depth >= MAX_DEPTH {
            Vec::new()
        } else {
            collected
                .into_iter()
                .map(|(key, fields)| {
                    let sets: Vec<&Positioned<SelectionSet>> = fields
                        .iter()
                        .map(|field| &field.node.selection_set)
                        .filter(|set| !set.node.items.is_empty())
                        .collect();
                    let shape = if sets.is_empty() {
                        Shape::default()
                    } else {
                        self.shape(&sets, depth + 1)
                    };
                    (key, shape)
                })
                .collect()
        };
        Shape { keys, ambiguous }
    }

    /// CollectFields: fields in document order through fragments, skipping
    /// what `@skip`/`@include` leave out; fragment type conditions are
    /// noted in `conditions`.
    fn collect(
        &self,
        set: &'d Positioned<SelectionSet>,
        collected: &mut IndexMap<Name, Vec<&'d Positioned<Field>>>,
        conditions: &mut Vec<&'d str>,
        depth: usize,
    ) {
        if depth >= MAX_DEPTH {
            return;
        }
        for selection in &set.node.items {
            if !self.included(selection.node.directives()) {
                continue;
            }
            match &selection.node {
                Selection::Field(field) => collected
                    .entry(field.node.response_key().node.clone())
                    .or_default()
                    .push(field),
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.fragments.get(&spread.node.fragment_name.node) {
                        note(conditions, fragment.node.type_condition.node.on.node.as_str());
                        self.collect(&fragment.node.selection_set, collected, conditions, depth + 1);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    if let Some(condition) = &fragment.node.type_condition {
                        note(conditions, condition.node.on.node.as_str());
                    }
                    self.collect(&fragment.node.selection_set, collected, conditions, depth + 1);
                }
            }
        }
    }

    /// `@skip(if:)` and `@include(if:)` as the executor applies them.
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|directive| {
            let include = match directive.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => return true,
            };
            let Some(condition) = directive.node.get_argument("if") else {
                return true;
            };
            let value = condition
                .node
                .clone()
                .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                .unwrap_or_default();
            // Anything but `true` counts as false, as in the executor.
            matches!(value, Value::Boolean(true)) == include
        })
    }
}

fn note<'d>(conditions: &mut Vec<&'d str>, condition: &'d str) {
    if !conditions.contains(&condition) {
        conditions.push(condition);
    }
}

/// Reorders `value` (an object, a list of them, or a leaf) after `shape`.
fn reorder(value: &mut Value, shape: &Shape) {
    match value {
        Value::List(items) => {
            for item in items {
                reorder(item, shape);
            }
        }
        Value::Object(object) if !shape.ambiguous && !shape.keys.is_empty() => {
            if !in_order(object, shape) {
                let mut old = std::mem::take(object);
                let mut ordered = IndexMap::with_capacity(old.len());
                for (key, _) in &shape.keys {
                    if let Some(entry) = old.swap_remove(key) {
                        ordered.insert(key.clone(), entry);
                    }
                }
                // Keys the shape does not know (none, unless the executor
                // answered something the document did not select) stay last.
                ordered.extend(old);
                *object = ordered;
            }
            // The keys are in the shape's order now: walk both together
            // (no lookup by name).
            let mut shapes = shape.keys.iter();
            for (key, entry) in object.iter_mut() {
                if let Some((_, child)) = shapes.by_ref().find(|(name, _)| same(name, key))
                    && !child.keys.is_empty()
                {
                    reorder(entry, child);
                }
            }
        }
        _ => {}
    }
}

/// Whether `object`'s keys come in the shape's order.
fn in_order(object: &IndexMap<Name, Value>, shape: &Shape) -> bool {
    let mut expected = shape.keys.iter();
    object
        .keys()
        .all(|key| expected.by_ref().any(|(name, _)| same(name, key)))
}

/// Name equality, by pointer first: an answer's keys are clones of the
/// document's names, so they usually share the allocation.
fn same(a: &Name, b: &Name) -> bool {
    let (a, b) = (a.as_str(), b.as_str());
    std::ptr::eq(a, b) || a == b
}

/// Errors by path: field names as strings, list indexes as numbers, a path
/// before its extensions; errors without a path first.
fn compare_paths(a: &[PathSegment], b: &[PathSegment]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (PathSegment::Index(x), PathSegment::Index(y)) => x.cmp(y),
            (PathSegment::Field(x), PathSegment::Field(y)) => x.cmp(y),
            (PathSegment::Index(_), PathSegment::Field(_)) => Ordering::Less,
            (PathSegment::Field(_), PathSegment::Index(_)) => Ordering::Greater,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}
