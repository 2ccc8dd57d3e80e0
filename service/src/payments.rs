//! Paying invoices: `payInvoice` from the customer's side.
//!
//! A portal user pays an invoice it can see, in full, through the
//! [`PaymentGateway`]. The outcome is recorded as a `payments` row whichever
//! way it goes (declined attempts included), keyed by the client's
//! idempotency key, which is unique per organization.
//!
//! # Order of work
//! 1. Cheap refusals outside any transaction: the input, the invoice's
//!    visibility (`NOT_FOUND`), a replay of a known key, payments switched
//!    off, an invoice that is not payable. Most refused requests end here
//!    without taking a lock.
//! 2. One transaction that locks before it decides:
//!    - PostgreSQL: a transaction-scoped advisory lock on
//!      (organization, idempotency key) — so one key is never charged twice
//!      even when a client reuses it for two invoices at once — then
//!      `SELECT … FOR UPDATE` on the invoice row.
//!    - SQLite: a no-op `UPDATE` of the invoice row as the transaction's
//!      first statement, which takes the database's write lock (SQLite has
//!      one writer; with WAL a transaction that read first and wrote later
//!      could fail with "busy" instead of waiting).
//!
//!    Under the lock every check of step 1 runs again against the current
//!    rows: a concurrent payment that committed meanwhile is seen as a
//!    replay (same key) or as a PAID invoice (`INVOICE_NOT_PAYABLE`).
//! 3. The gateway charges, still under the lock.
//! 4. Succeeded: the SUCCEEDED payment, the invoice PAID with nothing due,
//!    an INVOICE_PAID audit event and the PAYMENT_RECEIPT email's outbox row
//!    commit together; the caller pushes the delivery after commit.
//!    Declined: a DECLINED payment commits (so the key replays the decline)
//!    and the answer is `PAYMENT_DECLINED`; the invoice stays OPEN.
//!    No decision (unknown token, gateway failure): nothing is written.
//!
//! # Charging inside the lock: the trade-off
//! Holding the invoice lock (and a pooled connection; on SQLite the whole
//! database's write lock) across the charge is what makes "two concurrent
//! payments never both succeed" simple and exact. The sandbox answers at
//! once, so the lock is held for microseconds. A real processor answers in
//! hundreds of milliseconds, sometimes seconds; every other payment of that
//! invoice (on SQLite: every write) waits meanwhile, and a slow processor can
//! exhaust the pool. Before plugging one in, split the work in two short
//! transactions around the network call: (1) under the lock, record the
//! attempt as a PENDING payment keyed by the idempotency key and commit;
//! (2) charge with no transaction open, sending the same idempotency key to
//! the processor; (3) record the outcome and mark the invoice PAID. A
//! concurrent attempt then finds the PENDING row instead of waiting, and a
//! crash between (1) and (3) is repaired by charging again with the same key
//! (the processor returns the first charge) or by the processor's webhook.
//!
//! Either way the processor must receive the idempotency key: if our commit
//! fails after a successful charge (or the processor times out), the
//! customer's retry with the same key makes the processor return the
//! original charge instead of taking the money twice.

use crate::email::payment_receipt::PaymentReceipt;
use chrono::Utc;
use common::Settings;
use entity::{InvoiceStatus, PaymentStatus, invoice, organization, payment, portal_user};
use migration::constraint;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set, Statement,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Db,
    audit::{self, Actor, action},
};
use crate::{
    error::{ApiError, UniqueRule, on_unique},
    gateway::{ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway},
    money::Money,
    scope::Scope,
};

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;
/// Longest payment method token accepted (processors' tokens are far shorter).
pub const MAX_TOKEN_LEN: usize = 255;

const KEY_TAKEN: UniqueRule = UniqueRule {
    constraint: constraint::PAYMENTS_ORG_IDEMPOTENCY_KEY,
    field: "idempotencyKey",
    message: "this idempotency key was already used",
};

/// A request to pay an invoice in full.
#[derive(Debug, Clone)]
pub struct PayInvoice {
    /// The invoice to pay.
    pub invoice_id: Uuid,
    /// The tokenised card, as the processor's client library produced it.
    pub payment_method_token: String,
    /// Chosen by the client, 1–200 characters, unique per organization:
    /// sending it again returns the first payment instead of charging again.
    pub idempotency_key: String,
}

/// A successful payment.
#[derive(Debug)]
pub struct Paid {
    /// The SUCCEEDED payment (the first one, when the key was a replay).
    pub payment: payment::Model,
    /// The receipt email to push after commit; `None` for a replay.
    pub delivery_id: Option<Uuid>,
}

