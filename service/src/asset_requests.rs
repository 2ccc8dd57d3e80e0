//! Asset requests: a customer asks for assets at one of its locations, and
//! staff take the request through its states.
//!
//! The states and who moves them:
//! - SUBMITTED — made by a portal user ([`request`]);
//! - staff: SUBMITTED → APPROVED | REJECTED (with a reason),
//!   APPROVED → SCHEDULED → FULFILLED, SUBMITTED | APPROVED → CANCELLED
//!   ([`update_status`]);
//! - the requester: its own SUBMITTED | APPROVED request → CANCELLED ([`cancel`]).
//!
//! Every change writes the row, an audit event and its notice emails (outbox
//! rows) in one transaction: ASSET_REQUEST_RECEIVED to each staff user of the
//! organization when a request is made, ASSET_REQUEST_UPDATED to the requester
//! when staff change its status. The caller pushes the returned deliveries
//! after commit. A status change is one conditional UPDATE on the status it
//! read, so two staff users acting at once cannot both move the request.
//!
//! Checks read before the transaction opens, and each transaction starts
//! with its write: on SQLite a transaction that reads first and writes later
//! fails with "database is locked" (instead of waiting) when another
//! connection — the email queue marking a delivery sent — wrote in between.
//! The conditional UPDATE keeps the read-then-write safe.
//!
//! What a portal user sees is decided by its [`Scope`]: requests at the
//! locations it may see, whoever made them. Nothing here knows GraphQL.

use crate::email::{
    asset_request::AssetRequestFacts, asset_request_received::AssetRequestReceived,
    asset_request_updated::AssetRequestUpdated,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::Settings;
use entity::{AssetRequestStatus, account, asset_request, asset_type, location, organization, portal_user, staff_user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Db,
    audit::{self, Actor, action},
    validate,
};
use crate::{error::ApiError, page::Page, scope::Scope};

/// Fewest assets one request may ask for.
pub const MIN_QUANTITY: i32 = 1;
/// Most assets one request may ask for (larger orders go through staff).
pub const MAX_QUANTITY: i32 = 50;
/// Longest `notes` accepted, in characters.
pub const MAX_NOTES_LEN: usize = 2_000;
/// Longest decline or cancel `reason` accepted, in characters.
pub const MAX_REASON_LEN: usize = 2_000;

/// A request as the customer enters it.
#[derive(Debug, Clone)]
pub struct NewAssetRequest {
    /// Where the assets are wanted (a location the customer was granted).
    pub location_id: Uuid,
    /// What kind of asset (a requestable type of the organization).
    pub asset_type_id: Uuid,
    /// How many, [`MIN_QUANTITY`]..=[`MAX_QUANTITY`].
    pub quantity: i32,
    /// When they are needed; not in the past.
    pub needed_by: Option<NaiveDate>,
    /// Free text for staff, at most [`MAX_NOTES_LEN`] characters.
    pub notes: Option<String>,
}

/// A request written, and the deliveries to push once committed.
#[derive(Debug)]
pub struct Changed {
    /// The request as it is now.
    pub request: asset_request::Model,
    /// Outbox rows written with the change, to push after commit.
    pub deliveries: Vec<Uuid>,
}

/// Whether staff may move a request from `from` to `to`.
#[must_use]
pub fn transition_allowed(from: AssetRequestStatus, to: AssetRequestStatus) -> bool {
    use AssetRequestStatus::{Approved, Cancelled, Fulfilled, Rejected, Scheduled, Submitted};
    matches!(
        (from, to),
        (Submitted, Approved | Rejected | Cancelled) | (Approved, Scheduled | Cancelled) | (Scheduled, Fulfilled)
    )
}

/// Whether the requester may still cancel a request in `status`.
#[must_use]
pub fn cancellable(status: AssetRequestStatus) -> bool {
    matches!(status, AssetRequestStatus::Submitted | AssetRequestStatus::Approved)
}

/// The earliest `neededBy` accepted: today where it is earliest (UTC−12), so
/// a customer anywhere may ask for "today" and nobody for a day that has
/// passed everywhere.
#[must_use]
pub fn earliest_needed_by(now: DateTime<Utc>) -> NaiveDate {
    (now - Duration::hours(12)).date_naive()
}

/// A page of the visible asset requests (for a portal user: those for its
/// visible locations, whoever made them), optionally in one status, in id
/// order.
///
/// # Errors
/// Internal on database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    status: Option<AssetRequestStatus>,
    page: Page,
    want_total: bool,
) -> Result<(Vec<asset_request::Model>, Option<u64>), ApiError> {
    let mut query = asset_request::Entity::find().filter(scope.asset_requests());
    if let Some(status) = status {
        query = query.filter(asset_request::Column::Status.eq(status));
    }
    super::paginate(db, query, asset_request::Column::Id, page, want_total).await
}

