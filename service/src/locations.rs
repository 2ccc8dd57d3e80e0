//! Locations: the sites of an account.

use chrono::Utc;
use entity::location;
use std::collections::HashMap;

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{accounts, validate};
use crate::{error::ApiError, page::Page, scope::Scope};

/// A postal address as entered.
#[derive(Debug, Clone, Default)]
pub struct NewAddress {
    /// Street and number.
    pub line1: String,
    /// Suite, building, gate.
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or region.
    pub region: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
    /// Country code.
    pub country: String,
}

/// A page of the visible locations, optionally of one account.
///
/// # Errors
/// Internal on database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_id: Option<Uuid>,
    page: Page,
    want_total: bool,
) -> Result<(Vec<location::Model>, Option<u64>), ApiError> {
    let mut query = location::Entity::find().filter(scope.locations());
    if let Some(account_id) = account_id {
        query = query.filter(location::Column::AccountId.eq(account_id));
    }
    super::paginate(db, query, location::Column::Id, page, want_total).await
}

/// One visible location.
///
/// # Errors
/// Internal on database failure.
pub async fn find(db: &impl ConnectionTrait, scope: &Scope, id: Uuid) -> Result<Option<location::Model>, ApiError> {
    Ok(location::Entity::find_by_id(id)
        .filter(scope.locations())
        .one(db)
        .await?)
}

/// The visible locations among `ids`, in one statement.
///
/// # Errors
/// Internal on database failure.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<location::Model>, ApiError> {
    Ok(location::Entity::find()
        .filter(location::Column::Id.is_in(ids))
        .filter(scope.locations())
        .all(db)
        .await?)
}

/// One page of each account's visible locations (see
/// [`crate::page_per_parent`]: at most `page.first + 1` per account, read in SQL).
///
/// # Errors
/// Internal on database failure.
pub async fn page_of_accounts(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_ids: &[Uuid],
    page: crate::Page,
) -> Result<HashMap<Uuid, Vec<location::Model>>, ApiError> {
    let select = location::Entity::find()
        .filter(location::Column::AccountId.is_in(account_ids.iter().copied()))
        .filter(scope.locations());
    let rows = crate::page_per_parent(db, select, location::Column::AccountId, location::Column::Id, page).await?;
    Ok(crate::group_by(account_ids, rows, |row| Some(row.account_id)))
}

/// How many visible locations each account has.
///
/// # Errors
/// Internal on database failure.
pub async fn count_of_accounts(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_ids: &[Uuid],
) -> Result<HashMap<Uuid, u64>, ApiError> {
    let select = location::Entity::find()
        .filter(location::Column::AccountId.is_in(account_ids.iter().copied()))
        .filter(scope.locations());
    Ok(crate::count_per_parent(db, select, location::Column::AccountId).await?)
}

/// Adds a location to an account.
///
/// # Errors
/// `NOT_FOUND` for an account outside the organization, `BAD_USER_INPUT`
/// naming the field, internal on database failure.
pub async fn create(
    db: &impl ConnectionTrait,
    org: Uuid,
    account_id: Uuid,
    name: &str,
    address: &NewAddress,
) -> Result<location::Model, ApiError> {
    let name = validate::required("input.name", name, 200)?;
    let line1 = validate::required("input.address.line1", &address.line1, 200)?;
    let line2 = validate::optional("input.address.line2", address.line2.as_deref(), 200)?;
    let city = validate::required("input.address.city", &address.city, 100)?;
    let region = validate::optional("input.address.region", address.region.as_deref(), 100)?;
    let postal_code = validate::optional("input.address.postalCode", address.postal_code.as_deref(), 20)?;
    let country = validate::required("input.address.country", &address.country, 56)?;
    accounts::ensure_exists(db, org, account_id).await?;
    Ok(location::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org),
        account_id: Set(account_id),
        name: Set(name),
        line1: Set(line1),
        line2: Set(line2),
        city: Set(city),
        region: Set(region),
        postal_code: Set(postal_code),
        country: Set(country),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?)
}
