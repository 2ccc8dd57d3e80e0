//! `requestPasswordReset`, `resetPassword` (public) and `changePassword`.
//!
//! Each is rate limited like a login: a reset request counts every time (it
//! sends an email), a reset or a change counts when its token or current
//! password is wrong.

use async_graphql::{Context, Object, Result};

use crate::{
    error::ApiError,
    graphql::{
        context::ContextExt,
        types::user::{PortalUser, Session, StaffUser, Viewer},
    },
    rate_limit::Action,
};
use service::password_resets::{self, User};

/// Forgotten and changed passwords.
#[derive(Default)]
pub struct PasswordMutation;

#[Object]
impl PasswordMutation {
    /// Emails a password-reset link to the portal user with this email in
    /// the organization `organization` (its slug), or to the staff user
    /// with this email when `organization` is null. Always true: never
    /// reveals whether the email exists. Rate limited.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
        organization: Option<String>,
    ) -> Result<bool> {
        let subject = format!(
            "{}/{}",
            organization.as_deref().unwrap_or("").trim().to_lowercase(),
            email.trim().to_lowercase()
        );
        let (limiter, address) = (ctx.limiter(), ctx.client_addr());
        // Every request counts: each may send an email.
        let _counted = limiter.acquire(Action::RequestPasswordReset, &subject, address).await?;
        let queued = password_resets::request(ctx.db(), ctx.settings(), &email, organization.as_deref()).await?;
        if let Some(queued) = queued {
            ctx.dispatch(queued.organization_id, Some(queued.delivery_id)).await;
            tracing::info!(delivery_id = %queued.delivery_id, "password reset requested");
        }
        Ok(true)
    }

    /// Sets a new password with a reset link's token (single use, about an
    /// hour), ends every other session of that user, and signs in.
    async fn reset_password(&self, ctx: &Context<'_>, token: String, password: String) -> Result<Session> {
        let subject = service::auth::token_digest(&token);
        let (limiter, address) = (ctx.limiter(), ctx.client_addr());
        let attempt = limiter.acquire(Action::ResetPassword, &subject, address).await?;
        let ttl = ctx.settings().session_ttl_hours;
        match password_resets::reset(ctx.db(), &token, &password, ttl).await {
            Ok((session, user)) => {
                attempt.refund().await;
                let viewer = match user {
                    User::Staff(user) => {
                        tracing::info!(staff_user = %user.id, "password reset; staff user signed in");
                        Viewer::StaffUser(StaffUser(user))
                    }
                    User::Portal(user) => {
                        tracing::info!(portal_user = %user.id, "password reset; portal user signed in");
                        Viewer::PortalUser(PortalUser(user))
                    }
                };
                Ok(Session {
                    token: session.token,
                    expires_at: session.expires_at,
                    viewer,
                })
            }
            Err(err) => {
                if !matches!(err, ApiError::PasswordResetInvalid) {
                    attempt.refund().await;
                }
                Err(err.into())
            }
        }
    }

    /// Signed in: changes the viewer's own password after checking the
    /// current one; ends the viewer's other sessions.
    async fn change_password(&self, ctx: &Context<'_>, current_password: String, new_password: String) -> Result<bool> {
        let viewer = ctx.viewer();
        let subject = match viewer {
            service::auth::Viewer::Anonymous => return Err(ApiError::Unauthenticated.into()),
            service::auth::Viewer::Staff { user, .. } => format!("staff/{}", user.id),
            service::auth::Viewer::Portal { user, .. } => format!("portal/{}", user.id),
        };
        let (limiter, address) = (ctx.limiter(), ctx.client_addr());
        let attempt = limiter.acquire(Action::ChangePassword, &subject, address).await?;
        match password_resets::change(ctx.db(), viewer, &current_password, &new_password).await {
            Ok(()) => {
                attempt.refund().await;
                tracing::info!("password changed; other sessions ended");
                Ok(true)
            }
            Err(err) => {
                if !matches!(err, ApiError::InvalidCredentials) {
                    attempt.refund().await;
                }
                Err(err.into())
            }
        }
    }
}