/// What the checks decided.
enum Decision {
    /// The key was used before for this invoice: answer its first payment.
    Replay(payment::Model),
    /// Charge the invoice's amount due.
    Charge(organization::Model),
}

fn validate(request: &PayInvoice) -> Result<(), ApiError> {
    let key_len = request.idempotency_key.chars().count();
    if key_len == 0 || key_len > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(ApiError::bad_input(
            "idempotencyKey",
            format!("the idempotency key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} characters, e.g. a UUID"),
        ));
    }
    let token = &request.payment_method_token;
    if token.is_empty() || token.chars().count() > MAX_TOKEN_LEN {
        return Err(ApiError::bad_input(
            "paymentMethodToken",
            "a payment method token is required",
        ));
    }
    Ok(())
}

/// The invoice, when the payer may see it.
async fn visible_invoice(
    db: &impl ConnectionTrait,
    scope: &Scope,
    invoice_id: Uuid,
) -> Result<invoice::Model, ApiError> {
    super::invoices::find(db, scope, invoice_id)
        .await?
        .ok_or(ApiError::NotFound("invoice"))
}

/// The checks, in the order they answer: a replay first (the first answer
/// stands even after the invoice was paid or payments were switched off),
/// then the organization's setup, then the invoice's state.
async fn decide(
    db: &impl ConnectionTrait,
    invoice: &invoice::Model,
    idempotency_key: &str,
) -> Result<Decision, ApiError> {
    let earlier = payment::Entity::find()
        .filter(payment::Column::OrganizationId.eq(invoice.organization_id))
        .filter(payment::Column::IdempotencyKey.eq(idempotency_key))
        .one(db)
        .await?;
    if let Some(earlier) = earlier {
        if earlier.invoice_id != invoice.id {
            return Err(ApiError::bad_input(
                "idempotencyKey",
                "this idempotency key was already used to pay another invoice; use a new key for each invoice",
            ));
        }
        return Ok(Decision::Replay(earlier));
    }
    let organization = super::organizations::get(db, invoice.organization_id).await?;
    if !organization.online_payments_enabled {
        return Err(ApiError::PaymentsNotEnabled);
    }
    if invoice.status != InvoiceStatus::Open || invoice.amount_due_cents <= 0 {
        return Err(ApiError::InvoiceNotPayable);
    }
    Ok(Decision::Charge(organization))
}

/// The answer a replayed key gets: its first result.
fn replay(earlier: payment::Model) -> Result<Paid, ApiError> {
    match earlier.status {
        PaymentStatus::Succeeded => Ok(Paid {
            payment: earlier,
            delivery_id: None,
        }),
        PaymentStatus::Declined => Err(ApiError::PaymentDeclined),
    }
}

/// PostgreSQL only: serialises payments that carry the same key, whatever
/// invoice they name (released at commit or rollback). Taken before the
/// invoice lock, always in that order, so two payments cannot deadlock.
async fn lock_key(db: &impl ConnectionTrait, org: Uuid, idempotency_key: &str) -> Result<(), ApiError> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [format!("payments:{org}:{idempotency_key}").into()],
        ))
        .await?;
    }
    Ok(())
}

/// Locks the invoice row for the rest of the transaction and reads it as it
/// is now, through the payer's scope (see the module documentation for the
/// SQLite variant).
async fn lock_invoice(db: &impl ConnectionTrait, scope: &Scope, invoice_id: Uuid) -> Result<invoice::Model, ApiError> {
    let org = scope.organization_id();
    if db.get_database_backend() == DbBackend::Postgres {
        return invoice::Entity::find_by_id(invoice_id)
            .filter(scope.invoices())
            .lock_exclusive()
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("invoice"));
    }
    let locked = invoice::Entity::update_many()
        .col_expr(invoice::Column::UpdatedAt, Expr::col(invoice::Column::UpdatedAt))
        .filter(invoice::Column::Id.eq(invoice_id))
        .filter(invoice::Column::OrganizationId.eq(org))
        .exec(db)
        .await?;
    if locked.rows_affected != 1 {
        return Err(ApiError::NotFound("invoice"));
    }
    super::invoices::find(db, scope, invoice_id)
        .await?
        .ok_or(ApiError::NotFound("invoice"))
}

