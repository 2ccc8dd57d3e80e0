//! The Customer Portal's domain rules, free of GraphQL and HTTP.
//!
//! Every function takes a connection (or transaction) and plain Rust values,
//! enforces the product's rules and the tenant boundary, and returns entity
//! models or an error carrying one of the contract's codes. Reads take a
//! [`Scope`](scope::Scope) — the organization and the viewer's grants — and
//! apply it in their SQL, so no caller can forget to filter.
//!
//! This crate must not depend on async-graphql or axum: the `api` crate maps
//! its results to GraphQL and HTTP, the `worker` crate only transports email.

pub mod access;
pub mod accounts;
pub mod asset_requests;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod deliveries;
pub mod email;
pub mod error;
pub mod gateway;
pub mod invitation_links;
pub mod invitations;
pub mod invoices;
pub mod locations;
pub mod money;
pub mod organizations;
pub mod page;
pub mod password_resets;
pub mod payments;
pub mod scans;
pub mod scope;
pub mod seed;
pub mod sessions;
pub mod users;
pub mod validate;

pub use error::ApiError;
pub use page::Page;
pub use scope::Scope;

use std::{collections::HashMap, hash::Hash};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, TransactionTrait,
};

/// A pool or a transaction that can open a (nested) transaction: what
/// services that write several rows take.
pub trait Db: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction> {}

impl<T: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>> Db for T {}

/// Runs one page of `query` in id order (`LIMIT first + 1`, so the caller can
/// tell whether more follow), and counts all matches when `want_total`.
///
/// # Errors
/// Internal on database failure.
pub async fn paginate<E>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    id: E::Column,
    page: Page,
    want_total: bool,
) -> Result<(Vec<E::Model>, Option<u64>), ApiError>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let total = total_if(db, &query, want_total).await?;
    let rows = page_of(query, id, page).all(db).await?;
    Ok((rows, total))
}

/// All matches of `query` when `want_total` (`None` otherwise).
///
/// # Errors
/// On database failure.
pub async fn total_if<E>(
    db: &impl ConnectionTrait,
    query: &Select<E>,
    want_total: bool,
) -> Result<Option<u64>, sea_orm::DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    if want_total {
        Ok(Some(query.clone().count(db).await?))
    } else {
        Ok(None)
    }
}

/// `query`'s page: the rows after `page.after` by `id`, in id order, at
/// most `page.first + 1` of them (the extra row tells a next page exists).
#[must_use]
pub fn page_of<E: EntityTrait>(query: Select<E>, id: E::Column, page: Page) -> Select<E> {
    let query = match page.after {
        Some(after) => query.filter(id.gt(after)),
        None => query,
    };
    query.order_by_asc(id).limit(page.first + 1)
}

/// Runs `select`, keeping of each `parent` value only the `per_parent` rows
/// with the highest `id`s (the latest, ids being UUIDv7), in SQL (a
/// window function, which PostgreSQL and SQLite both have); returned in
/// ascending `id` order.
///
/// # Errors
/// On database failure.
pub async fn latest_per_parent<E>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    parent: E::Column,
    id: E::Column,
    per_parent: u64,
) -> Result<Vec<E::Model>, sea_orm::DbErr>
where
    E: EntityTrait,
{
    use sea_orm::{IdenStatic, QueryTrait};
    let outer = windowed(
        select.into_query(),
        &format!(r#""{}""#, parent.as_str()),
        &format!(r#""{}" DESC"#, id.as_str()),
        per_parent,
    );
    let statement = db.get_database_backend().build(&outer);
    E::find().from_raw_sql(statement).all(db).await
}

/// Runs `select`, keeping of each `parent` value one page: the rows after
/// `page.after` (by `id`), at most `page.first + 1` of them (the extra row
/// tells a next page exists), read in SQL with a window function, so a
/// nested connection never reads more than its page per parent. Returned
/// in ascending `id` order.
///
/// # Errors
/// On database failure.
pub async fn page_per_parent<E>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    parent: E::Column,
    id: E::Column,
    page: Page,
) -> Result<Vec<E::Model>, sea_orm::DbErr>
where
    E: EntityTrait,
{
    use sea_orm::{IdenStatic, QueryTrait};
    let select = match page.after {
        Some(after) => select.filter(id.gt(after)),
        None => select,
    };
    let outer = windowed(
        select.into_query(),
        &format!(r#""{}""#, parent.as_str()),
        &format!(r#""{}""#, id.as_str()),
        page.first.saturating_add(1),
    );
    let statement = db.get_database_backend().build(&outer);
    E::find().from_raw_sql(statement).all(db).await
}

/// `inner` with only the first `keep` rows of each partition left (by
/// `ROW_NUMBER() OVER (PARTITION BY partition ORDER BY order)`, both SQL
/// column references), ordered by `id`: the window behind
/// [`latest_per_parent`], [`page_per_parent`] and the assets of accounts.
pub(crate) fn windowed(
    mut inner: sea_orm::sea_query::SelectStatement,
    partition: &str,
    order: &str,
    keep: u64,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query};
    inner.expr_as(
        Expr::cust(format!("ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order})")),
        Alias::new("row_in_parent"),
    );
    Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("windowed"))
        .and_where(Expr::col(Alias::new("row_in_parent")).lte(keep))
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned()
}

/// How many rows `select` has for each `parent` value, in one statement
/// (`parent` may be a column of a joined table).
///
/// # Errors
/// On database failure.
pub async fn count_per_parent<E, C>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    parent: C,
) -> Result<HashMap<uuid::Uuid, u64>, sea_orm::DbErr>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    use sea_orm::sea_query::{Expr, ExprTrait};
    let counts: Vec<(uuid::Uuid, i64)> = select
        .select_only()
        .column(parent)
        .column_as(Expr::col(parent).count(), "n")
        .group_by(parent)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts
        .into_iter()
        .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Groups `rows` (already in order) by the parent `parent_of` names, with
/// an entry, possibly empty, for every id of `parents`: what the batched
/// reads behind nested lists return.
pub fn group_by<K: Copy + Eq + Hash, T>(
    parents: &[K],
    rows: Vec<T>,
    parent_of: impl Fn(&T) -> Option<K>,
) -> HashMap<K, Vec<T>> {
    let mut grouped: HashMap<K, Vec<T>> = parents.iter().map(|p| (*p, Vec::new())).collect();
    for row in rows {
        if let Some(children) = parent_of(&row).and_then(|p| grouped.get_mut(&p)) {
            children.push(row);
        }
    }
    grouped
}
