//! Query resolvers, one module per domain, merged into [`Query`].

mod accounts;
mod asset_requests;
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
    asset_requests::AssetRequestQuery,
    invoices::InvoiceQuery,
    invitations::InvitationQuery,
);
