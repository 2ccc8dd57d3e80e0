//! Assets and asset types: the units a business deploys at its customers'
//! locations, and moving them between the yard and those locations.

use std::collections::HashMap;

use chrono::Utc;
use entity::{AssetStatus, asset, asset_type, location};
use migration::constraint;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Set,
    sea_query::Query,
};
use uuid::Uuid;

use super::{locations, validate};
use crate::{
    error::{ApiError, UniqueRule, on_unique},
    page::Page,
    scope::Scope,
};

const TAG_TAKEN: UniqueRule = UniqueRule {
    constraint: constraint::ASSETS_ORG_TAG,
    field: "input.tag",
    message: "an asset with this tag already exists",
};

/// Which assets a list returns.
#[derive(Debug, Default, Clone, Copy)]
pub struct AssetFilter {
    /// Only assets deployed at this account's locations.
    pub account_id: Option<Uuid>,
    /// Only assets deployed at this location.
    pub location_id: Option<Uuid>,
    /// Only assets in this status.
    pub status: Option<AssetStatus>,
}

/// A page of the visible assets.
///
/// # Errors
/// Internal on database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: AssetFilter,
    page: Page,
    want_total: bool,
) -> Result<(Vec<asset::Model>, Option<u64>), ApiError> {
    let org = scope.organization_id();
    let mut query = asset::Entity::find().filter(scope.assets());
    if let Some(location_id) = filter.location_id {
        query = query.filter(asset::Column::LocationId.eq(location_id));
    }
    if let Some(account_id) = filter.account_id {
        query = query.filter(
            asset::Column::LocationId.in_subquery(
                Query::select()
                    .column(location::Column::Id)
                    .from(location::Entity)
                    .and_where(location::Column::AccountId.eq(account_id))
                    .and_where(location::Column::OrganizationId.eq(org))
                    .to_owned(),
            ),
        );
    }
    if let Some(status) = filter.status {
        query = query.filter(asset::Column::Status.eq(status));
    }
    super::paginate(db, query, asset::Column::Id, page, want_total).await
}

/// One visible asset (for a portal user: deployed at a visible location).
///
/// # Errors
/// Internal on database failure.
pub async fn find(db: &impl ConnectionTrait, scope: &Scope, id: Uuid) -> Result<Option<asset::Model>, ApiError> {
    Ok(asset::Entity::find_by_id(id).filter(scope.assets()).one(db).await?)
}

fn assets_at(scope: &Scope, location_ids: &[Uuid], status: Option<AssetStatus>) -> sea_orm::Select<asset::Entity> {
    let query = asset::Entity::find()
        .filter(asset::Column::LocationId.is_in(location_ids.iter().copied()))
        .filter(scope.assets_at(location_ids));
    match status {
        Some(status) => query.filter(asset::Column::Status.eq(status)),
        None => query,
    }
}

/// One page of the visible assets at each location (of `status`, when
/// given; see [`crate::page_per_parent`]: at most `page.first + 1` per
/// location, read in SQL).
///
/// # Errors
/// Internal on database failure.
pub async fn page_at_locations(
    db: &impl ConnectionTrait,
    scope: &Scope,
    location_ids: &[Uuid],
    status: Option<AssetStatus>,
    page: crate::Page,
) -> Result<HashMap<Uuid, Vec<asset::Model>>, ApiError> {
    let select = assets_at(scope, location_ids, status);
    let rows = crate::page_per_parent(db, select, asset::Column::LocationId, asset::Column::Id, page).await?;
    Ok(crate::group_by(location_ids, rows, |row| row.location_id))
}

/// How many visible assets (of `status`, when given) each location has.
///
/// # Errors
/// Internal on database failure.
pub async fn count_at_locations(
    db: &impl ConnectionTrait,
    scope: &Scope,
    location_ids: &[Uuid],
    status: Option<AssetStatus>,
) -> Result<HashMap<Uuid, u64>, ApiError> {
    let select = assets_at(scope, location_ids, status);
    Ok(crate::count_per_parent(db, select, asset::Column::LocationId).await?)
}

/// The visible assets deployed at an account's visible locations (of
/// `status`, when given), joined to their locations.
fn assets_of_accounts(
    scope: &Scope,
    account_ids: &[Uuid],
    status: Option<AssetStatus>,
) -> sea_orm::Select<asset::Entity> {
    use sea_orm::{JoinType, QuerySelect, RelationTrait};
    let query = asset::Entity::find()
        .join(JoinType::InnerJoin, asset::Relation::Location.def())
        .filter(location::Column::AccountId.is_in(account_ids.iter().copied()))
        .filter(scope.assets())
        .filter(scope.locations());
    match status {
        Some(status) => query.filter(asset::Column::Status.eq(status)),
        None => query,
    }
}

/// An asset with the account of its location (the window's parent).
struct OfAccount {
    asset: asset::Model,
    account_id: Uuid,
}

impl sea_orm::FromQueryResult for OfAccount {
    fn from_query_result(row: &sea_orm::QueryResult, prefix: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self {
            asset: asset::Model::from_query_result(row, prefix)?,
            account_id: row.try_get(prefix, "parent_account_id")?,
        })
    }
}

