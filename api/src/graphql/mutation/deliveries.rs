//! `retryEmailDelivery`.

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    context::ContextExt,
    types::{invitation::EmailDelivery, require_id},
};
use service::deliveries;

/// Email delivery changes.
#[derive(Default)]
pub struct DeliveryMutation;

#[Object]
impl DeliveryMutation {
    /// Puts a FAILED email back on the queue (with a fresh attempt budget).
    async fn retry_email_delivery(&self, ctx: &Context<'_>, id: ID) -> Result<EmailDelivery> {
        let staff = ctx.viewer().require_staff()?;
        let id = require_id(&id, "email delivery")?;
        let delivery = deliveries::retry(
            ctx.db(),
            staff.organization_id,
            id,
            ctx.settings().outbox_redeliver_after(),
        )
        .await?;
        ctx.dispatch(delivery.organization_id, Some(delivery.id)).await;
        Ok(EmailDelivery(delivery))
    }
}
