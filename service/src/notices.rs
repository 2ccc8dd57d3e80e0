//! Queues the emails the api's rules cause (invitations, asset request
//! notices, payment receipts) through the outbox, in the caller's
//! transaction. What each kind says is its payload's and templates' in the
//! `service` crate's `email` module; the worker renders and sends them.

use crate::email::{self, Email, QueueError};
use common::Settings;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::error::ApiError;

/// Queues one email; returns the delivery id to push after commit.
///
/// # Errors
/// Internal on database failure.
pub async fn queue<E: Email>(
    db: &impl ConnectionTrait,
    settings: &Settings,
    organization_id: Uuid,
    recipient: &str,
    email: &E,
) -> Result<Uuid, ApiError> {
    email::queue(db, settings, organization_id, recipient, email)
        .await
        .map_err(|err| match err {
            QueueError::Database(err) => err.into(),
            other @ QueueError::Prepare(_) => ApiError::internal(other),
        })
}
