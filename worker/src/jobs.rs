//! The email job: what happens to one delivery id taken off a queue, the
//! same in a `worker` process (from Redis) and in the api (in-process).
//!
//! 1. Claim the `email_deliveries` row ([`common::outbox::claim_many`]); a
//!    row that is SENT, FAILED, waiting for a retry or leased by another
//!    live worker is skipped, so a job that reached the queue twice sends
//!    once. The claim reads what the email shows too
//!    ([`service::email::load`]).
//! 2. Render it through the `service` crate ([`service::email::render_loaded`]):
//!    the kind's templates over the row's payload. For an INVITATION that
//!    mints the link now; the raw token goes only into the email, never
//!    into a log, the database or the queue.
//! 3. Send, and record the outcome on the row: SENT (in the same
//!    transaction as what the accepted email makes true, such as an
//!    invitation's new link being stored as its current one:
//!    [`service::email::after_sent_many`]); RETRYING with exponential
//!    backoff on a transient failure until `EMAIL_MAX_ATTEMPTS`; FAILED at
//!    once on a permanent one; CANCELLED when the service says the email is
//!    no longer wanted.
//!
//! Claims and records go through the process's [`GroupCommit`]: the jobs
//! in flight share its database rounds (one transaction for all that is
//! waiting), and each job is still told about its own row only.
//!
//! Nothing here retries in process: a failed attempt is recorded and the
//! sweeper brings the row back when it is due. Recipients are masked in logs.
//! This module is transport: what an email says, and whether it may still
//! be sent, is the `service` crate's decision.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::{
    Settings,
    events::{Event, Events},
    outbox::{self, Outcome},
    queue_metrics::QueueMetrics,
    redact::mask_email,
};
use entity::email_delivery;
use sea_orm::{DatabaseConnection, DbErr};
use service::email::{AfterSent, Loaded, RenderError};
use tracing::instrument;
use uuid::Uuid;

use crate::{
    group_commit::{Claimed, GroupCommit},
    mailer::{Mailer, MailerError, SendError},
};

/// `last_error` of an invitation email whose invitation was accepted,
/// revoked or expired before it could be sent.
pub const INVITATION_NOT_PENDING: &str = service::email::invitation::NOT_PENDING;

/// Everything a job needs; build one per process and share it.
#[derive(Debug)]
pub struct JobContext {
    db: DatabaseConnection,
    /// Where claims and records go (the process's shared database rounds).
    group: GroupCommit,
    mailer: Mailer,
    owner: String,
    settings: Settings,
    /// Where a delivery's new state is announced to subscriptions.
    events: Events,
    /// Outcomes, attempts and send times (served on `/metrics`).
    metrics: Arc<QueueMetrics>,
}

impl JobContext {
    /// A context whose claims are made in the name of `owner` (unique per
    /// process: the lease says who holds a row). Starts the context's
    /// database task ([`GroupCommit`]), so call it inside a Tokio runtime.
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        mailer: Mailer,
        settings: &common::Settings,
        owner: String,
        events: Events,
    ) -> Self {
        Self {
            group: GroupCommit::start(db.clone(), owner.clone(), settings.delivery_lease()),
            db,
            mailer,
            owner,
            settings: settings.clone(),
            events,
            metrics: Arc::default(),
        }
    }

    /// The same context, counting into `metrics` (the process's registered
    /// queue metrics).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<QueueMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Like [`JobContext::new`], with the mailer the settings describe.
    ///
    /// # Errors
    /// When the mail settings are unusable.
    pub fn from_settings(
        db: DatabaseConnection,
        settings: &common::Settings,
        owner: String,
        events: Events,
    ) -> Result<Self, MailerError> {
        Ok(Self::new(db, Mailer::from_settings(settings)?, settings, owner, events))
    }

    /// The lease owner name of this process.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The database pool.
    #[must_use]
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// What became of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// The row was not ours to send: already SENT or FAILED, waiting for
    /// its retry time, leased by another worker, or gone.
    Skipped,
    /// Sent and marked SENT.
    Sent,
    /// A transient failure; the sweeper pushes it again at `next_attempt_at`.
    Retrying {
        /// Attempts made so far.
        attempts: i32,
        /// When it is due again.
        next_attempt_at: DateTime<Utc>,
    },
    /// Marked FAILED (a permanent failure, or the attempts ran out).
    Failed {
        /// What went wrong, as recorded in `last_error`.
        reason: String,
    },
    /// Marked CANCELLED: nothing sent, the email was no longer wanted.
    Cancelled {
        /// Why, as recorded in `last_error`.
        reason: String,
    },
    /// Attempted, but the lease had lapsed and another worker had taken the
    /// row over before the outcome could be recorded; that worker decides.
    LeaseLost,
}

/// A job that could not run to an outcome (the database failed). The row
/// keeps its lease until it lapses; then the sweeper pushes it again.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The database failed or could not be reached.
    #[error("database error while processing an email delivery: {0}")]
    Database(#[from] DbErr),
}

/// Why one attempt did not send.
enum Failure {
    Transient(String),
    Permanent(String),
    Cancelled(String),
    Database(DbErr),
}

/// The start of `lastError` for a delivery given up because its attempts
/// ran out without outcomes.
pub const OVER_BUDGET: &str = "gave up: no attempts left";

impl From<DbErr> for Failure {
    fn from(err: DbErr) -> Self {
        Self::Database(err)
    }
}