/// Pays an invoice in full for a portal user (see the module documentation
/// for the locking, idempotency and where the charge happens).
///
/// # Errors
/// `BAD_USER_INPUT` on `idempotencyKey` (empty, too long, or used for
/// another invoice) or `paymentMethodToken` (missing or unknown to the
/// gateway); `NOT_FOUND` for an invoice the payer cannot see;
/// `PAYMENTS_NOT_ENABLED`; `INVOICE_NOT_PAYABLE` (paid, void or nothing due);
/// `PAYMENT_DECLINED` (the declined payment is recorded, nothing is paid);
/// internal on database or gateway failure (nothing recorded).
#[tracing::instrument(skip_all, fields(portal_user = %payer.id, invoice = %request.invoice_id, gateway = gateway.name()))]
pub async fn pay<C: Db>(
    db: &C,
    gateway: &dyn PaymentGateway,
    settings: &Settings,
    payer: &portal_user::Model,
    scope: &Scope,
    request: PayInvoice,
) -> Result<Paid, ApiError> {
    validate(&request)?;
    let org = payer.organization_id;
    let key = request.idempotency_key.as_str();

    // 1. Without a lock: most refusals and replays end here.
    let invoice = visible_invoice(db, scope, request.invoice_id).await?;
    if let Decision::Replay(earlier) = decide(db, &invoice, key).await? {
        return replay(earlier);
    }

    // 2. Under the lock, decide again on the current rows.
    let txn = db.begin().await?;
    lock_key(&txn, org, key).await?;
    let invoice = lock_invoice(&txn, scope, request.invoice_id).await?;
    let organization = match decide(&txn, &invoice, key).await {
        Ok(Decision::Charge(organization)) => organization,
        Ok(Decision::Replay(earlier)) => {
            txn.rollback().await?;
            return replay(earlier);
        }
        Err(err) => {
            txn.rollback().await?;
            return Err(err);
        }
    };

    // 3. Charge, still holding the lock.
    let outcome = gateway
        .charge(ChargeRequest {
            amount_cents: invoice.amount_due_cents,
            currency: invoice.currency.clone(),
            payment_method_token: request.payment_method_token.clone(),
            idempotency_key: format!("{org}:{key}"),
            description: format!("Invoice {} — {}", invoice.number, organization.name),
        })
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(GatewayError::InvalidPaymentMethod(message)) => {
            txn.rollback().await?;
            return Err(ApiError::bad_input("paymentMethodToken", message));
        }
        Err(err @ GatewayError::Unavailable(_)) => {
            txn.rollback().await?;
            return Err(ApiError::internal(err));
        }
    };

    // 4. Record the outcome.
    let reference = match outcome {
        ChargeOutcome::Succeeded { reference } => reference,
        ChargeOutcome::Declined { reason } => {
            let declined = record(&txn, payer, &invoice, key, PaymentStatus::Declined, None).await?;
            txn.commit().await?;
            tracing::info!(payment = %declined.id, %reason, "payment declined");
            return Err(ApiError::PaymentDeclined);
        }
    };
    let payment = record(
        &txn,
        payer,
        &invoice,
        key,
        PaymentStatus::Succeeded,
        Some(reference.clone()),
    )
    .await?;
    let amount = Money::new(payment.amount_cents, &payment.currency).formatted();
    let mut paid: invoice::ActiveModel = invoice.clone().into();
    paid.status = Set(InvoiceStatus::Paid);
    paid.amount_due_cents = Set(0);
    paid.updated_at = Set(payment.created_at);
    paid.update(&txn).await?;
    audit::record(
        &txn,
        org,
        Some(invoice.account_id),
        Actor::Portal(payer),
        action::INVOICE_PAID,
        Some(format!(
            "{amount} for invoice {} (reference {reference})",
            invoice.number
        )),
    )
    .await?;
    let receipt = PaymentReceipt {
        organization_name: organization.name.clone(),
        invoice_number: invoice.number.clone(),
        amount,
        reference: reference.clone(),
        paid_at: payment.created_at,
    };
    let delivery_id = crate::email::queue(&txn, settings, org, &payer.email, &receipt).await?;
    txn.commit().await?;
    tracing::info!(payment = %payment.id, %reference, "invoice paid");
    Ok(Paid {
        payment,
        delivery_id: Some(delivery_id),
    })
}

/// Writes the payment row of a charge's outcome.
async fn record(
    db: &impl ConnectionTrait,
    payer: &portal_user::Model,
    invoice: &invoice::Model,
    idempotency_key: &str,
    status: PaymentStatus,
    gateway_reference: Option<String>,
) -> Result<payment::Model, ApiError> {
    payment::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(invoice.organization_id),
        invoice_id: Set(invoice.id),
        portal_user_id: Set(Some(payer.id)),
        amount_cents: Set(invoice.amount_due_cents),
        currency: Set(invoice.currency.clone()),
        status: Set(status),
        gateway_reference: Set(gateway_reference),
        idempotency_key: Set(idempotency_key.to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| on_unique(e, &[KEY_TAKEN]))
}
