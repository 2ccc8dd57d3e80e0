//! The email job: what happens to one delivery id taken off a queue, the
//! same in a `worker` process (from Redis) and in the api (in-process).
//!
//! 1. Claim the `email_deliveries` row ([`common::outbox::claim`]); a row
//!    that is SENT, FAILED, waiting for a retry or leased by another live
//!    worker is skipped, so a job that reached the queue twice sends once.
//! 2. Load what the template needs. For an INVITATION, mint the link token
//!    now: its digest goes onto the invitation (superseding earlier links,
//!    in one conditional UPDATE that also checks the invitation is still
//!    PENDING) and into `invitation_links`, all or nothing; the raw token
//!    goes only into the email. It is never logged, stored or queued. On
//!    PostgreSQL the mint and the load are one statement (one round trip,
//!    one commit); on SQLite a SELECT and a transaction.
//! 3. Send, and record the outcome on the row ([`common::outbox::finish`]):
//!    SENT; RETRYING with exponential backoff on a transient failure until
//!    `EMAIL_MAX_ATTEMPTS`; FAILED at once on a permanent one.
//!
//! Nothing here retries in process: a failed attempt is recorded and the
//! sweeper brings the row back when it is due. Recipients are masked in logs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{
    outbox::{self, Outcome},
    redact::mask_email,
};
use entity::{EmailKind, InvitationStatus, account, email_delivery, invitation, invitation_link, organization};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QuerySelect, RelationTrait, Set, Statement, TransactionTrait, sea_query::Expr,
};
use tracing::instrument;
use uuid::Uuid;

use crate::{
    mailer::{Mailer, MailerError, SendError},
    templates,
};

/// `last_error` of an invitation email whose invitation was accepted,
/// revoked or expired before it could be sent.
pub const INVITATION_NOT_PENDING: &str = "invitation is no longer pending";

/// Everything a job needs; build one per process and share it.
#[derive(Debug)]
pub struct JobContext {
    db: DatabaseConnection,
    mailer: Mailer,
    owner: String,
    public_url: String,
    max_attempts: u32,
    retry_base_ms: u64,
}

impl JobContext {
    /// A context whose claims are made in the name of `owner` (unique per
    /// process: the lease says who holds a row).
    #[must_use]
    pub fn new(db: DatabaseConnection, mailer: Mailer, settings: &common::Settings, owner: String) -> Self {
        Self {
            db,
            mailer,
            owner,
            public_url: settings.public_url.clone(),
            max_attempts: settings.email_max_attempts,
            retry_base_ms: settings.email_retry_base_ms,
        }
    }

    /// Like [`JobContext::new`], with the mailer the settings describe.
    ///
    /// # Errors
    /// When the mail settings are unusable.
    pub fn from_settings(
        db: DatabaseConnection,
        settings: &common::Settings,
        owner: String,
    ) -> Result<Self, MailerError> {
        Ok(Self::new(db, Mailer::from_settings(settings)?, settings, owner))
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
    Database(DbErr),
}

impl From<DbErr> for Failure {
    fn from(err: DbErr) -> Self {
        Self::Database(err)
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
    let Some(delivery) = outbox::claim(&ctx.db, delivery_id, &ctx.owner).await? else {
        tracing::debug!("skipped: already sent or failed, not due, or leased by another worker");
        return Ok(Processed::Skipped);
    };
    let span = tracing::Span::current();
    span.record("kind", tracing::field::debug(delivery.kind));
    let recipient = mask_email(&delivery.recipient);
    let attempts = delivery.attempts;

    let outcome = match attempt(ctx, &delivery).await {
        Ok(()) => Outcome::Sent,
        Err(Failure::Database(err)) => return Err(err.into()),
        Err(Failure::Permanent(error)) => Outcome::Failed { error },
        Err(Failure::Transient(error)) if u32::try_from(attempts).unwrap_or(u32::MAX) < ctx.max_attempts => {
            let attempt = u32::try_from(attempts).unwrap_or(1);
            Outcome::Retry {
                error,
                next_attempt_at: Utc::now() + outbox::backoff(ctx.retry_base_ms, attempt),
            }
        }
        Err(Failure::Transient(error)) => Outcome::Failed {
            error: format!("{error} (gave up after {attempts} attempts)"),
        },
    };

    if !record(ctx, delivery_id, &outcome).await? {
        tracing::warn!(%recipient, attempts, "lease lapsed before the outcome was recorded; another worker owns the row");
        return Ok(Processed::LeaseLost);
    }
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
    })
}

/// One attempt at the claimed row: load, render, send.
async fn attempt(ctx: &JobContext, delivery: &email_delivery::Model) -> Result<(), Failure> {
    let email = match delivery.kind {
        EmailKind::Invitation => invitation_email(ctx, delivery).await?,
        EmailKind::AssetRequestReceived | EmailKind::AssetRequestUpdated | EmailKind::PaymentReceipt => {
            let notice: common::outbox::Notice = serde_json::from_value(delivery.payload.clone())
                .map_err(|e| Failure::Permanent(format!("the notice's payload is not readable: {e}")))?;
            templates::notice(&delivery.subject, &notice)
        }
    };
    let message = ctx.mailer.compose(delivery.id, &delivery.recipient, &email)?;
    ctx.mailer.send(delivery.id, &message, &email.text).await?;
    Ok(())
}

/// What the invitation email shows besides the link.
#[derive(Debug, FromQueryResult)]
struct InvitationForEmail {
    expires_at: DateTime<Utc>,
    account_name: String,
    organization_name: String,
}

