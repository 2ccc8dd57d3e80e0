//! The audit log: who did what to an account, from which client address,
//! written in the same transaction as the change it records.
//!
//! The client address is the request's (the api decides it once, see its
//! `http::client_ip`) and reaches [`insert`] through [`with_client_address`],
//! a task-local scope around the request, so no domain function has to pass
//! it along.

use chrono::Utc;
use entity::{audit_event, portal_user, staff_user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use uuid::Uuid;

use crate::{error::ApiError, page::Page};

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
    /// A customer requested assets at one of its locations.
    pub const ASSET_REQUESTED: &str = "ASSET_REQUESTED";
    /// An asset request changed status (staff handling it, or the customer cancelling).
    pub const ASSET_REQUEST_UPDATED: &str = "ASSET_REQUEST_UPDATED";
    /// Staff removed a portal user's access to an account.
    pub const PORTAL_USER_DISCONNECTED: &str = "PORTAL_USER_DISCONNECTED";
    /// A customer paid an invoice in the portal.
    pub const INVOICE_PAID: &str = "INVOICE_PAID";
    /// A pending invitation's link lapsed unused (recorded by the sweeper's scan).
    pub const INVITATION_EXPIRED: &str = "INVITATION_EXPIRED";
}

/// A page of an account's audit log, newest first (`after` continues
/// towards older events).
///
/// # Errors
/// Internal on database failure.
pub async fn list_for_account(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    account_id: Uuid,
    page: Page,
    want_total: bool,
) -> Result<(Vec<audit_event::Model>, Option<u64>), ApiError> {
    let query = audit_event::Entity::find()
        .filter(audit_event::Column::OrganizationId.eq(organization_id))
        .filter(audit_event::Column::AccountId.eq(account_id));
    let total = if want_total {
        Some(query.clone().count(db).await?)
    } else {
        None
    };
    let mut rows = query;
    if let Some(after) = page.after {
        rows = rows.filter(audit_event::Column::Id.lt(after));
    }
    let rows = rows
        .order_by_desc(audit_event::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok((rows, total))
}

tokio::task_local! {
    static CLIENT_ADDRESS: std::net::IpAddr;
}

/// Runs `future` (one request's handling) with `address` as the client
/// address of every audit event it writes.
pub async fn with_client_address<F: Future>(address: std::net::IpAddr, future: F) -> F::Output {
    CLIENT_ADDRESS.scope(address, future).await
}

/// The client address of the request being handled, if any.
#[must_use]
pub fn client_address() -> Option<std::net::IpAddr> {
    CLIENT_ADDRESS.try_with(|address| *address).ok()
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
    Ok(insert(db, organization_id, account_id, actor, action, detail).await?)
}

/// [`record`] for job plumbing that speaks the database's error type (the
/// sweeper's scans).
///
/// # Errors
/// On database failure.
pub async fn insert(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    account_id: Option<Uuid>,
    actor: Actor<'_>,
    action: &str,
    detail: Option<String>,
) -> Result<(), sea_orm::DbErr> {
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
        client_address: Set(client_address().map(|address| address.to_string())),
    }
    .insert(db)
    .await?;
    Ok(())
}
