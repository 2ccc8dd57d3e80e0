//! `accounts` and `account`.

use crate::graphql::connection::page_cost;
use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    connection::Page,
    context::ContextExt,
    types::{
        account::{Account, AccountConnection, PortalStatus, account_page},
        parse_id,
    },
};
use service::accounts::{self, AccountFilter};

/// Account queries.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The accounts the viewer may see (staff: the organization's; a portal
    /// user: those its invitations granted), searchable by number, name and
    /// contact email.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        portal_status: Option<PortalStatus>,
    ) -> Result<AccountConnection> {
        let scope = ctx.viewer().scope()?;
        let page = Page::new(first, after.as_deref())?;
        let filter = AccountFilter {
            search,
            portal_status: portal_status.map(Into::into),
            portal_user: None,
        };
        account_page(ctx, &scope, &filter, page).await
    }

    /// One account; null when there is none visible with this id.
    async fn account(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Account>> {
        let scope = ctx.viewer().scope()?;
        let Some(id) = parse_id(&id) else { return Ok(None) };
        Ok(accounts::find(ctx.db(), &scope, id).await?.map(Account))
    }
}