/// One visible asset request.
///
/// # Errors
/// `NOT_FOUND`; internal on database failure.
pub async fn get(db: &impl ConnectionTrait, scope: &Scope, id: Uuid) -> Result<asset_request::Model, ApiError> {
    asset_request::Entity::find_by_id(id)
        .filter(scope.asset_requests())
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("asset request"))
}

/// Checks what the customer typed; returns the trimmed notes.
fn validate_input(input: &NewAssetRequest, now: DateTime<Utc>) -> Result<Option<String>, ApiError> {
    if !(MIN_QUANTITY..=MAX_QUANTITY).contains(&input.quantity) {
        return Err(ApiError::bad_input(
            "input.quantity",
            format!("the quantity must be between {MIN_QUANTITY} and {MAX_QUANTITY}"),
        ));
    }
    if let Some(needed_by) = input.needed_by
        && needed_by < earliest_needed_by(now)
    {
        return Err(ApiError::bad_input(
            "input.neededBy",
            "the date the assets are needed by must not be in the past",
        ));
    }
    validate::optional("input.notes", input.notes.as_deref(), MAX_NOTES_LEN)
}

/// The rows a request's emails and audit detail describe it with.
struct Described {
    organization: organization::Model,
    account: account::Model,
    location: location::Model,
    asset_type: asset_type::Model,
}

impl Described {
    async fn load(db: &impl ConnectionTrait, request: &asset_request::Model) -> Result<Self, ApiError> {
        let org = request.organization_id;
        let scope = Scope::organization(org);
        let location = super::locations::find(db, &scope, request.location_id)
            .await?
            .ok_or(ApiError::NotFound("location"))?;
        let asset_type = find_asset_type(db, org, request.asset_type_id).await?;
        Ok(Self {
            organization: super::organizations::get(db, org).await?,
            account: super::accounts::get(db, &scope, location.account_id).await?,
            location,
            asset_type,
        })
    }

    /// "2 × Standard portable toilet at Tower site"
    fn summary(&self, request: &asset_request::Model) -> String {
        format!(
            "{} × {} at {}",
            request.quantity, self.asset_type.name, self.location.name
        )
    }

    /// What the request's emails say about it.
    fn facts(&self, request: &asset_request::Model) -> AssetRequestFacts {
        AssetRequestFacts {
            account_number: self.account.number.clone(),
            account_name: self.account.name.clone(),
            location_name: self.location.name.clone(),
            location_line1: self.location.line1.clone(),
            location_line2: self.location.line2.clone(),
            location_city: self.location.city.clone(),
            asset_type_name: self.asset_type.name.clone(),
            quantity: request.quantity,
            needed_by: request.needed_by,
            notes: request.notes.clone(),
        }
    }
}

async fn find_asset_type(db: &impl ConnectionTrait, org: Uuid, id: Uuid) -> Result<asset_type::Model, ApiError> {
    asset_type::Entity::find_by_id(id)
        .filter(asset_type::Column::OrganizationId.eq(org))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("asset type"))
}

/// The SCREAMING_CASE name of a status, as the API spells it.
fn status_name(status: AssetRequestStatus) -> &'static str {
    match status {
        AssetRequestStatus::Submitted => "SUBMITTED",
        AssetRequestStatus::Approved => "APPROVED",
        AssetRequestStatus::Scheduled => "SCHEDULED",
        AssetRequestStatus::Fulfilled => "FULFILLED",
        AssetRequestStatus::Cancelled => "CANCELLED",
        AssetRequestStatus::Rejected => "REJECTED",
    }
}

