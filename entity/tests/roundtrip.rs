//! The entities match the schema the migration creates: rows written through
//! them read back unchanged (ids, enums, dates, timestamps, JSON), and a
//! unique violation is reported as `SqlErr::UniqueConstraintViolation` that
//! `migration::constraint` can attribute to its index.
//!
//! SQLite always runs. PostgreSQL runs when `TEST_DATABASE_URL` starts with
//! `postgres://`. Each runs in a migrated throwaway database
//! ([`TestDatabase::migrated`]), removed afterwards. Rows come from the
//! testkit builders, so a new column needs no change here.

use chrono::NaiveDate;
use entity::prelude::*;
use entity::{AssetStatus, DeliveryStatus, EmailKind};
use entity::{account, asset, email_delivery, invoice, organization};
use migration::constraint;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, ModelTrait, QueryFilter, SqlErr};
use serde_json::json;
use testkit::builders::{
    AccountBuilder, AssetBuilder, AssetTypeBuilder, EmailDeliveryBuilder, InvoiceBuilder, LocationBuilder,
    OrganizationBuilder, now,
};
use testkit::{Server, TestDatabase};
use uuid::Uuid;

fn new_account(organization_id: Uuid, number: &str) -> AccountBuilder {
    AccountBuilder::new(organization_id)
        .number(number)
        .name("Acme Construction")
        .contact_name("Ada Builder".to_owned())
        .contact_email("ada@acme.example".to_owned())
}

/// Runs the round trips in a migrated database; returns the unique-violation message.
async fn round_trip(db: &DatabaseConnection) -> Result<String, DbErr> {
    let org = OrganizationBuilder::new()
        .name("Demo Rentals")
        .slug("demo")
        .online_payments_enabled(true)
        .build();
    let inserted = organization::ActiveModel::from(org.clone()).insert(db).await?;
    assert_eq!(inserted, org);
    assert_eq!(Organization::find_by_id(org.id).one(db).await?, Some(org.clone()));

    let account = new_account(org.id, "A-1001").insert(db).await?;
    let found = Account::find()
        .filter(account::Column::OrganizationId.eq(org.id))
        .filter(account::Column::Number.eq("A-1001"))
        .one(db)
        .await?;
    assert_eq!(found, Some(account.clone()));

    let location = LocationBuilder::new(org.id, account.id)
        .name("North yard")
        .line1("1 Quarry Road")
        .city("Springfield")
        .region("IL".to_owned())
        .postal_code("62701".to_owned())
        .insert(db)
        .await?;
    let asset_type = AssetTypeBuilder::new(org.id)
        .name("Standard portable toilet")
        .insert(db)
        .await?;
    let asset = AssetBuilder::new(org.id, asset_type.id)
        .tag("PT-0001")
        .deployed(location.id, now())
        .build();
    asset::ActiveModel::from(asset.clone()).insert(db).await?;
    let deployed = Asset::find()
        .filter(asset::Column::OrganizationId.eq(org.id))
        .filter(asset::Column::Status.eq(AssetStatus::Deployed))
        .all(db)
        .await?;
    assert_eq!(deployed, vec![asset.clone()]);
    let at_location = location.find_related(Asset).all(db).await?;
    assert_eq!(at_location, vec![asset]);

    let payload = json!({
        "account_name": "Acme Construction",
        "locations": ["North yard"],
        "nested": { "count": 2, "ok": true, "none": null },
    });
    let delivery = EmailDeliveryBuilder::new(org.id, EmailKind::AssetRequestReceived)
        .recipient("ada@acme.example")
        .subject("We received your request")
        .payload(payload.clone())
        .build();
    email_delivery::ActiveModel::from(delivery.clone()).insert(db).await?;
    // The worker's query: due rows of a status, compared on a timestamp.
    let due = EmailDelivery::find()
        .filter(email_delivery::Column::Status.eq(DeliveryStatus::Queued))
        .filter(email_delivery::Column::NextAttemptAt.lte(now()))
        .all(db)
        .await?;
    assert_eq!(due, vec![delivery]);
    assert_eq!(due[0].payload, payload);

    // Dates, i64 money beyond i32 and the nullable location FK.
    let date = |s: &str| s.parse::<NaiveDate>().map_err(|e| DbErr::Custom(format!("{s}: {e}")));
    let invoice = InvoiceBuilder::new(org.id, account.id)
        .number("INV-1")
        .issued_on(date("2026-11-01")?)
        .due_on(date("2026-12-01")?)
        .total_cents(5_000_000_000_i64)
        .amount_due_cents(5_000_000_000_i64)
        .build();
    invoice::ActiveModel::from(invoice.clone()).insert(db).await?;
    let overdue = Invoice::find()
        .filter(invoice::Column::DueOn.lt(date("2026-12-02")?))
        .one(db)
        .await?;
    assert_eq!(overdue, Some(invoice));

    // Foreign keys are enforced on both backends (SQLite: sqlx turns them on).
    let orphan = new_account(Uuid::now_v7(), "A-9999").insert(db).await;
    let orphan_err = orphan.err().ok_or_else(|| DbErr::Custom("orphan inserted".into()))?;
    assert!(
        matches!(orphan_err.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))),
        "{orphan_err:?}"
    );

    let duplicate = new_account(org.id, "A-1001").insert(db).await;
    let err = duplicate
        .err()
        .ok_or_else(|| DbErr::Custom("duplicate account number inserted".into()))?;
    let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() else {
        return Err(DbErr::Custom(format!("not a unique violation: {err:?}")));
    };
    assert_eq!(
        constraint::violated_unique_index(&message).map(|index| index.name),
        Some(constraint::ACCOUNTS_ORG_NUMBER),
        "{message}"
    );
    // The same number in another organization is fine.
    let other = OrganizationBuilder::new().slug("other").insert(db).await?;
    new_account(other.id, "A-1001").insert(db).await?;

    eprintln!(
        "{:?}: UniqueConstraintViolation({message:?}); Display: {err}",
        db.get_database_backend()
    );
    Ok(message)
}

#[tokio::test]
async fn sqlite_round_trips_entities_and_names_unique_violations() -> Result<(), DbErr> {
    let message = in_database(&Server::Sqlite).await?;
    // SQLite names the columns, not the index.
    assert_eq!(
        message,
        "UNIQUE constraint failed: accounts.organization_id, accounts.number"
    );
    Ok(())
}

#[tokio::test]
async fn postgres_round_trips_entities_and_names_unique_violations() -> Result<(), DbErr> {
    let Some(server) = Server::postgres_from_env() else {
        eprintln!("TEST_DATABASE_URL is not a postgres:// URL; skipping");
        return Ok(());
    };
    let message = in_database(&server).await?;
    assert!(message.contains(constraint::ACCOUNTS_ORG_NUMBER), "{message}");
    Ok(())
}

/// [`round_trip`] in a migrated database of its own on `server`.
async fn in_database(server: &Server) -> Result<String, DbErr> {
    let database = TestDatabase::migrated(server).await?;
    let outcome = async {
        let db = database.connect().await?;
        let message = round_trip(&db).await;
        db.close().await?;
        message
    }
    .await;
    let removed = database.remove().await;
    let message = outcome?;
    removed?;
    Ok(message)
}
