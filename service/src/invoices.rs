//! Invoices: listing and creation (with their lines, in one transaction).

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use entity::{InvoiceStatus, account, invoice, invoice_line, payment};
use migration::constraint;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Query, SelectStatement, SubQueryStatement},
};
use uuid::Uuid;

use super::{accounts, locations, validate};
use crate::{
    error::{ApiError, UniqueRule, on_unique},
    money::Money,
    page::Page,
    scope::Scope,
};

const NUMBER_TAKEN: UniqueRule = UniqueRule {
    constraint: constraint::INVOICES_ORG_NUMBER,
    field: "input.number",
    message: "an invoice with this number already exists",
};

/// Most lines an invoice may have.
pub const MAX_LINES: usize = 500;

/// Most payments `Invoice.payments` shows per invoice: the latest ones.
pub const MAX_PAYMENTS_SHOWN: usize = 100;

/// One line of a new invoice.
#[derive(Debug, Clone)]
pub struct NewLine {
    /// What was billed.
    pub description: String,
    /// How many.
    pub quantity: i32,
    /// Price of one, in minor units.
    pub unit_price_cents: i64,
}

/// A new invoice.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    /// The billed account.
    pub account_id: Uuid,
    /// The billed location, if for one site (must belong to the account).
    pub location_id: Option<Uuid>,
    /// Invoice number, unique in the organization.
    pub number: String,
    /// Issue date.
    pub issued_on: NaiveDate,
    /// Due date (not before the issue date).
    pub due_on: NaiveDate,
    /// ISO 4217 code.
    pub currency: String,
    /// At least one line.
    pub lines: Vec<NewLine>,
}

/// A page of the visible invoices.
///
/// # Errors
/// Internal on database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_id: Option<Uuid>,
    status: Option<InvoiceStatus>,
    page: Page,
    want_total: bool,
) -> Result<(Vec<invoice::Model>, Option<u64>), ApiError> {
    let mut query = invoice::Entity::find().filter(scope.invoices());
    if let Some(account_id) = account_id {
        query = query.filter(invoice::Column::AccountId.eq(account_id));
    }
    if let Some(status) = status {
        query = query.filter(invoice::Column::Status.eq(status));
    }
    super::paginate(db, query, invoice::Column::Id, page, want_total).await
}

/// One visible invoice.
///
/// # Errors
/// Internal on database failure.
pub async fn find(db: &impl ConnectionTrait, scope: &Scope, id: Uuid) -> Result<Option<invoice::Model>, ApiError> {
    Ok(invoice::Entity::find_by_id(id).filter(scope.invoices()).one(db).await?)
}

/// The visible invoices among `ids`, in one statement.
///
/// # Errors
/// Internal on database failure.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<invoice::Model>, ApiError> {
    Ok(invoice::Entity::find()
        .filter(invoice::Column::Id.is_in(ids))
        .filter(scope.invoices())
        .all(db)
        .await?)
}

/// An account's balance as two subqueries of a statement over `accounts`
/// (read back with [`balance_of`]): the sum in cents of its visible OPEN
/// invoices (NULL when none), and the currency of the first of them by id.
/// The one home of the rule, for a page of accounts
/// ([`accounts::list`]'s extras) and for accounts by id ([`open_balances`]).
#[must_use]
pub fn open_balance_exprs(scope: &Scope) -> (Expr, Expr) {
    let open = |select: &mut SelectStatement| {
        select
            .from(invoice::Entity)
            .and_where(
                Expr::col((invoice::Entity, invoice::Column::AccountId)).equals((account::Entity, account::Column::Id)),
            )
            .and_where(invoice::Column::Status.eq(InvoiceStatus::Open))
            .cond_where(scope.invoices());
    };
    let mut sum = Query::select();
    sum.expr(
        Expr::col((invoice::Entity, invoice::Column::AmountDueCents))
            .sum()
            .cast_as("BIGINT"),
    );
    open(&mut sum);
    let mut first = Query::select();
    first.column((invoice::Entity, invoice::Column::Currency));
    open(&mut first);
    first
        .order_by((invoice::Entity, invoice::Column::Id), Order::Asc)
        .limit(1);
    let sub = |select: SelectStatement| Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(select)));
    (sub(sum), sub(first))
}

