//! The initial migration is reversible on both backends: up creates every
//! table and unique index, down removes them all, and up works again.
//!
//! SQLite always runs. PostgreSQL runs when `TEST_DATABASE_URL` starts with
//! `postgres://`. Each starts from an empty throwaway database
//! ([`TestDatabase::empty`]), removed afterwards.

use migration::{Migrator, MigratorTrait, TABLES, constraint::UNIQUE_INDEXES};
use sea_orm_migration::SchemaManager;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use testkit::{Server, TestDatabase};

async fn tables_present(db: &DatabaseConnection) -> Result<Vec<&'static str>, DbErr> {
    let manager = SchemaManager::new(db);
    let mut present = Vec::new();
    for table in TABLES {
        if manager.has_table(table).await? {
            present.push(table);
        }
    }
    Ok(present)
}

async fn up_down_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await?;
    assert_eq!(tables_present(db).await?, TABLES, "after up");
    let manager = SchemaManager::new(db);
    for unique in UNIQUE_INDEXES {
        assert!(
            manager.has_index(unique.table, unique.name).await?,
            "unique index {} missing",
            unique.name
        );
    }
    assert!(manager.has_index("assets", "idx_assets_location_id").await?);

    Migrator::down(db, None).await?;
    assert!(tables_present(db).await?.is_empty(), "after down");

    Migrator::up(db, None).await?;
    assert_eq!(tables_present(db).await?, TABLES, "after second up");
    Ok(())
}

#[tokio::test]
async fn sqlite_migrates_up_down_and_up_again() -> Result<(), DbErr> {
    let database = TestDatabase::empty(&Server::Sqlite).await?;
    let db = database.connect().await?;
    let outcome = up_down_up(&db).await;
    db.close().await?;
    outcome.and(database.remove().await)
}

#[tokio::test]
async fn postgres_migrates_up_down_and_up_again() -> Result<(), DbErr> {
    let Some(server) = Server::postgres_from_env() else {
        eprintln!("TEST_DATABASE_URL is not a postgres:// URL; skipping");
        return Ok(());
    };
    let database = TestDatabase::empty(&server).await?;
    let outcome = async {
        let db = database.connect().await?;
        up_down_up(&db).await?;
        assert_postgres_types(&db).await?;
        db.close().await
    }
    .await;
    outcome.and(database.remove().await)
}

/// The schema builder must give PostgreSQL its native types, not text.
async fn assert_postgres_types(db: &DatabaseConnection) -> Result<(), DbErr> {
    let expected = [
        ("organizations", "id", "uuid"),
        ("organizations", "created_at", "timestamp with time zone"),
        ("organizations", "online_payments_enabled", "boolean"),
        ("invoices", "issued_on", "date"),
        ("invoices", "total_cents", "bigint"),
        ("invoice_lines", "quantity", "integer"),
        ("email_deliveries", "payload", "jsonb"),
    ];
    for (table, column, data_type) in expected {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT data_type FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
                [table.into(), column.into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom(format!("{table}.{column} missing")))?;
        let actual: String = row.try_get("", "data_type")?;
        assert_eq!(actual, data_type, "{table}.{column}");
    }
    Ok(())
}
