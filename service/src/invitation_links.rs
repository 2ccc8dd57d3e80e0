//! Invitation links: minting the one-time link an invitation email carries.
//!
//! A link is minted when its email is about to be sent, never when the
//! invitation is written: a fresh 256-bit token for the email, from what
//! [`load_many`] read about the invitation (still PENDING and unexpired?
//! whose names does the email show?), by [`mint_for`], which writes
//! nothing. Only once the mail relay has accepted the email that carries it
//! is the link recorded ([`record_sent`]): its SHA-256 digest kept in
//! `invitation_links` and made the invitation's current link
//! (`token_digest`, superseding every earlier one), in the same
//! transaction as the delivery's SENT mark. A link minted for a send that
//! failed or stalled never reached anybody and is never stored, so the link
//! in the last email the customer did receive keeps working. A link whose
//! email the relay accepted just as its worker died is not stored either;
//! the delivery is sent again (delivery is at least once) with a new link.
//!
//! Everything here works on a batch (one statement for all the invitations
//! of a batch of emails), so a worker's cost per email does not grow with
//! the emails it sends at once; [`mint`] and [`activate`] are the same for
//! one invitation.
//!
//! The raw token is handed back once, for the email; it is never stored,
//! queued or logged.
//!
//! This module owns the mint only; what a link allows when it is opened is
//! decided by the invitation rules.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{InvitationStatus, account, invitation, organization};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, JoinType, QueryFilter, QuerySelect,
    RelationTrait, Statement, Value,
    sea_query::{CaseStatement, Expr},
};
use uuid::Uuid;

/// A link just minted, with what its email shows beside it.
#[derive(Clone)]
pub struct MintedLink {
    /// The raw token: put it into the email and nowhere else.
    pub token: String,
    /// The token's digest, for [`record_sent`] once the email is accepted.
    pub digest: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// The invited account (the email's greeting).
    pub account_name: String,
    /// The inviting business.
    pub organization_name: String,
}

impl std::fmt::Debug for MintedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a live credential: never print it.
        f.debug_struct("MintedLink")
            .field("expires_at", &self.expires_at)
            .field("account_name", &self.account_name)
            .field("organization_name", &self.organization_name)
            .finish_non_exhaustive()
    }
}

/// What became of a mint.
#[derive(Debug, Clone)]
pub enum Mint {
    /// A new link for the invitation (current once recorded).
    Minted(MintedLink),
    /// The invitation was accepted, revoked or has expired.
    NotPending,
    /// There is no such invitation in the organization.
    Gone,
}

/// What an invitation email needs to know about its invitation, read at
/// send time ([`load_many`]).
#[derive(Debug, Clone, FromQueryResult)]
pub struct Invitee {
    /// The invitation.
    pub id: Uuid,
    /// Its organization (a delivery of another organization must not see it).
    pub organization_id: Uuid,
    /// Whether it is still PENDING.
    pub status: InvitationStatus,
    /// When its links stop working.
    pub expires_at: DateTime<Utc>,
    /// The invited account (the email's greeting).
    pub account_name: String,
    /// The inviting business.
    pub organization_name: String,
}

/// The accept page's link for `token`; `public_url` has no trailing slash.
#[must_use]
pub fn accept_link(public_url: &str, token: &str) -> String {
    // Tokens are URL-safe base64: nothing to encode.
    format!("{public_url}/portal/accept?token={token}")
}

