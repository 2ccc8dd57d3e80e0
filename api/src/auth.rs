//! The viewer of an HTTP request: the `Authorization: Bearer …` header,
//! resolved through [`service::auth`] (which owns sessions, passwords and
//! grants).

use sea_orm::ConnectionTrait;
pub use service::auth::*;

use crate::error::ApiError;

/// Resolves the `Authorization: Bearer …` header to a viewer. A missing,
/// malformed, unknown or expired token gives [`Viewer::Anonymous`];
/// operations that need a viewer then answer `UNAUTHENTICATED`.
///
/// # Errors
/// Internal on database failure.
pub async fn viewer_from_header(db: &impl ConnectionTrait, header: Option<&str>) -> Result<Viewer, ApiError> {
    match header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim) {
        Some(token) => service::auth::viewer_for_token(db, token).await,
        None => Ok(Viewer::Anonymous),
    }
}
