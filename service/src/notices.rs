//! Notice emails (asset request received or updated, payment receipt): the
//! api composes their words and queues them through the outbox, in the
//! caller's transaction; the worker lays them out and sends them.

use common::{
    Settings,
    outbox::{self, NewDelivery, Notice},
};
use entity::EmailKind;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::error::ApiError;

/// Queues one notice email; returns the delivery id to push after commit.
///
/// # Errors
/// Internal on database failure.
pub async fn queue(
    db: &impl ConnectionTrait,
    settings: &Settings,
    organization_id: Uuid,
    kind: EmailKind,
    recipient: &str,
    subject: String,
    notice: &Notice,
) -> Result<Uuid, ApiError> {
    let payload = serde_json::to_value(notice).map_err(ApiError::internal)?;
    let delivery = outbox::enqueue(
        db,
        NewDelivery {
            organization_id,
            kind,
            recipient: recipient.to_owned(),
            subject,
            payload,
            invitation_id: None,
        },
        settings.outbox_redeliver_after(),
    )
    .await?;
    Ok(delivery.id)
}
