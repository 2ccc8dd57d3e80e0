//! Invitations: the flow from "Not Connected" to "Connected".
//!
//! Staff invite an account's contact email on file; the invitation, its
//! email delivery (the outbox row) and an audit event are written in one
//! transaction, and the caller pushes the delivery to the queue after commit.
//! The worker mints the link when it sends
//! ([`crate::invitation_links::mint`]): the database keeps only token
//! digests (`invitations.token_digest` for the current link,
//! `invitation_links` for every link ever sent).
//!
//! Status EXPIRED is derived on read: a PENDING invitation past
//! `expires_at` is expired at once. A scan
//! ([`service::scans::expire_invitations`]) later stores EXPIRED with an
//! audit event; every rule here treats a stored EXPIRED and a lapsed
//! PENDING alike.

use chrono::{DateTime, Duration, Utc};
use common::Settings;
use entity::{
    InvitationStatus, invitation, invitation_link, invitation_location, location, organization, portal_access,
    portal_user, staff_user,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Db,
    audit::{self, Actor, action},
    sessions::{self, NewSession},
    validate,
};
use crate::{auth, error::ApiError, page::Page};

/// A second invite within this time of the last send returns the pending
/// invitation and queues nothing: a double click sends one email.
pub const DOUBLE_CLICK_WINDOW: Duration = Duration::seconds(60);

/// The status as users see it: PENDING past its expiry is EXPIRED.
#[must_use]
pub fn effective_status(invitation: &invitation::Model, now: DateTime<Utc>) -> InvitationStatus {
    if invitation.status == InvitationStatus::Pending && invitation.expires_at <= now {
        InvitationStatus::Expired
    } else {
        invitation.status
    }
}

/// The SQL condition for an effective status (see [`effective_status`]).
#[must_use]
pub fn status_condition(status: InvitationStatus, now: DateTime<Utc>) -> Condition {
    let pending = invitation::Column::Status.eq(InvitationStatus::Pending);
    match status {
        InvitationStatus::Pending => Condition::all().add(pending).add(invitation::Column::ExpiresAt.gt(now)),
        InvitationStatus::Expired => Condition::any()
            .add(invitation::Column::Status.eq(InvitationStatus::Expired))
            .add(
                Condition::all()
                    .add(pending)
                    .add(invitation::Column::ExpiresAt.lte(now)),
            ),
        other => Condition::all().add(invitation::Column::Status.eq(other)),
    }
}

/// An invitation written, and the delivery to push once committed (`None`
/// when nothing was queued: the double-click rule).
#[derive(Debug)]
pub struct Queued {
    /// The invitation as it is now.
    pub invitation: invitation::Model,
    /// The outbox row to push after commit.
    pub delivery_id: Option<Uuid>,
}

async fn queue_email(
    db: &impl ConnectionTrait,
    org: &organization::Model,
    invitation: &invitation::Model,
    settings: &Settings,
) -> Result<Uuid, ApiError> {
    let email = crate::email::invitation::Invitation {
        invitation_id: invitation.id,
        organization_name: org.name.clone(),
    };
    Ok(crate::email::queue(db, settings, org.id, &invitation.email, &email).await?)
}

/// Sends a pending invitation again: fresh expiry, a new delivery (the
/// worker mints a new link, which supersedes the old one).
async fn send_again(
    db: &impl ConnectionTrait,
    org: &organization::Model,
    current: invitation::Model,
    settings: &Settings,
) -> Result<Queued, ApiError> {
    let now = Utc::now();
    let mut active: invitation::ActiveModel = current.into();
    active.status = Set(InvitationStatus::Pending);
    active.expires_at = Set(now + Duration::hours(i64::from(settings.invitation_ttl_hours)));
    active.last_sent_at = Set(now);
    let invitation = active.update(db).await?;
    let delivery_id = queue_email(db, org, &invitation, settings).await?;
    Ok(Queued {
        invitation,
        delivery_id: Some(delivery_id),
    })
}

