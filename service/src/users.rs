//! Staff users and portal users as the api shows them: batched reads by id,
//! and the portal users with access to accounts. Signing in is
//! [`crate::sessions`]'s, creating portal users [`crate::invitations`]'.

use std::collections::HashMap;

use entity::{portal_access, portal_user, staff_user};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::{error::ApiError, scope::Scope};

/// The scope's organization's staff users among `ids`.
///
/// # Errors
/// Internal on database failure.
pub async fn staff_by_ids(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<staff_user::Model>, ApiError> {
    Ok(staff_user::Entity::find()
        .filter(staff_user::Column::Id.is_in(ids))
        .filter(staff_user::Column::OrganizationId.eq(scope.organization_id()))
        .all(db)
        .await?)
}

/// The scope's organization's portal users among `ids`.
///
/// # Errors
/// Internal on database failure.
pub async fn portal_by_ids(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<portal_user::Model>, ApiError> {
    Ok(portal_user::Entity::find()
        .filter(portal_user::Column::Id.is_in(ids))
        .filter(portal_user::Column::OrganizationId.eq(scope.organization_id()))
        .all(db)
        .await?)
}

/// The portal users with any access to each visible account of
/// `account_ids`, each once, in id order: one statement for the grants and
/// one for the users.
///
/// # Errors
/// Internal on database failure.
pub async fn portal_of_accounts(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<portal_user::Model>>, ApiError> {
    let org = scope.organization_id();
    let grants = portal_access::Entity::find()
        .filter(portal_access::Column::AccountId.is_in(account_ids.iter().copied()))
        .filter(portal_access::Column::OrganizationId.eq(org))
        .filter(portal_access::Column::AccountId.in_subquery(scope.account_ids()))
        .all(db)
        .await?;
    let users: HashMap<Uuid, portal_user::Model> = portal_user::Entity::find()
        .filter(portal_user::Column::Id.is_in(grants.iter().map(|g| g.portal_user_id)))
        .filter(portal_user::Column::OrganizationId.eq(org))
        .order_by_asc(portal_user::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut grouped: HashMap<Uuid, Vec<portal_user::Model>> = account_ids.iter().map(|a| (*a, Vec::new())).collect();
    for grant in grants {
        if let (Some(list), Some(user)) = (grouped.get_mut(&grant.account_id), users.get(&grant.portal_user_id))
            && !list.iter().any(|u| u.id == user.id)
        {
            list.push(user.clone());
        }
    }
    for list in grouped.values_mut() {
        list.sort_by_key(|u| u.id);
    }
    Ok(grouped)
}
