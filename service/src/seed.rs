//! The demo organization for `api serve --seed-demo`: believable accounts
//! (with and without a contact email), locations, deployed and yard assets,
//! open and paid invoices — enough to click through every screen.

use chrono::{Duration, Utc};
use entity::{InvoiceStatus, invoice, organization};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set, TransactionTrait,
};

use super::{
    accounts::{self, ContactChange, NewAccount},
    assets, invoices,
    invoices::{NewInvoice, NewLine},
    locations::{self, NewAddress},
    organizations::{self, NewOrganization},
};
use crate::error::ApiError;

/// The demo organization's slug.
pub const DEMO_SLUG: &str = "demo";
/// The demo staff login's email.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.example";

/// What was seeded, for printing.
#[derive(Debug)]
pub struct Seeded {
    /// The demo organization.
    pub organization: organization::Model,
    /// Staff login email.
    pub admin_email: String,
    /// The demo customer's portal login email (its password is the staff
    /// login's): the contact of Lakeview Events, signed up for the whole
    /// account.
    pub customer_email: String,
    /// Staff login password.
    pub admin_password: String,
}

struct DemoAccount {
    number: &'static str,
    name: &'static str,
    contact: (&'static str, Option<&'static str>, &'static str),
    locations: &'static [(&'static str, &'static str, &'static str, &'static str, &'static str)],
}

const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        number: "C-1001",
        name: "Riverside Construction",
        contact: (
            "Maria Lopez",
            Some("maria.lopez@riverside-construction.example"),
            "+1 555 0101",
        ),
        locations: &[
            ("Riverside Tower site", "1200 River Rd", "Portland", "OR", "97201"),
            (
                "Eastside Warehouse build",
                "88 Industrial Way",
                "Portland",
                "OR",
                "97214",
            ),
            ("Bridge retrofit", "3 Harbor Bridge", "Vancouver", "WA", "98660"),
        ],
    },
    DemoAccount {
        number: "C-1002",
        name: "Lakeview Events",
        contact: ("Sam Chen", Some("sam@lakeview-events.example"), "+1 555 0102"),
        locations: &[
            ("Lakeview Amphitheater", "500 Shore Dr", "Lake Oswego", "OR", "97034"),
            ("Summer Fair grounds", "2 Fairground Ln", "Gresham", "OR", "97030"),
        ],
    },
    DemoAccount {
        number: "C-1003",
        name: "Greenfield School District",
        contact: ("Facilities Office", None, "+1 555 0103"),
        locations: &[
            ("Greenfield High athletics", "75 Stadium Ave", "Salem", "OR", "97301"),
            ("Elementary renovation", "19 Maple St", "Salem", "OR", "97302"),
        ],
    },
    DemoAccount {
        number: "C-1004",
        name: "Harbor Marina",
        contact: ("Jordan Price", Some("jordan.price@harbormarina.example"), "+1 555 0104"),
        locations: &[("Marina dock B", "1 Dockside Pl", "Astoria", "OR", "97103")],
    },
    DemoAccount {
        number: "C-1005",
        name: "Summit Farms",
        contact: ("Pat Olsen", None, "+1 555 0105"),
        locations: &[
            ("North orchard", "RR 4 Box 12", "Hood River", "OR", "97031"),
            ("Packing shed", "4410 Orchard Rd", "Hood River", "OR", "97031"),
        ],
    },
];

