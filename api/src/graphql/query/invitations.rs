//! `invitations`, `invitationPreview` and `emailDeliveries`.

use crate::graphql::connection::page_cost;
use async_graphql::{Context, Object, Result};

use crate::graphql::{
    connection::{Connection, Page},
    context::ContextExt,
    types::invitation::{
        DeliveryStatus, EmailDelivery, EmailDeliveryConnection, EmailKind, Invitation, InvitationConnection,
        InvitationPreview, InvitationStatus,
    },
};
use service::{deliveries, invitations};

/// Invitation and delivery queries.
#[derive(Default)]
pub struct InvitationQuery;

#[Object]
impl InvitationQuery {
    /// Staff only: the organization's invitations, by status.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<InvitationStatus>,
    ) -> Result<InvitationConnection> {
        let staff = ctx.viewer().require_staff()?;
        let page = Page::new(first, after.as_deref())?;
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let (rows, total) = invitations::list(
            ctx.db(),
            staff.organization_id,
            None,
            status.map(Into::into),
            page,
            want_total,
        )
        .await?;
        Ok(Connection::from_rows(rows.into_iter().map(Invitation).collect(), page, total).into())
    }

    /// Staff only: every email the system queued, with its delivery state;
    /// of one status and one kind when they are given.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn email_deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<DeliveryStatus>,
        kind: Option<EmailKind>,
    ) -> Result<EmailDeliveryConnection> {
        let staff = ctx.viewer().require_staff()?;
        let page = Page::new(first, after.as_deref())?;
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let (rows, total) = deliveries::list(
            ctx.db(),
            staff.organization_id,
            status.map(Into::into),
            kind.map(Into::into),
            page,
            want_total,
        )
        .await?;
        Ok(Connection::from_rows(rows.into_iter().map(EmailDelivery).collect(), page, total).into())
    }

    /// Public: what the accept page shows for a token. Null when the token is
    /// unknown. A link replaced by a newer one shows as EXPIRED. Reading it
    /// never uses the token up. Rate limited per token and client address
    /// (every opening counts, far more than a person needs).
    async fn invitation_preview(&self, ctx: &Context<'_>, token: String) -> Result<Option<InvitationPreview>> {
        let _counted = ctx
            .limiter()
            .acquire(crate::rate_limit::Action::InvitationPreview, &token, ctx.client_addr())
            .await?;
        Ok(invitations::preview(ctx.db(), &token)
            .await?
            .map(|p| InvitationPreview {
                organization_name: p.organization_name,
                account_name: p.account_name,
                email: p.masked_email,
                status: p.status.into(),
                expires_at: p.expires_at,
                existing_user: p.existing_user,
            }))
    }
}
