//! `retryEmailDelivery` and `retryEmailDeliveries`.

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    context::ContextExt,
    types::{
        invitation::{EmailDelivery, EmailKind},
        require_id,
    },
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

    /// Puts FAILED emails back on the queue in bulk (each with a fresh
    /// attempt budget): all of the organization's, those of `kind`, or
    /// those of `ids` (others are left as they are), oldest first, at most
    /// `limit` (default 100, at most 500) per call; call again for more.
    /// Returns the emails put back.
    async fn retry_email_deliveries(
        &self,
        ctx: &Context<'_>,
        kind: Option<EmailKind>,
        ids: Option<Vec<ID>>,
        limit: Option<i32>,
    ) -> Result<Vec<EmailDelivery>> {
        let staff = ctx.viewer().require_staff()?;
        let ids = ids
            .map(|ids| {
                ids.iter()
                    .map(|id| require_id(id, "email delivery"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let limit = u64::try_from(limit.unwrap_or(100)).unwrap_or(0);
        let retried = deliveries::retry_many(
            ctx.db(),
            staff.organization_id,
            kind.map(Into::into),
            ids,
            limit,
            ctx.settings().outbox_redeliver_after(),
        )
        .await?;
        for delivery in &retried {
            ctx.dispatch(delivery.organization_id, Some(delivery.id)).await;
        }
        Ok(retried.into_iter().map(EmailDelivery).collect())
    }
}
