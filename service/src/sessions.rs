//! Signing in and out.

use chrono::{DateTime, Duration, Utc};
use entity::{organization, portal_user, session, staff_user};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::{auth, error::ApiError};

/// A new session: the raw token (shown once) and when it expires.
#[derive(Debug)]
pub struct NewSession {
    /// Bearer token for the client.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Stores a session for a staff user or a portal user; only the token's
/// digest is written.
///
/// # Errors
/// Internal on database failure.
pub async fn start(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    staff_user_id: Option<Uuid>,
    portal_user_id: Option<Uuid>,
    ttl_hours: u32,
) -> Result<NewSession, ApiError> {
    let (token, digest) = auth::new_token();
    let now = Utc::now();
    let expires_at = now + Duration::hours(i64::from(ttl_hours));
    session::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_digest: Set(digest),
        organization_id: Set(organization_id),
        staff_user_id: Set(staff_user_id),
        portal_user_id: Set(portal_user_id),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok(NewSession { token, expires_at })
}

/// Checks a staff user's email and password and starts a session. Unknown
/// email and wrong password answer the same, after the same work.
///
/// # Errors
/// `INVALID_CREDENTIALS`; internal on database failure.
pub async fn staff_login(
    db: &impl ConnectionTrait,
    email: &str,
    password: &str,
    ttl_hours: u32,
) -> Result<(NewSession, staff_user::Model), ApiError> {
    let email = email.trim().to_lowercase();
    if password.len() > 4 * auth::MAX_PASSWORD_LEN {
        return Err(ApiError::InvalidCredentials);
    }
    let user = staff_user::Entity::find()
        .filter(staff_user::Column::Email.eq(email))
        .one(db)
        .await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !auth::verify_password(password.to_owned(), hash).await {
        return Err(ApiError::InvalidCredentials);
    }
    let user = user.ok_or(ApiError::InvalidCredentials)?;
    let session = start(db, user.organization_id, Some(user.id), None, ttl_hours).await?;
    Ok((session, user))
}

/// Ends a session: its token stops working at once.
///
/// # Errors
/// Internal on database failure.
pub async fn end(db: &impl ConnectionTrait, session_id: Uuid) -> Result<(), ApiError> {
    session::Entity::delete_by_id(session_id).exec(db).await?;
    Ok(())
}

/// Records a sign-in on the portal user.
///
/// # Errors
/// Internal on database failure.
pub async fn touch_sign_in(
    db: &impl ConnectionTrait,
    user: portal_user::Model,
) -> Result<portal_user::Model, ApiError> {
    let mut active: portal_user::ActiveModel = user.into();
    active.last_sign_in_at = Set(Some(Utc::now()));
    Ok(active.update(db).await?)
}

/// Checks a portal user's organization, email and password and starts a
/// session. Unknown organization, unknown email and wrong password answer
/// the same, after the same work.
///
/// # Errors
/// `INVALID_CREDENTIALS`; internal on database failure.
pub async fn portal_login(
    db: &impl ConnectionTrait,
    organization_slug: &str,
    email: &str,
    password: &str,
    ttl_hours: u32,
) -> Result<(NewSession, portal_user::Model), ApiError> {
    let email = email.trim().to_lowercase();
    if password.len() > 4 * auth::MAX_PASSWORD_LEN {
        return Err(ApiError::InvalidCredentials);
    }
    let org = organization::Entity::find()
        .filter(organization::Column::Slug.eq(organization_slug.trim().to_lowercase()))
        .one(db)
        .await?;
    let user = match &org {
        Some(org) => {
            portal_user::Entity::find()
                .filter(portal_user::Column::OrganizationId.eq(org.id))
                .filter(portal_user::Column::Email.eq(email))
                .one(db)
                .await?
        }
        None => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !auth::verify_password(password.to_owned(), hash).await {
        return Err(ApiError::InvalidCredentials);
    }
    let user = user.ok_or(ApiError::InvalidCredentials)?;
    let user = touch_sign_in(db, user).await?;
    let session = start(db, user.organization_id, None, Some(user.id), ttl_hours).await?;
    Ok((session, user))
}
