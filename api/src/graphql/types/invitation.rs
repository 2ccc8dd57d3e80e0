//! Invitations, their preview on the accept page, and email deliveries.

use crate::graphql::connection::list_cost;
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{email_delivery, invitation};

use super::{account::Account, location::Location, to_id, user::StaffUser};
use crate::{
    error::ApiError,
    graphql::{
        connection::{Node, connection_types},
        context::ContextExt,
        loaders::{AccountKey, LatestDeliveryOfInvitation, LocationsOfInvitation, StaffUserKey},
    },
};
use service::invitations::effective_status;

/// Where an invitation is in its life.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::InvitationStatus")]
pub enum InvitationStatus {
    /// Sent, not accepted, not expired.
    Pending,
    /// The customer signed up with it.
    Accepted,
    /// Past its expiry (or, for a link, replaced by a newer one).
    Expired,
    /// Revoked by staff or by a change of the contact email.
    Revoked,
}

/// What an email is about.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::EmailKind")]
pub enum EmailKind {
    /// "Welcome to the Customer Portal" with the sign-up link.
    Invitation,
    /// To staff: a customer requested assets.
    AssetRequestReceived,
    /// To the requester: the request's status changed.
    AssetRequestUpdated,
    /// To the payer: a receipt.
    PaymentReceipt,
    /// A password-reset link.
    PasswordReset,
}

/// Where an email is in its delivery.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::DeliveryStatus")]
pub enum DeliveryStatus {
    /// Waiting for a worker.
    Queued,
    /// A send failed with a transient error; another attempt is scheduled.
    Retrying,
    /// The SMTP server accepted it.
    Sent,
    /// Gave up: a permanent SMTP error, or the attempts ran out.
    Failed,
    /// Nothing was sent because the email was no longer wanted when its turn
    /// came (its invitation was revoked, superseded or accepted; its reset
    /// link was superseded). Not a failure: FAILED stays for emails that
    /// could not be delivered.
    Cancelled,
}

/// An invitation to the portal for an account's contact.
#[derive(Clone)]
pub struct Invitation(pub invitation::Model);

connection_types!(InvitationConnection, InvitationEdge, Invitation, "invitations");

/// Every field through the generic resolver (these lists are short).
impl crate::graphql::rows::PlainFields for Invitation {
    fn plain(&self, _: &async_graphql::Context<'_>) -> Option<async_graphql::Value> {
        None
    }
}

impl Node for Invitation {
    fn id(&self) -> uuid::Uuid {
        self.0.id
    }
}

/// An invitation to the portal for an account's contact.
#[Object]
impl Invitation {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn account(&self, ctx: &Context<'_>) -> Result<Account> {
        let found = ctx.loaders().one(AccountKey(self.0.account_id)).await?;
        Ok(Account(found.ok_or(ApiError::NotFound("account"))?))
    }

    /// The contact email it was sent to (copied at invite time).
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// PENDING, ACCEPTED, EXPIRED or REVOKED.
    async fn status(&self) -> InvitationStatus {
        effective_status(&self.0, Utc::now()).into()
    }

    /// Null when the invitation covers the whole account.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn locations(&self, ctx: &Context<'_>) -> Result<Option<Vec<Location>>> {
        if self.0.whole_account {
            return Ok(None);
        }
        let rows = ctx
            .loaders()
            .one(LocationsOfInvitation(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(Some(rows.into_iter().map(Location).collect()))
    }

    /// The staff user who sent it.
    async fn invited_by(&self, ctx: &Context<'_>) -> Result<Option<StaffUser>> {
        let Some(id) = self.0.invited_by else { return Ok(None) };
        Ok(ctx.loaders().one(StaffUserKey(id)).await?.map(StaffUser))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the current link stops working.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    async fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.0.accepted_at
    }

    /// When it was last sent (or queued to be sent).
    async fn last_sent_at(&self) -> DateTime<Utc> {
        self.0.last_sent_at
    }

    /// The latest email that carried it.
    async fn delivery(&self, ctx: &Context<'_>) -> Result<Option<EmailDelivery>> {
        Ok(ctx
            .loaders()
            .one(LatestDeliveryOfInvitation(self.0.id))
            .await?
            .map(EmailDelivery))
    }
}

/// What the accept page shows for a token.
#[derive(SimpleObject)]
pub struct InvitationPreview {
    /// The inviting business.
    pub organization_name: String,
    /// The account the invitation opens.
    pub account_name: String,
    /// Masked, e.g. j***@example.com
    pub email: String,
    /// EXPIRED also for a link replaced by a newer one.
    pub status: InvitationStatus,
    /// When the invitation expires.
    pub expires_at: DateTime<Utc>,
    /// True when the email already has a portal account (accept asks for its password).
    pub existing_user: bool,
}

/// An email the system queued, with its delivery state.
#[derive(Clone)]
pub struct EmailDelivery(pub email_delivery::Model);

connection_types!(
    EmailDeliveryConnection,
    EmailDeliveryEdge,
    EmailDelivery,
    "email deliveries"
);

/// Every field through the generic resolver (these lists are short).
impl crate::graphql::rows::PlainFields for EmailDelivery {
    fn plain(&self, _: &async_graphql::Context<'_>) -> Option<async_graphql::Value> {
        None
    }
}

impl Node for EmailDelivery {
    fn id(&self) -> uuid::Uuid {
        self.0.id
    }
}

/// An email the system queued, with its delivery state.
#[Object]
impl EmailDelivery {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn kind(&self) -> EmailKind {
        self.0.kind.into()
    }

    async fn recipient(&self) -> &str {
        &self.0.recipient
    }

    async fn subject(&self) -> &str {
        &self.0.subject
    }

    async fn status(&self) -> DeliveryStatus {
        self.0.status.into()
    }

    /// Send attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// The last failure, for staff (never contains secrets).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    async fn queued_at(&self) -> DateTime<Utc> {
        self.0.queued_at
    }

    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
}