/// The balance [`open_balance_exprs`] read: nothing due, in USD, when the
/// account has no open invoice.
#[must_use]
pub fn balance_of(cents: Option<i64>, currency: Option<&str>) -> Money {
    Money::new(cents.unwrap_or(0), currency.unwrap_or("USD"))
}

/// The balance of each visible account of `account_ids` (see
/// [`open_balance_exprs`]), in one statement.
///
/// # Errors
/// Internal on database failure.
pub async fn open_balances(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_ids: &[Uuid],
) -> Result<HashMap<Uuid, Money>, ApiError> {
    let (cents, currency) = open_balance_exprs(scope);
    let rows: Vec<(Uuid, Option<i64>, Option<String>)> = account::Entity::find()
        .select_only()
        .column(account::Column::Id)
        .expr_as(cents, "balance_cents")
        .expr_as(currency, "balance_currency")
        .filter(account::Column::Id.is_in(account_ids.iter().copied()))
        .filter(scope.accounts())
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, cents, currency)| (id, balance_of(cents, currency.as_deref())))
        .collect())
}

fn invoices_of(scope: &Scope, account_ids: &[Uuid], status: Option<InvoiceStatus>) -> sea_orm::Select<invoice::Entity> {
    let query = invoice::Entity::find()
        .filter(invoice::Column::AccountId.is_in(account_ids.iter().copied()))
        .filter(scope.invoices());
    match status {
        Some(status) => query.filter(invoice::Column::Status.eq(status)),
        None => query,
    }
}

/// One page of each account's visible invoices (of `status`, when given;
/// see [`crate::page_per_parent`]: at most `page.first + 1` per account,
/// read in SQL).
///
/// # Errors
/// Internal on database failure.
pub async fn page_of_accounts(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_ids: &[Uuid],
    status: Option<InvoiceStatus>,
    page: crate::Page,
) -> Result<HashMap<Uuid, Vec<invoice::Model>>, ApiError> {
    let select = invoices_of(scope, account_ids, status);
    let rows = crate::page_per_parent(db, select, invoice::Column::AccountId, invoice::Column::Id, page).await?;
    Ok(crate::group_by(account_ids, rows, |row| Some(row.account_id)))
}

/// How many visible invoices (of `status`, when given) each account has.
///
/// # Errors
/// Internal on database failure.
pub async fn count_of_accounts(
    db: &impl ConnectionTrait,
    scope: &Scope,
    account_ids: &[Uuid],
    status: Option<InvoiceStatus>,
) -> Result<HashMap<Uuid, u64>, ApiError> {
    let select = invoices_of(scope, account_ids, status);
    Ok(crate::count_per_parent(db, select, invoice::Column::AccountId).await?)
}

