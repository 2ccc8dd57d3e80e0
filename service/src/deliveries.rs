//! Email deliveries as staff see them: the outbox rows and their retry.

use entity::{DeliveryStatus, EmailKind, email_delivery};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::{error::ApiError, page::Page};

/// A page of the organization's email deliveries (of one status and
/// kind, when given).
///
/// # Errors
/// Internal on database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    org: Uuid,
    status: Option<DeliveryStatus>,
    kind: Option<EmailKind>,
    page: Page,
    want_total: bool,
) -> Result<(Vec<email_delivery::Model>, Option<u64>), ApiError> {
    let mut query = email_delivery::Entity::find().filter(email_delivery::Column::OrganizationId.eq(org));
    if let Some(status) = status {
        query = query.filter(email_delivery::Column::Status.eq(status));
    }
    if let Some(kind) = kind {
        query = query.filter(email_delivery::Column::Kind.eq(kind));
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

/// Most deliveries one bulk retry puts back on the queue.
pub const MAX_BULK_RETRY: u64 = 500;

/// Puts the organization's FAILED deliveries back on the queue (of `kind`,
/// and of `ids` when given), oldest first, at most `limit` (at most
/// [`MAX_BULK_RETRY`]), in one statement; the caller pushes them.
///
/// # Errors
/// `BAD_USER_INPUT` on `limit` out of range, on `ids` naming more than
/// [`MAX_BULK_RETRY`]; internal on database failure.
pub async fn retry_many(
    db: &impl ConnectionTrait,
    org: Uuid,
    kind: Option<EmailKind>,
    ids: Option<Vec<Uuid>>,
    limit: u64,
    redeliver_after: std::time::Duration,
) -> Result<Vec<email_delivery::Model>, ApiError> {
    if !(1..=MAX_BULK_RETRY).contains(&limit) {
        return Err(ApiError::bad_input(
            "limit",
            format!("must be between 1 and {MAX_BULK_RETRY}"),
        ));
    }
    if ids.as_ref().is_some_and(|ids| ids.len() as u64 > MAX_BULK_RETRY) {
        return Err(ApiError::bad_input(
            "ids",
            format!("at most {MAX_BULK_RETRY} ids at once"),
        ));
    }
    let selection = common::outbox::Selection {
        organization_id: Some(org),
        kind,
        ids,
        ..common::outbox::Selection::default()
    };
    Ok(common::outbox::requeue_failed_many(db, &selection, limit, redeliver_after).await?)
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
