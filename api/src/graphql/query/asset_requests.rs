//! `assetRequests`.

use crate::graphql::connection::page_cost;
use async_graphql::{Context, Object, Result};

use crate::graphql::{
    connection::{Connection, Page},
    context::ContextExt,
    types::asset_request::{AssetRequest, AssetRequestConnection, AssetRequestStatus},
};
use service::asset_requests;

/// Asset request queries.
#[derive(Default)]
pub struct AssetRequestQuery;

#[Object]
impl AssetRequestQuery {
    /// Asset requests, oldest first: for a customer those at the locations it
    /// may see (whoever made them), for staff all of the organization's.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn asset_requests(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<AssetRequestStatus>,
    ) -> Result<AssetRequestConnection> {
        let scope = ctx.viewer().scope()?;
        let page = Page::new(first, after.as_deref())?;
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let status = status.map(Into::into);
        let (rows, total) = asset_requests::list(ctx.db(), &scope, status, page, want_total).await?;
        Ok(Connection::from_rows(rows.into_iter().map(AssetRequest).collect(), page, total).into())
    }
}
