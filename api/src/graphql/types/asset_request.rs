//! Asset requests: what a customer asked for, and where staff have taken it.

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::asset_request;

use super::{asset::AssetType, location::Location, to_id, user::PortalUser};
use crate::{
    auth::Viewer,
    error::ApiError,
    graphql::{
        connection::{Node, connection_types},
        context::ContextExt,
        loaders::{LocationKey, PortalUserKey},
        scalars::Date,
    },
};

/// Where an asset request is in its handling.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::AssetRequestStatus")]
pub enum AssetRequestStatus {
    /// Sent by the customer, not yet handled by staff.
    Submitted,
    /// Acknowledged by staff.
    Approved,
    /// A delivery is planned.
    Scheduled,
    /// The assets were delivered.
    Fulfilled,
    /// Withdrawn by the customer or by staff.
    Cancelled,
    /// Declined by staff, with a reason.
    Rejected,
}

/// A customer's request for assets at one of its locations.
#[derive(Clone)]
pub struct AssetRequest(pub asset_request::Model);

connection_types!(AssetRequestConnection, AssetRequestEdge, AssetRequest, "asset requests");

/// Every field through the generic resolver (these lists are short).
impl crate::graphql::rows::PlainFields for AssetRequest {
    fn plain(&self, _: &async_graphql::Context<'_>) -> Option<async_graphql::Value> {
        None
    }
}

impl Node for AssetRequest {
    fn id(&self) -> uuid::Uuid {
        self.0.id
    }
}

/// A customer's request for assets at one of its locations.
#[Object]
impl AssetRequest {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// Where the assets are wanted.
    async fn location(&self, ctx: &Context<'_>) -> Result<Location> {
        let found = ctx.loaders().one(LocationKey(self.0.location_id)).await?;
        Ok(Location(found.ok_or(ApiError::NotFound("location"))?))
    }

    /// What kind of asset is wanted.
    async fn asset_type(&self, ctx: &Context<'_>) -> Result<AssetType> {
        let found = ctx.loaders().asset_type(self.0.asset_type_id).await?;
        Ok(AssetType(found.ok_or(ApiError::NotFound("asset type"))?))
    }

    /// How many.
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }

    /// When the customer needs them.
    async fn needed_by(&self) -> Option<Date> {
        self.0.needed_by.map(Date)
    }

    /// The customer's notes for staff.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }

    async fn status(&self) -> AssetRequestStatus {
        self.0.status.into()
    }

    /// Why it was declined (or cancelled by staff).
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// The portal user who made the request. Staff see it on every request,
    /// a portal user only on its own (null on others' requests at its
    /// locations); null, too, when nobody is on record.
    async fn requested_by(&self, ctx: &Context<'_>) -> Result<Option<PortalUser>> {
        let Some(user_id) = self.0.requested_by else {
            return Ok(None);
        };
        let allowed = match ctx.viewer() {
            Viewer::Staff { .. } => true,
            Viewer::Portal { user, .. } => user.id == user_id,
            Viewer::Anonymous => false,
        };
        if !allowed {
            return Ok(None);
        }
        Ok(ctx.loaders().one(PortalUserKey(user_id)).await?.map(PortalUser))
    }

    /// When the request was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
