//! Domain logic, free of GraphQL and HTTP: each function takes a connection
//! (or transaction) and plain Rust values, enforces the rules of the product
//! and the tenant boundary (every statement filters on the organization), and
//! returns entity models or an [`ApiError`](crate::error::ApiError).

pub mod access;
pub mod accounts;
pub mod asset_requests;
pub mod assets;
pub mod audit;
pub mod deliveries;
pub mod invitations;
pub mod invoices;
pub mod locations;
pub mod notices;
pub mod organizations;
pub mod payments;
pub mod seed;
pub mod sessions;
pub mod validate;
pub mod visibility;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, TransactionTrait,
};

/// A pool or a transaction that can open a (nested) transaction: what
/// services that write several rows take.
pub trait Db: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction> {}

impl<T: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>> Db for T {}

use crate::{error::ApiError, graphql::connection::Page};

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
    let total = if want_total {
        Some(query.clone().count(db).await?)
    } else {
        None
    };
    let mut rows = query;
    if let Some(after) = page.after {
        rows = rows.filter(id.gt(after));
    }
    let rows = rows.order_by_asc(id).limit(page.first + 1).all(db).await?;
    Ok((rows, total))
}
