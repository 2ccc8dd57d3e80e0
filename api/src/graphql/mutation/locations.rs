//! `createLocation`.

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::graphql::{
    context::ContextExt,
    types::{location::Location, require_id},
};
use service::locations::{self, NewAddress};

/// A postal address.
#[derive(InputObject)]
pub struct AddressInput {
    /// Street and number.
    pub line1: String,
    /// Suite, building, gate.
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or region.
    pub region: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
    /// Country (ISO 3166-1 alpha-2 code, e.g. US).
    pub country: String,
}

/// A new location.
#[derive(InputObject)]
pub struct LocationInput {
    /// What the customer calls the site.
    pub name: String,
    /// Where it is.
    pub address: AddressInput,
}

/// Location changes.
#[derive(Default)]
pub struct LocationMutation;

#[Object]
impl LocationMutation {
    /// Adds a location (site) to an account.
    async fn create_location(&self, ctx: &Context<'_>, account_id: ID, input: LocationInput) -> Result<Location> {
        let staff = ctx.viewer().require_staff()?;
        let account_id = require_id(&account_id, "account")?;
        let a = input.address;
        let address = NewAddress {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
        };
        let created = locations::create(ctx.db(), staff.organization_id, account_id, &input.name, &address).await?;
        Ok(Location(created))
    }
}
