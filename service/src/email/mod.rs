//! Transactional email: one folder per [`EmailKind`], each holding the kind's
//! typed payload (the serde struct stored in `email_deliveries.payload`) and
//! its `subject.txt`, `body.txt` and `body.html` templates.
//!
//! - [`queue`] writes a kind's outbox row inside the caller's transaction:
//!   the payload as JSON and the subject rendered from its template (staff
//!   see the subject in the delivery list before anything is sent).
//! - A worker renders a batch of claimed deliveries at once: [`load`] reads
//!   what their kinds need from the database in one statement per kind
//!   (all the batch's invitations with their names) and [`render_loaded`]
//!   turns each row into the email to send, its payload read back and its
//!   text and HTML parts rendered. An INVITATION and a PASSWORD_RESET mint
//!   their link there, at send time ([`crate::invitation_links`],
//!   [`crate::password_resets`]); an invitation's new link is stored, as
//!   its current one, only through [`after_sent_many`], once the relay has
//!   accepted the email.
//!
//! Templates are askama's: checked at compile time, and every value is
//! HTML-escaped in the `.html` parts (never in the `.txt` parts, which are
//! not HTML). The HTML parts share `layout.html`; the two asset-request
//! kinds share their details block ([`asset_request`]).
//!
//! Adding a kind: a folder here with its payload (implementing [`Email`])
//! and templates, the `EmailKind` variant, and its arm in [`render_loaded`] (the
//! compiler asks for it). This module sends nothing and knows no queue.

pub mod asset_request;
pub mod asset_request_received;
pub mod asset_request_updated;
pub mod invitation;
pub mod password_reset;
pub mod payment_receipt;

use std::collections::HashMap;

use common::{
    Settings,
    outbox::{self, NewDelivery},
};
use entity::{EmailKind, email_delivery};
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::invitation_links::{self, Invitee, SentLink};

/// A rendered email, ready to be composed into a MIME message.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject line.
    pub subject: String,
    /// The `text/plain` alternative.
    pub text: String,
    /// The `text/html` alternative.
    pub html: String,
    /// What to record once the relay has accepted the email ([`after_sent_many`]).
    pub after_sent: Option<AfterSent>,
}

/// What becomes true only once the relay has accepted an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterSent {
    /// The invitation email's new link is stored and becomes the current
    /// one ([`crate::invitation_links::record_sent`]).
    InvitationLink {
        /// The invitation.
        invitation_id: Uuid,
        /// The digest of the link the email carries.
        digest: String,
    },
}

/// Records what a batch of accepted emails makes true (call after the relay
/// said yes, in the transaction that marks their deliveries SENT; safe to
/// repeat), in a fixed number of
/// statements whatever its size (two when it holds invitation links, none
/// otherwise); in the order given, so of two links of one invitation the
/// later becomes current.
///
/// # Errors
/// On database failure.
pub async fn after_sent_many(db: &impl ConnectionTrait, afters: &[&AfterSent]) -> Result<(), DbErr> {
    let links: Vec<SentLink> = afters
        .iter()
        .map(|after| match after {
            AfterSent::InvitationLink { invitation_id, digest } => SentLink {
                invitation_id: *invitation_id,
                digest: digest.clone(),
            },
        })
        .collect();
    invitation_links::record_sent(db, &links).await?;
    Ok(())
}

impl std::fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies may carry a live link token: never print them.
        f.debug_struct("RenderedEmail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// The payload of one email kind: what is stored on its outbox row and what
/// its templates render from. Never put a secret in it: payloads are stored
/// in the database.
pub trait Email: Serialize + DeserializeOwned {
    /// The kind this payload is for.
    const KIND: EmailKind;

    /// The subject line, from the kind's `subject.txt`.
    ///
    /// # Errors
    /// When the template fails (a value's `Display` failed).
    fn subject(&self) -> askama::Result<String>;

    /// The invitation the email is about (kind INVITATION only).
    fn invitation_id(&self) -> Option<Uuid> {
        None
    }
}

/// Why an email could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Writing the outbox row failed.
    #[error(transparent)]
    Database(#[from] DbErr),
    /// The subject or the payload could not be produced.
    #[error("the email could not be prepared: {0}")]
    Prepare(String),
}

/// Writes a QUEUED outbox row for `email` to `recipient` (call inside the
/// business transaction); returns the delivery id to push after commit.
///
/// # Errors
/// On database failure, or when the subject cannot be rendered.
pub async fn queue<E: Email>(
    db: &impl ConnectionTrait,
    settings: &Settings,
    organization_id: Uuid,
    recipient: &str,
    email: &E,
) -> Result<Uuid, QueueError> {
    let subject = email.subject().map_err(|e| QueueError::Prepare(e.to_string()))?;
    let payload = serde_json::to_value(email).map_err(|e| QueueError::Prepare(e.to_string()))?;
    let delivery = outbox::enqueue(
        db,
        NewDelivery {
            organization_id,
            kind: E::KIND,
            recipient: recipient.to_owned(),
            subject: one_line(&subject),
            payload,
            invitation_id: email.invitation_id(),
        },
        settings.outbox_redeliver_after(),
    )
    .await?;
    Ok(delivery.id)
}

/// Why a claimed delivery could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The database failed: the attempt should be made again later.
    #[error("database error while rendering an email: {0}")]
    Transient(#[from] DbErr),
    /// The email can never be sent as it is (an unreadable payload, a
    /// template that fails); the message is for `last_error`.
    #[error("{0}")]
    Permanent(String),
    /// The email is no longer wanted (its invitation is no longer pending or
    /// is gone; its reset link was superseded or used): it is CANCELLED, not
    /// sent. The message is for `last_error`.
    #[error("{0}")]
    Cancelled(String),
}

/// What rendering a batch of claimed deliveries needs from the database
/// besides their rows, read by [`load`] in one statement per kind.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The INVITATION emails' invitations, by id (missing: deleted).
    invitations: HashMap<Uuid, Invitee>,
}

