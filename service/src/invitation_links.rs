//! Invitation links: minting the one-time link an invitation email carries.
//!
//! A link is minted when its email is about to be sent, never when the
//! invitation is written: a fresh 256-bit token whose SHA-256 digest is
//! kept in `invitation_links` ([`mint`]). It becomes the invitation's
//! current link (`token_digest`, superseding every earlier one) only once
//! the mail relay has accepted the email that carries it ([`activate`]):
//! a link minted for a send that failed or stalled never reached anybody,
//! so the link in the last email the customer did receive keeps working.
//! A minted link that was never activated reads as superseded, which only
//! matters to whoever holds it: nobody, or a relay that accepted it just as
//! its worker died.
//!
//! The raw token is handed back once, for the email; it is never stored,
//! queued or logged.
//!
//! This module owns the mint only; what a link allows when it is opened is
//! decided by the invitation rules.

use chrono::{DateTime, Utc};
use entity::{InvitationStatus, account, invitation, invitation_link, organization};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult,
    JoinType, QueryFilter, QuerySelect, RelationTrait, Set, Statement, sea_query::Expr,
};
use uuid::Uuid;

/// A link just minted, with what its email shows beside it.
#[derive(Clone)]
pub struct MintedLink {
    /// The raw token: put it into the email and nowhere else.
    pub token: String,
    /// The token's digest, for [`activate`] once the email is accepted.
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
    /// The invitation's new current link.
    Minted(MintedLink),
    /// The invitation was accepted, revoked or has expired: nothing written.
    NotPending,
    /// There is no such invitation in the organization.
    Gone,
}

/// The accept page's link for `token`; `public_url` has no trailing slash.
#[must_use]
pub fn accept_link(public_url: &str, token: &str) -> String {
    // Tokens are URL-safe base64: nothing to encode.
    format!("{public_url}/portal/accept?token={token}")
}

/// Mints a new link for a still-PENDING, unexpired invitation of the
/// organization: keeps its digest in `invitation_links` (not yet current:
/// see [`activate`]) and returns the raw token with what the email shows.
/// Nothing is written otherwise.
///
/// On PostgreSQL the mint and the read are one statement (one round trip,
/// one commit); on SQLite a SELECT and an INSERT.
///
/// # Errors
/// On database failure.
pub async fn mint(db: &DatabaseConnection, organization_id: Uuid, invitation_id: Uuid) -> Result<Mint, DbErr> {
    let (token, digest) = common::token::new_token();
    let kept = digest.clone();
    let minted = if db.get_database_backend() == DbBackend::Postgres {
        mint_in_one_statement(db, invitation_id, organization_id, digest).await?
    } else {
        load_then_mint(db, invitation_id, organization_id, digest).await?
    };
    if let Some(shown) = minted {
        return Ok(Mint::Minted(MintedLink {
            token,
            digest: kept,
            expires_at: shown.expires_at,
            account_name: shown.account_name,
            organization_name: shown.organization_name,
        }));
    }
    // Rare: tell a revoked, accepted or expired invitation from a missing one.
    let exists = invitation::Entity::find_by_id(invitation_id)
        .filter(invitation::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .is_some();
    Ok(if exists { Mint::NotPending } else { Mint::Gone })
}

/// What the invitation email shows besides the link.
#[derive(Debug, FromQueryResult)]
struct Shown {
    expires_at: DateTime<Utc>,
    account_name: String,
    organization_name: String,
}

/// The PostgreSQL mint: one statement, so one round trip and one commit.
/// The invitation is read with the names its email shows (still PENDING,
/// not expired, of the delivery's organization) and the INSERT keeps the
/// new digest in `invitation_links` only when it was found.
const MINT_IN_ONE_STATEMENT: &str = r#"WITH pending AS (
    SELECT i.id, i.expires_at, a.name AS account_name, o.name AS organization_name
    FROM invitations AS i
    JOIN accounts AS a ON a.id = i.account_id
    JOIN organizations AS o ON o.id = i.organization_id
    WHERE i.id = $3 AND i.organization_id = $4 AND i.status = $5 AND i.expires_at > $2
), link AS (
    INSERT INTO invitation_links (token_digest, invitation_id, created_at)
    SELECT $1, id, $2 FROM pending
)
SELECT expires_at, account_name, organization_name FROM pending"#;

/// PostgreSQL only (a data-modifying `WITH`); `None` when nothing was minted.
async fn mint_in_one_statement(
    db: &DatabaseConnection,
    invitation_id: Uuid,
    organization_id: Uuid,
    digest: String,
) -> Result<Option<Shown>, DbErr> {
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
    Shown::find_by_statement(statement).one(db).await
}

/// The same as [`mint_in_one_statement`] for SQLite (no data-modifying
/// `WITH`): one joined SELECT, then the INSERT.
async fn load_then_mint(
    db: &DatabaseConnection,
    invitation_id: Uuid,
    organization_id: Uuid,
    digest: String,
) -> Result<Option<Shown>, DbErr> {
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
        .into_model::<Shown>()
        .one(db)
        .await?;
    let Some(shown) = pending else {
        return Ok(None);
    };
    invitation_link::ActiveModel {
        token_digest: Set(digest),
        invitation_id: Set(invitation_id),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Some(shown))
}

/// Makes a minted link the invitation's current one, superseding the
/// earlier links, now that the relay accepted the email carrying it (with
/// `last_sent_at` set to now). Nothing changes when the invitation was
/// accepted, revoked or deleted meanwhile. Safe to repeat. `true` when the
/// link became current.
///
/// # Errors
/// On database failure.
pub async fn activate(db: &impl ConnectionTrait, invitation_id: Uuid, digest: &str) -> Result<bool, DbErr> {
    let updated = invitation::Entity::update_many()
        .col_expr(invitation::Column::TokenDigest, Expr::value(Some(digest.to_owned())))
        .col_expr(invitation::Column::LastSentAt, Expr::value(Utc::now()))
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}
