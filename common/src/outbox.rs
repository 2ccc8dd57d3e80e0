//! The transactional outbox: every email is first an `email_deliveries` row,
//! written in the same transaction as the business change that causes it.
//! Redis (or the api's in-process queue) only carries the row's id.
//!
//! The row's state machine, and who moves it:
//! - `QUEUED` — waiting for a worker. `next_attempt_at` is when the sweeper
//!   pushes it again if nobody has picked it up (a lost push, a wiped queue).
//! - claimed — still `QUEUED`, with `lease_owner`/`lease_expires_at` set by
//!   one conditional UPDATE ([`claim`], or [`claim_many`] for a worker's
//!   batch of jobs): only one worker wins, others skip.
//! - `SENT` — done; a re-delivered job finds it and skips ([`claim`] fails).
//!   [`finish`] records an outcome, [`finish_sent_many`] a batch of SENT
//!   rows in one statement.
//! - `RETRYING` — a transient failure; `next_attempt_at` is when it is due.
//!   The sweeper moves it back to `QUEUED` and pushes it ([`take_due`]).
//! - `FAILED` — a permanent failure or the attempts ran out; staff may
//!   [`requeue_failed`] it, or many at once ([`requeue_failed_many`], also
//!   what operators' `api deliveries retry` runs).
//!
//! Every transition is one conditional UPDATE, so any number of api and
//! worker processes may sweep and claim at once.
//!
//! `redeliver_after` (setting `OUTBOX_REDELIVER_SECONDS`) is how long a QUEUED
//! row may wait for a worker before the sweeper pushes its job again. Pushing
//! a job twice is harmless ([`claim`] lets one through); losing one is not.
//!
//! This module owns the row's state only: it sends nothing and knows no queue.

use chrono::{DateTime, Duration, Utc};
use entity::{DeliveryStatus, EmailKind, email_delivery};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

/// The job that travels through the queue: just the delivery's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmailJob {
    /// The `email_deliveries` row to send.
    pub delivery_id: Uuid,
}

/// The queue's name in Redis for a namespace.
#[must_use]
pub fn queue_name(namespace: &str) -> String {
    format!("{namespace}:email")
}

/// What a claim's lease adds to the longest send (`SMTP_TIMEOUT_SECONDS`;
/// see [`crate::Settings::delivery_lease`]): rendering and recording.
pub const LEASE_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

/// A new email to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The organization it belongs to.
    pub organization_id: Uuid,
    /// What it is.
    pub kind: EmailKind,
    /// Where it goes.
    pub recipient: String,
    /// Its subject line.
    pub subject: String,
    /// The kind's payload (see the `service` crate's `email` module), which
    /// its templates render from; no secrets.
    pub payload: serde_json::Value,
    /// The invitation it carries, for INVITATION emails.
    pub invitation_id: Option<Uuid>,
}

/// Writes a QUEUED delivery row (call inside the business transaction, then
/// push its id after commit). Should the push be lost, the sweeper pushes it
/// again once `redeliver_after` has passed.
///
/// # Errors
/// On database failure.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    new: NewDelivery,
    redeliver_after: std::time::Duration,
) -> Result<email_delivery::Model, DbErr> {
    let now = Utc::now();
    email_delivery::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(new.organization_id),
        kind: Set(new.kind),
        recipient: Set(new.recipient),
        subject: Set(new.subject),
        status: Set(DeliveryStatus::Queued),
        attempts: Set(0),
        last_error: Set(None),
        payload: Set(new.payload),
        invitation_id: Set(new.invitation_id),
        queued_at: Set(now),
        next_attempt_at: Set(now + chrono_duration(redeliver_after)),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        sent_at: Set(None),
    }
    .insert(db)
    .await
}

fn chrono_duration(duration: std::time::Duration) -> Duration {
    // Only a duration beyond chrono's range (billions of years) fails.
    Duration::from_std(duration).unwrap_or(Duration::MAX)
}

fn unleased(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(email_delivery::Column::LeaseExpiresAt.is_null())
        .add(email_delivery::Column::LeaseExpiresAt.lt(now))
}

