//! `invoices` and `invoice`.

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    connection::{Connection, Page},
    context::ContextExt,
    types::{
        invoice::{Invoice, InvoiceConnection, InvoiceStatus},
        parse_id,
    },
};
use service::{invoices, visibility};

/// Invoice queries.
#[derive(Default)]
pub struct InvoiceQuery;

#[Object]
impl InvoiceQuery {
    /// The invoices the viewer may see, by account or status.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        account_id: Option<ID>,
        status: Option<InvoiceStatus>,
    ) -> Result<InvoiceConnection> {
        let viewer = ctx.viewer();
        let org = viewer.organization_id()?;
        let visible = viewer.grants()?.map(visibility::invoices);
        let page = Page::new(first, after.as_deref())?;
        let account_id = account_id.map(|id| parse_id(&id).unwrap_or_default());
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let status = status.map(Into::into);
        let (rows, total) = invoices::list(ctx.db(), org, account_id, status, visible, page, want_total).await?;
        Ok(Connection::from_rows(rows.into_iter().map(Invoice).collect(), page, total).into())
    }

    /// One invoice; null when there is none visible with this id.
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Invoice>> {
        let viewer = ctx.viewer();
        let org = viewer.organization_id()?;
        let Some(id) = parse_id(&id) else { return Ok(None) };
        let found = invoices::find(ctx.db(), org, id).await?;
        let grants = viewer.grants()?;
        Ok(found
            .filter(|i| grants.is_none_or(|g| g.sees_invoice(i.account_id, i.location_id)))
            .map(Invoice))
    }
}