async fn scope_of(db: &impl ConnectionTrait, invitation_id: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let mut ids: Vec<Uuid> = invitation_location::Entity::find()
        .filter(invitation_location::Column::InvitationId.eq(invitation_id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.location_id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// "Send Invitation?" → OK: invites the account's contact email on file,
/// for the whole account (`location_ids` `None`) or some of its locations.
/// A pending invitation of the same email and scope is sent again instead,
/// unless it was sent within [`DOUBLE_CLICK_WINDOW`].
///
/// # Errors
/// `NOT_FOUND` (account), `CONTACT_EMAIL_MISSING`, `BAD_USER_INPUT` on
/// `locationIds`; internal on database failure. Nothing is written on error.
pub async fn invite<C: Db>(
    db: &C,
    staff: &staff_user::Model,
    account_id: Uuid,
    location_ids: Option<Vec<Uuid>>,
    settings: &Settings,
) -> Result<Queued, ApiError> {
    let org_id = staff.organization_id;
    let txn = db.begin().await?;
    let account = super::accounts::lock(&txn, org_id, account_id).await?;
    let email = account.contact_email.clone().ok_or(ApiError::ContactEmailMissing)?;
    let scope = match location_ids {
        None => None,
        Some(mut ids) => {
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Err(ApiError::bad_input(
                    "locationIds",
                    "name at least one location, or leave locationIds null for the whole account",
                ));
            }
            let found = location::Entity::find()
                .filter(location::Column::Id.is_in(ids.iter().copied()))
                .filter(location::Column::AccountId.eq(account_id))
                .filter(location::Column::OrganizationId.eq(org_id))
                .all(&txn)
                .await?;
            if found.len() != ids.len() {
                return Err(ApiError::bad_input(
                    "locationIds",
                    "every location must be one of this account's",
                ));
            }
            Some(ids)
        }
    };
    let org = super::organizations::get(&txn, org_id).await?;
    let now = Utc::now();

    let pending = invitation::Entity::find()
        .filter(invitation::Column::AccountId.eq(account_id))
        .filter(invitation::Column::OrganizationId.eq(org_id))
        .filter(invitation::Column::Email.eq(email.clone()))
        .filter(status_condition(InvitationStatus::Pending, now))
        .order_by_desc(invitation::Column::Id)
        .all(&txn)
        .await?;
    for candidate in pending {
        let same_scope = if candidate.whole_account {
            scope.is_none()
        } else {
            scope.as_deref() == Some(scope_of(&txn, candidate.id).await?.as_slice())
        };
        if !same_scope {
            continue;
        }
        if now - candidate.last_sent_at < DOUBLE_CLICK_WINDOW {
            txn.commit().await?;
            return Ok(Queued {
                invitation: candidate,
                delivery_id: None,
            });
        }
        let queued = send_again(&txn, &org, candidate, settings).await?;
        audit::record(
            &txn,
            org_id,
            Some(account_id),
            Actor::Staff(staff),
            action::INVITATION_RESENT,
            Some(format!("to {}", email)),
        )
        .await?;
        txn.commit().await?;
        return Ok(queued);
    }

    let invitation = invitation::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org_id),
        account_id: Set(account_id),
        email: Set(email.clone()),
        status: Set(InvitationStatus::Pending),
        whole_account: Set(scope.is_none()),
        token_digest: Set(None),
        invited_by: Set(Some(staff.id)),
        accepted_by: Set(None),
        created_at: Set(now),
        last_sent_at: Set(now),
        expires_at: Set(now + Duration::hours(i64::from(settings.invitation_ttl_hours))),
        accepted_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    if let Some(ids) = &scope {
        invitation_location::Entity::insert_many(ids.iter().map(|id| invitation_location::ActiveModel {
            invitation_id: Set(invitation.id),
            location_id: Set(*id),
        }))
        .exec(&txn)
        .await?;
    }
    let delivery_id = queue_email(&txn, &org, &invitation, settings).await?;
    let detail = match &scope {
        None => format!("to {email}, whole account"),
        Some(ids) => format!("to {email}, {} location(s)", ids.len()),
    };
    audit::record(
        &txn,
        org_id,
        Some(account_id),
        Actor::Staff(staff),
        action::INVITATION_SENT,
        Some(detail),
    )
    .await?;
    txn.commit().await?;
    Ok(Queued {
        invitation,
        delivery_id: Some(delivery_id),
    })
}

/// One invitation of the organization.
///
/// # Errors
/// `NOT_FOUND`; internal on database failure.
pub async fn get(db: &impl ConnectionTrait, org: Uuid, id: Uuid) -> Result<invitation::Model, ApiError> {
    invitation::Entity::find_by_id(id)
        .filter(invitation::Column::OrganizationId.eq(org))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("invitation"))
}

