//! The execution path for lists of rows already loaded in a batch: the
//! `nodes` of every connection ([`Rows`]).
//!
//! async-graphql resolves a list with one future per item and, inside each
//! item, one boxed future per selected field, polled through a
//! `FuturesUnordered` of its own; a nested page goes through a DataLoader
//! lookup and a connection object per parent. For a staff page of 50
//! accounts × 5 locations × 4 assets that machinery costs far more than
//! reading the rows did. Here a list is resolved field by field for all
//! its rows at once (`resolve_items`):
//!
//! - the selection is collected once per list (fields through fragment
//!   spreads and inline fragments whose type condition applies, in
//!   document order, a response key selected twice kept twice);
//! - a field whose value needs no I/O is answered from each row
//!   ([`PlainFields::plain`]: ids, names, enums, dates, an address, an
//!   amount, an asset type the request has already read);
//! - a field that loads is answered for every row in one call where the
//!   type says how ([`PlainFields::batched`]: an account's portal status
//!   and balance, and the nested pages `Account.locations`,
//!   `Account.assets`, `Account.invoices`, `Location.assets` through
//!   [`page_batch`], whose rows of all parents are again one list, so the
//!   next level is batched too);
//! - anything else goes to the type's generic resolver row by row
//!   ([`ContainerType::resolve_field`], the code `#[Object]` generated),
//!   and so does a batched field whose arguments are refused or whose load
//!   failed, which then answers with the generic resolver's own errors.
//!
//! The answer is the generic executor's, byte for byte (checked by the
//! `fast_path` differential test, on both databases, over the README's,
//! the portal's, the bench's and generated documents): the same fields,
//! `__typename`, the same merging of a response key selected twice
//! (`insert_value`), errors with the same paths, and an object whose
//! fields all failed answered as `null`. Key order is settled afterwards
//! for both paths alike ([`super::order`]). `@skip` and `@include` were
//! applied to the document before execution, and the schema registers no
//! other directive for fields.
//!
//! `GRAPHQL_EXECUTION=generic` turns this path off (every list then goes
//! through async-graphql's own `resolve_list`), for the differential test
//! and to rule this module out when chasing a wrong answer.

use std::{borrow::Cow, future::Future, pin::Pin};

use async_graphql::{
    ContainerType, Context, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
    futures_util::{FutureExt as _, StreamExt as _, stream::FuturesUnordered},
    indexmap::{IndexMap, map::Entry},
    parser::types::{Field, Selection, SelectionSet},
    registry,
};

use common::GraphqlExecution as Execution;

use super::context::AppData;

/// A type whose fields can be answered from the row without I/O.
pub trait PlainFields: ContainerType + Send + Sync + Sized {
    /// The value of the field `ctx.item` (with its arguments and selection
    /// set) when it needs no I/O: exactly the `Value` the generic resolver
    /// would produce. `None` hands the field to the generic resolver.
    fn plain(&self, ctx: &Context<'_>) -> Option<Value>;

    /// The field `field` of every row of `items` at once (one load for all
    /// of them), as one value per row in row order. `None` (now, or from
    /// the future) hands the field to the generic resolver row by row: an
    /// argument it refuses or a failed load then answers with the generic
    /// resolver's own errors.
    fn batched<'a>(field: &'a Positioned<Field>, items: &'a Items<'a, Self>) -> Option<Batch<'a>> {
        let _ = (field, items);
        None
    }
}

/// What [`PlainFields::batched`] answers: one value per row, or `None`.
pub type Batch<'a> = Pin<Box<dyn Future<Output = Option<Vec<Value>>> + Send + 'a>>;

/// Rows resolved together: the items of one list, or of the same field of
/// several parents (the nodes of every location's page of assets), each
/// with its own context (selection set and path).
pub struct Items<'a, T> {
    /// The rows.
    pub rows: Vec<&'a T>,
    /// Each row's context; all share one selection set.
    pub ctxs: Vec<ContextSelectionSet<'a>>,
}

impl<'a, T> Items<'a, T> {
    /// Row `index`'s context for `field`.
    #[must_use]
    pub fn field_ctx(&'a self, index: usize, field: &'a Positioned<Field>) -> Context<'a> {
        self.ctxs[index].with_field(field)
    }
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
        let items = Items {
            rows: self.0.iter().collect(),
            ctxs: (0..self.0.len()).map(|index| ctx.with_index(index)).collect(),
        };
        Ok(Value::List(resolve_items(&items).await))
    }
}

