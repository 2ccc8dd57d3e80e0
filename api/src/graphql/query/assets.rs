//! `assets`, `asset` and `assetTypes`.

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    connection::{Connection, Page},
    context::ContextExt,
    types::{
        asset::{Asset, AssetConnection, AssetStatus, AssetType},
        parse_id,
    },
};
use service::{
    assets::{self, AssetFilter},
    locations, visibility,
};

/// Asset queries.
#[derive(Default)]
pub struct AssetQuery;

#[Object]
impl AssetQuery {
    /// The assets the viewer may see (a customer: those deployed at its
    /// locations), by account, location or status.
    async fn assets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        account_id: Option<ID>,
        location_id: Option<ID>,
        status: Option<AssetStatus>,
    ) -> Result<AssetConnection> {
        let viewer = ctx.viewer();
        let org = viewer.organization_id()?;
        let visible = viewer.grants()?.map(visibility::assets);
        let page = Page::new(first, after.as_deref())?;
        let filter = AssetFilter {
            account_id: account_id.map(|id| parse_id(&id).unwrap_or_default()),
            location_id: location_id.map(|id| parse_id(&id).unwrap_or_default()),
            status: status.map(Into::into),
        };
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let (rows, total) = assets::list(ctx.db(), org, filter, visible, page, want_total).await?;
        Ok(Connection::from_rows(rows.into_iter().map(Asset).collect(), page, total).into())
    }

    /// One asset; null when there is none visible with this id.
    async fn asset(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Asset>> {
        let viewer = ctx.viewer();
        let org = viewer.organization_id()?;
        let Some(id) = parse_id(&id) else { return Ok(None) };
        let Some(found) = assets::find(ctx.db(), org, id).await? else {
            return Ok(None);
        };
        if let Some(grants) = viewer.grants()? {
            // A customer sees only units deployed at its visible locations.
            let Some(location_id) = found.location_id else {
                return Ok(None);
            };
            let Some(location) = locations::find(ctx.db(), org, location_id).await? else {
                return Ok(None);
            };
            if !grants.sees_location(location.id, location.account_id) {
                return Ok(None);
            }
        }
        Ok(Some(Asset(found)))
    }

    /// What customers can request: the organization's requestable asset types.
    /// Staff see every type.
    async fn asset_types(&self, ctx: &Context<'_>) -> Result<Vec<AssetType>> {
        let viewer = ctx.viewer();
        let org = viewer.organization_id()?;
        let staff = viewer.require_staff().is_ok();
        Ok(assets::asset_types(ctx.db(), org, !staff)
            .await?
            .into_iter()
            .map(AssetType)
            .collect())
    }
}
