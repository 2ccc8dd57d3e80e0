//! Email deliveries as staff see them: the outbox rows and their retry.

use entity::{DeliveryStatus, email_delivery};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
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
    let row = email_delivery::Entity::find_by_id(id)
        .filter(email_delivery::Column::OrganizationId.eq(org))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("email delivery"))?;
    if !requeued {
        return Err(ApiError::bad_input("id", "only a FAILED email can be retried"));
    }
    Ok(row)
}