/// A portal user requests assets at one of its locations: the request
/// (SUBMITTED), an ASSET_REQUESTED audit event and an ASSET_REQUEST_RECEIVED
/// email to every staff user of the organization, in one transaction.
///
/// # Errors
/// `BAD_USER_INPUT` on `input.quantity`, `input.neededBy`, `input.notes`, or
/// `input.assetTypeId` for a type customers may not request; `NOT_FOUND` for
/// a location the user was not granted or an asset type that is not the
/// organization's; internal on database failure. Nothing is written on error.
#[tracing::instrument(skip_all, fields(portal_user = %user.id, location = %input.location_id))]
pub async fn request<C: Db>(
    db: &C,
    settings: &Settings,
    user: &portal_user::Model,
    scope: &Scope,
    input: NewAssetRequest,
) -> Result<Changed, ApiError> {
    let org = user.organization_id;
    let now = Utc::now();
    let notes = validate_input(&input, now)?;

    let location = super::locations::find(db, scope, input.location_id)
        .await?
        .ok_or(ApiError::NotFound("location"))?;
    let asset_type = find_asset_type(db, org, input.asset_type_id).await?;
    if !asset_type.requestable {
        return Err(ApiError::bad_input(
            "input.assetTypeId",
            format!("{} cannot be requested in the portal", asset_type.name),
        ));
    }

    // The transaction opens with its first write (see the module doc).
    let txn = db.begin().await?;
    let request = asset_request::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org),
        location_id: Set(location.id),
        asset_type_id: Set(asset_type.id),
        quantity: Set(input.quantity),
        needed_by: Set(input.needed_by),
        notes: Set(notes),
        status: Set(AssetRequestStatus::Submitted),
        reason: Set(None),
        requested_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let described = Described {
        organization: super::organizations::get(&txn, org).await?,
        account: super::accounts::get(&txn, &Scope::organization(org), location.account_id).await?,
        location,
        asset_type,
    };
    let summary = described.summary(&request);
    audit::record(
        &txn,
        org,
        Some(described.account.id),
        Actor::Portal(user),
        action::ASSET_REQUESTED,
        Some(summary.clone()),
    )
    .await?;

    let email = AssetRequestReceived {
        organization_name: described.organization.name.clone(),
        customer_name: user.name.clone(),
        customer_email: user.email.clone(),
        request: described.facts(&request),
    };
    let staff = staff_user::Entity::find()
        .filter(staff_user::Column::OrganizationId.eq(org))
        .order_by_asc(staff_user::Column::Id)
        .all(&txn)
        .await?;
    let mut deliveries = Vec::with_capacity(staff.len());
    for member in &staff {
        deliveries.push(crate::email::queue(&txn, settings, org, &member.email, &email).await?);
    }
    txn.commit().await?;
    tracing::info!(request = %request.id, staff_notified = deliveries.len(), "asset requested");
    Ok(Changed { request, deliveries })
}

/// Moves a request from the status it was read in to `to`, with `reason`;
/// answers the row as it is now. A concurrent change in between is reported
/// as the transition it would now be.
async fn move_status(
    db: &impl ConnectionTrait,
    current: &asset_request::Model,
    to: AssetRequestStatus,
    reason: Option<String>,
    field: &'static str,
) -> Result<asset_request::Model, ApiError> {
    let mut update = asset_request::Entity::update_many()
        .col_expr(asset_request::Column::Status, Expr::value(to))
        .col_expr(asset_request::Column::UpdatedAt, Expr::value(Utc::now()));
    if reason.is_some() {
        update = update.col_expr(asset_request::Column::Reason, Expr::value(reason));
    }
    let moved = update
        .filter(asset_request::Column::Id.eq(current.id))
        .filter(asset_request::Column::OrganizationId.eq(current.organization_id))
        .filter(asset_request::Column::Status.eq(current.status))
        .exec(db)
        .await?;
    let now = get(db, &Scope::organization(current.organization_id), current.id).await?;
    if moved.rows_affected != 1 {
        return Err(ApiError::bad_input(
            field,
            format!(
                "the request changed meanwhile and is now {}; it cannot become {}",
                status_name(now.status),
                status_name(to)
            ),
        ));
    }
    Ok(now)
}

