//! `staffLogin` and `logout`.

use async_graphql::{Context, Object, Result};

use crate::{
    error::ApiError,
    graphql::{
        context::ContextExt,
        types::user::{PortalUser, Session, StaffUser, Viewer},
    },
    rate_limit::Action,
};
use service::sessions;

/// Signing in and out.
#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Signs a staff user in. Unknown email and wrong password answer the
    /// same: INVALID_CREDENTIALS.
    async fn staff_login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<Session> {
        let (limiter, address) = (ctx.limiter(), ctx.client_addr());
        let attempt = limiter.acquire(Action::StaffLogin, &email, address).await?;
        let ttl = ctx.settings().session_ttl_hours;
        let (session, user) = match sessions::staff_login(ctx.db(), &email, &password, ttl).await {
            Ok(signed_in) => {
                attempt.refund().await;
                signed_in
            }
            Err(err) => {
                if !matches!(err, ApiError::InvalidCredentials) {
                    attempt.refund().await;
                }
                return Err(err.into());
            }
        };
        tracing::info!(staff_user = %user.id, "staff user signed in");
        Ok(Session {
            token: session.token,
            expires_at: session.expires_at,
            viewer: Viewer::StaffUser(StaffUser(user)),
        })
    }

    /// Portal users are unique per organization, so login names it by slug.
    async fn portal_login(
        &self,
        ctx: &Context<'_>,
        organization: String,
        email: String,
        password: String,
    ) -> Result<Session> {
        let subject = format!("{}/{}", organization.trim().to_lowercase(), email.trim().to_lowercase());
        let (limiter, address) = (ctx.limiter(), ctx.client_addr());
        let attempt = limiter.acquire(Action::PortalLogin, &subject, address).await?;
        let ttl = ctx.settings().session_ttl_hours;
        match sessions::portal_login(ctx.db(), &organization, &email, &password, ttl).await {
            Ok((session, user)) => {
                attempt.refund().await;
                tracing::info!(portal_user = %user.id, "portal user signed in");
                Ok(Session {
                    token: session.token,
                    expires_at: session.expires_at,
                    viewer: Viewer::PortalUser(PortalUser(user)),
                })
            }
            Err(err) => {
                if !matches!(err, ApiError::InvalidCredentials) {
                    attempt.refund().await;
                }
                Err(err.into())
            }
        }
    }

    /// Ends the current session (the token stops working at once).
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let session_id = ctx.viewer().session_id().ok_or(ApiError::Unauthenticated)?;
        sessions::end(ctx.db(), session_id).await?;
        Ok(true)
    }
}
