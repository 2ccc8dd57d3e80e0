//! What a portal user may see, as SQL conditions: the accounts and locations
//! its accepted invitations granted (see [`Grants`]). Staff see the whole
//! organization and get no extra condition. Every list and lookup of a
//! portal viewer adds the matching condition on top of the organization's.

use entity::{account, asset, invoice, location};
use sea_orm::{ColumnTrait, Condition, sea_query::Query};

use crate::auth::Grants;

/// Accounts with any grant.
#[must_use]
pub fn accounts(grants: &Grants) -> Condition {
    Condition::all().add(account::Column::Id.is_in(grants.accounts.iter().copied()))
}

/// Locations of whole-account grants, and locations granted one by one.
#[must_use]
pub fn locations(grants: &Grants) -> Condition {
    Condition::any()
        .add(location::Column::AccountId.is_in(grants.whole_accounts.iter().copied()))
        .add(location::Column::Id.is_in(grants.locations.iter().copied()))
}

/// Assets deployed at a visible location.
#[must_use]
pub fn assets(grants: &Grants) -> Condition {
    Condition::all().add(
        asset::Column::LocationId.in_subquery(
            Query::select()
                .column(location::Column::Id)
                .from(location::Entity)
                .cond_where(locations(grants))
                .to_owned(),
        ),
    )
}

/// Invoices of whole-account grants, and invoices billed to a granted location.
#[must_use]
pub fn invoices(grants: &Grants) -> Condition {
    Condition::any()
        .add(invoice::Column::AccountId.is_in(grants.whole_accounts.iter().copied()))
        .add(invoice::Column::LocationId.is_in(grants.locations.iter().copied()))
}
