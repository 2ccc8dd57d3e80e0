//! `assets`, `asset` and `assetTypes`.

use crate::graphql::connection::{list_cost, page_cost};
use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    connection::{Connection, Page},
    context::ContextExt,
    types::{
        asset::{Asset, AssetConnection, AssetStatus, AssetType},
        parse_id,
    },
};
use service::assets::{self, AssetFilter};

/// Asset queries.
#[derive(Default)]
pub struct AssetQuery;

#[Object]
impl AssetQuery {
    /// The assets the viewer may see (a customer: those deployed at its
    /// locations), by account, location or status.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn assets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        account_id: Option<ID>,
        location_id: Option<ID>,
        status: Option<AssetStatus>,
    ) -> Result<AssetConnection> {
        let scope = ctx.viewer().scope()?;
        let page = Page::new(first, after.as_deref())?;
        let filter = AssetFilter {
            account_id: account_id.map(|id| parse_id(&id).unwrap_or_default()),
            location_id: location_id.map(|id| parse_id(&id).unwrap_or_default()),
            status: status.map(Into::into),
        };
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let (rows, total) = assets::list(ctx.db(), &scope, filter, page, want_total).await?;
        Ok(Connection::from_rows(rows.into_iter().map(Asset).collect(), page, total).into())
    }

    /// One asset; null when there is none visible with this id.
    async fn asset(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Asset>> {
        let scope = ctx.viewer().scope()?;
        let Some(id) = parse_id(&id) else { return Ok(None) };
        Ok(assets::find(ctx.db(), &scope, id).await?.map(Asset))
    }

    /// What customers can request: the organization's requestable asset types.
    /// Staff see every type.
    #[graphql(complexity = "list_cost(child_complexity)")]
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
