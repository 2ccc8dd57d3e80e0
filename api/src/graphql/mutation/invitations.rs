//! `inviteToPortal`, `resendInvitation`, `revokeInvitation` (staff) and
//! `acceptInvitation`, `requestNewInvitation` (public).

use async_graphql::{Context, ID, Object, Result};

use crate::{
    error::ApiError,
    graphql::{
        context::ContextExt,
        types::{
            invitation::Invitation,
            require_id,
            user::{PortalUser, Session, Viewer},
        },
    },
    rate_limit::Action,
};
use service::invitations;

/// Tells subscribers the portal status of the invitation's account may have moved.
fn publish_status_of(ctx: &Context<'_>, invitation: &entity::invitation::Model) {
    ctx.app()
        .publish_portal_status(invitation.organization_id, invitation.account_id);
}

/// Invitation changes.
#[derive(Default)]
pub struct InvitationMutation;

#[Object]
impl InvitationMutation {
    /// "Send Invitation?" -> OK. Emails the account's contact email on file a
    /// "Welcome to the Customer Portal" link. Fails with CONTACT_EMAIL_MISSING
    /// and queues nothing when no email is on file. locationIds limits the
    /// access to those locations of the account; null means the whole account
    /// ("together"). A second call while the same invitation is pending acts as
    /// a resend, except within a minute of the last send, when it returns the
    /// pending one and queues nothing (a double click sends one email).
    async fn invite_to_portal(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        location_ids: Option<Vec<ID>>,
    ) -> Result<Invitation> {
        let staff = ctx.viewer().require_staff()?;
        let account_id = require_id(&account_id, "account")?;
        let location_ids = location_ids
            .map(|ids| {
                ids.iter()
                    .map(|id| {
                        super::super::types::parse_id(id).ok_or_else(|| {
                            ApiError::bad_input("locationIds", "every location must be one of this account's")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let quota = ctx
            .limiter()
            .quota(Action::InvitationQuota, staff.organization_id)
            .await?;
        let queued = charged(
            quota,
            invitations::invite(ctx.db(), staff, account_id, location_ids, ctx.settings()).await,
        )
        .await?;
        ctx.dispatch(queued.invitation.organization_id, queued.delivery_id)
            .await;
        publish_status_of(ctx, &queued.invitation);
        Ok(Invitation(queued.invitation))
    }

    /// Sends a fresh link: links in earlier emails stop working; expiry restarts.
    async fn resend_invitation(&self, ctx: &Context<'_>, invitation_id: ID) -> Result<Invitation> {
        let staff = ctx.viewer().require_staff()?;
        let id = require_id(&invitation_id, "invitation")?;
        let quota = ctx
            .limiter()
            .quota(Action::InvitationQuota, staff.organization_id)
            .await?;
        let queued = charged(quota, invitations::resend(ctx.db(), staff, id, ctx.settings()).await).await?;
        ctx.dispatch(queued.invitation.organization_id, queued.delivery_id)
            .await;
        publish_status_of(ctx, &queued.invitation);
        Ok(Invitation(queued.invitation))
    }

    /// Revokes an invitation: its links stop working at once.
    async fn revoke_invitation(&self, ctx: &Context<'_>, invitation_id: ID) -> Result<Invitation> {
        let staff = ctx.viewer().require_staff()?;
        let id = require_id(&invitation_id, "invitation")?;
        let invitation = invitations::revoke(ctx.db(), staff, id).await?;
        publish_status_of(ctx, &invitation);
        Ok(Invitation(invitation))
    }

    /// Accepts an invitation: creates the portal user (or, when the email
    /// already has a portal account in this organization, checks its password
    /// and adds the access), marks the invitation ACCEPTED, and signs the
    /// customer in.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
        name: String,
        password: String,
    ) -> Result<Session> {
        let limiter = ctx.limiter();
        let address = ctx.client_addr();
        let attempt = limiter.acquire(Action::AcceptInvitation, &token, address).await?;
        let ttl = ctx.settings().session_ttl_hours;
        match invitations::accept(ctx.db(), &token, &name, &password, ttl).await {
            Ok(accepted) => {
                attempt.refund().await;
                tracing::info!(portal_user = %accepted.user.id, account = %accepted.account_id, "invitation accepted");
                ctx.app()
                    .publish_portal_status(accepted.user.organization_id, accepted.account_id);
                Ok(Session {
                    token: accepted.session.token,
                    expires_at: accepted.session.expires_at,
                    viewer: Viewer::PortalUser(PortalUser(accepted.user)),
                })
            }
            Err(err) => {
                if !matches!(
                    err,
                    ApiError::InvitationInvalid | ApiError::InvitationExpired | ApiError::InvalidCredentials
                ) {
                    attempt.refund().await;
                }
                Err(err.into())
            }
        }
    }

    /// From an expired (or superseded) link: sends a fresh invitation to the
    /// contact email on file — never to an address the caller supplies. Rate
    /// limited; answers true whether or not anything was sent.
    async fn request_new_invitation(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        let limiter = ctx.limiter();
        let address = ctx.client_addr();
        // Every request counts: each may send an email.
        let _counted = limiter.acquire(Action::RequestNewInvitation, &token, address).await?;
        let queued = invitations::request_new(ctx.db(), &token, ctx.settings()).await?;
        ctx.app().dispatch_requested(queued).await;
        Ok(true)
    }
}

/// An invite or resend against the organization's hourly quota of
/// invitation emails: the use is handed back unless an email was queued.
async fn charged(
    quota: crate::rate_limit::Attempt<'_>,
    result: Result<invitations::Queued, ApiError>,
) -> Result<invitations::Queued, ApiError> {
    match &result {
        Ok(queued) if queued.delivery_id.is_some() => {}
        _ => quota.refund().await,
    }
    result
}
