//! Database schema of the Customer Portal as sea-orm migrations.
//!
//! [`Migrator`] owns the schema: the `entity` crate describes the same tables
//! but never creates them. Each change is one reversible migration, written
//! with the sea-query schema builder so PostgreSQL and SQLite get the same
//! schema in their own types. This crate must not depend on `entity`, so a
//! migration stays valid after the entities move on.
//!
//! [`constraint`] names the unique indexes for mapping unique violations to
//! input fields. Running migrations on start-up takes no lock: with several
//! api processes on PostgreSQL, serialise them (advisory lock or `api migrate`).

pub mod constraint;
mod m20261129_000001_initial_schema;
mod m20261203_000001_password_resets;
mod m20261204_000001_audit_client_address;

pub use sea_orm_migration::{MigrationTrait, MigratorTrait, SchemaManager};

/// Every table of the schema after all migrations, in creation order.
pub const TABLES: [&str; 19] = [
    "organizations",
    "staff_users",
    "accounts",
    "locations",
    "asset_types",
    "assets",
    "portal_users",
    "invoices",
    "invoice_lines",
    "payments",
    "asset_requests",
    "invitations",
    "invitation_locations",
    "invitation_links",
    "portal_access",
    "sessions",
    "email_deliveries",
    "audit_events",
    "password_resets",
];

/// All migrations of the schema, in order.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_initial_schema::Migration),
            Box::new(m20261203_000001_password_resets::Migration),
            Box::new(m20261204_000001_audit_client_address::Migration),
        ]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_are_every_migrations_tables_in_order() {
        let migrated: Vec<&str> = crate::m20261129_000001_initial_schema::TABLES
            .iter()
            .chain(crate::m20261203_000001_password_resets::TABLES.iter())
            .copied()
            .collect();
        assert_eq!(migrated, super::TABLES);
    }
}
