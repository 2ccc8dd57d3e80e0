//! `payInvoice` (portal users).

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    context::ContextExt,
    types::{invoice::Payment, require_id},
};
use service::{
    ApiError,
    payments::{self, PayInvoice},
};

use crate::rate_limit::Action;

/// Payment changes.
#[derive(Default)]
pub struct PaymentMutation;

#[Object]
impl PaymentMutation {
    /// Pays an open invoice in full through the organization's payment gateway.
    /// The same idempotencyKey never charges twice.
    async fn pay_invoice(
        &self,
        ctx: &Context<'_>,
        invoice_id: ID,
        payment_method_token: String,
        idempotency_key: String,
    ) -> Result<Payment> {
        let (payer, scope) = ctx.viewer().require_portal()?;
        let request = PayInvoice {
            invoice_id: require_id(&invoice_id, "invoice")?,
            payment_method_token,
            idempotency_key,
        };
        // Declined cards count: that is what card testing produces.
        let quota = ctx.limiter().quota(Action::PaymentQuota, payer.id).await?;
        let paid = match payments::pay(ctx.db(), ctx.payment_gateway(), ctx.settings(), payer, &scope, request).await {
            Ok(paid) => paid,
            Err(err) => {
                if !matches!(err, ApiError::PaymentDeclined) {
                    quota.refund().await;
                }
                return Err(err.into());
            }
        };
        ctx.dispatch(paid.payment.organization_id, paid.delivery_id).await;
        Ok(Payment(paid.payment))
    }
}