/// The requester cancels its own request while it is SUBMITTED or APPROVED,
/// with an ASSET_REQUEST_UPDATED audit event, in one transaction.
///
/// # Errors
/// `NOT_FOUND` for a request that is not this user's or is at a location it
/// can no longer see; `BAD_USER_INPUT` on `id` once it is past APPROVED;
/// internal on database failure.
#[tracing::instrument(skip_all, fields(portal_user = %user.id, request = %id))]
pub async fn cancel<C: Db>(
    db: &C,
    user: &portal_user::Model,
    scope: &Scope,
    id: Uuid,
) -> Result<asset_request::Model, ApiError> {
    let org = user.organization_id;
    // Read through the user's scope: a request for a location no longer
    // granted answers NOT_FOUND, like one that does not exist.
    let current = get(db, scope, id).await?;
    if current.requested_by != Some(user.id) {
        return Err(ApiError::NotFound("asset request"));
    }
    let described = Described::load(db, &current).await?;
    if !cancellable(current.status) {
        return Err(ApiError::bad_input(
            "id",
            format!(
                "a request that is {} can no longer be cancelled",
                status_name(current.status)
            ),
        ));
    }
    let txn = db.begin().await?;
    let cancelled = move_status(&txn, &current, AssetRequestStatus::Cancelled, None, "id").await?;
    audit::record(
        &txn,
        org,
        Some(described.account.id),
        Actor::Portal(user),
        action::ASSET_REQUEST_UPDATED,
        Some(format!(
            "{}: {} → CANCELLED by the customer",
            described.summary(&cancelled),
            status_name(current.status)
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(cancelled)
}

/// Staff move a request on (see the module doc for the transitions): the
/// change (with the reason when declined or cancelled), an
/// ASSET_REQUEST_UPDATED audit event and an ASSET_REQUEST_UPDATED email to
/// the requester, in one transaction.
///
/// `reason` is required for REJECTED, optional for CANCELLED and refused for
/// the other statuses; an empty one counts as none.
///
/// # Errors
/// `NOT_FOUND`; `BAD_USER_INPUT` on `status` for a transition that is not
/// allowed (naming it), on `reason` when declining without one or giving one
/// where it means nothing; internal on database failure.
#[tracing::instrument(skip_all, fields(staff_user = %staff.id, request = %id, to = status_name(to)))]
pub async fn update_status<C: Db>(
    db: &C,
    settings: &Settings,
    staff: &staff_user::Model,
    id: Uuid,
    to: AssetRequestStatus,
    reason: Option<&str>,
) -> Result<Changed, ApiError> {
    let org = staff.organization_id;
    let current = get(db, &Scope::organization(org), id).await?;
    if !transition_allowed(current.status, to) {
        return Err(ApiError::bad_input(
            "status",
            format!(
                "an asset request cannot go from {} to {}",
                status_name(current.status),
                status_name(to)
            ),
        ));
    }
    let reason = validate::optional("reason", reason, MAX_REASON_LEN)?;
    match (to, &reason) {
        (AssetRequestStatus::Rejected, None) => {
            return Err(ApiError::bad_input(
                "reason",
                "say why the request is declined: the customer is told the reason",
            ));
        }
        (AssetRequestStatus::Rejected | AssetRequestStatus::Cancelled, _) | (_, None) => {}
        (_, Some(_)) => {
            return Err(ApiError::bad_input(
                "reason",
                "a reason is only recorded when declining (REJECTED) or cancelling (CANCELLED)",
            ));
        }
    }
    let txn = db.begin().await?;
    let updated = move_status(&txn, &current, to, reason.clone(), "status").await?;
    let described = Described::load(&txn, &updated).await?;
    let summary = described.summary(&updated);
    let mut detail = format!("{summary}: {} → {}", status_name(current.status), status_name(to));
    if let Some(reason) = &reason {
        detail.push_str(&format!(" (reason: {reason})"));
    }
    audit::record(
        &txn,
        org,
        Some(described.account.id),
        Actor::Staff(staff),
        action::ASSET_REQUEST_UPDATED,
        Some(detail),
    )
    .await?;

    let requester = match updated.requested_by {
        Some(user_id) => {
            portal_user::Entity::find_by_id(user_id)
                .filter(portal_user::Column::OrganizationId.eq(org))
                .one(&txn)
                .await?
        }
        None => None,
    };
    let mut deliveries = Vec::new();
    if let Some(requester) = requester {
        let email = AssetRequestUpdated {
            organization_name: described.organization.name.clone(),
            request: described.facts(&updated),
            status: to,
            reason: reason.clone(),
        };
        deliveries.push(crate::email::queue(&txn, settings, org, &requester.email, &email).await?);
    }
    txn.commit().await?;
    tracing::info!(
        from = status_name(current.status),
        emailed = deliveries.len(),
        "asset request updated"
    );
    Ok(Changed {
        request: updated,
        deliveries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssetRequestStatus::{Approved, Cancelled, Fulfilled, Rejected, Scheduled, Submitted};

    #[test]
    fn only_the_sensible_transitions_are_allowed() {
        let all = [Submitted, Approved, Scheduled, Fulfilled, Cancelled, Rejected];
        let allowed: Vec<_> = all
            .iter()
            .flat_map(|from| all.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| transition_allowed(*from, *to))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Submitted, Approved),
                (Submitted, Cancelled),
                (Submitted, Rejected),
                (Approved, Scheduled),
                (Approved, Cancelled),
                (Scheduled, Fulfilled),
            ]
        );
        assert!(cancellable(Submitted) && cancellable(Approved));
        assert!(!cancellable(Scheduled) && !cancellable(Rejected));
    }

    #[test]
    fn needed_by_today_is_accepted_anywhere_and_yesterday_nowhere() {
        let now = "2026-11-30T06:00:00Z".parse::<DateTime<Utc>>().expect("time");
        // In UTC−12 it is still the 29th.
        assert_eq!(earliest_needed_by(now).to_string(), "2026-11-29");
        let input = |d: &str| NewAssetRequest {
            location_id: Uuid::nil(),
            asset_type_id: Uuid::nil(),
            quantity: 1,
            needed_by: Some(d.parse().expect("date")),
            notes: None,
        };
        assert!(validate_input(&input("2026-11-29"), now).is_ok());
        let err = validate_input(&input("2026-11-28"), now).expect_err("past");
        assert!(matches!(err, ApiError::BadInput { ref field, .. } if field == "input.neededBy"));
    }
}
