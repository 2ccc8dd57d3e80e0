//! Mutation resolvers, one module per domain, merged into [`Mutation`].

mod accounts;
mod assets;
mod deliveries;
mod invitations;
mod invoices;
mod locations;
mod organization;
mod sessions;

use async_graphql::MergedObject;

/// The root mutation type.
#[derive(MergedObject, Default)]
pub struct Mutation(
    sessions::SessionMutation,
    organization::OrganizationMutation,
    accounts::AccountMutation,
    locations::LocationMutation,
    assets::AssetMutation,
    invoices::InvoiceMutation,
    invitations::InvitationMutation,
    deliveries::DeliveryMutation,
);
