//! `createAsset` and `moveAsset`.

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::graphql::{
    context::ContextExt,
    types::{
        asset::{Asset, AssetStatus},
        require_id,
    },
};
use service::assets;

/// A new asset.
#[derive(InputObject)]
pub struct CreateAssetInput {
    /// Its asset type.
    pub asset_type_id: ID,
    /// The tag on the unit, unique in the organization.
    pub tag: String,
    /// AVAILABLE (default), MAINTENANCE or RETIRED; deploy with moveAsset.
    pub status: Option<AssetStatus>,
}

/// Asset changes.
#[derive(Default)]
pub struct AssetMutation;

#[Object]
impl AssetMutation {
    /// Adds an asset to the yard.
    async fn create_asset(&self, ctx: &Context<'_>, input: CreateAssetInput) -> Result<Asset> {
        let staff = ctx.viewer().require_staff()?;
        let type_id = require_id(&input.asset_type_id, "asset type")?;
        let created = assets::create(
            ctx.db(),
            staff.organization_id,
            type_id,
            &input.tag,
            input.status.map(Into::into),
        )
        .await?;
        Ok(Asset(created))
    }

    /// Deploys an asset at a location (or returns it to the yard with locationId null).
    async fn move_asset(&self, ctx: &Context<'_>, asset_id: ID, location_id: Option<ID>) -> Result<Asset> {
        let staff = ctx.viewer().require_staff()?;
        let asset_id = require_id(&asset_id, "asset")?;
        let location_id = location_id.map(|id| require_id(&id, "location")).transpose()?;
        Ok(Asset(
            assets::move_asset(ctx.db(), staff.organization_id, asset_id, location_id).await?,
        ))
    }
}
