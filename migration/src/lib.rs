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

pub use m20261129_000001_initial_schema::TABLES;
pub use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// All migrations of the schema, in order.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261129_000001_initial_schema::Migration)]
    }
}
