//! Initial schema: all eighteen tables, their foreign keys and indexes.
//!
//! Written with the sea-query schema builder (no raw SQL) so each backend gets
//! its own types: `uuid`, `timestamptz`, `date`, `bigint`, `jsonb` on
//! PostgreSQL; sea-query's text-affinity names on SQLite.
//!
//! Deliberately absent: database defaults for ids and timestamps (the
//! application generates UUIDv7 ids and UTC timestamps; SQLite's
//! `CURRENT_TIMESTAMP` text would not compare with the values sea-orm writes)
//! and CHECK constraints on enum columns (SQLite cannot alter a CHECK without
//! rebuilding the table, so adding an enum value would become a rebuild).
//!
//! Foreign keys restrict deletes unless the child is owned by its parent
//! (`invoice_lines`, `invitation_locations`, `portal_access`, `sessions`),
//! which cascade. Every foreign key column leads some index.
//!
//! Its unique indexes are its own frozen list ([`UNIQUE_INDEXES`]), not
//! `crate::constraint::UNIQUE_INDEXES`: that one describes today's schema for
//! error mapping and changes when a later migration adds or alters a unique
//! index, and this migration must create the same schema forever.

use sea_orm_migration::{prelude::*, schema::*};

/// This migration's tables in creation order (parents first); `down` drops
/// them in reverse.
pub const TABLES: [&str; 18] = [
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
];

/// A unique index as this migration creates it: name, table, columns in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UniqueIndex {
    name: &'static str,
    table: &'static str,
    columns: &'static [&'static str],
}

/// The unique indexes this migration creates, frozen as they were written
/// (string literals, so renaming a `constraint` constant cannot change them).
const UNIQUE_INDEXES: &[UniqueIndex] = &[
    UniqueIndex {
        name: "uq_organizations_slug",
        table: "organizations",
        columns: &["slug"],
    },
    UniqueIndex {
        name: "uq_staff_users_email",
        table: "staff_users",
        columns: &["email"],
    },
    UniqueIndex {
        name: "uq_accounts_org_number",
        table: "accounts",
        columns: &["organization_id", "number"],
    },
    UniqueIndex {
        name: "uq_asset_types_org_name",
        table: "asset_types",
        columns: &["organization_id", "name"],
    },
    UniqueIndex {
        name: "uq_assets_org_tag",
        table: "assets",
        columns: &["organization_id", "tag"],
    },
    UniqueIndex {
        name: "uq_invoices_org_number",
        table: "invoices",
        columns: &["organization_id", "number"],
    },
    UniqueIndex {
        name: "uq_payments_org_idempotency_key",
        table: "payments",
        columns: &["organization_id", "idempotency_key"],
    },
    UniqueIndex {
        name: "uq_invitations_token_digest",
        table: "invitations",
        columns: &["token_digest"],
    },
    UniqueIndex {
        name: "uq_portal_users_org_email",
        table: "portal_users",
        columns: &["organization_id", "email"],
    },
    UniqueIndex {
        name: "uq_sessions_token_digest",
        table: "sessions",
        columns: &["token_digest"],
    },
];

/// Width of the string columns that hold an `entity::enums` value.
const ENUM_LEN: u32 = 32;
/// Width of a lowercase hex SHA-256 digest.
const DIGEST_LEN: u32 = 64;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table.create).await?;
            for unique in UNIQUE_INDEXES.iter().filter(|u| u.table == table.name) {
                manager.create_index(unique_index(unique)).await?;
            }
            for index in table.indexes {
                manager.create_index(index).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping a table drops its indexes and foreign keys with it.
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// One table: its name (as in [`TABLES`]), its CREATE statement and its
/// non-unique indexes. Its unique indexes come from [`UNIQUE_INDEXES`].
struct TableSpec {
    name: &'static str,
    create: TableCreateStatement,
    indexes: Vec<IndexCreateStatement>,
}

fn unique_index(unique: &UniqueIndex) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(unique.name).table(unique.table).unique();
    for column in unique.columns {
        index.col(*column);
    }
    index.take()
}

