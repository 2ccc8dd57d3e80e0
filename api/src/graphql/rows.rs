//! The execution path for lists of rows already loaded in a batch: the
//! `nodes` of every connection, and the other lists of the list-heavy types.
//!
//! async-graphql resolves a list with one future per item and, inside each
//! item, one boxed future per selected field, polled through a
//! `FuturesUnordered` of its own. For a page of a thousand assets that
//! machinery costs far more than reading the rows did. [`Rows`] walks the
//! list's selection set once per item instead: a field whose value needs no
//! I/O is answered at once from the row ([`PlainFields::plain`]), and only
//! the other fields (those that load through a DataLoader) are handed to the
//! type's generic resolver ([`ContainerType::resolve_field`], the code
//! `#[Object]` generated), all items' pending fields in one set.
//!
//! The answer is byte for byte the generic executor's (checked by the
//! `fast_path` differential tests, on both databases): the same walk over
//! fields, fragments and inline fragments with the same type conditions,
//! `__typename`, the same merging of a response key selected twice
//! (`insert_value`), fields that were ready when first polled in document
//! order and the others as they complete, errors added with their paths,
//! and an item whose fields all failed answered as `null`. `@skip` and
//! `@include` were applied to the document before execution, and the
//! schema registers no other directive for fields.
//!
//! `GRAPHQL_EXECUTION=generic` turns this path off (every list then goes
//! through async-graphql's own `resolve_list`), for the differential test
//! and to rule this module out when chasing a wrong answer.

use std::{borrow::Cow, future::Future, pin::Pin};

use async_graphql::{
    ContainerType, Context, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value,
    futures_util::{FutureExt as _, StreamExt as _, stream::FuturesUnordered},
    indexmap::IndexMap,
    parser::types::{Field, Selection},
    registry,
};

use common::GraphqlExecution as Execution;

use super::context::AppData;

/// A type whose fields can be answered from the row without I/O.
pub trait PlainFields: ContainerType + Send + Sync {
    /// The value of the field `ctx.item` (with its arguments and selection
    /// set) when it needs no I/O: exactly the `Value` the generic resolver
    /// would produce. `None` hands the field to the generic resolver.
    fn plain(&self, ctx: &Context<'_>) -> Option<Value>;
}

/// A list of rows resolved through this module's path; the GraphQL type is
/// the same as the slice's (`[T!]!`).
pub struct Rows<'a, T>(pub &'a [T]);

impl<T: PlainFields + OutputType> OutputType for Rows<'_, T> {
    fn type_name() -> Cow<'static, str> {
        <&[T] as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <&[T] as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut registry::Registry) -> String {
        <&[T] as OutputType>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        if execution(ctx) == Execution::Generic {
            return OutputType::resolve(&self.0, ctx, field).await;
        }
        resolve_rows(ctx, self.0).await
    }
}

/// The execution path of this request's schema.
fn execution<T>(ctx: &async_graphql::ContextBase<'_, T>) -> Execution {
    ctx.data_opt::<AppData>()
        .map_or(Execution::Fast, |data| data.settings.graphql_execution)
}

type FieldFuture<'a> = Pin<Box<dyn Future<Output = ServerResult<(Name, Value)>> + Send + 'a>>;

/// A field handed to the generic resolver, with the item it belongs to.
struct Pending<'a> {
    item: usize,
    future: FieldFuture<'a>,
}

impl Future for Pending<'_> {
    type Output = (usize, ServerResult<(Name, Value)>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let item = self.item;
        self.future.as_mut().poll(cx).map(|result| (item, result))
    }
}

async fn resolve_rows<T: PlainFields>(ctx: &ContextSelectionSet<'_>, rows: &[T]) -> ServerResult<Value> {
    let items: Vec<ContextSelectionSet<'_>> = (0..rows.len()).map(|index| ctx.with_index(index)).collect();
    let mut objects: Vec<IndexMap<Name, Value>> = Vec::with_capacity(rows.len());
    let mut pending = FuturesUnordered::new();
    for (index, (row, item)) in rows.iter().zip(&items).enumerate() {
        let mut object = IndexMap::new();
        let mut walk = Walk {
            item: index,
            object: &mut object,
            pending: Some(&mut pending),
        };
        walk.selection_set(item, row)?;
        objects.push(object);
    }
    while let Some((index, result)) = pending.next().await {
        match result {
            Ok((name, value)) => insert_value(&mut objects[index], name, value),
            Err(error) => items[index].add_error(error),
        }
    }
    Ok(Value::List(objects.into_iter().map(object_value).collect()))
}

/// An object's answer: `null` when no field produced a value, as the
/// generic executor answers it.
fn object_value(object: IndexMap<Name, Value>) -> Value {
    if object.is_empty() {
        Value::Null
    } else {
        Value::Object(object)
    }
}

