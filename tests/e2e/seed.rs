//! `api serve --seed-demo`'s service: an empty database gets the demo
//! organization with enough data to click through every screen, and its
//! staff can sign in; a database that has an organization is left alone.

use entity::organization;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use service::seed::{DEMO_ADMIN_EMAIL, DEMO_SLUG, seed_demo};

use crate::helpers::TestApp;

const DEMO_PASSWORD: &str = "demo password 2026";

fn nodes(connection: &Value) -> &Vec<Value> {
    connection["nodes"].as_array().expect("nodes")
}

#[tokio::test]
async fn seed_demo_fills_an_empty_database_with_a_demo_organization_whose_staff_can_sign_in() {
    let app = TestApp::spawn().await;
    let seeded = seed_demo(&app.db, DEMO_PASSWORD.to_owned())
        .await
        .expect("seeding")
        .expect("an empty database is seeded");
    assert_eq!(seeded.organization.slug, DEMO_SLUG);
    assert_eq!(seeded.admin_email, DEMO_ADMIN_EMAIL);
    assert_eq!(seeded.admin_password, DEMO_PASSWORD);
    assert_eq!(seeded.customer_email, "sam@lakeview-events.example");

    // The demo customer signs in to the portal and sees Lakeview Events.
    let customer = app
        .gql_ok(
            None,
            "mutation($e: String!, $p: String!) { portalLogin(organization: \"demo\", email: $e, password: $p) { token } }",
            json!({"e": seeded.customer_email, "p": DEMO_PASSWORD}),
        )
        .await;
    let customer = customer["portalLogin"]["token"].as_str().expect("token");
    let seen = app
        .gql_ok(
            Some(customer),
            "{ accounts { nodes { name assets { totalCount } } } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["accounts"]["nodes"][0]["name"], "Lakeview Events");
    assert!(seen["accounts"]["nodes"][0]["assets"]["totalCount"].as_u64() > Some(0));

    let login = app
        .gql_ok(
            None,
            "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) {
                token viewer { ... on StaffUser { email organization { slug } } } } }",
            json!({"e": DEMO_ADMIN_EMAIL, "p": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(
        login["staffLogin"]["viewer"],
        json!({"email": DEMO_ADMIN_EMAIL, "organization": {"slug": "demo"}})
    );
    let token = login["staffLogin"]["token"].as_str().expect("token");

    let data = app
        .gql_ok(
            Some(token),
            "{ organization { id slug }
               accounts(first: 100) { totalCount nodes { id contact { email } locations { totalCount } } }
               deployed: assets(first: 100, status: DEPLOYED) { totalCount nodes { location { id } deployedAt } }
               yard: assets(first: 100, status: AVAILABLE) { totalCount nodes { location { id } deployedAt } }
               open: invoices(first: 100, status: OPEN) { totalCount nodes { total { amountCents } amountDue { amountCents } lines { amount { amountCents } } } }
               paid: invoices(first: 100, status: PAID) { totalCount nodes { amountDue { amountCents } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["organization"]["id"], seeded.organization.id.to_string());

    let accounts = nodes(&data["accounts"]);
    let with_email = accounts.iter().filter(|a| a["contact"]["email"].is_string()).count();
    let without_email = accounts.iter().filter(|a| a["contact"]["email"].is_null()).count();
    assert!(with_email > 0, "accounts with a contact email");
    assert!(without_email > 0, "accounts without a contact email");
    assert_eq!(with_email + without_email, accounts.len());
    assert!(
        accounts.iter().all(|a| a["locations"]["totalCount"].as_u64() > Some(0)),
        "every demo account has locations"
    );

    let deployed = nodes(&data["deployed"]);
    assert!(!deployed.is_empty(), "deployed assets");
    assert!(
        deployed
            .iter()
            .all(|a| a["location"]["id"].is_string() && a["deployedAt"].is_string())
    );
    let yard = nodes(&data["yard"]);
    assert!(!yard.is_empty(), "assets in the yard");
    assert!(
        yard.iter()
            .all(|a| a["location"].is_null() && a["deployedAt"].is_null())
    );

    let open = nodes(&data["open"]);
    assert!(!open.is_empty(), "open invoices");
    for invoice in open {
        let total = invoice["total"]["amountCents"].as_i64().expect("total");
        let lines: i64 = invoice["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["amount"]["amountCents"].as_i64().expect("amount"))
            .sum();
        assert!(total > 0);
        assert_eq!(total, lines, "the total is the sum of the lines");
        assert_eq!(invoice["amountDue"]["amountCents"], total);
    }
    let paid = nodes(&data["paid"]);
    assert!(!paid.is_empty(), "paid invoices");
    assert!(paid.iter().all(|i| i["amountDue"]["amountCents"] == 0));
}

#[tokio::test]
async fn seed_demo_a_second_time_returns_none_and_changes_nothing() {
    let app = TestApp::spawn().await;
    assert!(
        seed_demo(&app.db, DEMO_PASSWORD.to_owned())
            .await
            .expect("first")
            .is_some()
    );
    let organizations_before = organization::Entity::find().count(&app.db).await.expect("count");
    let again = seed_demo(&app.db, "another password".to_owned()).await.expect("second");
    assert!(again.is_none());
    assert_eq!(
        organization::Entity::find().count(&app.db).await.expect("count"),
        organizations_before
    );
    // The first password still signs in: nothing was overwritten.
    let login = app
        .gql_ok(
            None,
            "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }",
            json!({"e": DEMO_ADMIN_EMAIL, "p": DEMO_PASSWORD}),
        )
        .await;
    assert!(login["staffLogin"]["token"].is_string());
}

#[tokio::test]
async fn seed_demo_leaves_a_database_that_already_has_an_organization_alone() {
    let app = TestApp::spawn().await;
    app.staff("acme").await;
    assert!(
        seed_demo(&app.db, DEMO_PASSWORD.to_owned())
            .await
            .expect("seed")
            .is_none()
    );
    let slugs: Vec<String> = organization::Entity::find()
        .all(&app.db)
        .await
        .expect("organizations")
        .into_iter()
        .map(|o| o.slug)
        .collect();
    assert_eq!(slugs, vec!["acme".to_owned()]);
}
