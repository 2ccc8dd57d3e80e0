//! The dashboard benchmark's fixed data set, written straight into a fresh
//! database in a few bulk statements (the api's own services would take
//! minutes for 20,000 assets, and their speed is not what is measured here).
//!
//! The same every run: names, numbers, tags, amounts and who may see what
//! follow from the row's position only. Ids are UUIDv7 made in insertion
//! order, so lists (ordered by id) come out in the same order every run.
//!
//! - one organization (created by [`service::organizations::create`],
//!   with its staff admin and the four default asset types);
//! - `accounts` accounts, each with a contact email, `LOCATIONS_PER_ACCOUNT`
//!   locations with `ASSETS_PER_LOCATION` DEPLOYED assets each (types in
//!   turn), and `INVOICES_PER_ACCOUNT` invoices of `LINES_PER_INVOICE` lines
//!   (the first `OPEN_INVOICES_PER_ACCOUNT` OPEN, the rest PAID);
//! - `portal_users` portal users, user *i* with whole-account grants over
//!   1–3 accounts (1 + *i* mod 3, starting at account 5*i* mod `accounts`),
//!   and a session each, started with [`service::sessions::start`] (so
//!   only the token's digest is stored) — the benchmark skips the argon2
//!   sign-in, which is deliberately slow and measured nowhere here.

use std::time::Instant;

use anyhow::Context as _;
use chrono::{Duration, NaiveDate, Utc};
use entity::InvoiceStatus;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, EntityTrait as _, TransactionTrait as _};
use service::{assets, sessions};
use testkit::builders::{
    AccountBuilder, AssetBuilder, InvoiceBuilder, InvoiceLineBuilder, LocationBuilder, PortalAccessBuilder,
    PortalUserBuilder,
};
use uuid::Uuid;

/// Locations per account.
pub const LOCATIONS_PER_ACCOUNT: usize = 5;
/// Deployed assets per location.
pub const ASSETS_PER_LOCATION: usize = 4;
/// Invoices per account.
pub const INVOICES_PER_ACCOUNT: usize = 10;
/// Of which OPEN (the rest are PAID).
pub const OPEN_INVOICES_PER_ACCOUNT: usize = 3;
/// Lines per invoice.
pub const LINES_PER_INVOICE: usize = 3;

/// Rows per INSERT: well under PostgreSQL's 65,535 bind parameters.
const CHUNK: usize = 1000;

/// The portal users' password hash is never checked (sessions are started
/// directly); a fixed argon2id-shaped string keeps the column realistic.
const PORTAL_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0YmVuY2g$0000000000000000000000000000000000000000000";

/// How big a data set to seed.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Size {
    /// Accounts.
    pub accounts: usize,
    /// Portal users.
    pub portal_users: usize,
}

impl Size {
    /// The data set: 1,000 accounts × 5 locations × 4 assets, 10
    /// invoices of 3 lines per account, 200 portal users.
    pub const FULL: Self = Self {
        accounts: 1000,
        portal_users: 200,
    };
    /// The CI mode's: small enough to seed in a second.
    pub const QUICK: Self = Self {
        accounts: 60,
        portal_users: 12,
    };
}

/// What was seeded, and the sessions to use it with.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The organization.
    pub organization_id: Uuid,
    /// A staff admin's session token.
    pub staff_token: String,
    /// One session token per portal user, in user order.
    pub portal_tokens: Vec<String>,
    /// Account ids in list order (by id).
    pub account_ids: Vec<Uuid>,
    /// Rows written per table, for the report.
    pub rows: RowCounts,
    /// Seconds seeding took.
    pub seconds: f64,
}

/// Rows written per table.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct RowCounts {
    /// `accounts`.
    pub accounts: usize,
    /// `locations`.
    pub locations: usize,
    /// `assets`.
    pub assets: usize,
    /// `invoices`.
    pub invoices: usize,
    /// `invoice_lines`.
    pub invoice_lines: usize,
    /// `portal_users`.
    pub portal_users: usize,
    /// `portal_access`.
    pub portal_grants: usize,
}