/// Opens a transaction that holds the invitation's account lock and returns
/// the invitation as it is under that lock. The invitation is read once
/// outside the transaction (to find its account) so that the lock is the
/// transaction's first statement: on SQLite a transaction that reads before
/// it writes can fail to upgrade its lock.
async fn begin_locked<C: Db>(
    db: &C,
    org_id: Uuid,
    invitation_id: Uuid,
) -> Result<(DatabaseTransaction, invitation::Model), ApiError> {
    let account_id = get(db, org_id, invitation_id).await?.account_id;
    let txn = db.begin().await?;
    super::accounts::lock(&txn, org_id, account_id).await?;
    let current = get(&txn, org_id, invitation_id).await?;
    Ok((txn, current))
}

/// Sends a fresh link: links in earlier emails stop working, expiry restarts.
///
/// # Errors
/// `NOT_FOUND`; `BAD_USER_INPUT` on `invitationId` for an accepted or revoked
/// invitation; internal on database failure.
pub async fn resend<C: Db>(
    db: &C,
    staff: &staff_user::Model,
    invitation_id: Uuid,
    settings: &Settings,
) -> Result<Queued, ApiError> {
    let org_id = staff.organization_id;
    let (txn, current) = begin_locked(db, org_id, invitation_id).await?;
    if matches!(current.status, InvitationStatus::Accepted | InvitationStatus::Revoked) {
        return Err(ApiError::bad_input(
            "invitationId",
            "only a pending or expired invitation can be resent; invite the account again instead",
        ));
    }
    let org = super::organizations::get(&txn, org_id).await?;
    let account_id = current.account_id;
    let email = current.email.clone();
    let queued = send_again(&txn, &org, current, settings).await?;
    audit::record(
        &txn,
        org_id,
        Some(account_id),
        Actor::Staff(staff),
        action::INVITATION_RESENT,
        Some(format!("to {email}")),
    )
    .await?;
    txn.commit().await?;
    Ok(queued)
}

/// Revokes an invitation: its links stop working. Revoking a revoked one
/// changes nothing.
///
/// # Errors
/// `NOT_FOUND`; `BAD_USER_INPUT` on `invitationId` for an accepted
/// invitation (disconnect the portal user instead); internal on database failure.
pub async fn revoke<C: Db>(
    db: &C,
    staff: &staff_user::Model,
    invitation_id: Uuid,
) -> Result<invitation::Model, ApiError> {
    let org_id = staff.organization_id;
    let (txn, current) = begin_locked(db, org_id, invitation_id).await?;
    match current.status {
        InvitationStatus::Revoked => return Ok(current),
        InvitationStatus::Accepted => {
            return Err(ApiError::bad_input(
                "invitationId",
                "an accepted invitation cannot be revoked; disconnect the portal user instead",
            ));
        }
        InvitationStatus::Pending | InvitationStatus::Expired => {}
    }
    let account_id = current.account_id;
    let email = current.email.clone();
    let mut active: invitation::ActiveModel = current.into();
    active.status = Set(InvitationStatus::Revoked);
    active.revoked_at = Set(Some(Utc::now()));
    let revoked = active.update(&txn).await?;
    audit::record(
        &txn,
        org_id,
        Some(account_id),
        Actor::Staff(staff),
        action::INVITATION_REVOKED,
        Some(format!("to {email}")),
    )
    .await?;
    txn.commit().await?;
    Ok(revoked)
}

/// Revokes the account's pending (and expired, which could be resent)
/// invitations because its contact email changed (they were addressed to
/// the old one). Call inside the change's transaction.
///
/// # Errors
/// Internal on database failure.
pub async fn revoke_for_email_change(
    db: &impl ConnectionTrait,
    staff: &staff_user::Model,
    account_id: Uuid,
) -> Result<u64, ApiError> {
    let org_id = staff.organization_id;
    let pending = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(org_id))
        .filter(invitation::Column::AccountId.eq(account_id))
        .filter(invitation::Column::Status.is_in([InvitationStatus::Pending, InvitationStatus::Expired]))
        .all(db)
        .await?;
    let now = Utc::now();
    for invitation in &pending {
        let mut active: invitation::ActiveModel = invitation.clone().into();
        active.status = Set(InvitationStatus::Revoked);
        active.revoked_at = Set(Some(now));
        active.update(db).await?;
        audit::record(
            db,
            org_id,
            Some(account_id),
            Actor::Staff(staff),
            action::INVITATION_REVOKED,
            Some(format!("to {}: the contact email changed", invitation.email)),
        )
        .await?;
    }
    Ok(pending.len() as u64)
}

