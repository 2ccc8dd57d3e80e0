//! `audit_events.client_address`: the address of the client whose request
//! caused the event (the same address the rate limits and the request log
//! use, see `TRUSTED_PROXIES`); NULL for events of the system's own work
//! (the sweeper's scans) and for rows written before this migration.

use sea_orm_migration::{prelude::*, schema::*};

/// Longest textual IP address (an IPv6 address with an embedded IPv4 one).
const ADDRESS_LEN: u32 = 45;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(string_len_null(AuditEvents::ClientAddress, ADDRESS_LEN))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .drop_column(AuditEvents::ClientAddress)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    ClientAddress,
}
