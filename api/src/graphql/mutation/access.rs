//! `disconnectPortalUser`.

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::{
    context::ContextExt,
    types::{account::Account, require_id},
};
use service::access;

/// Portal access changes.
#[derive(Default)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Removes a portal user's access to an account (status may go back to
    /// NOT_CONNECTED). Takes effect at once, also for the user's open sessions.
    async fn disconnect_portal_user(&self, ctx: &Context<'_>, portal_user_id: ID, account_id: ID) -> Result<Account> {
        let staff = ctx.viewer().require_staff()?;
        let user = require_id(&portal_user_id, "portal user")?;
        let account = require_id(&account_id, "account")?;
        let account = access::disconnect(ctx.db(), staff, user, account).await?;
        ctx.app().publish_portal_status(account.organization_id, account.id);
        Ok(Account(account))
    }
}