/// The execution path of this request's schema.
fn execution<T>(ctx: &async_graphql::ContextBase<'_, T>) -> Execution {
    ctx.data_opt::<AppData>()
        .map_or(Execution::Fast, |data| data.settings.graphql_execution)
}

/// What a pending piece of a list's work delivers.
enum Done<'a> {
    /// One row's field from the generic resolver.
    Field(usize, ServerResult<(Name, Value)>),
    /// A field of every row ([`PlainFields::batched`]).
    Batch(&'a Positioned<Field>, Option<Vec<Value>>),
}

type Work<'a> = Pin<Box<dyn Future<Output = Done<'a>> + Send + 'a>>;

/// Every row of `items`, one object each: the selection is collected once
/// (fields through fragments, in document order), then each field is
/// answered for all rows: batched, plain from each row, or by the generic
/// resolver row by row, all pending work in one set.
fn resolve_items<'a, T: PlainFields>(items: &'a Items<'a, T>) -> Pin<Box<dyn Future<Output = Vec<Value>> + Send + 'a>> {
    Box::pin(async move {
        let Some(first) = items.ctxs.first() else {
            return Vec::new();
        };
        let mut fields = Vec::new();
        collect_fields(first, &T::type_name(), &first.item.node, &mut |field| {
            fields.push(field);
        });
        let mut objects: Vec<IndexMap<Name, Value>> = items
            .rows
            .iter()
            .map(|_| IndexMap::with_capacity(fields.len()))
            .collect();
        let mut pending: FuturesUnordered<Work<'a>> = FuturesUnordered::new();
        for field in fields {
            let name = field.node.response_key().node.clone();
            if field.node.name.node == "__typename" {
                let type_name = T::type_name();
                for object in &mut objects {
                    insert_value(object, name.clone(), Value::String(type_name.clone().into_owned()));
                }
                continue;
            }
            if let Some(batch) = T::batched(field, items) {
                pending.push(Box::pin(async move { Done::Batch(field, batch.await) }));
                continue;
            }
            row_by_row(items, field, &mut objects, &mut pending);
        }
        while let Some(done) = pending.next().await {
            match done {
                Done::Field(index, Ok((name, value))) => insert_value(&mut objects[index], name, value),
                Done::Field(index, Err(error)) => items.ctxs[index].add_error(error),
                Done::Batch(field, Some(values)) => {
                    let name = field.node.response_key().node.clone();
                    for (object, value) in objects.iter_mut().zip(values) {
                        insert_value(object, name.clone(), value);
                    }
                }
                Done::Batch(field, None) => row_by_row(items, field, &mut objects, &mut pending),
            }
        }
        objects.into_iter().map(object_value).collect()
    })
}

/// `field` of each row: plain from the row, or by the generic resolver.
fn row_by_row<'a, T: PlainFields>(
    items: &'a Items<'a, T>,
    field: &'a Positioned<Field>,
    objects: &mut [IndexMap<Name, Value>],
    pending: &mut FuturesUnordered<Work<'a>>,
) {
    let name = field.node.response_key().node.clone();
    for (index, (row, ctx)) in items.rows.iter().zip(&items.ctxs).enumerate() {
        if let Some(value) = row.plain(&ctx.with_field(field)) {
            insert_value(&mut objects[index], name.clone(), value);
            continue;
        }
        let row: &'a T = row;
        pending.push(Box::pin(async move {
            let ctx_field = ctx.with_field(field);
            let name = ctx_field.item.node.response_key().node.clone();
            Done::Field(
                index,
                row.resolve_field(&ctx_field)
                    .await
                    .map(|value| (name, value.unwrap_or_default())),
            )
        }));
    }
}

/// CollectFields for an object of type `type_name`: the fields of `set`,
/// through fragment spreads and inline fragments whose type condition
/// applies, in document order (a response key selected twice appears
/// twice; its answers merge). `@skip`/`@include` were applied before
/// execution; an unknown fragment was refused by validation.
fn collect_fields<'a>(
    ctx: &ContextSelectionSet<'a>,
    type_name: &str,
    set: &'a SelectionSet,
    fields: &mut impl FnMut(&'a Positioned<Field>),
) {
    for selection in &set.items {
        let (condition, selection_set) = match &selection.node {
            Selection::Field(field) => {
                fields(field);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node) else {
                    continue;
                };
                (Some(&fragment.node.type_condition), &fragment.node.selection_set)
            }
            Selection::InlineFragment(fragment) => {
                (fragment.node.type_condition.as_ref(), &fragment.node.selection_set)
            }
        };
        let applies = condition.is_none_or(|condition| {
            let condition = condition.node.on.node.as_str();
            condition == type_name
                || ctx
                    .schema_env
                    .registry
                    .implements
                    .get(type_name)
                    .is_some_and(|interfaces| interfaces.contains(condition))
        });
        if applies {
            collect_fields(ctx, type_name, &selection_set.node, fields);
        }
    }
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
    plain_object_with(ctx, &T::type_name(), |ctx| value.plain(ctx))
}

