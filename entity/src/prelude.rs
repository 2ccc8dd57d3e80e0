//! Every entity under its table's singular name, as `sea-orm-cli` generates:
//! `use entity::prelude::*;` then `Account::find()`.

pub use super::account::Entity as Account;
pub use super::asset::Entity as Asset;
pub use super::asset_request::Entity as AssetRequest;
pub use super::asset_type::Entity as AssetType;
pub use super::audit_event::Entity as AuditEvent;
pub use super::email_delivery::Entity as EmailDelivery;
pub use super::invitation::Entity as Invitation;
pub use super::invitation_link::Entity as InvitationLink;
pub use super::invitation_location::Entity as InvitationLocation;
pub use super::invoice::Entity as Invoice;
pub use super::invoice_line::Entity as InvoiceLine;
pub use super::location::Entity as Location;
pub use super::organization::Entity as Organization;
pub use super::password_reset::Entity as PasswordReset;
pub use super::payment::Entity as Payment;
pub use super::portal_access::Entity as PortalAccess;
pub use super::portal_user::Entity as PortalUser;
pub use super::session::Entity as Session;
pub use super::staff_user::Entity as StaffUser;
