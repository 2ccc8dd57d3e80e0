//! Sessions, passwords and the viewer of a request.
//!
//! Session tokens are 256 random bits, URL-safe base64; the database keeps only
//! their SHA-256 digest, so a leaked database cannot be used to sign in.
//! Passwords are argon2id hashes with the crate's (OWASP's) default parameters.
//! Hashing is CPU-heavy, so it runs on the blocking pool.

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use entity::{portal_user, session, staff_user};
use rand::RngCore;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;

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

    /// The current session's id, if signed in.
    #[must_use]
    pub fn session_id(&self) -> Option<Uuid> {
        match self {
            Self::Anonymous => None,
            Self::Staff { session_id, .. } | Self::Portal { session_id, .. } => Some(*session_id),
        }
    }
}

/// A new random token and its digest: the token goes to the client (or into
/// an email), the digest into the database.
#[must_use]
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let digest = token_digest(&token);
    (token, digest)
}

/// SHA-256 of a token, lowercase hex.
#[must_use]
pub fn token_digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in hash {
        use std::fmt::Write;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

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

/// Resolves the `Authorization: Bearer …` header to a viewer. A missing,
/// unknown or expired token gives [`Viewer::Anonymous`]; operations that need
/// a viewer then answer `UNAUTHENTICATED`.
///
/// # Errors
/// Internal on database failure.
pub async fn viewer_from_header(db: &impl ConnectionTrait, header: Option<&str>) -> Result<Viewer, ApiError> {
    let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim) else {
        return Ok(Viewer::Anonymous);
    };
    if token.is_empty() || token.len() > 128 {
        return Ok(Viewer::Anonymous);
    }
    let Some(session) = session::Entity::find()
        .filter(session::Column::TokenDigest.eq(token_digest(token)))
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
    else {
        return Ok(Viewer::Anonymous);
    };
    if let Some(staff_id) = session.staff_user_id
        && let Some(user) = staff_user::Entity::find_by_id(staff_id).one(db).await?
    {
        return Ok(Viewer::Staff {
            user,
            session_id: session.id,
        });
    }
    if let Some(portal_id) = session.portal_user_id
        && let Some(user) = portal_user::Entity::find_by_id(portal_id).one(db).await?
    {
        return Ok(Viewer::Portal {
            user,
            session_id: session.id,
        });
    }
    Ok(Viewer::Anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_url_safe_and_stored_as_digests() {
        let (token, digest) = new_token();
        assert_eq!(token.len(), 43, "32 bytes in unpadded base64");
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(digest, token_digest(&token));
        assert_eq!(digest.len(), 64);
        assert_ne!(new_token().0, token);
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery".to_owned()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".to_owned(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".to_owned(), Some(hash)).await);
        assert!(!verify_password("not-a-real-password-0000".to_owned(), None).await);
    }
}
