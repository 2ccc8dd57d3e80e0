//! `setOnlinePayments`.

use async_graphql::{Context, Object, Result};

use crate::graphql::{context::ContextExt, types::organization::Organization};
use service::organizations;

/// Organization settings.
#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// The billing setup switch: lets portal users pay open invoices.
    async fn set_online_payments(&self, ctx: &Context<'_>, enabled: bool) -> Result<Organization> {
        let staff = ctx.viewer().require_staff()?;
        let org = organizations::set_online_payments(ctx.db(), staff.organization_id, enabled).await?;
        tracing::info!(organization = %org.id, enabled, "online payments switched");
        Ok(Organization(org))
    }
}
