//! `viewer` and `organization`.

use async_graphql::{Context, Object, Result};

use crate::graphql::{
    context::ContextExt,
    loaders::OrganizationKey,
    types::{organization::Organization, user::Viewer},
};

/// Who is signed in, and where.
#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The signed-in staff user or portal user; null when anonymous.
    async fn viewer(&self, ctx: &Context<'_>) -> Option<Viewer> {
        Viewer::from_auth(ctx.viewer())
    }

    /// The viewer's organization; null when anonymous.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        let Ok(org) = ctx.viewer().organization_id() else {
            return Ok(None);
        };
        Ok(ctx.loaders().one(OrganizationKey(org)).await?.map(Organization))
    }
}
