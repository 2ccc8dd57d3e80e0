//! Accounts: listing with search and portal-status filters, creation and the
//! Contact Information on file.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{InvitationStatus, PortalStatus, account, invitation, portal_access, staff_user};
use migration::constraint;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    QueryTrait, Set,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query},
};
use uuid::Uuid;

use super::validate;
use crate::{
    error::{ApiError, UniqueRule, on_unique},
    money::Money,
    page::Page,
    scope::Scope,
};

const NUMBER_TAKEN: UniqueRule = UniqueRule {
    constraint: constraint::ACCOUNTS_ORG_NUMBER,
    field: "input.number",
    message: "an account with this number already exists",
};

/// Which accounts a list returns.
#[derive(Debug, Default, Clone)]
pub struct AccountFilter {
    /// Case-insensitive text matched against number, name and contact email.
    pub search: Option<String>,
    /// Only accounts in this portal status.
    pub portal_status: Option<PortalStatus>,
    /// Only accounts this portal user has access to.
    pub portal_user: Option<Uuid>,
}

/// A change to one contact field: `None` keeps it, `Some(None)` clears it.
pub type FieldChange = Option<Option<String>>;

/// Contact Information to set.
#[derive(Debug, Default, Clone)]
pub struct ContactChange {
    /// Contact person.
    pub name: FieldChange,
    /// Contact email (validated).
    pub email: FieldChange,
    /// Phone.
    pub phone: FieldChange,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Account number, unique in the organization.
    pub number: String,
    /// Account name.
    pub name: String,
    /// Initial Contact Information.
    pub contact: ContactChange,
}

fn filter_condition(scope: &Scope, filter: &AccountFilter) -> Condition {
    let mut cond = scope.accounts();
    if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let escaped = search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let like = |col: account::Column| {
            Expr::expr(Func::lower(Expr::col((account::Entity, col)))).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        cond = cond.add(
            Condition::any()
                .add(like(account::Column::Number))
                .add(like(account::Column::Name))
                .add(like(account::Column::ContactEmail)),
        );
    }
    if let Some(status) = filter.portal_status {
        cond = cond.add(portal_status_expr(scope.organization_id(), Utc::now()).eq(portal_status_name(status)));
    }
    if let Some(user) = filter.portal_user {
        cond = cond.add(
            account::Column::Id.in_subquery(
                Query::select()
                    .column(portal_access::Column::AccountId)
                    .from(portal_access::Entity)
                    .and_where(portal_access::Column::PortalUserId.eq(user))
                    .to_owned(),
            ),
        );
    }
    cond
}

/// An account's portal status as one SQL expression over `accounts`: the
/// only definition of the status, used both to filter lists
/// (`portalStatus:`) and to answer the field ([`portal_statuses`]).
/// CONNECTED when a portal user has access, else INVITED when an invitation
/// is pending and unexpired at `now`, else NOT_CONNECTED.
fn portal_status_expr(org: Uuid, now: DateTime<Utc>) -> Expr {
    let connected = account::Column::Id.in_subquery(
        Query::select()
            .column(portal_access::Column::AccountId)
            .from(portal_access::Entity)
            .and_where(portal_access::Column::OrganizationId.eq(org))
            .to_owned(),
    );
    let invited = account::Column::Id.in_subquery(
        Query::select()
            .column(invitation::Column::AccountId)
            .from(invitation::Entity)
            .and_where(invitation::Column::OrganizationId.eq(org))
            .and_where(invitation::Column::Status.eq(InvitationStatus::Pending))
            .and_where(invitation::Column::ExpiresAt.gt(now))
            .to_owned(),
    );
    Expr::case(connected, portal_status_name(PortalStatus::Connected))
        .case(invited, portal_status_name(PortalStatus::Invited))
        .finally(portal_status_name(PortalStatus::NotConnected))
        .into()
}

/// How [`portal_status_expr`] spells each status.
fn portal_status_name(status: PortalStatus) -> &'static str {
    match status {
        PortalStatus::NotConnected => "NOT_CONNECTED",
        PortalStatus::Invited => "INVITED",
        PortalStatus::Connected => "CONNECTED",
    }
}

