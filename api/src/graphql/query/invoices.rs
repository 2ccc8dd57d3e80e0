//! `invoices` and `invoice`.

use crate::graphql::connection::page_cost;
use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    connection::{Connection, Page},
    context::ContextExt,
    types::{
        invoice::{Invoice, InvoiceConnection, InvoiceStatus},
        parse_id,
    },
};
use service::invoices;

/// Invoice queries.
#[derive(Default)]
pub struct InvoiceQuery;

#[Object]
impl InvoiceQuery {
    /// The invoices the viewer may see, by account or status.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        account_id: Option<ID>,
        status: Option<InvoiceStatus>,
    ) -> Result<InvoiceConnection> {
        let scope = ctx.viewer().scope()?;
        let page = Page::new(first, after.as_deref())?;
        let account_id = account_id.map(|id| parse_id(&id).unwrap_or_default());
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let status = status.map(Into::into);
        let (rows, total) = invoices::list(ctx.db(), &scope, account_id, status, page, want_total).await?;
        Ok(Connection::from_rows(rows.into_iter().map(Invoice).collect(), page, total).into())
    }

    /// One invoice; null when there is none visible with this id.
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Invoice>> {
        let scope = ctx.viewer().scope()?;
        let Some(id) = parse_id(&id) else { return Ok(None) };
        Ok(invoices::find(ctx.db(), &scope, id).await?.map(Invoice))
    }
}