/// Answers a field that selects a plain object (an address, an amount, an
/// asset type already read) from `value`, when every field it selects is
/// plain; `None` hands the field to the generic resolver.
pub fn plain_object<T: PlainFields + OutputType>(ctx: &Context<'_>, value: &T) -> Option<Value> {
    let mut object = IndexMap::new();
    let mut walk = Walk {
        item: 0,
        object: &mut object,
        pending: None,
    };
    let selection = ctx.with_selection_set(&ctx.item.node.selection_set);
    walk.selection_set(&selection, value).ok()?;
    if walk.item == usize::MAX {
        return None;
    }
    Some(object_value(object))
}

/// A scalar or enum field's value, through its own `OutputType` (the same
/// encoding as the generic resolver's), without a future left behind.
pub fn plain_value<T: OutputType>(ctx: &Context<'_>, value: &T) -> Option<Value> {
    let selection = ctx.with_selection_set(&ctx.item.node.selection_set);
    OutputType::resolve(value, &selection, ctx.item).now_or_never()?.ok()
}

/// One item's walk over its selection set.
struct Walk<'w, 'a> {
    /// The item's index in the list (`usize::MAX` once a plain-only walk
    /// met a field that is not plain).
    item: usize,
    object: &'w mut IndexMap<Name, Value>,
    /// Where fields for the generic resolver go; `None` for a plain-only
    /// walk ([`plain_object`]).
    pending: Option<&'w mut FuturesUnordered<Pending<'a>>>,
}

impl<'a> Walk<'_, 'a> {
    /// The walk of async-graphql's `Fields::add_set`, field by field.
    fn selection_set<T: PlainFields + ?Sized>(
        &mut self,
        ctx: &ContextSelectionSet<'a>,
        row: &'a T,
    ) -> ServerResult<()> {
        for selection in &ctx.item.node.items {
            match &selection.node {
                Selection::Field(field) => {
                    if self.item == usize::MAX {
                        return Ok(());
                    }
                    self.field(ctx, row, field);
                }
                selection => {
                    let (condition, selection_set) = match selection {
                        Selection::Field(_) => continue,
                        Selection::FragmentSpread(spread) => {
                            let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node) else {
                                return Err(ServerError::new(
                                    format!(r#"Unknown fragment "{}"."#, spread.node.fragment_name.node),
                                    Some(spread.pos),
                                ));
                            };
                            (Some(&fragment.node.type_condition), &fragment.node.selection_set)
                        }
                        Selection::InlineFragment(fragment) => {
                            (fragment.node.type_condition.as_ref(), &fragment.node.selection_set)
                        }
                    };
                    let condition = condition.map(|condition| condition.node.on.node.as_str());
                    let type_name = row.introspection_type_name();
                    let applies = condition.is_none_or(|condition| {
                        type_name == condition
                            || ctx
                                .schema_env
                                .registry
                                .implements
                                .get(&*type_name)
                                .is_some_and(|interfaces| interfaces.contains(condition))
                            || T::type_name() == condition
                    });
                    if applies {
                        self.selection_set(&ctx.with_selection_set(selection_set), row)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn field<T: PlainFields + ?Sized>(
        &mut self,
        ctx: &ContextSelectionSet<'a>,
        row: &'a T,
        field: &'a Positioned<Field>,
    ) {
        let name = field.node.response_key().node.clone();
        if field.node.name.node == "__typename" {
            insert_value(
                self.object,
                name,
                Value::String(row.introspection_type_name().into_owned()),
            );
            return;
        }
        if let Some(value) = row.plain(&ctx.with_field(field)) {
            insert_value(self.object, name, value);
            return;
        }
        let Some(pending) = self.pending.as_deref_mut() else {
            self.item = usize::MAX;
            return;
        };
        let errors = ctx;
        let ctx = ctx.clone();
        let mut future: FieldFuture<'a> = Box::pin(async move {
            let ctx_field = ctx.with_field(field);
            let name = ctx_field.item.node.response_key().node.clone();
            Ok((name, row.resolve_field(&ctx_field).await?.unwrap_or_default()))
        });
        // Polled once now, in document order, as the generic executor first
        // polls an object's fields: what is ready is inserted in that order.
        match (&mut future).now_or_never() {
            Some(Ok((name, value))) => insert_value(self.object, name, value),
            Some(Err(error)) => errors.add_error(error),
            None => pending.push(Pending {
                item: self.item,
                future,
            }),
        }
    }
}

/// async-graphql's merge of a response key selected more than once: the
/// first value stays, objects merge key by key and lists item by item.
fn insert_value(target: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    if let Some(previous) = target.get_mut(&name) {
        match (previous, value) {
            (Value::Object(target), Value::Object(object)) => {
                for (key, value) in object {
                    insert_value(target, key, value);
                }
            }
            (Value::List(target), Value::List(list)) => {
                for (index, value) in list.into_iter().enumerate() {
                    if let (Some(Value::Object(target)), Value::Object(object)) = (target.get_mut(index), value) {
                        for (key, value) in object {
                            insert_value(target, key, value);
                        }
                    }
                }
            }
            _ => {}
        }
    } else {
        target.insert(name, value);
    }
}
