//! GraphQL output types, one module per domain. Each wraps an entity model
//! and resolves its children through the request's DataLoaders.

pub mod account;
pub mod asset;
pub mod asset_request;
pub mod audit;
pub mod invitation;
pub mod invoice;
pub mod location;
pub mod money;
pub mod organization;
pub mod user;

use async_graphql::ID;
use uuid::Uuid;

/// Parses an opaque id; anything that is not one of ours finds nothing.
#[must_use]
pub fn parse_id(id: &ID) -> Option<Uuid> {
    Uuid::parse_str(id.as_str()).ok()
}

/// Parses an id argument that must name an object, or answers `NOT_FOUND`.
///
/// # Errors
/// `NOT_FOUND` with `what` when the id is malformed.
pub fn require_id(id: &ID, what: &'static str) -> Result<Uuid, crate::error::ApiError> {
    parse_id(id).ok_or(crate::error::ApiError::NotFound(what))
}

/// The opaque id of a row.
#[must_use]
pub fn to_id(id: Uuid) -> ID {
    ID(id.to_string())
}
