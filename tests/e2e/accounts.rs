//! Accounts: `createAccount`, `account`, `accounts` (search and portal-status
//! filter) and `updateAccountContact` with its Contact Information rules.

use chrono::Duration;
use entity::{InvitationStatus, invitation};
use sea_orm::EntityTrait;
use serde_json::json;
use testkit::builders::{InvitationBuilder, PortalAccessBuilder, PortalUserBuilder};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp, field, ids};

const ACCOUNT_FIELDS: &str = "id number name contact { name email phone } portalStatus \
    balanceDue { amountCents currency formatted } locations { totalCount } assets { totalCount } invoices { totalCount }";

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).expect("ids are UUIDs")
}

/// A pending invitation to `account_id`, written as the invite flow would.
async fn insert_invitation(app: &TestApp, staff: &Staff, account_id: &str, expires_in: Duration) -> Uuid {
    InvitationBuilder::new(staff.organization_id, uuid(account_id))
        .email("invitee@example.com")
        .expires_in(expires_in)
        .insert(&app.db)
        .await
        .expect("insert invitation")
        .id
}

/// A portal user with access to `account_id`, as an accepted invitation leaves it.
async fn insert_portal_access(app: &TestApp, staff: &Staff, account_id: &str) {
    let user = PortalUserBuilder::new(staff.organization_id)
        .email(format!("customer-{}@example.com", Uuid::now_v7().simple()))
        .name("Customer")
        .insert(&app.db)
        .await
        .expect("insert portal user");
    PortalAccessBuilder::new(staff.organization_id, user.id, uuid(account_id))
        .insert(&app.db)
        .await
        .expect("insert portal access");
}

#[tokio::test]
async fn create_account_stores_the_contact_information_and_starts_not_connected() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let created = app
        .gql_ok(
            staff.auth(),
            &format!("mutation($input: CreateAccountInput!) {{ createAccount(input: $input) {{ {ACCOUNT_FIELDS} }} }}"),
            json!({"input": {
                "number": " C-1001 ",
                "name": "Riverside Construction",
                "contact": {"name": "Maria Lopez", "email": " Maria.Lopez@Riverside.Example ", "phone": "+1 555 0101"}
            }}),
        )
        .await["createAccount"]
        .clone();
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created,
        json!({
            "id": id,
            "number": "C-1001",
            "name": "Riverside Construction",
            "contact": {"name": "Maria Lopez", "email": "maria.lopez@riverside.example", "phone": "+1 555 0101"},
            "portalStatus": "NOT_CONNECTED",
            "balanceDue": {"amountCents": 0, "currency": "USD", "formatted": "$0.00"},
            "locations": {"totalCount": 0},
            "assets": {"totalCount": 0},
            "invoices": {"totalCount": 0},
        })
    );

    let read = app
        .gql_ok(
            staff.auth(),
            &format!("query($id: ID!) {{ account(id: $id) {{ {ACCOUNT_FIELDS} }} }}"),
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["account"], created);
}

#[tokio::test]
async fn an_account_created_without_contact_has_no_contact_fields() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let data = app
        .gql_ok(
            staff.auth(),
            "mutation { createAccount(input: {number: \"7\", name: \"Walk-in\"}) { number contact { name email phone } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["createAccount"],
        json!({"number": "7", "contact": {"name": null, "email": null, "phone": null}})
    );
}

#[tokio::test]
async fn account_with_an_unknown_or_malformed_id_is_null() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    app.create_account(&staff, "1", "One", None).await;
    let data = app
        .gql_ok(
            staff.auth(),
            "query($a: ID!, $b: ID!) { a: account(id: $a) { id } b: account(id: $b) { id } }",
            json!({"a": Uuid::now_v7().to_string(), "b": "not-an-id"}),
        )
        .await;
    assert_eq!(data, json!({"a": null, "b": null}));
}