/// One page of the visible assets across each account's visible locations
/// (`Account.assets`; of `status`, when given): at most `page.first + 1`
/// per account after `page.after`, read in SQL with a window over the
/// accounts.
///
/// # Errors
/// Internal on database failure.
pub async fn page_of_accounts(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_ids: &[Uuid],
    status: Option<AssetStatus>,
    page: Page,
) -> Result<HashMap<Uuid, Vec<asset::Model>>, ApiError> {
    use sea_orm::{
        QueryTrait,
        sea_query::{Alias, Expr},
    };
    let mut select = assets_of_accounts(scope, account_ids, status);
    if let Some(after) = page.after {
        select = select.filter(asset::Column::Id.gt(after));
    }
    let mut inner = select.into_query();
    inner.expr_as(
        Expr::col((location::Entity, location::Column::AccountId)),
        Alias::new("parent_account_id"),
    );
    let outer = crate::windowed(
        inner,
        r#""locations"."account_id""#,
        r#""assets"."id""#,
        page.first.saturating_add(1),
    );
    let statement = db.get_database_backend().build(&outer);
    let rows = OfAccount::find_by_statement(statement).all(db).await?;
    let mut grouped: HashMap<Uuid, Vec<asset::Model>> = account_ids.iter().map(|id| (*id, Vec::new())).collect();
    for row in rows {
        grouped.entry(row.account_id).or_default().push(row.asset);
    }
    Ok(grouped)
}

/// How many visible assets (of `status`, when given) are deployed at each
/// account's visible locations.
///
/// # Errors
/// Internal on database failure.
pub async fn count_of_accounts(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_ids: &[Uuid],
    status: Option<AssetStatus>,
) -> Result<HashMap<Uuid, u64>, ApiError> {
    let select = assets_of_accounts(scope, account_ids, status);
    Ok(crate::count_per_parent(db, select, location::Column::AccountId).await?)
}

/// The organization's asset types, by name.
///
/// # Errors
/// Internal on database failure.
pub async fn asset_types(
    db: &impl ConnectionTrait,
    org: Uuid,
    requestable_only: bool,
) -> Result<Vec<asset_type::Model>, ApiError> {
    let mut query = asset_type::Entity::find().filter(asset_type::Column::OrganizationId.eq(org));
    if requestable_only {
        query = query.filter(asset_type::Column::Requestable.eq(true));
    }
    Ok(query.order_by_asc(asset_type::Column::Name).all(db).await?)
}

/// Adds an asset to the yard (or in maintenance / retired).
///
/// # Errors
/// `NOT_FOUND` for an asset type outside the organization; `BAD_USER_INPUT`
/// for an empty or taken tag, or status DEPLOYED (deploy with `moveAsset`);
/// internal on database failure.
pub async fn create(
    db: &impl ConnectionTrait,
    org: Uuid,
    asset_type_id: Uuid,
    tag: &str,
    status: Option<AssetStatus>,
) -> Result<asset::Model, ApiError> {
    let tag = validate::required("input.tag", tag, 64)?;
    let status = status.unwrap_or(AssetStatus::Available);
    if status == AssetStatus::Deployed {
        return Err(ApiError::bad_input(
            "input.status",
            "a new asset cannot start DEPLOYED: create it, then deploy it with moveAsset",
        ));
    }
    let type_exists = asset_type::Entity::find_by_id(asset_type_id)
        .filter(asset_type::Column::OrganizationId.eq(org))
        .one(db)
        .await?
        .is_some();
    if !type_exists {
        return Err(ApiError::NotFound("asset type"));
    }
    asset::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org),
        asset_type_id: Set(asset_type_id),
        tag: Set(tag),
        status: Set(status),
        location_id: Set(None),
        deployed_at: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| on_unique(e, &[TAG_TAKEN]))
}

/// Deploys an asset at a location (DEPLOYED, `deployed_at` now), or with
/// `None` returns it to the yard (AVAILABLE).
///
/// # Errors
/// `NOT_FOUND` for an asset or location outside the organization;
/// `BAD_USER_INPUT` when deploying a RETIRED asset; internal on database failure.
pub async fn move_asset(
    db: &impl ConnectionTrait,
    org: Uuid,
    asset_id: Uuid,
    location_id: Option<Uuid>,
) -> Result<asset::Model, ApiError> {
    let scope = Scope::organization(org);
    let current = find(db, &scope, asset_id).await?.ok_or(ApiError::NotFound("asset"))?;
    let mut active: asset::ActiveModel = current.clone().into();
    match location_id {
        Some(location_id) => {
            if locations::find(db, &scope, location_id).await?.is_none() {
                return Err(ApiError::NotFound("location"));
            }
            if current.status == AssetStatus::Retired {
                return Err(ApiError::bad_input("assetId", "a retired asset cannot be deployed"));
            }
            if current.location_id != Some(location_id) || current.status != AssetStatus::Deployed {
                active.deployed_at = Set(Some(Utc::now()));
            }
            active.location_id = Set(Some(location_id));
            active.status = Set(AssetStatus::Deployed);
        }
        None => {
            active.location_id = Set(None);
            active.deployed_at = Set(None);
            if current.status == AssetStatus::Deployed {
                active.status = Set(AssetStatus::Available);
            }
        }
    }
    Ok(active.update(db).await?)
}
