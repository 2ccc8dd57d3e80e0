//! Sessions, passwords and the viewer of a request (who is asking, and what
//! a portal user's grants cover). Reading the token from an HTTP header is
//! the api's business; this module starts from the token.
//!
//! Session tokens are 256 random bits, URL-safe base64; the database keeps only
//! their SHA-256 digest, so a leaked database cannot be used to sign in.
//! Passwords are argon2id hashes with the crate's (OWASP's) default parameters.
//! Hashing is CPU-heavy, so it runs on the blocking pool.

use std::sync::{Arc, LazyLock};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::Utc;
use entity::{portal_user, session, staff_user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, QueryFilter, QueryTrait, SelectA, SelectB,
    SelectC,
};
use uuid::Uuid;

use crate::error::ApiError;
pub use crate::scope::{Grants, Scope};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Who is making a request.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// No valid session token.
    Anonymous,
    /// A staff user of one organization's Customer Center.
    Staff {
        /// The signed-in staff user.
        user: staff_user::Model,
        /// The session the token belongs to (ended by `logout`).
        session_id: Uuid,
    },
    /// A customer signed in to the portal.
    Portal {
        /// The signed-in portal user.
        user: portal_user::Model,
        /// The session the token belongs to (ended by `logout`).
        session_id: Uuid,
        /// What the user's accepted invitations granted, read per request so
        /// a disconnect takes effect at once.
        grants: Arc<Grants>,
    },
}

impl Viewer {
    /// The viewer's organization; anonymous callers have none.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` for anonymous callers.
    pub fn organization_id(&self) -> Result<Uuid, ApiError> {
        match self {
            Self::Anonymous => Err(ApiError::Unauthenticated),
            Self::Staff { user, .. } => Ok(user.organization_id),
            Self::Portal { user, .. } => Ok(user.organization_id),
        }
    }

    /// The staff user, or the error for everybody else.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` when anonymous, `FORBIDDEN` for portal users.
    pub fn require_staff(&self) -> Result<&staff_user::Model, ApiError> {
        match self {
            Self::Staff { user, .. } => Ok(user),
            Self::Portal { .. } => Err(ApiError::Forbidden),
            Self::Anonymous => Err(ApiError::Unauthenticated),
        }
    }

    /// What the viewer may read: staff the whole organization, a portal
    /// user what its grants cover. Pass it to every service read.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` for anonymous callers.
    pub fn scope(&self) -> Result<Scope, ApiError> {
        match self {
            Self::Anonymous => Err(ApiError::Unauthenticated),
            Self::Staff { user, .. } => Ok(Scope::organization(user.organization_id)),
            Self::Portal { user, grants, .. } => Ok(Scope::portal(user.organization_id, grants.clone())),
        }
    }

    /// The portal user and what it may see, or the error for everybody
    /// else (staff act in their own systems; the portal acts as the customer).
    ///
    /// # Errors
    /// `UNAUTHENTICATED` when anonymous, `FORBIDDEN` for staff.
    pub fn require_portal(&self) -> Result<(&portal_user::Model, Scope), ApiError> {
        match self {
            Self::Portal { user, grants, .. } => Ok((user, Scope::portal(user.organization_id, grants.clone()))),
            Self::Staff { .. } => Err(ApiError::Forbidden),
            Self::Anonymous => Err(ApiError::Unauthenticated),
        }
    }

    /// The current session's id, if signed in.
    #[must_use]
    pub fn session_id(&self) -> Option<Uuid> {
        match self {
            Self::Anonymous => None,
            Self::Staff { session_id, .. } | Self::Portal { session_id, .. } => Some(*session_id),
        }
    }
}

pub use common::token::{new_token, token_digest};

/// Checks a new password's length.
///
/// # Errors
/// `BAD_USER_INPUT` on `field` when too short or too long.
pub fn validate_new_password(field: &str, password: &str) -> Result<(), ApiError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_input(
            field,
            format!("the password must have at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(ApiError::bad_input(
            field,
            format!("the password must have at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id on the blocking pool.
///
/// # Errors
/// Internal when hashing fails (it does not for valid lengths).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing a password failed: {e}")))
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash of a password nobody knows, verified against when the email is
/// unknown so that both failures take the same time.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"not-a-real-password-0000")
        .ok()
        .map(|hash| hash.to_string())
});

/// Verifies `password` against `hash`; with no hash (unknown user) it still
/// does the same work and answers `false`.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let Some(hash) = hash.or_else(|| DUMMY_HASH.clone()) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// Resolves a session token to a viewer. An unknown or expired token gives
/// [`Viewer::Anonymous`]; operations that need a viewer then answer
/// `UNAUTHENTICATED`.
///
/// # Errors
/// Internal on database failure.
pub async fn viewer_for_token(db: &impl ConnectionTrait, token: &str) -> Result<Viewer, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(Viewer::Anonymous);
    }
    // The session, its user and a portal user's grants in one statement (a
    // session has one of the two users; a portal user's row repeats once
    // per grant, and per location of a whole account granted).
    let mut statement = session::Entity::find()
        .find_also_related(staff_user::Entity)
        .find_also_related(portal_user::Entity)
        .filter(session::Column::TokenDigest.eq(token_digest(token)))
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .into_query();
    Grants::join_rows(&mut statement, sea_orm::JoinType::LeftJoin);
    let rows = db.query_all(&statement).await?;
    let Some(first) = rows.first() else {
        return Ok(Viewer::Anonymous);
    };
    let session = session::Model::from_query_result(first, SelectA.as_str())?;
    if let Some(user) = staff_user::Model::from_query_result_optional(first, SelectB.as_str())? {
        return Ok(Viewer::Staff {
            user,
            session_id: session.id,
        });
    }
    if let Some(user) = portal_user::Model::from_query_result_optional(first, SelectC.as_str())? {
        let mut grants = Grants::default();
        for row in &rows {
            grants.add_row(row)?;
        }
        return Ok(Viewer::Portal {
            user,
            session_id: session.id,
            grants: Arc::new(grants),
        });
    }
    Ok(Viewer::Anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery".to_owned()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".to_owned(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".to_owned(), Some(hash)).await);
        assert!(!verify_password("not-a-real-password-0000".to_owned(), None).await);
    }
}