#[tokio::test]
async fn accounts_search_matches_number_name_and_contact_email_case_insensitively() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let river = app
        .create_account(
            &staff,
            "A-100",
            "Riverside Construction",
            Some("maria@riverside.example"),
        )
        .await;
    let lake = app
        .create_account(&staff, "B-200", "Lakeview Events", Some("sam@lakeview.example"))
        .await;
    let harbor = app.create_account(&staff, "C-300", "Harbor Marina", None).await;

    let search = |text: &'static str| {
        let app = &app;
        let staff = &staff;
        async move {
            let data = app
                .gql_ok(
                    staff.auth(),
                    "query($s: String) { accounts(search: $s) { totalCount nodes { id } } }",
                    json!({"s": text}),
                )
                .await;
            let found = ids(&data["accounts"]);
            assert_eq!(data["accounts"]["totalCount"], found.len(), "search {text:?}");
            found
        }
    };
    assert_eq!(search("a-1").await, vec![river.clone()], "by number");
    assert_eq!(search("LAKEVIEW EV").await, vec![lake.clone()], "by name");
    assert_eq!(search("Marina").await, vec![harbor.clone()], "by name");
    assert_eq!(search("SAM@").await, vec![lake.clone()], "by contact email");
    assert_eq!(search("river").await, vec![river.clone()], "name and email match once");
    assert_eq!(search("00").await, vec![river.clone(), lake.clone(), harbor.clone()]);
    assert_eq!(search("  ").await, vec![river, lake, harbor], "blank search lists all");
    assert!(search("%").await.is_empty(), "% is literal");
    assert!(search("_").await.is_empty(), "_ is literal");
    assert!(search("nothing like it").await.is_empty());
}

#[tokio::test]
async fn portal_status_follows_pending_invitations_and_portal_access_and_filters_accounts() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let not_invited = app.create_account(&staff, "1", "Never invited", None).await;
    let invited = app.create_account(&staff, "2", "Invited", None).await;
    let connected = app.create_account(&staff, "3", "Connected", None).await;
    let expired = app.create_account(&staff, "4", "Invitation expired", None).await;
    let both = app.create_account(&staff, "5", "Connected, invited again", None).await;
    insert_invitation(&app, &staff, &invited, Duration::days(7)).await;
    insert_portal_access(&app, &staff, &connected).await;
    insert_invitation(&app, &staff, &expired, Duration::hours(-1)).await;
    insert_portal_access(&app, &staff, &both).await;
    insert_invitation(&app, &staff, &both, Duration::days(7)).await;

    let data = app
        .gql_ok(
            staff.auth(),
            "{ all: accounts { nodes { id portalStatus } }
               notConnected: accounts(portalStatus: NOT_CONNECTED) { totalCount nodes { id } }
               invited: accounts(portalStatus: INVITED) { totalCount nodes { id } }
               connected: accounts(portalStatus: CONNECTED) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["all"]["nodes"],
        json!([
            {"id": not_invited, "portalStatus": "NOT_CONNECTED"},
            {"id": invited, "portalStatus": "INVITED"},
            {"id": connected, "portalStatus": "CONNECTED"},
            {"id": expired, "portalStatus": "NOT_CONNECTED"},
            {"id": both, "portalStatus": "CONNECTED"},
        ])
    );
    assert_eq!(ids(&data["notConnected"]), vec![not_invited, expired]);
    assert_eq!(data["notConnected"]["totalCount"], 2);
    assert_eq!(ids(&data["invited"]), vec![invited]);
    assert_eq!(data["invited"]["totalCount"], 1);
    assert_eq!(ids(&data["connected"]), vec![connected, both]);
    assert_eq!(data["connected"]["totalCount"], 2);
}

const UPDATE: &str = "mutation($a: ID!, $input: ContactInput!) { updateAccountContact(accountId: $a, input: $input) { id contact { name email phone } portalStatus } }";