/// Which link a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The latest link sent.
    Current,
    /// An earlier link, replaced by a resend.
    Superseded,
}

/// Finds the invitation a link token belongs to.
///
/// # Errors
/// Internal on database failure.
pub async fn find_by_token(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<(invitation::Model, Link)>, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let digest = auth::token_digest(token);
    if let Some(current) = invitation::Entity::find()
        .filter(invitation::Column::TokenDigest.eq(digest.clone()))
        .one(db)
        .await?
    {
        return Ok(Some((current, Link::Current)));
    }
    let Some(link) = invitation_link::Entity::find_by_id(digest).one(db).await? else {
        return Ok(None);
    };
    Ok(invitation::Entity::find_by_id(link.invitation_id)
        .one(db)
        .await?
        .map(|invitation| (invitation, Link::Superseded)))
}

/// What the accept page shows for a token.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The inviting business.
    pub organization_name: String,
    /// The account the invitation opens.
    pub account_name: String,
    /// The invited email, masked (`j***@example.com`).
    pub masked_email: String,
    /// Effective status; a superseded link shows as EXPIRED.
    pub status: InvitationStatus,
    /// Which link the token is.
    pub link: Link,
    /// When the invitation expires.
    pub expires_at: DateTime<Utc>,
    /// Whether the email already has a portal account (accept asks for its password).
    pub existing_user: bool,
}

/// The preview of the invitation behind a token; `None` for an unknown token.
/// Reading it never uses the token up.
///
/// # Errors
/// Internal on database failure.
pub async fn preview(db: &impl ConnectionTrait, token: &str) -> Result<Option<Preview>, ApiError> {
    let Some((invitation, link)) = find_by_token(db, token).await? else {
        return Ok(None);
    };
    let org = super::organizations::get(db, invitation.organization_id).await?;
    let account = super::accounts::get(
        db,
        &crate::Scope::organization(invitation.organization_id),
        invitation.account_id,
    )
    .await?;
    let existing_user = find_portal_user(db, invitation.organization_id, &invitation.email)
        .await?
        .is_some();
    let status = match (link, effective_status(&invitation, Utc::now())) {
        (Link::Superseded, InvitationStatus::Pending) => InvitationStatus::Expired,
        (_, status) => status,
    };
    Ok(Some(Preview {
        organization_name: org.name,
        account_name: account.name,
        masked_email: common::redact::mask_email(&invitation.email),
        status,
        link,
        expires_at: invitation.expires_at,
        existing_user,
    }))
}

async fn find_portal_user(
    db: &impl ConnectionTrait,
    org: Uuid,
    email: &str,
) -> Result<Option<portal_user::Model>, ApiError> {
    Ok(portal_user::Entity::find()
        .filter(portal_user::Column::OrganizationId.eq(org))
        .filter(portal_user::Column::Email.eq(email.to_lowercase()))
        .one(db)
        .await?)
}

/// A customer signed up (or in) through an invitation.
#[derive(Debug)]
pub struct Accepted {
    /// The new session.
    pub session: NewSession,
    /// The portal user.
    pub user: portal_user::Model,
    /// The invitation's account.
    pub account_id: Uuid,
}