/// Reads the invitations `ids` with the names their emails show, in one
/// statement, whatever their status (see [`mint_for`]); missing ids are
/// missing from the map.
///
/// # Errors
/// On database failure.
pub async fn load_many(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, Invitee>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = invitation::Entity::find()
        .filter(invitation::Column::Id.is_in(ids.iter().copied()))
        .select_only()
        .column(invitation::Column::Id)
        .column(invitation::Column::OrganizationId)
        .column(invitation::Column::Status)
        .column(invitation::Column::ExpiresAt)
        .column_as(account::Column::Name, "account_name")
        .column_as(organization::Column::Name, "organization_name")
        .join(JoinType::InnerJoin, invitation::Relation::Account.def())
        .join(JoinType::InnerJoin, invitation::Relation::Organization.def())
        .into_model::<Invitee>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

/// Mints a new link for an email of `organization_id` about `invitee` (as
/// [`load_many`] read it; `None` when it was not found): a fresh token, when
/// the invitation is the organization's, still PENDING and unexpired at
/// `now`. Writes nothing: the link is stored by [`record_sent`] once the
/// relay has accepted its email.
#[must_use]
pub fn mint_for(invitee: Option<&Invitee>, organization_id: Uuid, now: DateTime<Utc>) -> Mint {
    let Some(invitee) = invitee.filter(|invitee| invitee.organization_id == organization_id) else {
        return Mint::Gone;
    };
    if invitee.status != InvitationStatus::Pending || invitee.expires_at <= now {
        return Mint::NotPending;
    }
    let (token, digest) = common::token::new_token();
    Mint::Minted(MintedLink {
        token,
        digest,
        expires_at: invitee.expires_at,
        account_name: invitee.account_name.clone(),
        organization_name: invitee.organization_name.clone(),
    })
}

/// [`load_many`] and [`mint_for`] for one invitation of the organization.
///
/// # Errors
/// On database failure.
pub async fn mint(db: &impl ConnectionTrait, organization_id: Uuid, invitation_id: Uuid) -> Result<Mint, DbErr> {
    let invitees = load_many(db, &[invitation_id]).await?;
    Ok(mint_for(invitees.get(&invitation_id), organization_id, Utc::now()))
}

/// A link whose email the relay accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentLink {
    /// The invitation.
    pub invitation_id: Uuid,
    /// The digest of the link the email carried.
    pub digest: String,
}

/// Records links whose emails the relay accepted, in two statements for
/// all of them: their digests are kept in `invitation_links` (so that each
/// is known, as superseded once a later one is current), and each becomes
/// its invitation's current link with `last_sent_at` now, unless the
/// invitation was accepted, revoked or deleted meanwhile. Of several links
/// of one invitation the last one listed becomes current. Safe to repeat;
/// returns how many invitations got a new current link.
///
/// # Errors
/// On database failure.
pub async fn record_sent(db: &impl ConnectionTrait, links: &[SentLink]) -> Result<u64, DbErr> {
    if links.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    db.execute_raw(insert_links(db.get_database_backend(), links, now))
        .await?;

    // The last link of each invitation wins.
    let mut current: Vec<(Uuid, &str)> = Vec::with_capacity(links.len());
    for link in links.iter().rev() {
        if !current.iter().any(|(id, _)| *id == link.invitation_id) {
            current.push((link.invitation_id, &link.digest));
        }
    }
    let mut digest = CaseStatement::new();
    for (id, link_digest) in &current {
        digest = digest.case(invitation::Column::Id.eq(*id), Expr::val(*link_digest));
    }
    let digest = digest.finally(Expr::col(invitation::Column::TokenDigest));
    let updated = invitation::Entity::update_many()
        .col_expr(invitation::Column::TokenDigest, digest.into())
        .col_expr(invitation::Column::LastSentAt, Expr::value(now))
        .filter(invitation::Column::Id.is_in(current.iter().map(|(id, _)| *id)))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}

/// `INSERT INTO invitation_links … SELECT` over a `VALUES` list of the
/// links, joined to `invitations` so that a link of an invitation deleted
/// meanwhile is dropped instead of failing the batch. (Both PostgreSQL and
/// SQLite name a `VALUES` list's columns `column1`, `column2`; SQLite wants
/// a `WHERE` before `ON CONFLICT` in an `INSERT … SELECT` with a join.)
fn insert_links(backend: DbBackend, links: &[SentLink], now: DateTime<Utc>) -> Statement {
    let mut values: Vec<Value> = Vec::with_capacity(2 * links.len() + 1);
    let mut parameter = |value: Value| {
        values.push(value);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    let created_at = parameter(now.into());
    let rows: Vec<String> = links
        .iter()
        .map(|link| {
            let digest = parameter(link.digest.clone().into());
            let invitation_id = parameter(link.invitation_id.into());
            format!("({digest}, {invitation_id})")
        })
        .collect();
    let sql = format!(
        "INSERT INTO invitation_links (token_digest, invitation_id, created_at) \
         SELECT v.column1, i.id, {created_at} FROM (VALUES {}) AS v \
         JOIN invitations AS i ON i.id = v.column2 WHERE true \
         ON CONFLICT (token_digest) DO NOTHING",
        rows.join(", ")
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// [`record_sent`] for one link: makes it the invitation's current link
/// now that the relay accepted the email carrying it. `true` when it
/// became current.
///
/// # Errors
/// On database failure.
pub async fn activate(db: &impl ConnectionTrait, invitation_id: Uuid, digest: &str) -> Result<bool, DbErr> {
    let link = SentLink {
        invitation_id,
        digest: digest.to_owned(),
    };
    Ok(record_sent(db, &[link]).await? == 1)
}
