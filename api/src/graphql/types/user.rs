//! Staff users, portal users, the viewer union and sessions.

use crate::graphql::connection::page_cost;
use async_graphql::{Context, ID, Object, Result, SimpleObject, Union};
use chrono::{DateTime, Utc};
use entity::{portal_user, staff_user};

use super::{account::AccountConnection, organization::Organization, to_id};
use crate::{
    error::ApiError,
    graphql::{connection::Page, context::ContextExt, loaders::OrganizationKey},
};
use service::accounts::AccountFilter;

/// A user of the staff Customer Center.
#[derive(Clone)]
pub struct StaffUser(pub staff_user::Model);

/// A user of the staff Customer Center.
#[Object]
impl StaffUser {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        let found = ctx.loaders().one(OrganizationKey(self.0.organization_id)).await?;
        Ok(Organization(found.ok_or(ApiError::NotFound("organization"))?))
    }
}

/// A customer signed up to the portal.
#[derive(Clone)]
pub struct PortalUser(pub portal_user::Model);

/// A customer signed up to the portal.
#[Object]
impl PortalUser {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        let found = ctx.loaders().one(OrganizationKey(self.0.organization_id)).await?;
        Ok(Organization(found.ok_or(ApiError::NotFound("organization"))?))
    }

    /// The accounts this user was given access to.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AccountConnection> {
        let page = Page::new(first, after.as_deref())?;
        let filter = AccountFilter {
            portal_user: Some(self.0.id),
            ..AccountFilter::default()
        };
        let scope = ctx.viewer().scope()?;
        super::account::account_page(ctx, &scope, &filter, page).await
    }

    async fn last_sign_in_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_sign_in_at
    }
}

/// The signed-in staff user or portal user.
#[derive(Union, Clone)]
pub enum Viewer {
    /// Staff of the Customer Center.
    StaffUser(StaffUser),
    /// A customer.
    PortalUser(PortalUser),
}

impl Viewer {
    /// The output form of a request's viewer; `None` when anonymous.
    #[must_use]
    pub fn from_auth(viewer: &crate::auth::Viewer) -> Option<Self> {
        match viewer {
            crate::auth::Viewer::Anonymous => None,
            crate::auth::Viewer::Staff { user, .. } => Some(Self::StaffUser(StaffUser(user.clone()))),
            crate::auth::Viewer::Portal { user, .. } => Some(Self::PortalUser(PortalUser(user.clone()))),
        }
    }
}

/// A sign-in.
#[derive(SimpleObject)]
pub struct Session {
    /// Bearer token for the Authorization header. Shown once; stored only as a digest.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub viewer: Viewer,
}