/// Accepts an invitation: creates the portal user (or checks the existing
/// one's password), grants the invitation's scope, marks it ACCEPTED, writes
/// an audit event and starts a session — in one transaction. Two concurrent
/// accepts of one token: exactly one succeeds.
///
/// # Errors
/// `INVITATION_INVALID` (unknown, used, revoked or superseded),
/// `INVITATION_EXPIRED`, `BAD_USER_INPUT` on `name`/`password`,
/// `INVALID_CREDENTIALS` (existing user, wrong password); internal on database failure.
pub async fn accept<C: Db>(
    db: &C,
    token: &str,
    name: &str,
    password: &str,
    session_ttl_hours: u32,
) -> Result<Accepted, ApiError> {
    let (invitation, link) = find_by_token(db, token).await?.ok_or(ApiError::InvitationInvalid)?;
    let now = Utc::now();
    match (link, effective_status(&invitation, now)) {
        (Link::Superseded, _) | (_, InvitationStatus::Accepted | InvitationStatus::Revoked) => {
            return Err(ApiError::InvitationInvalid);
        }
        (_, InvitationStatus::Expired) => return Err(ApiError::InvitationExpired),
        (Link::Current, InvitationStatus::Pending) => {}
    }
    let org = invitation.organization_id;
    let existing = find_portal_user(db, org, &invitation.email).await?;
    let new_user = match &existing {
        Some(user) => {
            if password.len() > 4 * auth::MAX_PASSWORD_LEN
                || !auth::verify_password(password.to_owned(), Some(user.password_hash.clone())).await
            {
                return Err(ApiError::InvalidCredentials);
            }
            None
        }
        None => {
            let name = validate::required("name", name, 200)?;
            auth::validate_new_password("password", password)?;
            Some((name, auth::hash_password(password.to_owned()).await?))
        }
    };

    let txn = db.begin().await?;
    let user_id = existing.as_ref().map_or_else(Uuid::now_v7, |u| u.id);
    // The conditional update is the once-only gate: a concurrent accept of
    // the same token finds the row no longer PENDING and changes nothing.
    // `accepted_by` is set below, once the (new) portal user exists: it is a
    // foreign key to `portal_users`.
    let claimed = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(InvitationStatus::Accepted))
        .col_expr(invitation::Column::AcceptedAt, Expr::value(Some(now)))
        .filter(invitation::Column::Id.eq(invitation.id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .filter(invitation::Column::ExpiresAt.gt(now))
        .filter(invitation::Column::TokenDigest.eq(auth::token_digest(token)))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(ApiError::InvitationInvalid);
    }
    let user = match (existing, new_user) {
        (Some(user), _) => user,
        (None, Some((name, password_hash))) => {
            portal_user::ActiveModel {
                id: Set(user_id),
                organization_id: Set(org),
                email: Set(invitation.email.to_lowercase()),
                name: Set(name),
                password_hash: Set(password_hash),
                created_at: Set(now),
                last_sign_in_at: Set(None),
            }
            .insert(&txn)
            .await?
        }
        (None, None) => return Err(ApiError::internal(anyhow::anyhow!("accept without a user"))),
    };
    invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedBy, Expr::value(Some(user.id)))
        .filter(invitation::Column::Id.eq(invitation.id))
        .exec(&txn)
        .await?;
    grant(&txn, &invitation, user.id).await?;
    let user = sessions::touch_sign_in(&txn, user).await?;
    audit::record(
        &txn,
        org,
        Some(invitation.account_id),
        Actor::Portal(&user),
        action::INVITATION_ACCEPTED,
        Some(format!("by {}", common::redact::mask_email(&user.email))),
    )
    .await?;
    let session = sessions::start(&txn, org, None, Some(user.id), session_ttl_hours).await?;
    txn.commit().await?;
    Ok(Accepted {
        session,
        user,
        account_id: invitation.account_id,
    })
}