/// Seeds the demo organization when the database has no organization yet.
/// Returns `None` (and changes nothing) otherwise. All in one transaction.
///
/// # Errors
/// Internal on database failure.
pub async fn seed_demo(db: &DatabaseConnection, admin_password: String) -> Result<Option<Seeded>, ApiError> {
    if organization::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let txn = db.begin().await?;
    let (org, admin) = organizations::create(
        &txn,
        NewOrganization {
            name: "Demo Sanitation & Roll-off".to_owned(),
            slug: DEMO_SLUG.to_owned(),
            admin_email: DEMO_ADMIN_EMAIL.to_owned(),
            admin_name: "Demo Dispatcher".to_owned(),
            admin_password: admin_password.clone(),
        },
    )
    .await?;
    let types = assets::asset_types(&txn, org.id, false).await?;
    let today = Utc::now().date_naive();
    let mut tag = 100;
    let mut invoice_number = 5000;
    let mut customer_email = String::new();
    for (a, demo) in ACCOUNTS.iter().enumerate() {
        let (contact_name, contact_email, phone) = demo.contact;
        let account = accounts::create(
            &txn,
            org.id,
            NewAccount {
                number: demo.number.to_owned(),
                name: demo.name.to_owned(),
                contact: ContactChange {
                    name: Some(Some(contact_name.to_owned())),
                    email: Some(contact_email.map(str::to_owned)),
                    phone: Some(Some(phone.to_owned())),
                },
            },
        )
        .await?;
        if let (DEMO_CUSTOMER_ACCOUNT, Some(email)) = (demo.number, contact_email) {
            demo_customer(&txn, &account, contact_name, email, &admin_password).await?;
            email.clone_into(&mut customer_email);
        }
        for (l, (name, line1, city, region, postal)) in demo.locations.iter().enumerate() {
            let location = locations::create(
                &txn,
                org.id,
                account.id,
                name,
                &NewAddress {
                    line1: (*line1).to_owned(),
                    city: (*city).to_owned(),
                    region: Some((*region).to_owned()),
                    postal_code: Some((*postal).to_owned()),
                    country: "US".to_owned(),
                    ..NewAddress::default()
                },
            )
            .await?;
            for n in 0..(2 + (a + l) % 3) {
                tag += 1;
                let kind = &types[(a + l + n) % types.len()];
                let asset = assets::create(&txn, org.id, kind.id, &format!("PT-{tag}"), None).await?;
                assets::move_asset(&txn, org.id, asset.id, Some(location.id)).await?;
            }
        }
        for (months_ago, paid) in [(2_i64, true), (1, a % 2 == 0), (0, false)] {
            invoice_number += 1;
            let issued_on = today - Duration::days(30 * months_ago + 3);
            let created = invoices::create(
                &txn,
                org.id,
                NewInvoice {
                    account_id: account.id,
                    location_id: None,
                    number: format!("INV-{invoice_number}"),
                    issued_on,
                    due_on: issued_on + Duration::days(30),
                    currency: "USD".to_owned(),
                    lines: vec![
                        NewLine {
                            description: "Portable toilet rental, 28 days".to_owned(),
                            quantity: i32::try_from(2 + a).unwrap_or(2),
                            unit_price_cents: 14_500,
                        },
                        NewLine {
                            description: "Weekly service".to_owned(),
                            quantity: 4,
                            unit_price_cents: 3_500,
                        },
                    ],
                },
            )
            .await?;
            if paid {
                let mut active: invoice::ActiveModel = created.into();
                active.status = Set(InvoiceStatus::Paid);
                active.amount_due_cents = Set(0);
                active.update(&txn).await?;
            }
        }
    }
    // A few units in the yard and one in the shop.
    for (i, status) in [None, None, None, Some(entity::AssetStatus::Maintenance)]
        .into_iter()
        .enumerate()
    {
        let kind = &types[i % types.len()];
        assets::create(&txn, org.id, kind.id, &format!("YD-{}", 900 + i), status).await?;
    }
    txn.commit().await?;
    let organization = organization::Entity::find()
        .filter(organization::Column::Id.eq(org.id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    Ok(Some(Seeded {
        organization,
        admin_email: admin.email,
        customer_email,
        admin_password,
    }))
}

/// The account whose contact is the demo's signed-up customer.
const DEMO_CUSTOMER_ACCOUNT: &str = "C-1002";

/// Signs the account's contact up for the portal (the whole account), as an
/// accepted invitation would, so the demo has a customer to sign in as.
async fn demo_customer(
    db: &impl sea_orm::ConnectionTrait,
    account: &entity::account::Model,
    name: &str,
    email: &str,
    password: &str,
) -> Result<(), ApiError> {
    let now = Utc::now();
    let user = entity::portal_user::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        organization_id: Set(account.organization_id),
        email: Set(email.to_lowercase()),
        name: Set(name.to_owned()),
        password_hash: Set(crate::auth::hash_password(password.to_owned()).await?),
        created_at: Set(now),
        last_sign_in_at: Set(None),
    }
    .insert(db)
    .await?;
    entity::portal_access::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        organization_id: Set(account.organization_id),
        portal_user_id: Set(user.id),
        account_id: Set(account.id),
        location_id: Set(None),
        invitation_id: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}
