//! Mutation resolvers, one module per domain, merged into [`Mutation`].

mod access;
mod accounts;
mod asset_requests;
mod assets;
mod deliveries;
mod invitations;
mod invoices;
mod locations;
mod organization;
mod passwords;
mod payments;
mod sessions;

use async_graphql::MergedObject;

/// The root mutation type.
#[derive(MergedObject, Default)]
pub struct Mutation(
    sessions::SessionMutation,
    passwords::PasswordMutation,
    organization::OrganizationMutation,
    accounts::AccountMutation,
    locations::LocationMutation,
    assets::AssetMutation,
    asset_requests::AssetRequestMutation,
    invoices::InvoiceMutation,
    payments::PaymentMutation,
    invitations::InvitationMutation,
    deliveries::DeliveryMutation,
    access::AccessMutation,
);