/// Grants the invitation's scope to the user, skipping access it already has.
async fn grant(db: &impl ConnectionTrait, invitation: &invitation::Model, user_id: Uuid) -> Result<(), ApiError> {
    let existing: Vec<Option<Uuid>> = portal_access::Entity::find()
        .filter(portal_access::Column::PortalUserId.eq(user_id))
        .filter(portal_access::Column::AccountId.eq(invitation.account_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.location_id)
        .collect();
    if existing.contains(&None) {
        return Ok(()); // already has the whole account
    }
    let wanted: Vec<Option<Uuid>> = if invitation.whole_account {
        vec![None]
    } else {
        scope_of(db, invitation.id).await?.into_iter().map(Some).collect()
    };
    let now = Utc::now();
    let rows: Vec<portal_access::ActiveModel> = wanted
        .into_iter()
        .filter(|location| !existing.contains(location))
        .map(|location_id| portal_access::ActiveModel {
            id: Set(Uuid::now_v7()),
            organization_id: Set(invitation.organization_id),
            portal_user_id: Set(user_id),
            account_id: Set(invitation.account_id),
            location_id: Set(location_id),
            invitation_id: Set(Some(invitation.id)),
            created_at: Set(now),
        })
        .collect();
    if !rows.is_empty() {
        portal_access::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// From an expired or superseded link: sends the invitation again to the
/// contact email on file — never to an address the caller gives. Does
/// nothing (and says nothing) for unknown, used or revoked links, for a link
/// that is still valid, or within a minute of the last send.
///
/// Returns what was queued, or `None` when nothing was sent.
///
/// # Errors
/// Internal on database failure.
pub async fn request_new<C: Db>(db: &C, token: &str, settings: &Settings) -> Result<Option<Queued>, ApiError> {
    let Some((found, link)) = find_by_token(db, token).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let status = effective_status(&found, now);
    let wants_new = matches!(status, InvitationStatus::Expired)
        || (link == Link::Superseded && status == InvitationStatus::Pending);
    if !wants_new || now - found.last_sent_at < DOUBLE_CLICK_WINDOW {
        return Ok(None);
    }
    let txn = db.begin().await?;
    let account = super::accounts::lock(&txn, found.organization_id, found.account_id).await?;
    let current = get(&txn, found.organization_id, found.id).await?;
    // The email on file must still be the invited one (a change would have
    // revoked the invitation; this guards the race). The double-click rule is
    // checked again under the lock: two concurrent requests (a double click on
    // "Send me a new link") both passed the check above, and only the first
    // may send.
    if account.contact_email.as_deref() != Some(current.email.as_str())
        || matches!(current.status, InvitationStatus::Accepted | InvitationStatus::Revoked)
        || now - current.last_sent_at < DOUBLE_CLICK_WINDOW
    {
        return Ok(None);
    }
    let org = super::organizations::get(&txn, found.organization_id).await?;
    let queued = send_again(&txn, &org, current, settings).await?;
    audit::record(
        &txn,
        org.id,
        Some(account.id),
        Actor::System,
        action::INVITATION_REQUESTED,
        Some("a new link was requested from an expired or replaced one".to_owned()),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(queued))
}

/// A page of the organization's invitations, by effective status.
///
/// # Errors
/// Internal on database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    org: Uuid,
    account_id: Option<Uuid>,
    status: Option<InvitationStatus>,
    page: Page,
    want_total: bool,
) -> Result<(Vec<invitation::Model>, Option<u64>), ApiError> {
    let mut query = invitation::Entity::find().filter(invitation::Column::OrganizationId.eq(org));
    if let Some(account_id) = account_id {
        query = query.filter(invitation::Column::AccountId.eq(account_id));
    }
    if let Some(status) = status {
        query = query.filter(status_condition(status, Utc::now()));
    }
    super::paginate(db, query, invitation::Column::Id, page, want_total).await
}

/// The invitations of each visible account of `account_ids`, in id order
/// (oldest first), in one statement.
///
/// # Errors
/// Internal on database failure.
pub async fn of_accounts(
    db: &impl ConnectionTrait,
    scope: &crate::Scope,
    account_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<invitation::Model>>, ApiError> {
    let rows = invitation::Entity::find()
        .filter(invitation::Column::AccountId.is_in(account_ids.iter().copied()))
        .filter(invitation::Column::OrganizationId.eq(scope.organization_id()))
        .filter(invitation::Column::AccountId.in_subquery(scope.account_ids()))
        .order_by_asc(invitation::Column::Id)
        .all(db)
        .await?;
    Ok(crate::group_by(account_ids, rows, |row| Some(row.account_id)))
}

/// The visible locations each invitation of `invitation_ids` covers (none:
/// the whole account), in one statement each for the links and the
/// locations.
///
/// # Errors
/// Internal on database failure.
pub async fn locations_of(
    db: &impl ConnectionTrait,
    scope: &crate::Scope,
    invitation_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<entity::location::Model>>, ApiError> {
    let links = entity::invitation_location::Entity::find()
        .filter(entity::invitation_location::Column::InvitationId.is_in(invitation_ids.iter().copied()))
        .all(db)
        .await?;
    let locations: std::collections::HashMap<Uuid, entity::location::Model> =
        super::locations::by_ids(db, scope, links.iter().map(|l| l.location_id))
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
    let mut grouped: std::collections::HashMap<Uuid, Vec<entity::location::Model>> =
        invitation_ids.iter().map(|id| (*id, Vec::new())).collect();
    for link in links {
        if let (Some(list), Some(location)) = (grouped.get_mut(&link.invitation_id), locations.get(&link.location_id)) {
            list.push(location.clone());
        }
    }
    Ok(grouped)
}
