//! Password resets and password changes: the rules behind
//! `requestPasswordReset`, `resetPassword` and `changePassword`.
//!
//! - A request writes a `password_resets` row (valid for [`LINK_TTL`]) and a
//!   PASSWORD_RESET outbox row in one transaction, and supersedes the user's
//!   earlier open requests. An unknown email writes nothing and answers the
//!   same, so the answer never tells whether an account exists.
//! - The link's token is minted when the email is sent ([`mint`]), like an
//!   invitation's: only its SHA-256 digest is stored, and a request that was
//!   superseded, used or expired before its turn mints nothing (its email is
//!   CANCELLED).
//! - Redeeming a link ([`reset`]) is single use: it sets the password, ends
//!   every session of the user and starts a new one, all in one transaction.
//!   A change of password ([`change`]) ends the user's other sessions. Both
//!   void the user's open reset links.
//!
//! Rate limits are the api's business; this module only decides.

use chrono::{DateTime, Duration, Utc};
use common::Settings;
use entity::{organization, password_reset, portal_user, session, staff_user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

use crate::{
    auth::{self, Viewer},
    email::{self, password_reset::PasswordReset},
    error::ApiError,
    sessions::{self, NewSession},
};

/// How long a reset link works after it was requested.
pub const LINK_TTL: Duration = Duration::hours(1);

/// Whose password a reset is for.
#[derive(Debug, Clone)]
pub enum User {
    /// A staff user (signs in at the Customer Center).
    Staff(staff_user::Model),
    /// A portal user (a customer).
    Portal(portal_user::Model),
}

impl User {
    fn organization_id(&self) -> Uuid {
        match self {
            Self::Staff(user) => user.organization_id,
            Self::Portal(user) => user.organization_id,
        }
    }

    fn email(&self) -> &str {
        match self {
            Self::Staff(user) => &user.email,
            Self::Portal(user) => &user.email,
        }
    }

    /// The filter on `password_resets` that selects this user's rows.
    fn resets(&self) -> sea_orm::Condition {
        let condition = sea_orm::Condition::all();
        match self {
            Self::Staff(user) => condition.add(password_reset::Column::StaffUserId.eq(user.id)),
            Self::Portal(user) => condition.add(password_reset::Column::PortalUserId.eq(user.id)),
        }
    }

    /// The filter on `sessions` that selects this user's sessions.
    fn sessions(&self) -> sea_orm::Condition {
        let condition = sea_orm::Condition::all();
        match self {
            Self::Staff(user) => condition.add(session::Column::StaffUserId.eq(user.id)),
            Self::Portal(user) => condition.add(session::Column::PortalUserId.eq(user.id)),
        }
    }
}

/// The email a reset request queued: push it after commit.
#[derive(Debug, Clone, Copy)]
pub struct Requested {
    /// The user's organization.
    pub organization_id: Uuid,
    /// The PASSWORD_RESET outbox row.
    pub delivery_id: Uuid,
}

/// Handles `requestPasswordReset`: with `organization` (a slug) the portal
/// user of that organization with `email`, without it the staff user with
/// `email`. Returns the email to push after commit, or `None` when no such
/// user exists (nothing written; the caller answers the same).
///
/// # Errors
/// Internal on database failure.
pub async fn request(
    db: &DatabaseConnection,
    settings: &Settings,
    email: &str,
    organization: Option<&str>,
) -> Result<Option<Requested>, ApiError> {
    let email = email.trim().to_lowercase();
    if email.is_empty() || email.len() > 320 {
        return Ok(None);
    }
    let user = match organization {
        Some(slug) => {
            let slug = slug.trim().to_lowercase();
            portal_user::Entity::find()
                .inner_join(organization::Entity)
                .filter(organization::Column::Slug.eq(slug))
                .filter(portal_user::Column::Email.eq(email))
                .one(db)
                .await?
                .map(User::Portal)
        }
        None => staff_user::Entity::find()
            .filter(staff_user::Column::Email.eq(email))
            .one(db)
            .await?
            .map(User::Staff),
    };
    let Some(user) = user else {
        return Ok(None);
    };
    let organization = organization::Entity::find_by_id(user.organization_id())
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;

    let now = Utc::now();
    let txn = db.begin().await?;
    supersede_open(&txn, &user, now).await?;
    let (staff_user_id, portal_user_id) = match &user {
        User::Staff(u) => (Some(u.id), None),
        User::Portal(u) => (None, Some(u.id)),
    };
    let reset = password_reset::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(organization.id),
        staff_user_id: Set(staff_user_id),
        portal_user_id: Set(portal_user_id),
        token_digest: Set(None),
        created_at: Set(now),
        expires_at: Set(now + LINK_TTL),
        used_at: Set(None),
        superseded_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let payload = PasswordReset {
        password_reset_id: reset.id,
        organization_name: organization.name,
        staff: matches!(user, User::Staff(_)),
    };
    let delivery_id = email::queue(&txn, settings, organization.id, user.email(), &payload).await?;
    txn.commit().await?;
    Ok(Some(Requested {
        organization_id: organization.id,
        delivery_id,
    }))
}

/// Voids the user's open reset links (a newer request, or a new password).
async fn supersede_open(db: &impl ConnectionTrait, user: &User, now: DateTime<Utc>) -> Result<(), ApiError> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::SupersededAt, Expr::value(Some(now)))
        .filter(user.resets())
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::SupersededAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A reset link just minted for its email.
#[derive(Clone)]
pub struct MintedReset {
    /// The raw token: put it into the email and nowhere else.
    pub token: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for MintedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a live credential: never print it.
        f.debug_struct("MintedReset")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Mints the link of reset `id` (of the organization) for its email: a new
/// token whose digest replaces any earlier one of the same request (a retry
/// of a send that failed). `None` when the request was used, superseded or
/// has expired, or is gone: its email is no longer wanted.
///
/// # Errors
/// On database failure.
pub async fn mint(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<MintedReset>, sea_orm::DbErr> {
    let (token, digest) = auth::new_token();
    let now = Utc::now();
    let updated = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::TokenDigest, Expr::value(Some(digest)))
        .filter(password_reset::Column::Id.eq(id))
        .filter(password_reset::Column::OrganizationId.eq(organization_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::SupersededAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    let expires_at = password_reset::Entity::find_by_id(id)
        .one(db)
        .await?
        .map_or(now + LINK_TTL, |reset| reset.expires_at);
    Ok(Some(MintedReset { token, expires_at }))
}

/// The reset page's link for `token`: staff and customers have their own
/// pages. `public_url` has no trailing slash.
#[must_use]
pub fn reset_link(public_url: &str, staff: bool, token: &str) -> String {
    // Tokens are URL-safe base64: nothing to encode.
    let area = if staff { "staff" } else { "portal" };
    format!("{public_url}/{area}/reset-password?token={token}")
}

/// Handles `resetPassword`: checks the link, sets `password`, marks the
/// link used, ends every session of the user and starts a new one (one
/// transaction). Returns the session and the user signed in.
///
/// # Errors
/// `BAD_USER_INPUT` on `password` when it is too short or too long;
/// `PASSWORD_RESET_INVALID` when the token is unknown, used, superseded or
/// expired; internal on database failure.
pub async fn reset(
    db: &DatabaseConnection,
    token: &str,
    password: &str,
    ttl_hours: u32,
) -> Result<(NewSession, User), ApiError> {
    auth::validate_new_password("password", password)?;
    let reset = open_reset(db, token).await?.ok_or(ApiError::PasswordResetInvalid)?;
    let user = user_of(db, &reset).await?.ok_or(ApiError::PasswordResetInvalid)?;
    let hash = auth::hash_password(password.to_owned()).await?;

    let now = Utc::now();
    let txn = db.begin().await?;
    let used = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now)))
        .filter(password_reset::Column::Id.eq(reset.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::SupersededAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if used.rows_affected != 1 {
        // Used or superseded since it was read.
        return Err(ApiError::PasswordResetInvalid);
    }
    set_password(&txn, &user, hash, now).await?;
    session::Entity::delete_many()
        .filter(user.sessions())
        .exec(&txn)
        .await?;
    let (session, user) = match user {
        User::Staff(user) => {
            let session = sessions::start(&txn, user.organization_id, Some(user.id), None, ttl_hours).await?;
            (session, User::Staff(user))
        }
        User::Portal(user) => {
            let user = sessions::touch_sign_in(&txn, user).await?;
            let session = sessions::start(&txn, user.organization_id, None, Some(user.id), ttl_hours).await?;
            (session, User::Portal(user))
        }
    };
    txn.commit().await?;
    Ok((session, user))
}

/// The open (unused, not superseded, unexpired) reset of `token`, if any.
async fn open_reset(db: &impl ConnectionTrait, token: &str) -> Result<Option<password_reset::Model>, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    Ok(password_reset::Entity::find()
        .filter(password_reset::Column::TokenDigest.eq(auth::token_digest(token)))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::SupersededAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?)
}

/// The user a reset is for (`None` if the user is gone).
async fn user_of(db: &impl ConnectionTrait, reset: &password_reset::Model) -> Result<Option<User>, ApiError> {
    if let Some(id) = reset.staff_user_id {
        return Ok(staff_user::Entity::find_by_id(id).one(db).await?.map(User::Staff));
    }
    if let Some(id) = reset.portal_user_id {
        return Ok(portal_user::Entity::find_by_id(id).one(db).await?.map(User::Portal));
    }
    Ok(None)
}

/// Stores a new password hash for `user` and voids its open reset links.
async fn set_password(
    db: &impl ConnectionTrait,
    user: &User,
    hash: String,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    match user {
        User::Staff(user) => {
            staff_user::Entity::update_many()
                .col_expr(staff_user::Column::PasswordHash, Expr::value(hash))
                .filter(staff_user::Column::Id.eq(user.id))
                .exec(db)
                .await?;
        }
        User::Portal(user) => {
            portal_user::Entity::update_many()
                .col_expr(portal_user::Column::PasswordHash, Expr::value(hash))
                .filter(portal_user::Column::Id.eq(user.id))
                .exec(db)
                .await?;
        }
    }
    supersede_open(db, user, now).await
}

/// Handles `changePassword`: checks the viewer's current password, stores
/// the new one, ends the viewer's other sessions and voids its open reset
/// links (one transaction). The current session stays signed in.
///
/// # Errors
/// `UNAUTHENTICATED` when anonymous; `INVALID_CREDENTIALS` when the current
/// password is wrong; `BAD_USER_INPUT` on `newPassword`; internal on
/// database failure.
pub async fn change(
    db: &DatabaseConnection,
    viewer: &Viewer,
    current_password: &str,
    new_password: &str,
) -> Result<(), ApiError> {
    let (user, session_id) = match viewer {
        Viewer::Anonymous => return Err(ApiError::Unauthenticated),
        Viewer::Staff { user, session_id } => (User::Staff(user.clone()), *session_id),
        Viewer::Portal { user, session_id, .. } => (User::Portal(user.clone()), *session_id),
    };
    // The stored hash as of now (the viewer was read at the request's start).
    let stored = match &user {
        User::Staff(u) => staff_user::Entity::find_by_id(u.id)
            .one(db)
            .await?
            .map(|u| u.password_hash),
        User::Portal(u) => portal_user::Entity::find_by_id(u.id)
            .one(db)
            .await?
            .map(|u| u.password_hash),
    };
    if current_password.len() > 4 * auth::MAX_PASSWORD_LEN
        || !auth::verify_password(current_password.to_owned(), stored).await
    {
        return Err(ApiError::InvalidCredentials);
    }
    auth::validate_new_password("newPassword", new_password)?;
    let hash = auth::hash_password(new_password.to_owned()).await?;
    let txn = db.begin().await?;
    set_password(&txn, &user, hash, Utc::now()).await?;
    session::Entity::delete_many()
        .filter(user.sessions())
        .filter(session::Column::Id.ne(session_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