fn index<T: Iden + Copy + 'static>(name: &str, table: T, columns: &[T]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    index.take()
}

fn fk<F, T>(name: &str, from: (F, F), to: (T, T), on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement
where
    F: Iden + 'static,
    T: Iden + 'static,
{
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

fn to_org<F: Iden + 'static>(name: &str, from: (F, F)) -> ForeignKeyCreateStatement {
    fk(
        name,
        from,
        (Organizations::Table, Organizations::Id),
        ForeignKeyAction::Restrict,
    )
}

fn enum_col<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, ENUM_LEN)
}

fn ts<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone(col)
}

fn ts_null<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone_null(col)
}

fn tables() -> Vec<TableSpec> {
    use ForeignKeyAction::{Cascade, Restrict};

    vec![
        TableSpec {
            name: "organizations",
            create: Table::create()
                .table(Organizations::Table)
                .col(pk_uuid(Organizations::Id))
                .col(string(Organizations::Name))
                .col(string(Organizations::Slug))
                .col(boolean(Organizations::OnlinePaymentsEnabled).default(false))
                .col(ts(Organizations::CreatedAt))
                .to_owned(),
            indexes: vec![],
        },
        TableSpec {
            name: "staff_users",
            create: Table::create()
                .table(StaffUsers::Table)
                .col(pk_uuid(StaffUsers::Id))
                .col(uuid(StaffUsers::OrganizationId))
                .col(string(StaffUsers::Email))
                .col(string(StaffUsers::Name))
                .col(string(StaffUsers::PasswordHash))
                .col(ts(StaffUsers::CreatedAt))
                .foreign_key(&mut to_org(
                    "fk_staff_users_organization_id",
                    (StaffUsers::Table, StaffUsers::OrganizationId),
                ))
                .to_owned(),
            indexes: vec![index(
                "idx_staff_users_organization_id",
                StaffUsers::Table,
                &[StaffUsers::OrganizationId],
            )],
        },
        TableSpec {
            name: "accounts",
            create: Table::create()
                .table(Accounts::Table)
                .col(pk_uuid(Accounts::Id))
                .col(uuid(Accounts::OrganizationId))
                .col(string(Accounts::Number))
                .col(string(Accounts::Name))
                .col(string_null(Accounts::ContactName))
                .col(string_null(Accounts::ContactEmail))
                .col(string_null(Accounts::ContactPhone))
                .col(ts(Accounts::CreatedAt))
                .col(ts(Accounts::UpdatedAt))
                .foreign_key(&mut to_org(
                    "fk_accounts_organization_id",
                    (Accounts::Table, Accounts::OrganizationId),
                ))
                .to_owned(),
            indexes: vec![
                index(
                    "idx_accounts_org_name",
                    Accounts::Table,
                    &[Accounts::OrganizationId, Accounts::Name],
                ),
                index(
                    "idx_accounts_org_contact_email",
                    Accounts::Table,
                    &[Accounts::OrganizationId, Accounts::ContactEmail],
                ),
            ],
        },
        TableSpec {
            name: "locations",
            create: Table::create()
                .table(Locations::Table)
                .col(pk_uuid(Locations::Id))
                .col(uuid(Locations::OrganizationId))
                .col(uuid(Locations::AccountId))
                .col(string(Locations::Name))
                .col(string(Locations::Line1))
                .col(string_null(Locations::Line2))
                .col(string(Locations::City))
                .col(string_null(Locations::Region))
                .col(string_null(Locations::PostalCode))
                .col(string(Locations::Country))
                .col(ts(Locations::CreatedAt))
                .foreign_key(&mut to_org(
                    "fk_locations_organization_id",
                    (Locations::Table, Locations::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_locations_account_id",
                    (Locations::Table, Locations::AccountId),
                    (Accounts::Table, Accounts::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index("idx_locations_account_id", Locations::Table, &[Locations::AccountId]),
                index(
                    "idx_locations_organization_id",
                    Locations::Table,
                    &[Locations::OrganizationId],
                ),
            ],
        },
        TableSpec {
            // (organization_id, name) is unique: uq_asset_types_org_name.
            name: "asset_types",
            create: Table::create()
                .table(AssetTypes::Table)
                .col(pk_uuid(AssetTypes::Id))
                .col(uuid(AssetTypes::OrganizationId))
                .col(string(AssetTypes::Name))
                .col(text_null(AssetTypes::Description))
                .col(boolean(AssetTypes::Requestable).default(true))
                .col(ts(AssetTypes::CreatedAt))
                .foreign_key(&mut to_org(
                    "fk_asset_types_organization_id",
                    (AssetTypes::Table, AssetTypes::OrganizationId),
                ))
                .to_owned(),
            indexes: vec![],
        },
        TableSpec {
            name: "assets",
            create: Table::create()
                .table(Assets::Table)
                .col(pk_uuid(Assets::Id))
                .col(uuid(Assets::OrganizationId))
                .col(uuid(Assets::AssetTypeId))
                .col(string(Assets::Tag))
                .col(enum_col(Assets::Status))
                .col(uuid_null(Assets::LocationId))
                .col(ts_null(Assets::DeployedAt))
                .col(ts(Assets::CreatedAt))
                .foreign_key(&mut to_org(
                    "fk_assets_organization_id",
                    (Assets::Table, Assets::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_assets_asset_type_id",
                    (Assets::Table, Assets::AssetTypeId),
                    (AssetTypes::Table, AssetTypes::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_assets_location_id",
                    (Assets::Table, Assets::LocationId),
                    (Locations::Table, Locations::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index("idx_assets_location_id", Assets::Table, &[Assets::LocationId]),
                index("idx_assets_asset_type_id", Assets::Table, &[Assets::AssetTypeId]),
                index(
                    "idx_assets_org_status",
                    Assets::Table,
                    &[Assets::OrganizationId, Assets::Status],
                ),
            ],
        },
        TableSpec {
            // (organization_id, email) is unique: uq_portal_users_org_email.
            name: "portal_users",
            create: Table::create()
                .table(PortalUsers::Table)
                .col(pk_uuid(PortalUsers::Id))
                .col(uuid(PortalUsers::OrganizationId))
                .col(string(PortalUsers::Email))
                .col(string(PortalUsers::Name))
                .col(string(PortalUsers::PasswordHash))
                .col(ts(PortalUsers::CreatedAt))
                .col(ts_null(PortalUsers::LastSignInAt))
                .foreign_key(&mut to_org(
                    "fk_portal_users_organization_id",
                    (PortalUsers::Table, PortalUsers::OrganizationId),
                ))
                .to_owned(),
            indexes: vec![],
        },
        TableSpec {
            name: "invoices",
            create: Table::create()
                .table(Invoices::Table)
                .col(pk_uuid(Invoices::Id))
                .col(uuid(Invoices::OrganizationId))
                .col(uuid(Invoices::AccountId))
                .col(uuid_null(Invoices::LocationId))
                .col(string(Invoices::Number))
                .col(date(Invoices::IssuedOn))
                .col(date(Invoices::DueOn))
                .col(enum_col(Invoices::Status))
                .col(string_len(Invoices::Currency, 3))
                .col(big_integer(Invoices::TotalCents))
                .col(big_integer(Invoices::AmountDueCents))
                .col(ts(Invoices::CreatedAt))
                .col(ts(Invoices::UpdatedAt))
                .foreign_key(&mut to_org(
                    "fk_invoices_organization_id",
                    (Invoices::Table, Invoices::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_invoices_account_id",
                    (Invoices::Table, Invoices::AccountId),
                    (Accounts::Table, Accounts::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_invoices_location_id",
                    (Invoices::Table, Invoices::LocationId),
                    (Locations::Table, Locations::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index("idx_invoices_account_id", Invoices::Table, &[Invoices::AccountId]),
                index("idx_invoices_location_id", Invoices::Table, &[Invoices::LocationId]),
                index(
                    "idx_invoices_org_status",
                    Invoices::Table,
                    &[Invoices::OrganizationId, Invoices::Status],
                ),
            ],
        },
        TableSpec {
            name: "invoice_lines",
            create: Table::create()
                .table(InvoiceLines::Table)
                .col(pk_uuid(InvoiceLines::Id))
                .col(uuid(InvoiceLines::InvoiceId))
                .col(integer(InvoiceLines::Position))
                .col(string(InvoiceLines::Description))
                .col(integer(InvoiceLines::Quantity))
                .col(big_integer(InvoiceLines::UnitPriceCents))
                .col(big_integer(InvoiceLines::AmountCents))
                .foreign_key(&mut fk(
                    "fk_invoice_lines_invoice_id",
                    (InvoiceLines::Table, InvoiceLines::InvoiceId),
                    (Invoices::Table, Invoices::Id),
                    Cascade,
                ))
                .to_owned(),
            indexes: vec![index(
                "idx_invoice_lines_invoice_id",
                InvoiceLines::Table,
                &[InvoiceLines::InvoiceId],
            )],
        },
        TableSpec {
            // (organization_id, idempotency_key) is unique:
            // uq_payments_org_idempotency_key.
            name: "payments",
            create: Table::create()
                .table(Payments::Table)
                .col(pk_uuid(Payments::Id))
                .col(uuid(Payments::OrganizationId))
                .col(uuid(Payments::InvoiceId))
                .col(uuid_null(Payments::PortalUserId))
                .col(big_integer(Payments::AmountCents))
                .col(string_len(Payments::Currency, 3))
                .col(enum_col(Payments::Status))
                .col(string_null(Payments::GatewayReference))
                .col(string(Payments::IdempotencyKey))
                .col(ts(Payments::CreatedAt))
                .foreign_key(&mut to_org(
                    "fk_payments_organization_id",
                    (Payments::Table, Payments::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_payments_invoice_id",
                    (Payments::Table, Payments::InvoiceId),
                    (Invoices::Table, Invoices::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_payments_portal_user_id",
                    (Payments::Table, Payments::PortalUserId),
                    (PortalUsers::Table, PortalUsers::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index("idx_payments_invoice_id", Payments::Table, &[Payments::InvoiceId]),
                index(
                    "idx_payments_portal_user_id",
                    Payments::Table,
                    &[Payments::PortalUserId],
                ),
            ],
        },
        TableSpec {
            name: "asset_requests",
            create: Table::create()
                .table(AssetRequests::Table)
                .col(pk_uuid(AssetRequests::Id))
                .col(uuid(AssetRequests::OrganizationId))
                .col(uuid(AssetRequests::LocationId))
                .col(uuid(AssetRequests::AssetTypeId))
                .col(integer(AssetRequests::Quantity))
                .col(date_null(AssetRequests::NeededBy))
                .col(text_null(AssetRequests::Notes))
                .col(enum_col(AssetRequests::Status))
                .col(text_null(AssetRequests::Reason))
                .col(uuid_null(AssetRequests::RequestedBy))
                .col(ts(AssetRequests::CreatedAt))
                .col(ts(AssetRequests::UpdatedAt))
                .foreign_key(&mut to_org(
                    "fk_asset_requests_organization_id",
                    (AssetRequests::Table, AssetRequests::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_asset_requests_location_id",
                    (AssetRequests::Table, AssetRequests::LocationId),
                    (Locations::Table, Locations::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_asset_requests_asset_type_id",
                    (AssetRequests::Table, AssetRequests::AssetTypeId),
                    (AssetTypes::Table, AssetTypes::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_asset_requests_requested_by",
                    (AssetRequests::Table, AssetRequests::RequestedBy),
                    (PortalUsers::Table, PortalUsers::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index(
                    "idx_asset_requests_location_id",
                    AssetRequests::Table,
                    &[AssetRequests::LocationId],
                ),
                index(
                    "idx_asset_requests_asset_type_id",
                    AssetRequests::Table,
                    &[AssetRequests::AssetTypeId],
                ),
                index(
                    "idx_asset_requests_requested_by",
                    AssetRequests::Table,
                    &[AssetRequests::RequestedBy],
                ),
                index(
                    "idx_asset_requests_org_status",
                    AssetRequests::Table,
                    &[AssetRequests::OrganizationId, AssetRequests::Status],
                ),
            ],
        },
        TableSpec {
            // token_digest is unique: uq_invitations_token_digest.
            name: "invitations",
            create: Table::create()
                .table(Invitations::Table)
                .col(pk_uuid(Invitations::Id))
                .col(uuid(Invitations::OrganizationId))
                .col(uuid(Invitations::AccountId))
                .col(string(Invitations::Email))
                .col(enum_col(Invitations::Status))
                .col(boolean(Invitations::WholeAccount).default(true))
                .col(string_len_null(Invitations::TokenDigest, DIGEST_LEN))
                .col(uuid_null(Invitations::InvitedBy))
                .col(uuid_null(Invitations::AcceptedBy))
                .col(ts(Invitations::CreatedAt))
                .col(ts(Invitations::LastSentAt))
                .col(ts(Invitations::ExpiresAt))
                .col(ts_null(Invitations::AcceptedAt))
                .col(ts_null(Invitations::RevokedAt))
                .foreign_key(&mut to_org(
                    "fk_invitations_organization_id",
                    (Invitations::Table, Invitations::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_invitations_account_id",
                    (Invitations::Table, Invitations::AccountId),
                    (Accounts::Table, Accounts::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_invitations_invited_by",
                    (Invitations::Table, Invitations::InvitedBy),
                    (StaffUsers::Table, StaffUsers::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_invitations_accepted_by",
                    (Invitations::Table, Invitations::AcceptedBy),
                    (PortalUsers::Table, PortalUsers::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index(
                    "idx_invitations_account_id",
                    Invitations::Table,
                    &[Invitations::AccountId],
                ),
                index(
                    "idx_invitations_org_status",
                    Invitations::Table,
                    &[Invitations::OrganizationId, Invitations::Status],
                ),
                index(
                    "idx_invitations_invited_by",
                    Invitations::Table,
                    &[Invitations::InvitedBy],
                ),
                index(
                    "idx_invitations_accepted_by",
                    Invitations::Table,
                    &[Invitations::AcceptedBy],
                ),
            ],
        },
        TableSpec {
            // The primary key (invitation_id, location_id) indexes invitation_id.
            name: "invitation_locations",
            create: Table::create()
                .table(InvitationLocations::Table)
                .col(uuid(InvitationLocations::InvitationId))
                .col(uuid(InvitationLocations::LocationId))
                .primary_key(
                    Index::create()
                        .name("pk_invitation_locations")
                        .col(InvitationLocations::InvitationId)
                        .col(InvitationLocations::LocationId),
                )
                .foreign_key(&mut fk(
                    "fk_invitation_locations_invitation_id",
                    (InvitationLocations::Table, InvitationLocations::InvitationId),
                    (Invitations::Table, Invitations::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_invitation_locations_location_id",
                    (InvitationLocations::Table, InvitationLocations::LocationId),
                    (Locations::Table, Locations::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![index(
                "idx_invitation_locations_location_id",
                InvitationLocations::Table,
                &[InvitationLocations::LocationId],
            )],
        },
        TableSpec {
            // Every link ever minted for an invitation (the current one is
            // also on invitations.token_digest): an older, superseded link is
            // recognised, so its page can offer a fresh one.
            name: "invitation_links",
            create: Table::create()
                .table(InvitationLinks::Table)
                .col(string_len(InvitationLinks::TokenDigest, DIGEST_LEN).primary_key())
                .col(uuid(InvitationLinks::InvitationId))
                .col(ts(InvitationLinks::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_invitation_links_invitation_id",
                    (InvitationLinks::Table, InvitationLinks::InvitationId),
                    (Invitations::Table, Invitations::Id),
                    Cascade,
                ))
                .to_owned(),
            indexes: vec![index(
                "idx_invitation_links_invitation_id",
                InvitationLinks::Table,
                &[InvitationLinks::InvitationId],
            )],
        },
        TableSpec {
            name: "portal_access",
            create: Table::create()
                .table(PortalAccess::Table)
                .col(pk_uuid(PortalAccess::Id))
                .col(uuid(PortalAccess::OrganizationId))
                .col(uuid(PortalAccess::PortalUserId))
                .col(uuid(PortalAccess::AccountId))
                .col(uuid_null(PortalAccess::LocationId))
                .col(uuid_null(PortalAccess::InvitationId))
                .col(ts(PortalAccess::CreatedAt))
                .foreign_key(&mut to_org(
                    "fk_portal_access_organization_id",
                    (PortalAccess::Table, PortalAccess::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_portal_access_portal_user_id",
                    (PortalAccess::Table, PortalAccess::PortalUserId),
                    (PortalUsers::Table, PortalUsers::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_portal_access_account_id",
                    (PortalAccess::Table, PortalAccess::AccountId),
                    (Accounts::Table, Accounts::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_portal_access_location_id",
                    (PortalAccess::Table, PortalAccess::LocationId),
                    (Locations::Table, Locations::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_portal_access_invitation_id",
                    (PortalAccess::Table, PortalAccess::InvitationId),
                    (Invitations::Table, Invitations::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index(
                    "idx_portal_access_organization_id",
                    PortalAccess::Table,
                    &[PortalAccess::OrganizationId],
                ),
                index(
                    "idx_portal_access_portal_user_id",
                    PortalAccess::Table,
                    &[PortalAccess::PortalUserId],
                ),
                index(
                    "idx_portal_access_account_id",
                    PortalAccess::Table,
                    &[PortalAccess::AccountId],
                ),
                index(
                    "idx_portal_access_location_id",
                    PortalAccess::Table,
                    &[PortalAccess::LocationId],
                ),
                index(
                    "idx_portal_access_invitation_id",
                    PortalAccess::Table,
                    &[PortalAccess::InvitationId],
                ),
            ],
        },
        TableSpec {
            // token_digest is unique: uq_sessions_token_digest.
            name: "sessions",
            create: Table::create()
                .table(Sessions::Table)
                .col(pk_uuid(Sessions::Id))
                .col(string_len(Sessions::TokenDigest, DIGEST_LEN))
                .col(uuid(Sessions::OrganizationId))
                .col(uuid_null(Sessions::StaffUserId))
                .col(uuid_null(Sessions::PortalUserId))
                .col(ts(Sessions::CreatedAt))
                .col(ts(Sessions::ExpiresAt))
                .foreign_key(&mut to_org(
                    "fk_sessions_organization_id",
                    (Sessions::Table, Sessions::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_sessions_staff_user_id",
                    (Sessions::Table, Sessions::StaffUserId),
                    (StaffUsers::Table, StaffUsers::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_sessions_portal_user_id",
                    (Sessions::Table, Sessions::PortalUserId),
                    (PortalUsers::Table, PortalUsers::Id),
                    Cascade,
                ))
                .to_owned(),
            indexes: vec![
                index(
                    "idx_sessions_organization_id",
                    Sessions::Table,
                    &[Sessions::OrganizationId],
                ),
                index("idx_sessions_staff_user_id", Sessions::Table, &[Sessions::StaffUserId]),
                index(
                    "idx_sessions_portal_user_id",
                    Sessions::Table,
                    &[Sessions::PortalUserId],
                ),
                index("idx_sessions_expires_at", Sessions::Table, &[Sessions::ExpiresAt]),
            ],
        },
        TableSpec {
            name: "email_deliveries",
            create: Table::create()
                .table(EmailDeliveries::Table)
                .col(pk_uuid(EmailDeliveries::Id))
                .col(uuid(EmailDeliveries::OrganizationId))
                .col(enum_col(EmailDeliveries::Kind))
                .col(string(EmailDeliveries::Recipient))
                .col(string(EmailDeliveries::Subject))
                .col(enum_col(EmailDeliveries::Status))
                .col(integer(EmailDeliveries::Attempts).default(0))
                .col(text_null(EmailDeliveries::LastError))
                .col(json_binary(EmailDeliveries::Payload))
                .col(uuid_null(EmailDeliveries::InvitationId))
                .col(ts(EmailDeliveries::QueuedAt))
                .col(ts(EmailDeliveries::NextAttemptAt))
                .col(string_null(EmailDeliveries::LeaseOwner))
                .col(ts_null(EmailDeliveries::LeaseExpiresAt))
                .col(ts_null(EmailDeliveries::SentAt))
                .foreign_key(&mut to_org(
                    "fk_email_deliveries_organization_id",
                    (EmailDeliveries::Table, EmailDeliveries::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_email_deliveries_invitation_id",
                    (EmailDeliveries::Table, EmailDeliveries::InvitationId),
                    (Invitations::Table, Invitations::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index(
                    "idx_email_deliveries_org_status",
                    EmailDeliveries::Table,
                    &[EmailDeliveries::OrganizationId, EmailDeliveries::Status],
                ),
                index(
                    "idx_email_deliveries_status_next_attempt_at",
                    EmailDeliveries::Table,
                    &[EmailDeliveries::Status, EmailDeliveries::NextAttemptAt],
                ),
                index(
                    "idx_email_deliveries_invitation_id",
                    EmailDeliveries::Table,
                    &[EmailDeliveries::InvitationId],
                ),
            ],
        },
        TableSpec {
            name: "audit_events",
            create: Table::create()
                .table(AuditEvents::Table)
                .col(pk_uuid(AuditEvents::Id))
                .col(uuid(AuditEvents::OrganizationId))
                .col(uuid_null(AuditEvents::AccountId))
                .col(uuid_null(AuditEvents::ActorStaffUserId))
                .col(uuid_null(AuditEvents::ActorPortalUserId))
                .col(string_null(AuditEvents::ActorName))
                .col(string(AuditEvents::Action))
                .col(text_null(AuditEvents::Detail))
                .col(ts(AuditEvents::OccurredAt))
                .foreign_key(&mut to_org(
                    "fk_audit_events_organization_id",
                    (AuditEvents::Table, AuditEvents::OrganizationId),
                ))
                .foreign_key(&mut fk(
                    "fk_audit_events_account_id",
                    (AuditEvents::Table, AuditEvents::AccountId),
                    (Accounts::Table, Accounts::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_audit_events_actor_staff_user_id",
                    (AuditEvents::Table, AuditEvents::ActorStaffUserId),
                    (StaffUsers::Table, StaffUsers::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_audit_events_actor_portal_user_id",
                    (AuditEvents::Table, AuditEvents::ActorPortalUserId),
                    (PortalUsers::Table, PortalUsers::Id),
                    Restrict,
                ))
                .to_owned(),
            indexes: vec![
                index(
                    "idx_audit_events_account_occurred_at",
                    AuditEvents::Table,
                    &[AuditEvents::AccountId, AuditEvents::OccurredAt],
                ),
                index(
                    "idx_audit_events_organization_id",
                    AuditEvents::Table,
                    &[AuditEvents::OrganizationId],
                ),
                index(
                    "idx_audit_events_actor_staff_user_id",
                    AuditEvents::Table,
                    &[AuditEvents::ActorStaffUserId],
                ),
                index(
                    "idx_audit_events_actor_portal_user_id",
                    AuditEvents::Table,
                    &[AuditEvents::ActorPortalUserId],
                ),
            ],
        },
    ]
}

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
    Name,
    Slug,
    OnlinePaymentsEnabled,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StaffUsers {
    Table,
    Id,
    OrganizationId,
    Email,
    Name,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
    OrganizationId,
    Number,
    Name,
    ContactName,
    ContactEmail,
    ContactPhone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Locations {
    Table,
    Id,
    OrganizationId,
    AccountId,
    Name,
    Line1,
    Line2,
    City,
    Region,
    PostalCode,
    Country,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AssetTypes {
    Table,
    Id,
    OrganizationId,
    Name,
    Description,
    Requestable,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Assets {
    Table,
    Id,
    OrganizationId,
    AssetTypeId,
    Tag,
    Status,
    LocationId,
    DeployedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invoices {
    Table,
    Id,
    OrganizationId,
    AccountId,
    LocationId,
    Number,
    IssuedOn,
    DueOn,
    Status,
    Currency,
    TotalCents,
    AmountDueCents,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum InvoiceLines {
    Table,
    Id,
    InvoiceId,
    Position,
    Description,
    Quantity,
    UnitPriceCents,
    AmountCents,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payments {
    Table,
    Id,
    OrganizationId,
    InvoiceId,
    PortalUserId,
    AmountCents,
    Currency,
    Status,
    GatewayReference,
    IdempotencyKey,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AssetRequests {
    Table,
    Id,
    OrganizationId,
    LocationId,
    AssetTypeId,
    Quantity,
    NeededBy,
    Notes,
    Status,
    Reason,
    RequestedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invitations {
    Table,
    Id,
    OrganizationId,
    AccountId,
    Email,
    Status,
    WholeAccount,
    TokenDigest,
    InvitedBy,
    AcceptedBy,
    CreatedAt,
    LastSentAt,
    ExpiresAt,
    AcceptedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum InvitationLocations {
    Table,
    InvitationId,
    LocationId,
}

#[derive(DeriveIden, Clone, Copy)]
enum InvitationLinks {
    Table,
    TokenDigest,
    InvitationId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PortalUsers {
    Table,
    Id,
    OrganizationId,
    Email,
    Name,
    PasswordHash,
    CreatedAt,
    LastSignInAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PortalAccess {
    Table,
    Id,
    OrganizationId,
    PortalUserId,
    AccountId,
    LocationId,
    InvitationId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    TokenDigest,
    OrganizationId,
    StaffUserId,
    PortalUserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmailDeliveries {
    Table,
    Id,
    OrganizationId,
    Kind,
    Recipient,
    Subject,
    Status,
    Attempts,
    LastError,
    Payload,
    InvitationId,
    QueuedAt,
    NextAttemptAt,
    LeaseOwner,
    LeaseExpiresAt,
    SentAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    OrganizationId,
    AccountId,
    ActorStaffUserId,
    ActorPortalUserId,
    ActorName,
    Action,
    Detail,
    OccurredAt,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_created_in_the_listed_order() {
        let created: Vec<&str> = tables().iter().map(|table| table.name).collect();
        assert_eq!(created, TABLES);
    }

    #[test]
    fn every_unique_index_is_on_a_created_table() {
        for unique in UNIQUE_INDEXES {
            assert!(TABLES.contains(&unique.table), "{}", unique.name);
        }
    }

    /// The frozen list plus the later migrations' unique indexes add up to
    /// `constraint::UNIQUE_INDEXES`. A later migration that adds, drops or
    /// changes one adds its change here; never edit the frozen list.
    #[test]
    fn the_frozen_unique_indexes_and_later_ones_are_todays_unique_indexes() {
        let mut migrated: Vec<_> = UNIQUE_INDEXES
            .iter()
            .map(|unique| (unique.name, unique.table, unique.columns))
            .collect();
        migrated.push(crate::m20261203_000001_password_resets::UNIQUE_TOKEN_DIGEST);
        let today: Vec<_> = crate::constraint::UNIQUE_INDEXES
            .iter()
            .map(|unique| (unique.name, unique.table, unique.columns))
            .collect();
        assert_eq!(migrated, today);
    }
}
