//! Records the expiry of invitations: a PENDING invitation whose link was
//! not used before `expires_at` becomes EXPIRED, with an
//! `INVITATION_EXPIRED` audit event, so the account's trail says when its
//! invitation lapsed.
//!
//! Reads never wait for this scan: the effective status of a PENDING
//! invitation past its expiry is EXPIRED wherever it is read, and accepting
//! or minting a link checks `expires_at` itself. The scan makes the stored
//! status agree and writes the event, once: every row is claimed with an
//! UPDATE that still requires PENDING and a past expiry, in the same
//! transaction as its audit event, so concurrent scans (one per process)
//! and a concurrent resend (which moves `expires_at` forward) never produce
//! a second event or expire a renewed invitation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{InvitationStatus, invitation};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{Report, Scan, ScanFuture};

/// The audit action the scan records.
pub const ACTION: &str = crate::audit::action::INVITATION_EXPIRED;

/// Invitations read per query; a larger backlog is taken in several.
pub const BATCH: u64 = 200;

/// The scan, run once a minute by each process: expiry is shown on read
/// already, so only the trail waits for it.
pub const SCAN: Scan = Scan {
    name: "expire_invitations",
    every: Duration::from_secs(60),
    run,
};

fn run(db: &DatabaseConnection, now: DateTime<Utc>) -> ScanFuture<'_> {
    Box::pin(async move {
        let expired = expire_due(db, now).await?;
        let events = expired
            .iter()
            .map(
                |&(organization_id, account_id, occurred_at)| common::events::Event::PortalStatusChanged {
                    organization_id,
                    account_id,
                    occurred_at,
                },
            )
            .collect();
        Ok(Report {
            acted: expired.len() as u64,
            events,
        })
    })
}

/// Marks every PENDING invitation whose `expires_at` is at or before `now`
/// EXPIRED, each with its audit event; returns the organization, account
/// and expiry time of each one this call marked (rows another process took
/// first are not listed).
///
/// # Errors
/// On database failure; what was committed before stays.
pub async fn expire_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, Uuid, DateTime<Utc>)>, DbErr> {
    let mut expired = Vec::new();
    loop {
        let due: Vec<(Uuid, Uuid, Uuid, String, DateTime<Utc>)> = invitation::Entity::find()
            .select_only()
            .column(invitation::Column::Id)
            .column(invitation::Column::OrganizationId)
            .column(invitation::Column::AccountId)
            .column(invitation::Column::Email)
            .column(invitation::Column::ExpiresAt)
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
            .filter(invitation::Column::ExpiresAt.lte(now))
            .order_by_asc(invitation::Column::ExpiresAt)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        let found = due.len() as u64;
        for (id, organization_id, account_id, email, expires_at) in due {
            if expire_one(db, now, id, organization_id, account_id, &email).await? {
                expired.push((organization_id, account_id, expires_at));
            }
        }
        // Rows lost to another process are no longer PENDING, so the next
        // query does not find them again.
        if found < BATCH {
            return Ok(expired);
        }
    }
}

/// Claims one invitation and writes its audit event, in one transaction
/// that starts with the write; `false` when it was no longer due.
async fn expire_one(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    id: Uuid,
    organization_id: Uuid,
    account_id: Uuid,
    email: &str,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let claimed = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(InvitationStatus::Expired))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .filter(invitation::Column::ExpiresAt.lte(now))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    crate::audit::insert(
        &txn,
        organization_id,
        Some(account_id),
        crate::audit::Actor::System,
        ACTION,
        Some(format!("to {email}: the link was not used before it expired")),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
