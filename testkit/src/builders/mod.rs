//! Row builders with defaults, for tests and benchmarks that write rows
//! straight into the database (crates.io's `builders/`).
//!
//! `LocationBuilder::new(organization_id, account_id).name("North yard")`
//! names only what the test cares about; every other column gets a working
//! default here. So adding a column touches this module (one default), not
//! the tests. A builder gives its row as a `Model` ([`build`]), as an
//! `ActiveModel` with every column set ([`into_active_model`], for
//! `insert_many`), or inserts it ([`insert`]).
//!
//! Defaults are valid rows, not realistic ones: unique columns (slugs,
//! numbers, tags, emails) take a number from a process-wide counter so that
//! two built rows never collide, and timestamps are "now" cut to the
//! microsecond, which PostgreSQL stores exactly (a round trip compares equal).
//! The builders know columns, not rules: they never validate or derive
//! state the way the service would (use the service for that).
//!
//! [`build`]: LocationBuilder::build
//! [`into_active_model`]: LocationBuilder::into_active_model
//! [`insert`]: LocationBuilder::insert

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};

mod account;
mod asset;
mod email;
mod invitation;
mod invoice;
mod organization;

pub use account::{AccountBuilder, LocationBuilder, PortalAccessBuilder, PortalUserBuilder};
pub use asset::{AssetBuilder, AssetTypeBuilder};
pub use email::EmailDeliveryBuilder;
pub use invitation::{InvitationBuilder, InvitationLinkBuilder};
pub use invoice::{InvoiceBuilder, InvoiceLineBuilder};
pub use organization::{OrganizationBuilder, StaffUserBuilder};

/// "Now" as the database stores it: UTC, whole microseconds.
#[must_use]
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A number no other default of this process has used, for unique columns.
fn next() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Declares a builder of `entity::$table` rows with a setter per listed
/// column (taking anything `Into` the column's type, so `&str` for a
/// `String`, a `Uuid` for an `Option<Uuid>`), and `build`,
/// `into_active_model` and `insert`. Its `new` (with the defaults) is
/// written by hand beside it.
macro_rules! row_builder {
    ($(#[$meta:meta])* $builder:ident for $table:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        #[must_use]
        pub struct $builder {
            model: ::entity::$table::Model,
        }

        impl $builder {
            $(
                #[doc = concat!("Sets `", stringify!($table), ".", stringify!($field), "`.")]
                pub fn $field(mut self, value: impl Into<$ty>) -> Self {
                    self.model.$field = value.into();
                    self
                }
            )*

            /// The row, as [`Self::insert`] would write it.
            #[must_use]
            pub fn build(self) -> ::entity::$table::Model {
                self.model
            }

            /// The row with every column set, for `insert_many`.
            pub fn into_active_model(self) -> ::entity::$table::ActiveModel {
                ::sea_orm::ActiveModelTrait::reset_all(::entity::$table::ActiveModel::from(self.model))
            }

            /// Inserts the row; returns it as stored.
            ///
            /// # Errors
            /// When the database refuses it (a foreign key, a unique index).
            pub async fn insert(
                self,
                db: &impl ::sea_orm::ConnectionTrait,
            ) -> Result<::entity::$table::Model, ::sea_orm::DbErr> {
                ::sea_orm::ActiveModelTrait::insert(self.into_active_model(), db).await
            }
        }
    };
}
use row_builder;
