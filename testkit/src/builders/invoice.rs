//! Builders of `invoices` and `invoice_lines` rows.

use chrono::{DateTime, Days, NaiveDate, Utc};
use entity::InvoiceStatus;
use uuid::Uuid;

use super::{next, now, row_builder};

row_builder! {
    /// An `invoices` row: `INV-N` of the whole account, issued today and due
    /// in 30 days, OPEN, USD, with nothing to pay. The builder does not add
    /// up lines: set `total_cents` and `amount_due_cents` to match them.
    InvoiceBuilder for invoice {
        id: Uuid,
        location_id: Option<Uuid>,
        number: String,
        issued_on: NaiveDate,
        due_on: NaiveDate,
        status: InvoiceStatus,
        currency: String,
        total_cents: i64,
        amount_due_cents: i64,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    }
}

impl InvoiceBuilder {
    /// An invoice of `account_id` (in `organization_id`) with the defaults.
    pub fn new(organization_id: Uuid, account_id: Uuid) -> Self {
        let at = now();
        let today = at.date_naive();
        Self {
            model: entity::invoice::Model {
                id: Uuid::now_v7(),
                organization_id,
                account_id,
                location_id: None,
                number: format!("INV-{}", next()),
                issued_on: today,
                due_on: today.checked_add_days(Days::new(30)).unwrap_or(today),
                status: InvoiceStatus::Open,
                currency: "USD".to_owned(),
                total_cents: 0,
                amount_due_cents: 0,
                created_at: at,
                updated_at: at,
            },
        }
    }
}

row_builder! {
    /// An `invoice_lines` row: one `Line` at no charge.
    InvoiceLineBuilder for invoice_line {
        id: Uuid,
        description: String,
        quantity: i32,
        unit_price_cents: i64,
        amount_cents: i64,
    }
}

impl InvoiceLineBuilder {
    /// Line `position` (from 1) of `invoice_id` with the defaults.
    pub fn new(invoice_id: Uuid, position: i32) -> Self {
        Self {
            model: entity::invoice_line::Model {
                id: Uuid::now_v7(),
                invoice_id,
                position,
                description: "Line".to_owned(),
                quantity: 1,
                unit_price_cents: 0,
                amount_cents: 0,
            },
        }
    }

    /// `quantity` × `unit_price_cents`, with the amount that makes.
    pub fn priced(self, quantity: i32, unit_price_cents: i64) -> Self {
        self.quantity(quantity)
            .unit_price_cents(unit_price_cents)
            .amount_cents(unit_price_cents * i64::from(quantity))
    }
}
