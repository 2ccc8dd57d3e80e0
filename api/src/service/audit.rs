//! The audit log: who did what to an account, written in the same
//! transaction as the change it records.

use chrono::Utc;
use entity::{audit_event, portal_user, staff_user};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use uuid::Uuid;

use crate::error::ApiError;

/// Who did it.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A staff user.
    Staff(&'a staff_user::Model),
    /// A portal user (customer).
    Portal(&'a portal_user::Model),
    /// The system (e.g. a request from an anonymous link holder).
    System,
}

/// The actions the log records.
pub mod action {
    /// An invitation was created and queued.
    pub const INVITATION_SENT: &str = "INVITATION_SENT";
    /// A pending invitation was sent again with a fresh link.
    pub const INVITATION_RESENT: &str = "INVITATION_RESENT";
    /// An invitation was revoked (by staff, or by a contact email change).
    pub const INVITATION_REVOKED: &str = "INVITATION_REVOKED";
    /// A customer accepted an invitation.
    pub const INVITATION_ACCEPTED: &str = "INVITATION_ACCEPTED";
    /// A fresh link was requested from an expired or superseded one.
    pub const INVITATION_REQUESTED: &str = "INVITATION_REQUESTED";
}

/// Writes one audit event.
///
/// # Errors
/// Internal on database failure.
pub async fn record(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    account_id: Option<Uuid>,
    actor: Actor<'_>,
    action: &str,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let (staff, portal, name) = match actor {
        Actor::Staff(user) => (Some(user.id), None, Some(user.name.clone())),
        Actor::Portal(user) => (None, Some(user.id), Some(user.name.clone())),
        Actor::System => (None, None, None),
    };
    audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(organization_id),
        account_id: Set(account_id),
        actor_staff_user_id: Set(staff),
        actor_portal_user_id: Set(portal),
        actor_name: Set(name),
        action: Set(action.to_owned()),
        detail: Set(detail),
        occurred_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}