/// Reads what rendering `deliveries` needs: one statement for all their
/// invitations (with the names the emails show), none when there are no
/// INVITATION emails among them. Read it right after the claim (in its
/// transaction, as the worker does): it says whether an invitation is
/// still PENDING.
///
/// # Errors
/// On database failure.
pub async fn load(db: &impl ConnectionTrait, deliveries: &[email_delivery::Model]) -> Result<Loaded, DbErr> {
    let invitation_ids: Vec<Uuid> = deliveries
        .iter()
        .filter(|delivery| delivery.kind == EmailKind::Invitation)
        .filter_map(|delivery| delivery.invitation_id)
        .collect();
    Ok(Loaded {
        invitations: invitation_links::load_many(db, &invitation_ids).await?,
    })
}

/// Renders the claimed `delivery` with what [`load`] read for its batch.
/// An INVITATION needs nothing more from the database; a PASSWORD_RESET
/// mints its link with one write of its own.
///
/// # Errors
/// [`RenderError::Permanent`] for a payload that does not parse (a row
/// written by an older version); [`RenderError::Cancelled`] for an email
/// that must not be sent any more; [`RenderError::Transient`] when the
/// database fails.
pub async fn render_loaded(
    db: &impl ConnectionTrait,
    settings: &Settings,
    delivery: &email_delivery::Model,
    loaded: &Loaded,
) -> Result<RenderedEmail, RenderError> {
    let subject = delivery.subject.as_str();
    let rendered = match delivery.kind {
        EmailKind::Invitation => {
            let _: invitation::Invitation = payload(delivery)?;
            let invitee = delivery.invitation_id.and_then(|id| loaded.invitations.get(&id));
            return invitation::render(settings, delivery, invitee);
        }
        EmailKind::AssetRequestReceived => asset_request_received::render(
            subject,
            &payload::<asset_request_received::AssetRequestReceived>(delivery)?,
        ),
        EmailKind::AssetRequestUpdated => asset_request_updated::render(
            subject,
            &payload::<asset_request_updated::AssetRequestUpdated>(delivery)?,
        ),
        EmailKind::PaymentReceipt => {
            payment_receipt::render(subject, &payload::<payment_receipt::PaymentReceipt>(delivery)?)
        }
        EmailKind::PasswordReset => {
            let email: password_reset::PasswordReset = payload(delivery)?;
            return password_reset::render(db, settings, delivery, &email).await;
        }
    };
    rendered.map_err(template_failed)
}

/// The delivery's payload as kind `E`; a permanent failure when it does not parse.
fn payload<E: Email>(delivery: &email_delivery::Model) -> Result<E, RenderError> {
    serde_json::from_value(delivery.payload.clone())
        .map_err(|e| RenderError::Permanent(format!("the email's payload is not readable: {e}")))
}

/// A template that failed to render is a bug, not a passing condition.
fn template_failed(err: askama::Error) -> RenderError {
    RenderError::Permanent(format!("the email's template failed: {err}"))
}

/// A subject is one line: a template's line breaks and edges go.
fn one_line(subject: &str) -> String {
    subject
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders the parts of a kind from its text and HTML templates. By
/// convention a kind's templates see its content as `email` and the HTML
/// part's `<title>` as `subject`.
fn parts(subject: &str, text: &impl askama::Template, html: &impl askama::Template) -> askama::Result<RenderedEmail> {
    Ok(RenderedEmail {
        subject: subject.to_owned(),
        text: text.render()?,
        html: html.render()?,
        after_sent: None,
    })
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_subject_is_one_line() {
        assert_eq!(
            one_line("  New asset request:\n2 ×  Toilet \n"),
            "New asset request: 2 ×  Toilet"
        );
    }
}