#[tokio::test]
async fn update_account_contact_sets_given_fields_keeps_omitted_ones_and_null_clears() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "1", "One", Some("old@example.com")).await;

    let data = app
        .gql_ok(
            staff.auth(),
            UPDATE,
            json!({"a": account, "input": {"name": "Pat", "phone": "555-0101"}}),
        )
        .await;
    assert_eq!(
        data["updateAccountContact"]["contact"],
        json!({"name": "Pat", "email": "old@example.com", "phone": "555-0101"})
    );

    let data = app
        .gql_ok(
            staff.auth(),
            UPDATE,
            json!({"a": account, "input": {"email": " New@Example.COM ", "phone": null}}),
        )
        .await;
    assert_eq!(
        data["updateAccountContact"]["contact"],
        json!({"name": "Pat", "email": "new@example.com", "phone": null})
    );

    let data = app
        .gql_ok(staff.auth(), UPDATE, json!({"a": account, "input": {"email": ""}}))
        .await;
    assert_eq!(
        data["updateAccountContact"]["contact"],
        json!({"name": "Pat", "email": null, "phone": null}),
        "an empty email clears it"
    );

    let read = app
        .gql_ok(
            staff.auth(),
            "query($id: ID!) { account(id: $id) { contact { name email phone } } }",
            json!({"id": account}),
        )
        .await;
    assert_eq!(read["account"]["contact"], data["updateAccountContact"]["contact"]);
}

#[tokio::test]
async fn changing_the_contact_email_revokes_pending_invitations_and_keeping_it_does_not() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "1", "One", Some("old@example.com")).await;
    let pending = insert_invitation(&app, &staff, &account, Duration::days(7)).await;

    // The same address in other case and spacing is no change.
    let data = app
        .gql_ok(
            staff.auth(),
            UPDATE,
            json!({"a": account, "input": {"email": " OLD@example.com", "name": "Pat"}}),
        )
        .await;
    assert_eq!(data["updateAccountContact"]["portalStatus"], "INVITED");
    let row = invitation::Entity::find_by_id(pending)
        .one(&app.db)
        .await
        .expect("query")
        .expect("invitation");
    assert_eq!(row.status, InvitationStatus::Pending);

    let data = app
        .gql_ok(
            staff.auth(),
            UPDATE,
            json!({"a": account, "input": {"email": "new@example.com"}}),
        )
        .await;
    assert_eq!(data["updateAccountContact"]["portalStatus"], "NOT_CONNECTED");
    let row = invitation::Entity::find_by_id(pending)
        .one(&app.db)
        .await
        .expect("query")
        .expect("invitation");
    assert_eq!(row.status, InvitationStatus::Revoked);
    assert!(row.revoked_at.is_some());
}

#[tokio::test]
async fn update_account_contact_validates_the_email_and_changes_nothing_when_it_is_invalid() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "1", "One", Some("kept@example.com")).await;
    for bad in [
        "not-an-email",
        "a@b",
        "two@@example.com",
        "sp ace@example.com",
        "x@-bad.example",
    ] {
        let (code, error) = app
            .gql_err(
                staff.auth(),
                UPDATE,
                json!({"a": account, "input": {"email": bad, "name": "Changed"}}),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{bad}");
        assert_eq!(field(&error), "input.email", "{bad}");
    }
    let read = app
        .gql_ok(
            staff.auth(),
            "query($id: ID!) { account(id: $id) { contact { name email } } }",
            json!({"id": account}),
        )
        .await;
    assert_eq!(
        read["account"]["contact"],
        json!({"name": null, "email": "kept@example.com"})
    );
}

#[tokio::test]
async fn update_account_contact_of_an_unknown_account_is_not_found() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    for id in [Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let (code, _) = app
            .gql_err(staff.auth(), UPDATE, json!({"a": id, "input": {"name": "x"}}))
            .await;
        assert_eq!(code, "NOT_FOUND", "{id}");
    }
}
