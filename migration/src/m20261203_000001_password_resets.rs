//! `password_resets`: one row per password-reset request of a staff or
//! portal user.
//!
//! The link's token is minted when its email is sent (like an invitation's)
//! and only its SHA-256 digest is kept here (`token_digest`, unique, NULL
//! until sent). A row stops opening anything once it is used, superseded by
//! a newer request or password change, or past `expires_at`.
//!
//! Its unique index is in its own frozen list, as in the initial migration.

use sea_orm_migration::{prelude::*, schema::*};

/// The table this migration creates.
pub const TABLES: [&str; 1] = ["password_resets"];

/// `password_resets (token_digest)`, frozen as written.
pub(crate) const UNIQUE_TOKEN_DIGEST: (&str, &str, &[&str]) =
    ("uq_password_resets_token_digest", "password_resets", &["token_digest"]);

/// Width of a lowercase hex SHA-256 digest.
const DIGEST_LEN: u32 = 64;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PasswordResets::Table)
                    .col(pk_uuid(PasswordResets::Id))
                    .col(uuid(PasswordResets::OrganizationId))
                    .col(uuid_null(PasswordResets::StaffUserId))
                    .col(uuid_null(PasswordResets::PortalUserId))
                    .col(string_len_null(PasswordResets::TokenDigest, DIGEST_LEN))
                    .col(timestamp_with_time_zone(PasswordResets::CreatedAt))
                    .col(timestamp_with_time_zone(PasswordResets::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PasswordResets::UsedAt))
                    .col(timestamp_with_time_zone_null(PasswordResets::SupersededAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_password_resets_organization_id")
                            .from(PasswordResets::Table, PasswordResets::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_password_resets_staff_user_id")
                            .from(PasswordResets::Table, PasswordResets::StaffUserId)
                            .to(StaffUsers::Table, StaffUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_password_resets_portal_user_id")
                            .from(PasswordResets::Table, PasswordResets::PortalUserId)
                            .to(PortalUsers::Table, PortalUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        let (name, table, columns) = UNIQUE_TOKEN_DIGEST;
        let mut unique = Index::create();
        unique.name(name).table(table).unique();
        for column in columns {
            unique.col(*column);
        }
        manager.create_index(unique.take()).await?;
        for (name, column) in [
            ("idx_password_resets_organization_id", PasswordResets::OrganizationId),
            ("idx_password_resets_staff_user_id", PasswordResets::StaffUserId),
            ("idx_password_resets_portal_user_id", PasswordResets::PortalUserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(PasswordResets::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum PasswordResets {
    Table,
    Id,
    OrganizationId,
    StaffUserId,
    PortalUserId,
    TokenDigest,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    SupersededAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PortalUsers {
    Table,
    Id,
}
