//! `TestDatabase` on the server `TEST_DATABASE_URL` names (SQLite when
//! unset): migrated databases have the schema, empty ones have nothing,
//! many can be created at once (the first builds the template, the others
//! wait for it), and each is gone once removed or dropped.

use entity::prelude::Organization;
use sea_orm::{DbErr, EntityTrait, PaginatorTrait};
use sea_orm_migration::SchemaManager;
use testkit::{Server, TestDatabase, builders::OrganizationBuilder};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn databases_created_at_once_are_migrated_separate_and_removed() -> Result<(), DbErr> {
    let server = Server::from_env();
    let created = futures_join((0..4).map(|_| {
        let server = server.clone();
        tokio::spawn(async move { TestDatabase::migrated(&server).await })
    }))
    .await;
    let mut databases = Vec::new();
    for database in created {
        databases.push(database.map_err(|err| DbErr::Custom(err.to_string()))??);
    }
    for database in &databases {
        let db = database.connect().await?;
        OrganizationBuilder::new().insert(&db).await?;
        assert_eq!(Organization::find().count(&db).await?, 1, "{}", database.name());
        db.close().await?;
    }
    let names: std::collections::HashSet<&str> = databases.iter().map(TestDatabase::name).collect();
    assert_eq!(names.len(), databases.len());
    for database in databases {
        let url = database.url().to_owned();
        database.remove().await?;
        if matches!(server, Server::Postgres(_)) {
            assert!(
                sea_orm::Database::connect(url.as_str()).await.is_err(),
                "{url} still exists"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn an_empty_database_has_no_tables() -> Result<(), DbErr> {
    let database = TestDatabase::empty(&Server::from_env()).await?;
    let db = database.connect().await?;
    let manager = SchemaManager::new(&db);
    for table in migration::TABLES.iter().chain(["seaql_migrations"].iter()) {
        assert!(!manager.has_table(*table).await?, "{table}");
    }
    db.close().await?;
    Ok(())
}

async fn futures_join<T>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut results = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        results.push(handle.await);
    }
    results
}
