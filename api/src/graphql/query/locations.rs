//! `locations` and `location`.

use crate::graphql::connection::page_cost;
use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    connection::{Connection, Page},
    context::ContextExt,
    types::{
        location::{Location, LocationConnection},
        parse_id,
    },
};
use service::locations;

/// Location queries.
#[derive(Default)]
pub struct LocationQuery;

#[Object]
impl LocationQuery {
    /// The locations the viewer may see, optionally of one account.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        account_id: Option<ID>,
    ) -> Result<LocationConnection> {
        let scope = ctx.viewer().scope()?;
        let page = Page::new(first, after.as_deref())?;
        // An id that is not ours matches nothing.
        let account_id = account_id.map(|id| parse_id(&id).unwrap_or_default());
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let (rows, total) = locations::list(ctx.db(), &scope, account_id, page, want_total).await?;
        Ok(Connection::from_rows(rows.into_iter().map(Location).collect(), page, total).into())
    }

    /// One location; null when there is none visible with this id.
    async fn location(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Location>> {
        let scope = ctx.viewer().scope()?;
        let Some(id) = parse_id(&id) else { return Ok(None) };
        Ok(locations::find(ctx.db(), &scope, id).await?.map(Location))
    }
}