/// Claims a QUEUED row for `owner` and counts the attempt. `None` when the
/// row is gone, already SENT/FAILED/RETRYING, or leased by another worker.
/// [`claim_many`] for one row.
///
/// # Errors
/// On database failure.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: Uuid,
    owner: &str,
    lease: std::time::Duration,
) -> Result<Option<email_delivery::Model>, DbErr> {
    Ok(claim_many(db, &[id], owner, lease).await?.pop())
}

/// Claims the QUEUED, unleased rows among `ids` for `owner` (a lease until
/// now + `lease`) and counts an attempt on each; returns the rows claimed,
/// in no particular order. A row that is gone, already SENT/FAILED/RETRYING
/// or leased by another worker is not among them, so of two jobs for one
/// row only one gets it. One statement for all of them: the conditional
/// UPDATE returns the claimed rows (`RETURNING`, which PostgreSQL and
/// SQLite ≥ 3.35 both have).
///
/// # Errors
/// On database failure.
pub async fn claim_many(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    owner: &str,
    lease: std::time::Duration,
) -> Result<Vec<email_delivery::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let mut update = email_delivery::Entity::update_many()
        .col_expr(email_delivery::Column::LeaseOwner, Expr::value(owner))
        .col_expr(
            email_delivery::Column::LeaseExpiresAt,
            Expr::value(now + chrono_duration(lease)),
        )
        .col_expr(
            email_delivery::Column::Attempts,
            Expr::col(email_delivery::Column::Attempts).add(1),
        )
        .filter(email_delivery::Column::Id.is_in(ids.iter().copied()))
        .filter(email_delivery::Column::Status.eq(DeliveryStatus::Queued))
        .filter(unleased(now))
        .into_query();
    update.returning_all();
    let statement = db.get_database_backend().build(&update);
    email_delivery::Entity::find().from_raw_sql(statement).all(db).await
}

/// The outcome of one send attempt.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The SMTP server accepted it.
    Sent,
    /// A transient failure: try again at `next_attempt_at`.
    Retry {
        /// What went wrong (no secrets).
        error: String,
        /// When to try again.
        next_attempt_at: DateTime<Utc>,
    },
    /// A permanent failure, or the attempts ran out.
    Failed {
        /// What went wrong (no secrets).
        error: String,
    },
    /// Not sent: the email was no longer wanted (recorded as CANCELLED).
    Cancelled {
        /// Why, for staff (no secrets).
        reason: String,
    },
}

