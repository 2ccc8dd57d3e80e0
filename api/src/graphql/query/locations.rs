//! `locations` and `location`.

use async_graphql::{Context, ID, Object, Result};

use crate::{
    graphql::{
        connection::{Connection, Page},
        context::ContextExt,
        types::{
            location::{Location, LocationConnection},
            parse_id,
        },
    },
    service::locations,
};

/// Location queries.
#[derive(Default)]
pub struct LocationQuery;

#[Object]
impl LocationQuery {
    /// The organization's locations, optionally of one account.
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        account_id: Option<ID>,
    ) -> Result<LocationConnection> {
        let staff = ctx.viewer().require_staff()?;
        let page = Page::new(first, after.as_deref())?;
        // An id that is not ours matches nothing.
        let account_id = account_id.map(|id| parse_id(&id).unwrap_or_default());
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let (rows, total) = locations::list(ctx.db(), staff.organization_id, account_id, page, want_total).await?;
        Ok(Connection::from_rows(rows.into_iter().map(Location).collect(), page, total).into())
    }

    /// One location; null when there is none visible with this id.
    async fn location(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Location>> {
        let staff = ctx.viewer().require_staff()?;
        let Some(id) = parse_id(&id) else { return Ok(None) };
        Ok(locations::find(ctx.db(), staff.organization_id, id)
            .await?
            .map(Location))
    }
}
