//! Query resolvers, one module per domain, merged into [`Query`].

mod accounts;
mod assets;
mod invitations;
mod invoices;
mod locations;
mod viewer;

use async_graphql::MergedObject;

/// The root query type.
#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    accounts::AccountQuery,
    locations::LocationQuery,
    assets::AssetQuery,
    invoices::InvoiceQuery,
    invitations::InvitationQuery,
);
