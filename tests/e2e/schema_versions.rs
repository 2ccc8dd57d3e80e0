//! Start-up against a schema of another version, as in a rolling deploy:
//! with `MIGRATE_ON_START=false` the api and the worker refuse a schema
//! older than their own and change nothing; any binary runs against a
//! newer schema (one with migrations it does not know), migrating or not;
//! `api migrate`'s rule (`prepare_schema(db, true)`) then has nothing to do.

use api::Application;
use common::db::{Prepared, SchemaStatus, prepare_schema, schema_status};
use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use testkit::{Server, TestDatabase};

use crate::helpers::TestApp;

/// A name sorting after every real migration, as a newer release's would.
const FROM_A_NEWER_RELEASE: &str = "m20991231_000001_from_a_newer_release";

async fn database_one_migration_behind() -> (TestDatabase, sea_orm::DatabaseConnection) {
    let database = TestDatabase::migrated(&Server::from_env()).await.expect("database");
    let db = database.connect().await.expect("connect");
    Migrator::down(&db, Some(1))
        .await
        .expect("roll the newest migration back");
    (database, db)
}

#[tokio::test]
async fn with_migrate_on_start_false_an_older_schema_is_refused_by_api_and_worker_and_left_alone() {
    let (database, db) = database_one_migration_behind().await;
    let before = schema_status(&db).await.expect("status");
    assert_eq!(before.missing.len(), 1, "{before:?}");
    assert!(before.unknown.is_empty());

    let settings = TestApp::settings_for(&database, &[("MIGRATE_ON_START", "false")]);
    let refused = Application::build(settings.clone())
        .await
        .err()
        .expect("the api refuses an older schema");
    let text = format!("{refused:#}");
    assert!(
        text.contains("older than this binary") && text.contains(&before.missing[0]) && text.contains("api migrate"),
        "{text}"
    );

    // The worker never migrates: it refuses too, before touching Redis.
    let mut worker_settings = settings.clone();
    worker_settings.redis_url = Some(crate::worker_helpers::redis_url().into());
    let refused = worker::run(worker_settings, std::future::pending())
        .await
        .expect_err("the worker refuses an older schema");
    assert!(format!("{refused:#}").contains("older than this binary"), "{refused:#}");

    assert_eq!(
        schema_status(&db).await.expect("status"),
        before,
        "nothing was migrated"
    );

    // The default migrates, and the api then serves.
    let app = TestApp::spawn_on(database, &[]).await;
    assert_eq!(schema_status(&db).await.expect("status"), SchemaStatus::default());
    let staff = app.staff("acme").await;
    let data = app
        .gql_ok(staff.auth(), "{ viewer { __typename } }", serde_json::json!({}))
        .await;
    assert_eq!(data["viewer"]["__typename"], "StaffUser");
}

#[tokio::test]
async fn an_older_binary_starts_and_serves_against_a_newer_schema_whether_or_not_it_may_migrate() {
    let database = TestDatabase::migrated(&Server::from_env()).await.expect("database");
    let db = database.connect().await.expect("connect");
    db.execute_unprepared(&format!(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('{FROM_A_NEWER_RELEASE}', 0)"
    ))
    .await
    .expect("record a migration of a newer release");
    assert_eq!(
        prepare_schema(&db, true).await.expect("api migrate has nothing to do"),
        Prepared::Newer(vec![FROM_A_NEWER_RELEASE.to_owned()])
    );

    // A second api with the default (migrating) setting starts as well.
    let settings = TestApp::settings_for(&database, &[]);
    let migrating = Application::build(settings).await.expect("the default starts too");
    drop(migrating);

    let app = TestApp::spawn_on(database, &[("MIGRATE_ON_START", "false")]).await;
    let staff = app.staff("acme").await;
    let data = app
        .gql_ok(staff.auth(), "{ viewer { __typename } }", serde_json::json!({}))
        .await;
    assert_eq!(data["viewer"]["__typename"], "StaffUser");
    let status = schema_status(&app.db).await.expect("status");
    assert_eq!(status.unknown, [FROM_A_NEWER_RELEASE]);
    assert!(status.missing.is_empty());
}

#[tokio::test]
async fn a_schema_that_lacks_a_migration_and_has_an_unknown_one_is_refused_even_when_migrating() {
    let (database, db) = database_one_migration_behind().await;
    db.execute_unprepared(&format!(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('{FROM_A_NEWER_RELEASE}', 0)"
    ))
    .await
    .expect("record an unknown migration");
    let refused = Application::build(TestApp::settings_for(&database, &[]))
        .await
        .err()
        .expect("a diverged schema is refused");
    assert!(format!("{refused:#}").contains("diverged"), "{refused:#}");
}
