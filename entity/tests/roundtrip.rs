//! The entities match the schema the migration creates: rows written through
//! them read back unchanged (ids, enums, dates, timestamps, JSON), and a
//! unique violation is reported as `SqlErr::UniqueConstraintViolation` that
//! `migration::constraint` can attribute to its index.
//!
//! SQLite (in memory) always runs. PostgreSQL runs when `TEST_DATABASE_URL`
//! starts with `postgres://`, in a scratch database dropped afterwards.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use entity::prelude::*;
use entity::{AssetStatus, DeliveryStatus, EmailKind, InvoiceStatus};
use entity::{account, asset, asset_type, email_delivery, invoice};
use entity::{location, organization};
use migration::{Migrator, MigratorTrait, constraint};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait, ModelTrait,
    QueryFilter, Set, SqlErr,
};
use serde_json::json;
use uuid::Uuid;

/// PostgreSQL keeps microseconds; use timestamps it can store exactly.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn new_account(organization_id: Uuid, number: &str) -> account::ActiveModel {
    let at = now();
    account::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(organization_id),
        number: Set(number.to_owned()),
        name: Set("Acme Construction".to_owned()),
        contact_name: Set(Some("Ada Builder".to_owned())),
        contact_email: Set(Some("ada@acme.example".to_owned())),
        contact_phone: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

/// Runs the round trips; returns the unique-violation message.
async fn round_trip(db: &DatabaseConnection) -> Result<String, DbErr> {
    Migrator::up(db, None).await?;

    let org = organization::Model {
        id: Uuid::now_v7(),
        name: "Demo Rentals".to_owned(),
        slug: "demo".to_owned(),
        online_payments_enabled: true,
        created_at: now(),
    };
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

    let location = location::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org.id),
        account_id: Set(account.id),
        name: Set("North yard".to_owned()),
        line1: Set("1 Quarry Road".to_owned()),
        line2: Set(None),
        city: Set("Springfield".to_owned()),
        region: Set(Some("IL".to_owned())),
        postal_code: Set(Some("62701".to_owned())),
        country: Set("US".to_owned()),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    let asset_type = asset_type::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org.id),
        name: Set("Standard portable toilet".to_owned()),
        description: Set(None),
        requestable: Set(true),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    let asset = asset::Model {
        id: Uuid::now_v7(),
        organization_id: org.id,
        asset_type_id: asset_type.id,
        tag: "PT-0001".to_owned(),
        status: AssetStatus::Deployed,
        location_id: Some(location.id),
        deployed_at: Some(now()),
        created_at: now(),
    };
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
    let delivery = email_delivery::Model {
        id: Uuid::now_v7(),
        organization_id: org.id,
        kind: EmailKind::AssetRequestReceived,
        recipient: "ada@acme.example".to_owned(),
        subject: "We received your request".to_owned(),
        status: DeliveryStatus::Queued,
        attempts: 0,
        last_error: None,
        payload: payload.clone(),
        invitation_id: None,
        queued_at: now(),
        next_attempt_at: now(),
        lease_owner: None,
        lease_expires_at: None,
        sent_at: None,
    };
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
    let invoice = invoice::Model {
        id: Uuid::now_v7(),
        organization_id: org.id,
        account_id: account.id,
        location_id: None,
        number: "INV-1".to_owned(),
        issued_on: date("2026-11-01")?,
        due_on: date("2026-12-01")?,
        status: InvoiceStatus::Open,
        currency: "USD".to_owned(),
        total_cents: 5_000_000_000,
        amount_due_cents: 5_000_000_000,
        created_at: now(),
        updated_at: now(),
    };
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
    let other = organization::ActiveModel::from(organization::Model {
        id: Uuid::now_v7(),
        slug: "other".to_owned(),
        ..org
    })
    .insert(db)
    .await?;
    new_account(other.id, "A-1001").insert(db).await?;

    eprintln!(
        "{:?}: UniqueConstraintViolation({message:?}); Display: {err}",
        db.get_database_backend()
    );
    Ok(message)
}

#[tokio::test]
async fn sqlite_round_trips_entities_and_names_unique_violations() -> Result<(), DbErr> {
    let db = Database::connect("sqlite::memory:").await?;
    let message = round_trip(&db).await?;
    // SQLite names the columns, not the index.
    assert_eq!(
        message,
        "UNIQUE constraint failed: accounts.organization_id, accounts.number"
    );
    Ok(())
}

#[tokio::test]
async fn postgres_round_trips_entities_and_names_unique_violations() -> Result<(), DbErr> {
    let Some(scratch) = ScratchPostgres::create().await? else {
        eprintln!("TEST_DATABASE_URL is not a postgres:// URL; skipping");
        return Ok(());
    };
    let outcome = async {
        let db = Database::connect(&scratch.url).await?;
        let message = round_trip(&db).await;
        db.close().await?;
        message
    }
    .await;
    let dropped = scratch.drop().await;
    let message = outcome?;
    dropped?;
    assert!(message.contains(constraint::ACCOUNTS_ORG_NUMBER), "{message}");
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
        let name = format!("ent_{}", Uuid::now_v7().simple());
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
