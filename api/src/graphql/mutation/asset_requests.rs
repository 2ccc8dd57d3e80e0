//! `requestAsset`, `cancelAssetRequest` (portal users) and
//! `updateAssetRequestStatus` (staff).

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::graphql::{
    context::ContextExt,
    scalars::Date,
    types::{
        asset_request::{AssetRequest, AssetRequestStatus},
        require_id,
    },
};
use service::asset_requests::{self, NewAssetRequest};

use crate::rate_limit::Action;

/// What a customer asks for.
#[derive(InputObject)]
pub struct RequestAssetInput {
    /// One of the customer's locations.
    pub location_id: ID,
    /// A requestable asset type (see `assetTypes`).
    pub asset_type_id: ID,
    /// How many, 1 – 50.
    pub quantity: i32,
    /// When they are needed; not in the past.
    pub needed_by: Option<Date>,
    /// Anything staff should know, at most 2,000 characters.
    pub notes: Option<String>,
}

/// Asset request changes.
#[derive(Default)]
pub struct AssetRequestMutation;

#[Object]
impl AssetRequestMutation {
    /// Requests assets at one of the customer's locations. Staff of the
    /// organization are emailed (ASSET_REQUEST_RECEIVED).
    async fn request_asset(&self, ctx: &Context<'_>, input: RequestAssetInput) -> Result<AssetRequest> {
        let (user, scope) = ctx.viewer().require_portal()?;
        let new = NewAssetRequest {
            location_id: require_id(&input.location_id, "location")?,
            asset_type_id: require_id(&input.asset_type_id, "asset type")?,
            quantity: input.quantity,
            needed_by: input.needed_by.map(|d| d.0),
            notes: input.notes,
        };
        let quota = ctx.limiter().quota(Action::AssetRequestQuota, user.id).await?;
        let changed = match asset_requests::request(ctx.db(), ctx.settings(), user, &scope, new).await {
            Ok(changed) => changed,
            Err(err) => {
                quota.refund().await;
                return Err(err.into());
            }
        };
        for delivery in changed.deliveries {
            ctx.dispatch(changed.request.organization_id, Some(delivery)).await;
        }
        ctx.app()
            .publish_asset_request(changed.request.organization_id, changed.request.id);
        Ok(AssetRequest(changed.request))
    }

    /// Cancels one of the customer's own requests while it is SUBMITTED or
    /// APPROVED.
    async fn cancel_asset_request(&self, ctx: &Context<'_>, id: ID) -> Result<AssetRequest> {
        let (user, scope) = ctx.viewer().require_portal()?;
        let id = require_id(&id, "asset request")?;
        let request = asset_requests::cancel(ctx.db(), user, &scope, id).await?;
        ctx.app().publish_asset_request(request.organization_id, request.id);
        Ok(AssetRequest(request))
    }

    /// Acknowledge (APPROVED), decline (REJECTED, with a reason), schedule,
    /// fulfil, or cancel (with an optional reason). Allowed: SUBMITTED →
    /// APPROVED | REJECTED | CANCELLED, APPROVED → SCHEDULED | CANCELLED,
    /// SCHEDULED → FULFILLED. The requester is emailed (ASSET_REQUEST_UPDATED).
    async fn update_asset_request_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: AssetRequestStatus,
        reason: Option<String>,
    ) -> Result<AssetRequest> {
        let staff = ctx.viewer().require_staff()?;
        let id = require_id(&id, "asset request")?;
        let changed =
            asset_requests::update_status(ctx.db(), ctx.settings(), staff, id, status.into(), reason.as_deref())
                .await?;
        for delivery in changed.deliveries {
            ctx.dispatch(changed.request.organization_id, Some(delivery)).await;
        }
        ctx.app()
            .publish_asset_request(changed.request.organization_id, changed.request.id);
        Ok(AssetRequest(changed.request))
    }
}
