//! Invoices, their lines and payments.

use crate::graphql::connection::bounded_cost;
use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::{InvoiceStatus as DbInvoiceStatus, invoice, invoice_line, payment};

use super::{account::Account, location::Location, money::Money, to_id};
use crate::{
    error::ApiError,
    graphql::{
        connection::{Node, connection_types},
        context::ContextExt,
        loaders::{AccountKey, InvoiceKey, LinesOfInvoice, LocationKey, OrganizationKey, PaymentsOfInvoice},
        rows::{PlainFields, plain_object, plain_value},
        scalars::Date,
    },
};

/// Where an invoice is in its life.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::InvoiceStatus")]
pub enum InvoiceStatus {
    /// Issued, not fully paid.
    Open,
    /// Paid in full.
    Paid,
    /// Cancelled.
    Void,
}

/// The outcome of a charge.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::PaymentStatus")]
pub enum PaymentStatus {
    /// Charged.
    Succeeded,
    /// The gateway declined it.
    Declined,
}

/// A bill for an account.
#[derive(Clone)]
pub struct Invoice(pub invoice::Model);

connection_types!(InvoiceConnection, InvoiceEdge, Invoice, "invoices");

impl Node for Invoice {
    fn id(&self) -> uuid::Uuid {
        self.0.id
    }
}

impl Invoice {
    fn money(&self, cents: i64) -> Money {
        Money::new(cents, &self.0.currency)
    }
}

impl PlainFields for Invoice {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        let i = &self.0;
        match ctx.item.node.name.node.as_str() {
            "id" => plain_value(ctx, &to_id(i.id)),
            "number" => plain_value(ctx, &i.number.as_str()),
            "issuedOn" => plain_value(ctx, &Date(i.issued_on)),
            "dueOn" => plain_value(ctx, &Date(i.due_on)),
            "status" => plain_value(ctx, &InvoiceStatus::from(i.status)),
            "total" => plain_object(ctx, &self.money(i.total_cents)),
            "amountDue" => plain_object(ctx, &self.money(i.amount_due_cents)),
            _ => None,
        }
    }
}

/// A bill for an account.
#[Object]
impl Invoice {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The invoice number (unique in the organization).
    async fn number(&self) -> &str {
        &self.0.number
    }

    async fn account(&self, ctx: &Context<'_>) -> Result<Account> {
        let found = ctx.loaders().one(AccountKey(self.0.account_id)).await?;
        Ok(Account(found.ok_or(ApiError::NotFound("account"))?))
    }

    /// The location billed, when the invoice is for one site.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        let Some(id) = self.0.location_id else { return Ok(None) };
        Ok(ctx.loaders().one(LocationKey(id)).await?.map(Location))
    }

    async fn issued_on(&self) -> Date {
        Date(self.0.issued_on)
    }

    async fn due_on(&self) -> Date {
        Date(self.0.due_on)
    }

    async fn status(&self) -> InvoiceStatus {
        self.0.status.into()
    }

    /// Sum of the lines.
    async fn total(&self) -> Money {
        self.money(self.0.total_cents)
    }

    /// What is still to pay.
    async fn amount_due(&self) -> Money {
        self.money(self.0.amount_due_cents)
    }

    #[graphql(complexity = "bounded_cost(service::invoices::MAX_LINES, child_complexity)")]
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<InvoiceLine>> {
        let rows = ctx.loaders().one(LinesOfInvoice(self.0.id)).await?.unwrap_or_default();
        let mut lines: Vec<InvoiceLine> = rows
            .into_iter()
            .map(|line| InvoiceLine {
                line,
                currency: self.0.currency.clone(),
            })
            .collect();
        lines.sort_by_key(|l| l.line.position);
        Ok(lines)
    }

    /// Payment attempts on the invoice (declined ones too), oldest first;
    /// the latest 100 when there are more.
    #[graphql(complexity = "bounded_cost(service::invoices::MAX_PAYMENTS_SHOWN, child_complexity)")]
    async fn payments(&self, ctx: &Context<'_>) -> Result<Vec<Payment>> {
        let rows = ctx
            .loaders()
            .one(PaymentsOfInvoice(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Payment).collect())
    }

    /// True when the viewer may pay it now (OPEN, amountDue > 0, payments enabled).
    async fn payable(&self, ctx: &Context<'_>) -> Result<bool> {
        // Only portal users pay (staff get FORBIDDEN from payInvoice).
        if !matches!(ctx.viewer(), crate::auth::Viewer::Portal { .. }) {
            return Ok(false);
        }
        if self.0.status != DbInvoiceStatus::Open || self.0.amount_due_cents <= 0 {
            return Ok(false);
        }
        let org = ctx.loaders().one(OrganizationKey(self.0.organization_id)).await?;
        Ok(org.is_some_and(|o| o.online_payments_enabled))
    }
}

/// One line of an invoice.
#[derive(Clone)]
pub struct InvoiceLine {
    line: invoice_line::Model,
    currency: String,
}

/// One line of an invoice.
#[Object]
impl InvoiceLine {
    async fn description(&self) -> &str {
        &self.line.description
    }

    async fn quantity(&self) -> i32 {
        self.line.quantity
    }

    async fn unit_price(&self) -> Money {
        Money::new(self.line.unit_price_cents, &self.currency)
    }

    /// quantity × unit price.
    async fn amount(&self) -> Money {
        Money::new(self.line.amount_cents, &self.currency)
    }
}

/// A charge against an invoice.
#[derive(Clone)]
pub struct Payment(pub payment::Model);

/// A charge against an invoice.
#[Object]
impl Payment {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn invoice(&self, ctx: &Context<'_>) -> Result<Invoice> {
        let found = ctx.loaders().one(InvoiceKey(self.0.invoice_id)).await?;
        Ok(Invoice(found.ok_or(ApiError::NotFound("invoice"))?))
    }

    async fn amount(&self) -> Money {
        Money::new(self.0.amount_cents, &self.0.currency)
    }

    async fn status(&self) -> PaymentStatus {
        self.0.status.into()
    }

    /// The gateway's reference for the charge.
    async fn gateway_reference(&self) -> Option<&str> {
        self.0.gateway_reference.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
