//! The initial migration is reversible on both backends: up creates every
//! table and unique index, down removes them all, and up works again.
//!
//! SQLite (in memory) always runs. PostgreSQL runs when `TEST_DATABASE_URL`
//! starts with `postgres://`: the test creates a scratch database with a
//! unique name next to the one in the URL and drops it afterwards.

use migration::{Migrator, MigratorTrait, TABLES, constraint::UNIQUE_INDEXES};
use sea_orm_migration::SchemaManager;
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement};

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
    let db = Database::connect("sqlite::memory:").await?;
    up_down_up(&db).await
}

#[tokio::test]
async fn postgres_migrates_up_down_and_up_again() -> Result<(), DbErr> {
    let Some(scratch) = ScratchPostgres::create().await? else {
        eprintln!("TEST_DATABASE_URL is not a postgres:// URL; skipping");
        return Ok(());
    };
    let outcome = async {
        let db = Database::connect(&scratch.url).await?;
        up_down_up(&db).await?;
        assert_postgres_types(&db).await?;
        db.close().await
    }
    .await;
    let dropped = scratch.drop().await;
    outcome.and(dropped)
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

/// A PostgreSQL database that exists only for one test.
struct ScratchPostgres {
    admin: DatabaseConnection,
    name: String,
    url: String,
}

impl ScratchPostgres {
    async fn create() -> Result<Option<Self>, DbErr> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            return Ok(None);
        };
        if !admin_url.starts_with("postgres://") && !admin_url.starts_with("postgresql://") {
            return Ok(None);
        }
        let name = format!("mig_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(&admin_url).await?;
        admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
        let (without_query, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url.as_str(), String::new()),
        };
        let server = without_query
            .rsplit_once('/')
            .map_or(without_query, |(server, _)| server);
        let url = format!("{server}/{name}{query}");
        Ok(Some(Self { admin, name, url }))
    }

    async fn drop(self) -> Result<(), DbErr> {
        self.admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name))
            .await?;
        self.admin.close().await
    }
}
