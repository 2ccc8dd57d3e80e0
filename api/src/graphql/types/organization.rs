//! The organization (tenant) type.

use async_graphql::{ID, Object};
use entity::organization;

use super::to_id;

/// A business that uses the portal: a tenant.
#[derive(Clone)]
pub struct Organization(pub organization::Model);

/// A business that uses the portal.
#[Object]
impl Organization {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The billing setup that lets customers pay invoices in the portal.
    async fn online_payments_enabled(&self) -> bool {
        self.0.online_payments_enabled
    }
}