/// Records the outcome of `owner`'s attempt and releases the lease.
/// `false` when the lease was lost (another worker took the row over).
///
/// # Errors
/// On database failure.
pub async fn finish(db: &impl ConnectionTrait, id: Uuid, owner: &str, outcome: &Outcome) -> Result<bool, DbErr> {
    let now = Utc::now();
    let mut update = email_delivery::Entity::update_many()
        .col_expr(email_delivery::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            email_delivery::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    update = match outcome {
        Outcome::Sent => update
            .col_expr(email_delivery::Column::Status, Expr::value(DeliveryStatus::Sent))
            .col_expr(email_delivery::Column::SentAt, Expr::value(Some(now)))
            .col_expr(email_delivery::Column::LastError, Expr::value(Option::<String>::None)),
        Outcome::Retry { error, next_attempt_at } => update
            .col_expr(email_delivery::Column::Status, Expr::value(DeliveryStatus::Retrying))
            .col_expr(email_delivery::Column::LastError, Expr::value(Some(truncate(error))))
            .col_expr(email_delivery::Column::NextAttemptAt, Expr::value(*next_attempt_at)),
        Outcome::Failed { error } => update
            .col_expr(email_delivery::Column::Status, Expr::value(DeliveryStatus::Failed))
            .col_expr(email_delivery::Column::LastError, Expr::value(Some(truncate(error)))),
        Outcome::Cancelled { reason } => update
            .col_expr(email_delivery::Column::Status, Expr::value(DeliveryStatus::Cancelled))
            .col_expr(email_delivery::Column::LastError, Expr::value(Some(truncate(reason)))),
    };
    let result = update
        .filter(email_delivery::Column::Id.eq(id))
        .filter(email_delivery::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks SENT those of `ids` that `owner` still holds and releases their
/// leases, in one statement; returns the ids marked (an id missing from it
/// had its lease lost: another worker took the row over). The same as
/// [`finish`] with [`Outcome::Sent`] for each.
///
/// # Errors
/// On database failure.
pub async fn finish_sent_many(db: &impl ConnectionTrait, ids: &[Uuid], owner: &str) -> Result<Vec<Uuid>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut update = email_delivery::Entity::update_many()
        .col_expr(email_delivery::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            email_delivery::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(email_delivery::Column::Status, Expr::value(DeliveryStatus::Sent))
        .col_expr(email_delivery::Column::SentAt, Expr::value(Some(Utc::now())))
        .col_expr(email_delivery::Column::LastError, Expr::value(Option::<String>::None))
        .filter(email_delivery::Column::Id.is_in(ids.iter().copied()))
        .filter(email_delivery::Column::LeaseOwner.eq(owner))
        .into_query();
    update.returning_col(email_delivery::Column::Id);
    let rows = db.query_all_raw(db.get_database_backend().build(&update)).await?;
    rows.iter().map(|row| row.try_get::<Uuid>("", "id")).collect()
}

fn truncate(error: &str) -> String {
    error.chars().take(500).collect()
}

/// A row [`take_due`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The delivery.
    pub id: Uuid,
    /// Its organization.
    pub organization_id: Uuid,
    /// It was RETRYING (now QUEUED again); otherwise it was a QUEUED row
    /// nobody had picked up.
    pub was_retrying: bool,
}

/// Finds rows the sweeper should push now: QUEUED ones nobody picked up in
/// time, RETRYING ones that are due, none under a live lease. Each returned
/// id was taken with a conditional UPDATE that moves it to QUEUED and sets
/// its next redelivery time to now + `redeliver_after`, so concurrent
/// sweepers push each row once per period.
///
/// # Errors
/// On database failure.
pub async fn take_due(
    db: &impl ConnectionTrait,
    limit: u64,
    redeliver_after: std::time::Duration,
) -> Result<Vec<Due>, DbErr> {
    let now = Utc::now();
    let candidates: Vec<(Uuid, DateTime<Utc>, Uuid, DeliveryStatus)> = email_delivery::Entity::find()
        .select_only()
        .column(email_delivery::Column::Id)
        .column(email_delivery::Column::NextAttemptAt)
        .column(email_delivery::Column::OrganizationId)
        .column(email_delivery::Column::Status)
        .filter(email_delivery::Column::Status.is_in([DeliveryStatus::Queued, DeliveryStatus::Retrying]))
        .filter(email_delivery::Column::NextAttemptAt.lte(now))
        .filter(unleased(now))
        .order_by_asc(email_delivery::Column::NextAttemptAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let mut taken = Vec::with_capacity(candidates.len());
    for (id, seen_next_attempt, organization_id, status) in candidates {
        let result = email_delivery::Entity::update_many()
            .col_expr(email_delivery::Column::Status, Expr::value(DeliveryStatus::Queued))
            .col_expr(
                email_delivery::Column::NextAttemptAt,
                Expr::value(now + chrono_duration(redeliver_after)),
            )
            .filter(email_delivery::Column::Id.eq(id))
            .filter(email_delivery::Column::NextAttemptAt.eq(seen_next_attempt))
            .filter(email_delivery::Column::Status.is_in([DeliveryStatus::Queued, DeliveryStatus::Retrying]))
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            taken.push(Due {
                id,
                organization_id,
                was_retrying: status == DeliveryStatus::Retrying,
            });
        }
    }
    Ok(taken)
}

/// Puts a FAILED delivery back on the queue with a fresh attempt budget
/// (push its id after commit; the sweeper does it after `redeliver_after`
/// otherwise). `false` when the row is not FAILED (or not the organization's).
///
/// # Errors
/// On database failure.
pub async fn requeue_failed(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    id: Uuid,
    redeliver_after: std::time::Duration,
) -> Result<bool, DbErr> {
    let one = Selection {
        organization_id: Some(organization_id),
        ids: Some(vec![id]),
        ..Selection::default()
    };
    Ok(!requeue_failed_many(db, &one, 1, redeliver_after).await?.is_empty())
}

/// Which deliveries an operator (`api deliveries`) or staff (bulk retry)
/// mean; every part that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Of this organization only.
    pub organization_id: Option<Uuid>,
    /// Of this kind only.
    pub kind: Option<EmailKind>,
    /// In this state only.
    pub status: Option<DeliveryStatus>,
    /// Queued before this moment (older than an age).
    pub queued_before: Option<DateTime<Utc>>,
    /// These deliveries only.
    pub ids: Option<Vec<Uuid>>,
}

impl Selection {
    fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(organization_id) = self.organization_id {
            condition = condition.add(email_delivery::Column::OrganizationId.eq(organization_id));
        }
        if let Some(kind) = self.kind {
            condition = condition.add(email_delivery::Column::Kind.eq(kind));
        }
        if let Some(status) = self.status {
            condition = condition.add(email_delivery::Column::Status.eq(status));
        }
        if let Some(before) = self.queued_before {
            condition = condition.add(email_delivery::Column::QueuedAt.lt(before));
        }
        if let Some(ids) = &self.ids {
            condition = condition.add(email_delivery::Column::Id.is_in(ids.iter().copied()));
        }
        condition
    }
}