impl From<RenderError> for Failure {
    fn from(err: RenderError) -> Self {
        match err {
            // The lease lapses and the sweeper brings the row back, as for
            // any database failure while processing it.
            RenderError::Transient(err) => Self::Database(err),
            RenderError::Permanent(reason) => Self::Permanent(reason),
            RenderError::Cancelled(reason) => Self::Cancelled(reason),
        }
    }
}

impl From<SendError> for Failure {
    fn from(err: SendError) -> Self {
        match err {
            SendError::Transient(reason) => Self::Transient(reason),
            SendError::Permanent(reason) => Self::Permanent(reason),
        }
    }
}

/// Processes the job for delivery `delivery_id`: claim, render, send, record.
///
/// # Errors
/// Only when the database fails; every email failure is an outcome.
#[instrument(skip_all, fields(delivery_id = %delivery_id, kind = tracing::field::Empty))]
pub async fn process_delivery(ctx: &JobContext, delivery_id: Uuid) -> Result<Processed, JobError> {
    let Some(Claimed {
        delivery,
        loaded,
        ticket,
    }) = ctx.group.claim(delivery_id).await?
    else {
        tracing::debug!("skipped: already sent or failed, not due, or leased by another worker");
        return Ok(Processed::Skipped);
    };
    let span = tracing::Span::current();
    span.record("kind", tracing::field::debug(delivery.kind));
    let recipient = mask_email(&delivery.recipient);
    let attempts = delivery.attempts;

    // Every claim counts an attempt, also those that never reached an
    // outcome (a database error, a crash mid-send): past the budget the row
    // ends FAILED instead of being claimed round and round.
    let over_budget = u32::try_from(attempts).unwrap_or(u32::MAX) > ctx.settings.email_max_attempts;
    let (outcome, after_sent) = if over_budget {
        let error = format!(
            "{OVER_BUDGET} ({} attempts; the last ones ended without an outcome: database errors or a worker that stopped)",
            attempts - 1
        );
        (Outcome::Failed { error }, None)
    } else {
        try_once(ctx, &delivery, &loaded).await?
    };

    // Tried a few times by the group (see `GroupCommit`): once the SMTP
    // server has accepted a message, failing to mark it SENT would mean
    // sending it again later.
    if !ctx
        .group
        .record(ticket, delivery_id, outcome.clone(), after_sent)
        .await?
    {
        tracing::warn!(%recipient, attempts, "lease lapsed before the outcome was recorded; another worker owns the row");
        return Ok(Processed::LeaseLost);
    }
    ctx.events.publish(Event::EmailDeliveryUpdated {
        organization_id: delivery.organization_id,
        delivery_id,
    });
    let label = match &outcome {
        Outcome::Sent => "sent",
        Outcome::Retry { .. } => "retrying",
        Outcome::Failed { .. } => "failed",
        Outcome::Cancelled { .. } => "cancelled",
    };
    ctx.metrics.outcome(delivery.kind, label, attempts);
    Ok(match outcome {
        Outcome::Sent => {
            tracing::info!(%recipient, attempts, "email sent");
            Processed::Sent
        }
        Outcome::Retry { error, next_attempt_at } => {
            tracing::warn!(%recipient, attempts, %next_attempt_at, %error, "email not sent; will retry");
            Processed::Retrying {
                attempts,
                next_attempt_at,
            }
        }
        Outcome::Failed { error } => {
            tracing::warn!(%recipient, attempts, %error, "email failed");
            Processed::Failed { reason: error }
        }
        Outcome::Cancelled { reason } => {
            tracing::info!(%recipient, attempts, %reason, "email cancelled: no longer wanted");
            Processed::Cancelled { reason }
        }
    })
}

/// One attempt at the claimed row, as the outcome to record (with what a
/// sent email makes true).
///
/// # Errors
/// When the database fails (the row keeps its lease until it lapses).
async fn try_once(
    ctx: &JobContext,
    delivery: &email_delivery::Model,
    loaded: &Loaded,
) -> Result<(Outcome, Option<AfterSent>), JobError> {
    let attempts = delivery.attempts;
    let outcome = match attempt(ctx, delivery, loaded).await {
        Ok(after_sent) => return Ok((Outcome::Sent, after_sent)),
        Err(Failure::Database(err)) => return Err(err.into()),
        Err(Failure::Permanent(error)) => Outcome::Failed { error },
        Err(Failure::Cancelled(reason)) => Outcome::Cancelled { reason },
        Err(Failure::Transient(error))
            if u32::try_from(attempts).unwrap_or(u32::MAX) < ctx.settings.email_max_attempts =>
        {
            let attempt = u32::try_from(attempts).unwrap_or(1);
            Outcome::Retry {
                error,
                next_attempt_at: Utc::now() + outbox::backoff(ctx.settings.email_retry_base_ms, attempt),
            }
        }
        Err(Failure::Transient(error)) => Outcome::Failed {
            error: format!("{error} (gave up after {attempts} attempts)"),
        },
    };
    Ok((outcome, None))
}

/// One attempt at the claimed row: render, send; what the email makes true
/// once accepted.
async fn attempt(
    ctx: &JobContext,
    delivery: &email_delivery::Model,
    loaded: &Loaded,
) -> Result<Option<AfterSent>, Failure> {
    let email = service::email::render_loaded(&ctx.db, &ctx.settings, delivery, loaded).await?;
    let message = ctx.mailer.compose(delivery.id, &delivery.recipient, &email)?;
    let started = std::time::Instant::now();
    let sent = ctx.mailer.send(delivery.id, &message, &email.text).await;
    ctx.metrics.send(delivery.kind, started.elapsed());
    sent?;
    Ok(email.after_sent)
}