/// [`plain_object`] for an object of type `type_name` whose fields `plain`
/// answers (from a borrowed row, without building the output type).
pub fn plain_object_with(
    ctx: &Context<'_>,
    type_name: &str,
    plain: impl Fn(&Context<'_>) -> Option<Value>,
) -> Option<Value> {
    let selection = ctx.with_selection_set(&ctx.item.node.selection_set);
    let mut object = IndexMap::with_capacity(ctx.item.node.selection_set.node.items.len());
    let mut complete = true;
    collect_fields(&selection, type_name, &ctx.item.node.selection_set.node, &mut |field| {
        if !complete {
            return;
        }
        let name = field.node.response_key().node.clone();
        let value = if field.node.name.node == "__typename" {
            Some(Value::String(type_name.to_owned()))
        } else {
            plain(&selection.with_field(field))
        };
        match value {
            Some(value) => insert_value(&mut object, name, value),
            None => complete = false,
        }
    });
    complete.then(|| object_value(object))
}

/// The `Value` of enum item `value`, from names made once per process
/// (`Name::new` would allocate for each row).
pub fn enum_value<E>(names: &'static std::sync::LazyLock<Vec<(E, Name)>>, value: E) -> Option<Value>
where
    E: PartialEq + Send + Sync + 'static,
{
    names
        .iter()
        .find(|(item, _)| *item == value)
        .map(|(_, name)| Value::Enum(name.clone()))
}

/// The names of enum `E`'s items, for [`enum_value`].
pub fn enum_names<E: async_graphql::resolver_utils::EnumType>() -> Vec<(E, Name)> {
    E::items()
        .iter()
        .map(|item| (item.value, Name::new(item.name)))
        .collect()
}

/// A scalar or enum field's value, through its own `OutputType` (the same
/// encoding as the generic resolver's), without a future left behind.
pub fn plain_value<T: OutputType>(ctx: &Context<'_>, value: &T) -> Option<Value> {
    let selection = ctx.with_selection_set(&ctx.item.node.selection_set);
    OutputType::resolve(value, &selection, ctx.item).now_or_never()?.ok()
}

/// A connection type of the schema (see `connection_types!`): its page.
pub trait PageOf: ContainerType + Send + Sync + Sized {
    /// The rows' type.
    type Node: PlainFields + OutputType;
    /// The page.
    fn page(&self) -> &service::page::Connection<Self::Node>;
}

/// Answers a page field of every row of `items` at once: `pages` loads
/// each row's page (in row order), with its total when `with_total`. The
/// pages' rows of all parents then go through one [`resolve_items`], so
/// the level below is batched again. `None` when the page arguments are
/// refused or a load fails (the generic resolver then answers row by row,
/// with its own errors).
pub fn page_batch<'a, P, C, F, Fut>(field: &'a Positioned<Field>, items: &'a Items<'a, P>, pages: F) -> Batch<'a>
where
    P: PlainFields,
    C: PageOf,
    F: FnOnce(Context<'a>, service::Page, bool) -> Fut + Send + 'a,
    Fut: Future<Output = Option<Vec<C>>> + Send + 'a,
{
    Box::pin(async move {
        let ctx = items.field_ctx(0, field);
        let (_, first) = ctx.param_value::<Option<i32>>("first", None).ok()?;
        let (_, after) = ctx.param_value::<Option<String>>("after", None).ok()?;
        let page = service::Page::new(first, after.as_deref()).ok()?;
        let with_total = ctx.look_ahead().field("totalCount").exists();
        let connections = pages(ctx, page, with_total).await?;
        Some(resolve_pages(field, items, &connections).await)
    })
}

/// The connection objects of `field` for every parent in `parents`.
async fn resolve_pages<'a, P, C: PageOf>(
    field: &'a Positioned<Field>,
    parents: &'a Items<'a, P>,
    connections: &'a [C],
) -> Vec<Value> {
    let field_ctxs: Vec<Context<'_>> = parents.ctxs.iter().map(|ctx| ctx.with_field(field)).collect();
    let page_ctxs: Vec<ContextSelectionSet<'_>> = field_ctxs
        .iter()
        .map(|ctx| ctx.with_selection_set(&field.node.selection_set))
        .collect();
    let Some(first) = page_ctxs.first() else {
        return Vec::new();
    };
    let type_name = C::type_name();
    let mut fields = Vec::new();
    collect_fields(first, &type_name, &field.node.selection_set.node, &mut |field| {
        fields.push(field);
    });
    let mut objects: Vec<IndexMap<Name, Value>> = connections
        .iter()
        .map(|_| IndexMap::with_capacity(fields.len()))
        .collect();
    let mut pending: FuturesUnordered<PageWork<'_>> = FuturesUnordered::new();
    for page_field in fields {
        let name = page_field.node.response_key().node.clone();
        match page_field.node.name.node.as_str() {
            "__typename" => {
                for object in &mut objects {
                    insert_value(object, name.clone(), Value::String(type_name.clone().into_owned()));
                }
            }
            "totalCount" => {
                for (object, connection) in objects.iter_mut().zip(connections) {
                    insert_value(object, name.clone(), Value::from(connection.page().total_count));
                }
            }
            "nodes" => pending.push(nodes_of(page_field, &page_ctxs, connections)),
            _ => {
                // pageInfo, edges: each page by the generic resolver.
                for (index, (connection, ctx)) in connections.iter().zip(&page_ctxs).enumerate() {
                    pending.push(Box::pin(async move {
                        let ctx_field = ctx.with_field(page_field);
                        let name = ctx_field.item.node.response_key().node.clone();
                        PageDone::Field(
                            index,
                            connection
                                .resolve_field(&ctx_field)
                                .await
                                .map(|value| (name, value.unwrap_or_default())),
                        )
                    }));
                }
            }
        }
    }
    while let Some(done) = pending.next().await {
        match done {
            PageDone::Field(index, Ok((name, value))) => insert_value(&mut objects[index], name, value),
            PageDone::Field(index, Err(error)) => page_ctxs[index].add_error(error),
            PageDone::Nodes(name, lists) => {
                for (object, list) in objects.iter_mut().zip(lists) {
                    insert_value(object, name.clone(), list);
                }
            }
        }
    }
    objects.into_iter().map(object_value).collect()
}

/// What a pending piece of a page's work delivers.
enum PageDone {
    /// One page's field from the generic resolver.
    Field(usize, ServerResult<(Name, Value)>),
    /// The `nodes` of every page, one list each.
    Nodes(Name, Vec<Value>),
}

type PageWork<'a> = Pin<Box<dyn Future<Output = PageDone> + Send + 'a>>;

/// The `nodes` of every page, resolved as one list of rows; one list value
/// per page.
fn nodes_of<'a, C: PageOf>(
    nodes: &'a Positioned<Field>,
    page_ctxs: &'a [ContextSelectionSet<'a>],
    connections: &'a [C],
) -> PageWork<'a> {
    Box::pin(async move {
        let name = nodes.node.response_key().node.clone();
        let field_ctxs: Vec<Context<'_>> = page_ctxs.iter().map(|ctx| ctx.with_field(nodes)).collect();
        let list_ctxs: Vec<ContextSelectionSet<'_>> = field_ctxs
            .iter()
            .map(|ctx| ctx.with_selection_set(&nodes.node.selection_set))
            .collect();
        let mut items = Items {
            rows: Vec::new(),
            ctxs: Vec::new(),
        };
        let mut lengths = Vec::with_capacity(connections.len());
        for (connection, list) in connections.iter().zip(&list_ctxs) {
            let rows = &connection.page().nodes;
            lengths.push(rows.len());
            items.rows.extend(rows.iter());
            items.ctxs.extend((0..rows.len()).map(|index| list.with_index(index)));
        }
        let mut values = resolve_items(&items).await.into_iter();
        let lists = lengths
            .into_iter()
            .map(|length| Value::List(values.by_ref().take(length).collect()))
            .collect();
        PageDone::Nodes(name, lists)
    })
}

/// async-graphql's merge of a response key selected more than once: the
/// first value stays, objects merge key by key and lists item by item.
fn insert_value(target: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    match target.entry(name) {
        Entry::Vacant(slot) => {
            slot.insert(value);
        }
        Entry::Occupied(mut slot) => match (slot.get_mut(), value) {
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
        },
    }
}
