//! `createInvoice`.

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::graphql::{
    context::ContextExt,
    scalars::Date,
    types::{invoice::Invoice, require_id},
};
use service::invoices::{self, NewInvoice, NewLine};

/// One invoice line.
#[derive(InputObject)]
pub struct InvoiceLineInput {
    /// What was billed.
    pub description: String,
    /// How many (1 – 1,000,000).
    pub quantity: i32,
    /// Price of one in minor units (cents).
    pub unit_price_cents: i32,
}

/// A new invoice.
#[derive(InputObject)]
pub struct CreateInvoiceInput {
    /// The billed account.
    pub account_id: ID,
    /// The billed location, when for one site.
    pub location_id: Option<ID>,
    /// Unique in the organization.
    pub number: String,
    /// Issue date.
    pub issued_on: Date,
    /// Due date.
    pub due_on: Date,
    /// ISO 4217 code, e.g. USD.
    pub currency: String,
    /// At least one line.
    pub lines: Vec<InvoiceLineInput>,
}

/// Invoice changes.
#[derive(Default)]
pub struct InvoiceMutation;

#[Object]
impl InvoiceMutation {
    /// Issues an OPEN invoice with its lines.
    async fn create_invoice(&self, ctx: &Context<'_>, input: CreateInvoiceInput) -> Result<Invoice> {
        let staff = ctx.viewer().require_staff()?;
        let new = NewInvoice {
            account_id: require_id(&input.account_id, "account")?,
            location_id: input.location_id.map(|id| require_id(&id, "location")).transpose()?,
            number: input.number,
            issued_on: input.issued_on.0,
            due_on: input.due_on.0,
            currency: input.currency,
            lines: input
                .lines
                .into_iter()
                .map(|l| NewLine {
                    description: l.description,
                    quantity: l.quantity,
                    unit_price_cents: i64::from(l.unit_price_cents),
                })
                .collect(),
        };
        Ok(Invoice(invoices::create(ctx.db(), staff.organization_id, new).await?))
    }
}