/// The lines of each visible invoice of `invoice_ids`, in id order.
///
/// # Errors
/// Internal on database failure.
pub async fn lines_of(
    db: &impl ConnectionTrait,
    scope: &Scope,
    invoice_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<invoice_line::Model>>, ApiError> {
    let rows = invoice_line::Entity::find()
        .filter(invoice_line::Column::InvoiceId.is_in(invoice_ids.iter().copied()))
        .filter(scope.invoice_lines(invoice_ids))
        .order_by_asc(invoice_line::Column::Id)
        .all(db)
        .await?;
    Ok(crate::group_by(invoice_ids, rows, |row| Some(row.invoice_id)))
}

/// The payments of each visible invoice of `invoice_ids`, in id order.
///
/// # Errors
/// Internal on database failure.
pub async fn payments_of(
    db: &impl ConnectionTrait,
    scope: &Scope,
    invoice_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<payment::Model>>, ApiError> {
    let select = payment::Entity::find()
        .filter(payment::Column::InvoiceId.is_in(invoice_ids.iter().copied()))
        .filter(scope.payments(invoice_ids));
    // The latest MAX_PAYMENTS_SHOWN of each invoice, read in SQL.
    let rows = crate::latest_per_parent(
        db,
        select,
        payment::Column::InvoiceId,
        payment::Column::Id,
        MAX_PAYMENTS_SHOWN as u64,
    )
    .await?;
    Ok(crate::group_by(invoice_ids, rows, |row| Some(row.invoice_id)))
}

fn validate_lines(lines: &[NewLine]) -> Result<i64, ApiError> {
    if lines.is_empty() {
        return Err(ApiError::bad_input("input.lines", "an invoice needs at least one line"));
    }
    if lines.len() > MAX_LINES {
        return Err(ApiError::bad_input(
            "input.lines",
            format!("an invoice may have at most {MAX_LINES} lines"),
        ));
    }
    let mut total: i64 = 0;
    for (i, line) in lines.iter().enumerate() {
        validate::required(&format!("input.lines.{i}.description"), &line.description, 500)?;
        if !(1..=1_000_000).contains(&line.quantity) {
            return Err(ApiError::bad_input(
                format!("input.lines.{i}.quantity"),
                "quantity must be between 1 and 1,000,000",
            ));
        }
        if line.unit_price_cents < 0 {
            return Err(ApiError::bad_input(
                format!("input.lines.{i}.unitPriceCents"),
                "unit price must not be negative",
            ));
        }
        total = line
            .unit_price_cents
            .checked_mul(i64::from(line.quantity))
            .and_then(|amount| total.checked_add(amount))
            .filter(|t| *t <= i64::from(i32::MAX))
            .ok_or_else(|| ApiError::bad_input("input.lines", "the invoice total is too large"))?;
    }
    Ok(total)
}

/// Creates an OPEN invoice and its lines in one transaction.
///
/// # Errors
/// `NOT_FOUND` for an account or location outside the organization;
/// `BAD_USER_INPUT` naming the field (location of another account, bad
/// currency or dates, bad lines, number taken); internal on database failure.
pub async fn create<C: super::Db>(db: &C, org: Uuid, input: NewInvoice) -> Result<invoice::Model, ApiError> {
    let number = validate::required("input.number", &input.number, 64)?;
    let currency = input.currency.trim().to_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ApiError::bad_input(
            "input.currency",
            "currency must be a three-letter ISO 4217 code such as USD",
        ));
    }
    if input.due_on < input.issued_on {
        return Err(ApiError::bad_input(
            "input.dueOn",
            "the due date must not be before the issue date",
        ));
    }
    let total = validate_lines(&input.lines)?;

    let txn = db.begin().await?;
    accounts::lock(&txn, org, input.account_id).await?;
    if let Some(location_id) = input.location_id {
        // Another organization's location answers like a missing one; one of
        // ours on another account is a mistake in the input.
        let location = locations::find(&txn, &Scope::organization(org), location_id)
            .await?
            .ok_or(ApiError::NotFound("location"))?;
        if location.account_id != input.account_id {
            return Err(ApiError::bad_input(
                "input.locationId",
                "the location is not one of this account's",
            ));
        }
    }
    let now = Utc::now();
    let invoice_id = Uuid::now_v7();
    let created = invoice::ActiveModel {
        id: Set(invoice_id),
        organization_id: Set(org),
        account_id: Set(input.account_id),
        location_id: Set(input.location_id),
        number: Set(number),
        issued_on: Set(input.issued_on),
        due_on: Set(input.due_on),
        status: Set(InvoiceStatus::Open),
        currency: Set(currency),
        total_cents: Set(total),
        amount_due_cents: Set(total),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| on_unique(e, &[NUMBER_TAKEN]))?;
    let lines = input
        .lines
        .into_iter()
        .enumerate()
        .map(|(position, line)| invoice_line::ActiveModel {
            id: Set(Uuid::now_v7()),
            invoice_id: Set(invoice_id),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            description: Set(line.description.trim().to_owned()),
            quantity: Set(line.quantity),
            unit_price_cents: Set(line.unit_price_cents),
            amount_cents: Set(line.unit_price_cents * i64::from(line.quantity)),
        });
    invoice_line::Entity::insert_many(lines).exec(&txn).await?;
    txn.commit().await?;
    Ok(created)
}