/// The accounts portal user `user` may see (indexes into the account list).
#[must_use]
pub fn grants_of(user: usize, accounts: usize) -> Vec<usize> {
    (0..1 + user % 3).map(|k| (5 * user + k) % accounts).collect()
}

/// Seeds `size` into `db` (migrated and empty).
///
/// # Errors
/// On database failure.
pub async fn seed(db: &DatabaseConnection, size: Size) -> anyhow::Result<Seeded> {
    anyhow::ensure!(size.accounts > 0, "the data set needs at least one account");
    let started = Instant::now();
    let txn = db.begin().await?;
    let (org, admin) = service::organizations::create(&txn, crate::harness::organization())
        .await
        .map_err(|err| anyhow::anyhow!("creating the organization: {err:?}"))?;
    let types = assets::asset_types(&txn, org.id, false)
        .await
        .map_err(|err| anyhow::anyhow!("reading the asset types: {err:?}"))?;
    anyhow::ensure!(!types.is_empty(), "the organization has no asset types");

    let now = Utc::now();
    let today = now.date_naive();
    let mut rows = RowCounts::default();
    let mut account_ids = Vec::with_capacity(size.accounts);
    let mut accounts = Vec::with_capacity(size.accounts);
    let mut locations = Vec::new();
    let mut assets_rows = Vec::new();
    let mut invoices = Vec::new();
    let mut lines = Vec::new();
    for a in 0..size.accounts {
        let id = Uuid::now_v7();
        account_ids.push(id);
        accounts.push(
            AccountBuilder::new(org.id)
                .id(id)
                .number(format!("B-{:05}", a + 1))
                .name(format!("Bench Customer {:04}", a + 1))
                .contact_name(format!("Contact {:04}", a + 1))
                .contact_email(format!("billing{:04}@customer.example", a + 1))
                .contact_phone(format!("+1 555 {:07}", a + 1))
                .created_at(now)
                .updated_at(now)
                .into_active_model(),
        );
        for l in 0..LOCATIONS_PER_ACCOUNT {
            let location_id = Uuid::now_v7();
            locations.push(
                LocationBuilder::new(org.id, id)
                    .id(location_id)
                    .name(format!("Site {} of B-{:05}", l + 1, a + 1))
                    .line1(format!("{} Industrial Way", 100 + l))
                    .city(CITIES[(a + l) % CITIES.len()])
                    .region("TX".to_owned())
                    .postal_code(format!("{:05}", 75000 + (a * 7 + l) % 1000))
                    .country("US")
                    .created_at(now)
                    .into_active_model(),
            );
            for s in 0..ASSETS_PER_LOCATION {
                let n = (a * LOCATIONS_PER_ACCOUNT + l) * ASSETS_PER_LOCATION + s;
                assets_rows.push(
                    AssetBuilder::new(org.id, types[n % types.len()].id)
                        .tag(format!("T-{:06}", n + 1))
                        .deployed(location_id, now - Duration::days(i64::try_from(n % 90).unwrap_or(0)))
                        .created_at(now)
                        .into_active_model(),
                );
            }
        }
        for i in 0..INVOICES_PER_ACCOUNT {
            let invoice_id = Uuid::now_v7();
            let open = i < OPEN_INVOICES_PER_ACCOUNT;
            let mut total = 0_i64;
            for p in 0..LINES_PER_INVOICE {
                let quantity = i32::try_from(1 + (a + p) % 4).unwrap_or(1);
                let unit = 4_500 + i64::try_from((a * 31 + i * 7 + p * 3) % 200).unwrap_or(0) * 25;
                total += unit * i64::from(quantity);
                lines.push(
                    InvoiceLineBuilder::new(invoice_id, i32::try_from(p + 1).unwrap_or(1))
                        .description(LINE_DESCRIPTIONS[p % LINE_DESCRIPTIONS.len()])
                        .priced(quantity, unit)
                        .into_active_model(),
                );
            }
            let issued = days_before(today, 30 * (INVOICES_PER_ACCOUNT - i));
            invoices.push(
                InvoiceBuilder::new(org.id, id)
                    .id(invoice_id)
                    .number(format!("INV-{:05}-{:02}", a + 1, i + 1))
                    .issued_on(issued)
                    .due_on(issued + Duration::days(30))
                    .status(if open { InvoiceStatus::Open } else { InvoiceStatus::Paid })
                    .currency("USD")
                    .total_cents(total)
                    .amount_due_cents(if open { total } else { 0 })
                    .created_at(now)
                    .updated_at(now)
                    .into_active_model(),
            );
        }
    }
    rows.accounts = insert_chunked(&txn, accounts).await.context("accounts")?;
    rows.locations = insert_chunked(&txn, locations).await.context("locations")?;
    rows.assets = insert_chunked(&txn, assets_rows).await.context("assets")?;
    rows.invoices = insert_chunked(&txn, invoices).await.context("invoices")?;
    rows.invoice_lines = insert_chunked(&txn, lines).await.context("invoice lines")?;

    let mut users = Vec::with_capacity(size.portal_users);
    let mut grants = Vec::new();
    let mut user_ids = Vec::with_capacity(size.portal_users);
    for u in 0..size.portal_users {
        let user_id = Uuid::now_v7();
        user_ids.push(user_id);
        users.push(
            PortalUserBuilder::new(org.id)
                .id(user_id)
                .email(format!("portal{:04}@customer.example", u + 1))
                .name(format!("Portal User {:04}", u + 1))
                .password_hash(PORTAL_PASSWORD_HASH)
                .created_at(now)
                .into_active_model(),
        );
        for a in grants_of(u, size.accounts) {
            grants.push(
                PortalAccessBuilder::new(org.id, user_id, account_ids[a])
                    .created_at(now)
                    .into_active_model(),
            );
        }
    }
    rows.portal_users = insert_chunked(&txn, users).await.context("portal users")?;
    rows.portal_grants = insert_chunked(&txn, grants).await.context("portal access")?;

    let ttl = 24;
    let staff_token = sessions::start(&txn, org.id, Some(admin.id), None, ttl)
        .await
        .map_err(|err| anyhow::anyhow!("starting the staff session: {err:?}"))?
        .token;
    let mut portal_tokens = Vec::with_capacity(user_ids.len());
    for user_id in user_ids {
        portal_tokens.push(
            sessions::start(&txn, org.id, None, Some(user_id), ttl)
                .await
                .map_err(|err| anyhow::anyhow!("starting a portal session: {err:?}"))?
                .token,
        );
    }
    txn.commit().await?;
    // Fresh statistics, as a database that has lived a while would have.
    db.execute_unprepared("ANALYZE").await.context("ANALYZE")?;
    Ok(Seeded {
        organization_id: org.id,
        staff_token,
        portal_tokens,
        account_ids,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn days_before(day: NaiveDate, days: usize) -> NaiveDate {
    day - Duration::days(i64::try_from(days).unwrap_or(0))
}

async fn insert_chunked<A>(txn: &sea_orm::DatabaseTransaction, rows: Vec<A>) -> anyhow::Result<usize>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let count = rows.len();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        A::Entity::insert_many(chunk).exec_without_returning(txn).await?;
    }
    Ok(count)
}

const CITIES: [&str; 6] = ["Dallas", "Fort Worth", "Arlington", "Plano", "Irving", "Denton"];

const LINE_DESCRIPTIONS: [&str; 3] = [
    "Monthly rental, standard unit",
    "Weekly service visits",
    "Delivery and pickup",
];