/// The portal status of each visible account of `ids`, in one statement.
///
/// # Errors
/// Internal on database failure.
pub async fn portal_statuses(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, PortalStatus>, ApiError> {
    let rows: Vec<(Uuid, String)> = account::Entity::find()
        .select_only()
        .column(account::Column::Id)
        .expr_as(portal_status_expr(scope.organization_id(), Utc::now()), "portal_status")
        .filter(account::Column::Id.is_in(ids))
        .filter(scope.accounts())
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (id, portal_status_named(&name)))
        .collect())
}

/// The status [`portal_status_expr`] spells `name`.
fn portal_status_named(name: &str) -> PortalStatus {
    [PortalStatus::Connected, PortalStatus::Invited]
        .into_iter()
        .find(|s| portal_status_name(*s) == name)
        .unwrap_or(PortalStatus::NotConnected)
}

/// What a page of accounts reads besides the rows, in the same statement
/// (each a subquery per row, as the dashboards ask for both of every
/// account they show).
#[derive(Debug, Default, Clone, Copy)]
pub struct Extras {
    /// Each account's balance (see [`crate::invoices::open_balance_exprs`]).
    pub balance: bool,
    /// Each account's portal status (see [`portal_statuses`]).
    pub portal_status: bool,
}

/// A page of accounts with what [`Extras`] asked for.
#[derive(Debug, Default)]
pub struct Listed {
    /// The page's rows (one more than the page when more follow).
    pub rows: Vec<account::Model>,
    /// All matches, when asked for.
    pub total: Option<u64>,
    /// Each row's balance, when asked for.
    pub balances: HashMap<Uuid, Money>,
    /// Each row's portal status, when asked for.
    pub statuses: HashMap<Uuid, PortalStatus>,
}

/// A page of the visible accounts, the total when asked for, and the
/// [`Extras`] asked for, read with the rows.
///
/// # Errors
/// Internal on database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &AccountFilter,
    page: Page,
    want_total: bool,
    extras: Extras,
) -> Result<Listed, ApiError> {
    let query = account::Entity::find().filter(filter_condition(scope, filter));
    let total = crate::total_if(db, &query, want_total).await?;
    let mut select = crate::page_of(query, account::Column::Id, page);
    if extras.balance {
        let (cents, currency) = crate::invoices::open_balance_exprs(scope);
        select = select
            .expr_as(cents, "balance_cents")
            .expr_as(currency, "balance_currency");
    }
    if extras.portal_status {
        select = select.expr_as(portal_status_expr(scope.organization_id(), Utc::now()), "portal_status");
    }
    let found = db.query_all_raw(select.build(db.get_database_backend())).await?;
    let mut listed = Listed {
        rows: Vec::with_capacity(found.len()),
        total,
        ..Listed::default()
    };
    for row in found {
        let account = account::Model::from_query_result(&row, "")?;
        if extras.balance {
            let cents: Option<i64> = row.try_get("", "balance_cents")?;
            let currency: Option<String> = row.try_get("", "balance_currency")?;
            listed
                .balances
                .insert(account.id, crate::invoices::balance_of(cents, currency.as_deref()));
        }
        if extras.portal_status {
            let status: String = row.try_get("", "portal_status")?;
            listed.statuses.insert(account.id, portal_status_named(&status));
        }
        listed.rows.push(account);
    }
    Ok(listed)
}

/// One visible account.
///
/// # Errors
/// Internal on database failure.
pub async fn find(db: &impl ConnectionTrait, scope: &Scope, id: Uuid) -> Result<Option<account::Model>, ApiError> {
    Ok(account::Entity::find_by_id(id).filter(scope.accounts()).one(db).await?)
}

/// One visible account, or `NOT_FOUND`.
///
/// # Errors
/// `NOT_FOUND`, or internal on database failure.
pub async fn get(db: &impl ConnectionTrait, scope: &Scope, id: Uuid) -> Result<account::Model, ApiError> {
    find(db, scope, id).await?.ok_or(ApiError::NotFound("account"))
}

/// The visible accounts among `ids`, in one statement.
///
/// # Errors
/// Internal on database failure.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<account::Model>, ApiError> {
    Ok(account::Entity::find()
        .filter(account::Column::Id.is_in(ids))
        .filter(scope.accounts())
        .all(db)
        .await?)
}

