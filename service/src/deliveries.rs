//! Email deliveries as staff see them: the outbox rows and their retry.

use entity::{DeliveryStatus, email_delivery};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::{error::ApiError, page::Page};

/// A page of the organization's email deliveries.
///
/// # Errors
/// Internal on database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    org: Uuid,
    status: Option<DeliveryStatus>,
    page: Page,
    want_total: bool,
) -> Result<(Vec<email_delivery::Model>, Option<u64>), ApiError> {
    let mut query = email_delivery::Entity::find().filter(email_delivery::Column::OrganizationId.eq(org));
    if let Some(status) = status {
        query = query.filter(email_delivery::Column::Status.eq(status));
    }
    super::paginate(db, query, email_delivery::Column::Id, page, want_total).await
}

/// One email delivery of the organization, if there is one with this id.
///
/// # Errors
/// Internal on database failure.
pub async fn find(db: &impl ConnectionTrait, org: Uuid, id: Uuid) -> Result<Option<email_delivery::Model>, ApiError> {
    Ok(email_delivery::Entity::find_by_id(id)
        .filter(email_delivery::Column::OrganizationId.eq(org))
        .one(db)
        .await?)
}

/// Puts a FAILED delivery back on the queue; the caller pushes it.
///
/// # Errors
/// `NOT_FOUND`; `BAD_USER_INPUT` on `id` when it is not FAILED; internal on
/// database failure.
pub async fn retry(
    db: &impl ConnectionTrait,
    org: Uuid,
    id: Uuid,
    redeliver_after: std::time::Duration,
) -> Result<email_delivery::Model, ApiError> {
    let requeued = common::outbox::requeue_failed(db, org, id, redeliver_after).await?;
    let row = find(db, org, id).await?.ok_or(ApiError::NotFound("email delivery"))?;
    if !requeued {
        return Err(ApiError::bad_input("id", "only a FAILED email can be retried"));
    }
    Ok(row)
}

/// The latest email delivery of each invitation of `invitation_ids` that
/// has one, in one statement.
///
/// # Errors
/// Internal on database failure.
pub async fn latest_of_invitations(
    db: &impl ConnectionTrait,
    scope: &crate::Scope,
    invitation_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, email_delivery::Model>, ApiError> {
    let rows = email_delivery::Entity::find()
        .filter(email_delivery::Column::InvitationId.is_in(invitation_ids.iter().copied()))
        .filter(email_delivery::Column::OrganizationId.eq(scope.organization_id()))
        .order_by_asc(email_delivery::Column::Id)
        .all(db)
        .await?;
    // Ordered by id (time): the last one per invitation wins.
    Ok(rows
        .into_iter()
        .filter_map(|row| row.invitation_id.map(|id| (id, row)))
        .collect())
}
