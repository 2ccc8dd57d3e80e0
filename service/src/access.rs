//! Portal access management: who may see an account, and taking it away.

use entity::{account, portal_access, portal_user, staff_user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{
    Db,
    audit::{self, Actor, action},
};
use crate::error::ApiError;

/// Removes a portal user's access to an account (whole-account and
/// location grants alike). Takes effect at once: grants are read on every
/// request. The account's status goes back to NOT_CONNECTED when nobody is
/// left and no invitation is pending.
///
/// # Errors
/// `NOT_FOUND` when the account or the user is not the organization's, or the
/// user has no access to the account; internal on database failure.
pub async fn disconnect<C: Db>(
    db: &C,
    staff: &staff_user::Model,
    portal_user_id: Uuid,
    account_id: Uuid,
) -> Result<account::Model, ApiError> {
    let org = staff.organization_id;
    let txn = db.begin().await?;
    let account = super::accounts::get(&txn, &crate::Scope::organization(org), account_id).await?;
    let user = portal_user::Entity::find_by_id(portal_user_id)
        .filter(portal_user::Column::OrganizationId.eq(org))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("portal user"))?;
    let removed = portal_access::Entity::delete_many()
        .filter(portal_access::Column::OrganizationId.eq(org))
        .filter(portal_access::Column::PortalUserId.eq(user.id))
        .filter(portal_access::Column::AccountId.eq(account.id))
        .exec(&txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(ApiError::NotFound("portal user"));
    }
    audit::record(
        &txn,
        org,
        Some(account.id),
        Actor::Staff(staff),
        action::PORTAL_USER_DISCONNECTED,
        Some(format!("{} lost access", common::redact::mask_email(&user.email))),
    )
    .await?;
    txn.commit().await?;
    Ok(account)
}
