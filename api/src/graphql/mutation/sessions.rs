//! `staffLogin` and `logout`.

use async_graphql::{Context, Object, Result};

use crate::{
    error::ApiError,
    graphql::{
        context::ContextExt,
        types::user::{Session, StaffUser, Viewer},
    },
    service::sessions,
};

/// Signing in and out.
#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Signs a staff user in. Unknown email and wrong password answer the
    /// same: INVALID_CREDENTIALS.
    async fn staff_login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<Session> {
        let ttl = ctx.settings().session_ttl_hours;
        let (session, user) = sessions::staff_login(ctx.db(), &email, &password, ttl).await?;
        tracing::info!(staff_user = %user.id, "staff user signed in");
        Ok(Session {
            token: session.token,
            expires_at: session.expires_at,
            viewer: Viewer::StaffUser(StaffUser(user)),
        })
    }

    /// Ends the current session (the token stops working at once).
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let session_id = ctx.viewer().session_id().ok_or(ApiError::Unauthenticated)?;
        sessions::end(ctx.db(), session_id).await?;
        Ok(true)
    }
}