fn validated_contact(prefix: &str, change: &ContactChange) -> Result<ContactChange, ApiError> {
    let text = |field: &str, value: &FieldChange, max| -> Result<FieldChange, ApiError> {
        value
            .as_ref()
            .map(|v| validate::optional(&format!("{prefix}{field}"), v.as_deref(), max))
            .transpose()
    };
    let email = match &change.email {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) if v.trim().is_empty() => Some(None),
        Some(Some(v)) => Some(Some(validate::email(&format!("{prefix}email"), v)?)),
    };
    Ok(ContactChange {
        name: text("name", &change.name, 200)?,
        email,
        phone: text("phone", &change.phone, 40)?,
    })
}

/// Creates an account.
///
/// # Errors
/// `BAD_USER_INPUT` naming the field (missing or too long text, invalid
/// email, number already taken), internal on database failure.
pub async fn create(db: &impl ConnectionTrait, org: Uuid, input: NewAccount) -> Result<account::Model, ApiError> {
    let number = validate::required("input.number", &input.number, 64)?;
    let name = validate::required("input.name", &input.name, 200)?;
    let contact = validated_contact("input.contact.", &input.contact)?;
    let now = Utc::now();
    account::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org),
        number: Set(number),
        name: Set(name),
        contact_name: Set(contact.name.flatten()),
        contact_email: Set(contact.email.flatten()),
        contact_phone: Set(contact.phone.flatten()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| on_unique(e, &[NUMBER_TAKEN]))
}

/// Sets the Contact Information on file. A changed email revokes the
/// account's pending invitations (they were addressed to the old one), in the
/// same transaction as the change.
///
/// # Errors
/// `NOT_FOUND`, `BAD_USER_INPUT` naming the field, internal on database failure.
pub async fn update_contact<C: super::Db>(
    db: &C,
    staff: &staff_user::Model,
    id: Uuid,
    change: &ContactChange,
) -> Result<account::Model, ApiError> {
    let org = staff.organization_id;
    let change = validated_contact("input.", change)?;
    let txn = db.begin().await?;
    let current = lock(&txn, org, id).await?;
    let email_changed = change.email.as_ref().is_some_and(|new| *new != current.contact_email);
    let mut active: account::ActiveModel = current.into();
    if let Some(name) = change.name {
        active.contact_name = Set(name);
    }
    if let Some(email) = change.email {
        active.contact_email = Set(email);
    }
    if let Some(phone) = change.phone {
        active.contact_phone = Set(phone);
    }
    active.updated_at = Set(Utc::now());
    let updated = active.update(&txn).await?;
    if email_changed {
        super::invitations::revoke_for_email_change(&txn, staff, id).await?;
    }
    txn.commit().await?;
    Ok(updated)
}

/// Takes the account's row lock (a no-op UPDATE) and returns the account.
/// Call it as a transaction's first statement: concurrent changes of one
/// account (a double click) then serialise on PostgreSQL and SQLite alike,
/// and SQLite never has to upgrade a read lock, which can fail at once.
///
/// # Errors
/// `NOT_FOUND`; internal on database failure.
pub async fn lock(db: &impl ConnectionTrait, org: Uuid, account_id: Uuid) -> Result<account::Model, ApiError> {
    let locked = account::Entity::update_many()
        .col_expr(account::Column::UpdatedAt, Expr::col(account::Column::UpdatedAt))
        .filter(account::Column::Id.eq(account_id))
        .filter(account::Column::OrganizationId.eq(org))
        .exec(db)
        .await?;
    if locked.rows_affected != 1 {
        return Err(ApiError::NotFound("account"));
    }
    get(db, &Scope::organization(org), account_id).await
}

/// Whether an account is visible to the organization (used before writing
/// children of it).
///
/// # Errors
/// `NOT_FOUND` when not; internal on database failure.
pub async fn ensure_exists(db: &impl ConnectionTrait, org: Uuid, id: Uuid) -> Result<(), ApiError> {
    let found = account::Entity::find_by_id(id)
        .filter(account::Column::OrganizationId.eq(org))
        .select_only()
        .column(account::Column::Id)
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    found.map(|_| ()).ok_or(ApiError::NotFound("account"))
}
