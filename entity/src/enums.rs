//! String-backed enumerations stored in the database.
//!
//! Every enum is stored as its SCREAMING_CASE name in a `varchar(32)` column
//! (not a native PostgreSQL enum), so PostgreSQL and SQLite behave the same and
//! adding a value never needs a type migration. Serde uses the same spelling,
//! so a value reads identically in the database, in JSON payloads and in logs.
//!
//! This module only names the states; which transitions are allowed is decided
//! by the services in `api` and `worker`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a physical asset is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssetStatus {
    /// In the yard, free to deploy.
    #[sea_orm(string_value = "AVAILABLE")]
    Available,
    /// Placed at a customer location (`assets.location_id` is set).
    #[sea_orm(string_value = "DEPLOYED")]
    Deployed,
    /// Temporarily out of service.
    #[sea_orm(string_value = "MAINTENANCE")]
    Maintenance,
    /// Permanently out of service; kept for history.
    #[sea_orm(string_value = "RETIRED")]
    Retired,
}

/// Payment state of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceStatus {
    /// Issued and not yet fully paid.
    #[sea_orm(string_value = "OPEN")]
    Open,
    /// Fully paid.
    #[sea_orm(string_value = "PAID")]
    Paid,
    /// Cancelled; nothing is owed.
    #[sea_orm(string_value = "VOID")]
    Void,
}

/// Outcome of a charge through the payment gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// The gateway captured the money.
    #[sea_orm(string_value = "SUCCEEDED")]
    Succeeded,
    /// The gateway refused the charge; the invoice stays open.
    #[sea_orm(string_value = "DECLINED")]
    Declined,
}

/// Progress of a customer's request for new assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssetRequestStatus {
    /// Sent by the customer, not yet looked at by staff.
    #[sea_orm(string_value = "SUBMITTED")]
    Submitted,
    /// Accepted by staff.
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    /// A delivery date is planned.
    #[sea_orm(string_value = "SCHEDULED")]
    Scheduled,
    /// The assets were delivered.
    #[sea_orm(string_value = "FULFILLED")]
    Fulfilled,
    /// Withdrawn by the customer.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
    /// Declined by staff (`asset_requests.reason` says why).
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

/// Lifecycle of a portal invitation: PENDING → ACCEPTED | EXPIRED | REVOKED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvitationStatus {
    /// Sent (or about to be) and not yet used.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Used to sign up or to add access to an existing portal user.
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    /// Past `expires_at` without being accepted.
    #[sea_orm(string_value = "EXPIRED")]
    Expired,
    /// Withdrawn by staff or superseded by a contact email change.
    #[sea_orm(string_value = "REVOKED")]
    Revoked,
}

/// Which template an outbox row is rendered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmailKind {
    /// "Welcome to the Customer Portal" with a one-time link minted at send time.
    #[sea_orm(string_value = "INVITATION")]
    Invitation,
    /// Confirmation that a customer's asset request arrived.
    #[sea_orm(string_value = "ASSET_REQUEST_RECEIVED")]
    AssetRequestReceived,
    /// Notice that staff changed an asset request's status.
    #[sea_orm(string_value = "ASSET_REQUEST_UPDATED")]
    AssetRequestUpdated,
    /// Receipt for a successful online payment.
    #[sea_orm(string_value = "PAYMENT_RECEIPT")]
    PaymentReceipt,
    /// A password-reset link (minted at send time, like an invitation's).
    #[sea_orm(string_value = "PASSWORD_RESET")]
    PasswordReset,
}

/// Delivery state of an outbox row (`email_deliveries.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Written by the business transaction; no attempt made yet.
    #[sea_orm(string_value = "QUEUED")]
    Queued,
    /// An attempt failed transiently; the next one is due at `next_attempt_at`.
    #[sea_orm(string_value = "RETRYING")]
    Retrying,
    /// Accepted by the SMTP server (or written to the outbox directory).
    #[sea_orm(string_value = "SENT")]
    Sent,
    /// Failed permanently or ran out of attempts; staff may retry it.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// Not sent because it was no longer wanted when its turn came (its
    /// invitation was revoked, accepted or deleted; its reset link was
    /// superseded or used). Not a failure, and not retried.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// Whether an account's customer uses the portal. Not stored: it is derived
/// from the account's portal access and pending invitations (see the service
/// crate's `accounts::portal_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PortalStatus {
    /// Nobody was invited, or every invitation ended unused.
    NotConnected,
    /// An invitation is pending (sent, not accepted, not expired).
    Invited,
    /// At least one portal user has access.
    Connected,
}
