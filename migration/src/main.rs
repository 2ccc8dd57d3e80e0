//! `migration` command line (sea-orm-migration's CLI): `up`, `down`, `status`,
//! `fresh`, `refresh`, `reset` against `DATABASE_URL` (or `-u URL`).
//!
//! The api's `api migrate` is the usual way to apply migrations; this binary
//! is for developers stepping through or rolling back.

#[tokio::main]
async fn main() {
    sea_orm_migration::cli::run_cli(migration::Migrator).await;
}
