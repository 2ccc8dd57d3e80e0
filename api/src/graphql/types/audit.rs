//! Audit events: who did what to an account.

use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};
use entity::audit_event;

use super::to_id;
use crate::graphql::connection::{Node, connection_types};

/// One entry of an account's audit log.
#[derive(Clone)]
pub struct AuditEvent(pub audit_event::Model);

connection_types!(AuditEventConnection, AuditEventEdge, AuditEvent, "audit events");

/// Every field through the generic resolver (these lists are short).
impl crate::graphql::rows::PlainFields for AuditEvent {
    fn plain(&self, _: &async_graphql::Context<'_>) -> Option<async_graphql::Value> {
        None
    }
}

impl Node for AuditEvent {
    fn id(&self) -> uuid::Uuid {
        self.0.id
    }
}

/// One entry of an account's audit log.
#[Object]
impl AuditEvent {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// e.g. INVITATION_SENT, INVITATION_RESENT, INVITATION_REVOKED,
    /// INVITATION_ACCEPTED, PORTAL_USER_DISCONNECTED, ASSET_REQUESTED,
    /// ASSET_REQUEST_UPDATED, INVOICE_PAID.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// Display name of the staff or portal user who did it; null for the system.
    async fn actor(&self) -> Option<&str> {
        self.0.actor_name.as_deref()
    }

    /// What it was about.
    async fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }

    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// The address of the client whose request caused it (behind a load
    /// balancer, the address `TRUSTED_PROXIES` lets the api see); null for
    /// the system's own work and for events recorded before addresses were.
    async fn client_address(&self) -> Option<&str> {
        self.0.client_address.as_deref()
    }
}