/// The deliveries `selection` names, oldest first, at most `limit`, and
/// how many there are in all.
///
/// # Errors
/// On database failure.
pub async fn select(
    db: &impl ConnectionTrait,
    selection: &Selection,
    limit: u64,
) -> Result<(Vec<email_delivery::Model>, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    let query = email_delivery::Entity::find().filter(selection.condition());
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_asc(email_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Puts the FAILED deliveries `selection` names (whatever its `status`)
/// back on the queue with a fresh attempt budget, oldest first, at most
/// `limit`, in one statement; returns them. They are due for a push once
/// `redeliver_after` has passed (zero: the next sweep pushes them).
///
/// # Errors
/// On database failure.
pub async fn requeue_failed_many(
    db: &impl ConnectionTrait,
    selection: &Selection,
    limit: u64,
    redeliver_after: std::time::Duration,
) -> Result<Vec<email_delivery::Model>, DbErr> {
    let now = Utc::now();
    let failed = Selection {
        status: Some(DeliveryStatus::Failed),
        ..selection.clone()
    };
    let chosen = email_delivery::Entity::find()
        .select_only()
        .column(email_delivery::Column::Id)
        .filter(failed.condition())
        .order_by_asc(email_delivery::Column::Id)
        .limit(limit)
        .into_query();
    email_delivery::Entity::update_many()
        .col_expr(email_delivery::Column::Status, Expr::value(DeliveryStatus::Queued))
        .col_expr(email_delivery::Column::Attempts, Expr::value(0))
        .col_expr(
            email_delivery::Column::NextAttemptAt,
            Expr::value(now + chrono_duration(redeliver_after)),
        )
        .col_expr(email_delivery::Column::QueuedAt, Expr::value(now))
        .filter(email_delivery::Column::Status.eq(DeliveryStatus::Failed))
        .filter(email_delivery::Column::Id.in_subquery(chosen))
        .exec_with_returning(db)
        .await
}

/// Backoff before attempt `attempt + 1`: `base × 2^(attempt-1)`, capped at an
/// hour, with ±25 % jitter so a burst of failures does not retry in lockstep.
#[must_use]
pub fn backoff(base_ms: u64, attempt: u32) -> Duration {
    let exponent = Ord::min(attempt.saturating_sub(1), 20);
    let raw = Ord::min(base_ms.saturating_mul(1_u64 << exponent), 3_600_000);
    let jitter = rand::random_range(0.75..1.25);
    let ms = (raw as f64 * jitter) as i64;
    Duration::milliseconds(ms)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_with_jitter() {
        for attempt in 1..=5_u32 {
            let expected = 1000.0 * f64::from(1_u32 << (attempt - 1));
            let got = backoff(1000, attempt).num_milliseconds() as f64;
            assert!(
                got >= expected * 0.75 && got <= expected * 1.25,
                "attempt {attempt}: {got}"
            );
        }
        assert!(backoff(2000, 60).num_milliseconds() <= 4_500_000);
    }
}
