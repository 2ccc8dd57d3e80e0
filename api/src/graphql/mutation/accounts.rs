//! `createAccount` and `updateAccountContact`.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};

use crate::graphql::{
    context::ContextExt,
    types::{account::Account, require_id},
};
use service::accounts::{self, ContactChange, NewAccount};

/// Contact Information. On update, an omitted field stays as it is and
/// `null` clears it.
#[derive(InputObject, Default)]
pub struct ContactInput {
    /// Contact person.
    pub name: MaybeUndefined<String>,
    /// Where invitations go; must be a valid address.
    pub email: MaybeUndefined<String>,
    /// Phone number.
    pub phone: MaybeUndefined<String>,
}

fn change(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

impl From<ContactInput> for ContactChange {
    fn from(input: ContactInput) -> Self {
        Self {
            name: change(input.name),
            email: change(input.email),
            phone: change(input.phone),
        }
    }
}

/// A new account.
#[derive(InputObject)]
pub struct CreateAccountInput {
    /// Unique in the organization.
    pub number: String,
    /// Account name.
    pub name: String,
    /// Contact Information on file.
    pub contact: Option<ContactInput>,
}

/// Account changes.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates a billing account.
    async fn create_account(&self, ctx: &Context<'_>, input: CreateAccountInput) -> Result<Account> {
        let staff = ctx.viewer().require_staff()?;
        let new = NewAccount {
            number: input.number,
            name: input.name,
            contact: input.contact.map(Into::into).unwrap_or_default(),
        };
        Ok(Account(accounts::create(ctx.db(), staff.organization_id, new).await?))
    }

    /// Sets the Contact Information on file. Changing the email revokes pending invitations.
    async fn update_account_contact(&self, ctx: &Context<'_>, account_id: ID, input: ContactInput) -> Result<Account> {
        let staff = ctx.viewer().require_staff()?;
        let id = require_id(&account_id, "account")?;
        let account = accounts::update_contact(ctx.db(), staff, id, &input.into()).await?;
        // A new email revokes pending invitations.
        ctx.app().publish_portal_status(account.organization_id, account.id);
        Ok(Account(account))
    }
}