/// Mints the invitation's link, reads what the email shows and renders it.
async fn invitation_email(
    ctx: &JobContext,
    delivery: &email_delivery::Model,
) -> Result<templates::RenderedEmail, Failure> {
    let invitation_id = delivery.invitation_id.ok_or_else(invitation_gone)?;
    let (token, digest) = common::token::new_token();
    let minted = if ctx.db.get_database_backend() == DbBackend::Postgres {
        mint_in_one_statement(&ctx.db, invitation_id, delivery.organization_id, digest).await?
    } else {
        load_then_mint(&ctx.db, invitation_id, delivery.organization_id, digest).await?
    };
    let Some(invitation) = minted else {
        // Rare: tell a revoked, accepted or expired invitation from a
        // deleted one, for `last_error`.
        let exists = invitation::Entity::find_by_id(invitation_id)
            .one(&ctx.db)
            .await?
            .is_some();
        return Err(if exists {
            Failure::Permanent(INVITATION_NOT_PENDING.to_owned())
        } else {
            invitation_gone()
        });
    };
    let link = templates::accept_link(&ctx.public_url, &token);
    Ok(templates::invitation(&templates::Invitation {
        subject: &delivery.subject,
        organization_name: &invitation.organization_name,
        account_name: &invitation.account_name,
        link: &link,
        expires_at: invitation.expires_at,
    }))
}

fn invitation_gone() -> Failure {
    Failure::Permanent("the delivery's invitation no longer exists".to_owned())
}

/// The PostgreSQL mint: one statement, so one round trip and one commit.
/// The conditional UPDATE (still PENDING, not expired, of the delivery's
/// organization) stores the new digest on the invitation, superseding the
/// last link; the INSERT keeps it in `invitation_links`; the names come
/// from the UPDATE's joins. All or nothing, like a transaction.
const MINT_IN_ONE_STATEMENT: &str = r#"WITH minted AS (
    UPDATE invitations AS i SET token_digest = $1, last_sent_at = $2
    FROM accounts AS a, organizations AS o
    WHERE i.id = $3 AND i.organization_id = $4 AND i.status = $5 AND i.expires_at > $2
      AND a.id = i.account_id AND o.id = i.organization_id
    RETURNING i.id, i.expires_at, a.name AS account_name, o.name AS organization_name
), link AS (
    INSERT INTO invitation_links (token_digest, invitation_id, created_at)
    SELECT $1, id, $2 FROM minted
)
SELECT expires_at, account_name, organization_name FROM minted"#;

/// Stores `digest` as the current link of a still-PENDING, unexpired
/// invitation and in `invitation_links`, and returns what the email shows;
/// `None` (and nothing written) when the invitation is not PENDING, has
/// expired or is gone. PostgreSQL only (a data-modifying `WITH`).
async fn mint_in_one_statement(
    db: &DatabaseConnection,
    invitation_id: Uuid,
    organization_id: Uuid,
    digest: String,
) -> Result<Option<InvitationForEmail>, DbErr> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        MINT_IN_ONE_STATEMENT,
        [
            digest.into(),
            Utc::now().into(),
            invitation_id.into(),
            organization_id.into(),
            InvitationStatus::Pending.into(),
        ],
    );
    InvitationForEmail::find_by_statement(statement).one(db).await
}

/// The same as [`mint_in_one_statement`] for SQLite (no data-modifying
/// `WITH`): one joined SELECT, then the conditional UPDATE and the INSERT
/// in a transaction.
async fn load_then_mint(
    db: &DatabaseConnection,
    invitation_id: Uuid,
    organization_id: Uuid,
    digest: String,
) -> Result<Option<InvitationForEmail>, DbErr> {
    let now = Utc::now();
    let pending = invitation::Entity::find_by_id(invitation_id)
        .filter(invitation::Column::OrganizationId.eq(organization_id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .filter(invitation::Column::ExpiresAt.gt(now))
        .select_only()
        .column(invitation::Column::ExpiresAt)
        .column_as(account::Column::Name, "account_name")
        .column_as(organization::Column::Name, "organization_name")
        .join(JoinType::InnerJoin, invitation::Relation::Account.def())
        .join(JoinType::InnerJoin, invitation::Relation::Organization.def())
        .into_model::<InvitationForEmail>()
        .one(db)
        .await?;
    let Some(invitation) = pending else {
        return Ok(None);
    };
    let txn = db.begin().await?;
    let updated = invitation::Entity::update_many()
        .col_expr(invitation::Column::TokenDigest, Expr::value(Some(digest.clone())))
        .col_expr(invitation::Column::LastSentAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .filter(invitation::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        // Accepted, revoked or expired since the SELECT.
        txn.rollback().await?;
        return Ok(None);
    }
    invitation_link::ActiveModel {
        token_digest: Set(digest),
        invitation_id: Set(invitation_id),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(Some(invitation))
}

/// Records `outcome`, trying a few times: once the SMTP server has accepted
/// a message, failing to mark it SENT would mean sending it again later.
async fn record(ctx: &JobContext, id: Uuid, outcome: &Outcome) -> Result<bool, DbErr> {
    let mut delay = Duration::from_millis(100);
    let mut tries = 0;
    loop {
        tries += 1;
        match outbox::finish(&ctx.db, id, &ctx.owner, outcome).await {
            Ok(recorded) => return Ok(recorded),
            Err(err) if tries < 4 => {
                tracing::warn!(error = %err, "recording the delivery's outcome failed; trying again");
                tokio::time::sleep(delay).await;
                delay *= 3;
            }
            Err(err) => return Err(err),
        }
    }
}
