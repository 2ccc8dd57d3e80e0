//! Asset requests end to end: a customer requests assets at one of its
//! locations, staff are emailed and take the request through its states, the
//! requester is emailed at every step. Emails go through the api's in-process
//! queue into `.eml` files (no SMTP configured), and their `email_deliveries`
//! rows are checked until SENT.

use std::time::Duration;

use chrono::Utc;
use entity::{DeliveryStatus, EmailKind, asset_request, asset_type, audit_event, email_delivery};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use testkit::{builders::StaffUserBuilder, eventually, smtp_sink::ReceivedEmail};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp, field, ids, sent_link};

const REQUEST: &str = "mutation($input: RequestAssetInput!) { requestAsset(input: $input) {
    id quantity neededBy notes status reason createdAt
    location { id name } assetType { id name } requestedBy { id email name } } }";
const UPDATE: &str = "mutation($id: ID!, $s: AssetRequestStatus!, $r: String) {
    updateAssetRequestStatus(id: $id, status: $s, reason: $r) { id status reason requestedBy { email } } }";
const CANCEL: &str = "mutation($id: ID!) { cancelAssetRequest(id: $id) { id status } }";
const LIST: &str = "query($s: AssetRequestStatus, $first: Int, $after: String) {
    assetRequests(status: $s, first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id } }
      nodes { id status reason quantity location { name } assetType { name } requestedBy { email } } } }";
const INVITE: &str = "mutation($a: ID!, $l: [ID!]) { inviteToPortal(accountId: $a, locationIds: $l) { id } }";
const ACCEPT: &str =
    "mutation($t: String!, $n: String!, $p: String!) { acceptInvitation(token: $t, name: $n, password: $p) { token } }";
const PASSWORD: &str = "a customer password";
const TOILET: &str = "Standard portable toilet";

/// A portal user signed in.
struct Customer {
    token: String,
    email: String,
}

impl Customer {
    fn auth(&self) -> Option<&str> {
        Some(&self.token)
    }
}

/// Invites the account's contact email on file (for the whole account, or
/// some locations), accepts the invitation and returns the signed-in customer.
async fn customer(app: &TestApp, staff: &Staff, account: &str, locations: Option<Vec<&str>>, name: &str) -> Customer {
    let invited = app
        .gql_ok(staff.auth(), INVITE, json!({"a": account, "l": locations}))
        .await;
    let id = Uuid::parse_str(invited["inviteToPortal"]["id"].as_str().expect("id")).expect("uuid");
    let link = sent_link(app, id).await;
    let session = app
        .gql_ok(None, ACCEPT, json!({"t": link, "n": name, "p": PASSWORD}))
        .await;
    let email = app
        .gql_ok(
            staff.auth(),
            "query($a: ID!) { account(id: $a) { contact { email } } }",
            json!({"a": account}),
        )
        .await["account"]["contact"]["email"]
        .as_str()
        .expect("email")
        .to_owned();
    Customer {
        token: session["acceptInvitation"]["token"].as_str().expect("token").to_owned(),
        email,
    }
}

/// An organization with an account (contact `maria@riverside.example`), its
/// "Tower site" location and a whole-account customer.
struct World {
    staff: Staff,
    account: String,
    tower: String,
    maria: Customer,
}

async fn world(app: &TestApp, slug: &str) -> World {
    let staff = app.staff(slug).await;
    let account = app
        .create_account(
            &staff,
            "C-1001",
            "Riverside Construction",
            Some("maria@riverside.example"),
        )
        .await;
    let tower = app.create_location(&staff, &account, "Tower site").await;
    let maria = customer(app, &staff, &account, None, "Maria Lopez").await;
    World {
        staff,
        account,
        tower,
        maria,
    }
}

/// The id of the organization's asset type called `name`, as staff list them.
async fn asset_type_named(app: &TestApp, staff: &Staff, name: &str) -> String {
    let data = app.gql_ok(staff.auth(), "{ assetTypes { id name } }", json!({})).await;
    data["assetTypes"]
        .as_array()
        .expect("asset types")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .expect("the asset type")
        .to_owned()
}

fn in_days(days: i64) -> String {
    (Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// A valid `RequestAssetInput`.
fn input(location: &str, asset_type: &str, quantity: i32) -> Value {
    json!({"locationId": location, "assetTypeId": asset_type, "quantity": quantity,
           "neededBy": in_days(7), "notes": "Gate code 1234"})
}

async fn request(app: &TestApp, customer: &Customer, input: Value) -> Value {
    app.gql_ok(customer.auth(), REQUEST, json!({"input": input})).await["requestAsset"].clone()
}

async fn update(app: &TestApp, staff: &Staff, id: &Value, status: &str, reason: Option<&str>) -> Value {
    app.gql_ok(staff.auth(), UPDATE, json!({"id": id, "s": status, "r": reason}))
        .await["updateAssetRequestStatus"]
        .clone()
}

async fn list(app: &TestApp, token: Option<&str>, status: Option<&str>) -> Value {
    app.gql_ok(token, LIST, json!({"s": status})).await["assetRequests"].clone()
}

async fn deliveries(app: &TestApp, kind: EmailKind) -> Vec<email_delivery::Model> {
    email_delivery::Entity::find()
        .filter(email_delivery::Column::Kind.eq(kind))
        .order_by_asc(email_delivery::Column::Id)
        .all(&app.db)
        .await
        .expect("deliveries")
}

/// Waits (polling, with a deadline) until `n` emails of `kind` exist and all
/// are SENT; returns them in queue order.
async fn wait_sent(app: &TestApp, kind: EmailKind, n: usize) -> Vec<email_delivery::Model> {
    eventually(Duration::from_secs(20), async || {
        let rows = deliveries(app, kind).await;
        assert!(rows.len() <= n, "more {kind:?} emails than expected: {rows:#?}");
        if rows.len() == n && rows.iter().all(|d| d.status == DeliveryStatus::Sent) {
            Ok(rows)
        } else {
            Err(format!("{kind:?} emails not all sent: {rows:#?}"))
        }
    })
    .await
}

/// The `.eml` file the in-process queue wrote for a delivery.
fn eml(app: &TestApp, delivery_id: Uuid) -> ReceivedEmail {
    let suffix = format!("-{delivery_id}.eml");
    let file = std::fs::read_dir(&app.settings.mail_outbox_dir)
        .expect("the outbox directory")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.to_string_lossy().ends_with(&suffix))
        .expect("a file named after the delivery");
    ReceivedEmail {
        mail_from: String::new(),
        rcpt_to: Vec::new(),
        data: std::fs::read_to_string(file).expect("read .eml"),
    }
}

async fn audit_events(app: &TestApp, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .order_by_asc(audit_event::Column::Id)
        .all(&app.db)
        .await
        .expect("audit events")
}

async fn count_requests(app: &TestApp) -> u64 {
    asset_request::Entity::find().count(&app.db).await.expect("count")
}

#[tokio::test]
async fn the_request_workflow_emails_staff_then_the_requester_at_every_step() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    // A second staff user: every staff user of the organization is told.
    StaffUserBuilder::new(w.staff.organization_id)
        .email("dispatch@acme.example")
        .name("Dispatch")
        .insert(&app.db)
        .await
        .expect("second staff user");
    let toilet = asset_type_named(&app, &w.staff, TOILET).await;

    let made = request(&app, &w.maria, input(&w.tower, &toilet, 2)).await;
    assert_eq!(made["status"], "SUBMITTED");
    assert_eq!(made["quantity"], 2);
    assert_eq!(made["neededBy"], in_days(7));
    assert_eq!(made["notes"], "Gate code 1234");
    assert!(made["reason"].is_null());
    assert_eq!(made["location"]["name"], "Tower site");
    assert_eq!(made["assetType"]["name"], TOILET);
    assert_eq!(made["requestedBy"]["email"], "maria@riverside.example");
    let id = made["id"].clone();

    // Staff see it, with who asked.
    let seen = list(&app, w.staff.auth(), None).await;
    assert_eq!(seen["totalCount"], 1);
    assert_eq!(seen["nodes"][0]["id"], id);
    assert_eq!(seen["nodes"][0]["requestedBy"]["email"], "maria@riverside.example");
    assert_eq!(list(&app, w.staff.auth(), Some("SUBMITTED")).await["totalCount"], 1);
    assert_eq!(list(&app, w.staff.auth(), Some("APPROVED")).await["totalCount"], 0);

    // Every staff user got ASSET_REQUEST_RECEIVED; the .eml says what was asked.
    let received = wait_sent(&app, EmailKind::AssetRequestReceived, 2).await;
    let mut recipients: Vec<&str> = received.iter().map(|d| d.recipient.as_str()).collect();
    recipients.sort_unstable();
    assert_eq!(recipients, ["admin@acme.example", "dispatch@acme.example"]);
    let email = eml(&app, received[0].id);
    assert_eq!(
        email.subject(),
        "New asset request: 2 × Standard portable toilet at Tower site"
    );
    assert_eq!(email.header("To").as_deref(), Some(received[0].recipient.as_str()));
    let text = email.text().expect("a text part");
    for expected in [
        "New asset request from Riverside Construction",
        "Maria Lopez requested 2 × Standard portable toilet at Tower site.",
        "Customer: Maria Lopez <maria@riverside.example>",
        "Account: C-1001 Riverside Construction",
        "Location: Tower site (1 Main St, Portland)",
        "Asset type: Standard portable toilet",
        "Quantity: 2",
        &format!("Needed by: {}", in_days(7)),
        "Notes: Gate code 1234",
        "Org acme",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    assert!(email.html().expect("an html part").contains("Gate code 1234"));
    let requested = audit_events(&app, "ASSET_REQUESTED").await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].actor_name.as_deref(), Some("Maria Lopez"));
    assert_eq!(
        requested[0].detail.as_deref(),
        Some("2 × Standard portable toilet at Tower site")
    );
    assert_eq!(requested[0].account_id.map(|a| a.to_string()), Some(w.account.clone()));

    // Approve → schedule → fulfil: the requester is emailed each time.
    for (n, (status, word)) in [
        ("APPROVED", "approved"),
        ("SCHEDULED", "scheduled"),
        ("FULFILLED", "fulfilled"),
    ]
    .into_iter()
    .enumerate()
    {
        let updated = update(&app, &w.staff, &id, status, None).await;
        assert_eq!(updated["status"], status);
        assert_eq!(updated["requestedBy"]["email"], "maria@riverside.example");
        let sent = wait_sent(&app, EmailKind::AssetRequestUpdated, n + 1).await;
        let last = sent.last().expect("an update email");
        assert_eq!(last.recipient, "maria@riverside.example");
        assert_eq!(
            last.subject,
            format!("Your asset request was {word}: 2 × Standard portable toilet at Tower site")
        );
    }
    let updates = audit_events(&app, "ASSET_REQUEST_UPDATED").await;
    assert_eq!(updates.len(), 3);
    assert!(updates.iter().all(|e| e.actor_name.as_deref() == Some("Admin of acme")));
    assert_eq!(
        updates[2].detail.as_deref(),
        Some("2 × Standard portable toilet at Tower site: SCHEDULED → FULFILLED")
    );

    // The customer sees where it got to.
    let mine = list(&app, w.maria.auth(), Some("FULFILLED")).await;
    assert_eq!(mine["nodes"][0]["id"], id);
    assert_eq!(mine["nodes"][0]["requestedBy"]["email"], "maria@riverside.example");
    assert_eq!(
        deliveries(&app, EmailKind::AssetRequestReceived).await.len(),
        2,
        "status changes email only the requester"
    );
}

#[tokio::test]
async fn declining_needs_a_reason_which_the_request_and_the_email_carry() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let toilet = asset_type_named(&app, &w.staff, TOILET).await;
    let id = request(&app, &w.maria, input(&w.tower, &toilet, 3)).await["id"].clone();

    for reason in [None, Some(""), Some("   ")] {
        let (code, error) = app
            .gql_err(w.staff.auth(), UPDATE, json!({"id": id, "s": "REJECTED", "r": reason}))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{reason:?}");
        assert_eq!(field(&error), "reason");
    }
    let too_long = "x".repeat(2_001);
    let (code, error) = app
        .gql_err(
            w.staff.auth(),
            UPDATE,
            json!({"id": id, "s": "REJECTED", "r": too_long}),
        )
        .await;
    assert_eq!((code.as_str(), field(&error)), ("BAD_USER_INPUT", "reason"));
    assert_eq!(deliveries(&app, EmailKind::AssetRequestUpdated).await.len(), 0);

    let reason = "No units free before January";
    let declined = update(&app, &w.staff, &id, "REJECTED", Some(reason)).await;
    assert_eq!(declined["status"], "REJECTED");
    assert_eq!(declined["reason"], reason);
    let mine = list(&app, w.maria.auth(), None).await;
    assert_eq!(mine["nodes"][0]["status"], "REJECTED");
    assert_eq!(mine["nodes"][0]["reason"], reason);

    let sent = wait_sent(&app, EmailKind::AssetRequestUpdated, 1).await;
    assert_eq!(sent[0].recipient, "maria@riverside.example");
    let email = eml(&app, sent[0].id);
    assert_eq!(
        email.subject(),
        "Your asset request was declined: 3 × Standard portable toilet at Tower site"
    );
    assert_eq!(email.header("To").as_deref(), Some("maria@riverside.example"));
    let text = email.text().expect("a text part");
    assert!(text.contains("Your asset request was declined"), "{text}");
    assert!(text.contains(&format!("Reason: {reason}")), "{text}");
    assert!(text.contains("Status: REJECTED"), "{text}");
    let events = audit_events(&app, "ASSET_REQUEST_UPDATED").await;
    assert_eq!(
        events[0].detail.as_deref(),
        Some("3 × Standard portable toilet at Tower site: SUBMITTED → REJECTED (reason: No units free before January)")
    );
}

#[tokio::test]
async fn only_the_sensible_status_transitions_are_allowed() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let toilet = asset_type_named(&app, &w.staff, TOILET).await;
    let id = request(&app, &w.maria, input(&w.tower, &toilet, 1)).await["id"].clone();

    let refused = |from: &'static str, to: &'static str| {
        let (app, staff, id) = (&app, &w.staff, id.clone());
        async move {
            let (code, error) = app.gql_err(staff.auth(), UPDATE, json!({"id": id, "s": to})).await;
            assert_eq!(code, "BAD_USER_INPUT", "{from} → {to}");
            assert_eq!(field(&error), "status", "{from} → {to}");
            let message = error["message"].as_str().expect("message");
            assert!(
                message.contains(&format!("from {from} to {to}")),
                "{from} → {to}: {message}"
            );
        }
    };
    for to in ["SUBMITTED", "SCHEDULED", "FULFILLED"] {
        refused("SUBMITTED", to).await;
    }
    update(&app, &w.staff, &id, "APPROVED", None).await;
    for to in ["SUBMITTED", "APPROVED", "REJECTED", "FULFILLED"] {
        refused("APPROVED", to).await;
    }
    // A reason only goes with declining or cancelling.
    let (code, error) = app
        .gql_err(
            w.staff.auth(),
            UPDATE,
            json!({"id": id, "s": "SCHEDULED", "r": "Tuesday"}),
        )
        .await;
    assert_eq!((code.as_str(), field(&error)), ("BAD_USER_INPUT", "reason"));
    update(&app, &w.staff, &id, "SCHEDULED", None).await;
    for to in ["SUBMITTED", "APPROVED", "REJECTED", "CANCELLED"] {
        refused("SCHEDULED", to).await;
    }
    update(&app, &w.staff, &id, "FULFILLED", None).await;
    for to in [
        "SUBMITTED",
        "APPROVED",
        "SCHEDULED",
        "FULFILLED",
        "CANCELLED",
        "REJECTED",
    ] {
        refused("FULFILLED", to).await;
    }

    // Staff may cancel a submitted or approved request, with a reason.
    let other = request(&app, &w.maria, input(&w.tower, &toilet, 1)).await["id"].clone();
    let cancelled = update(
        &app,
        &w.staff,
        &other,
        "CANCELLED",
        Some("Duplicate of an earlier request"),
    )
    .await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["reason"], "Duplicate of an earlier request");
    let (code, error) = app
        .gql_err(w.staff.auth(), UPDATE, json!({"id": other, "s": "APPROVED"}))
        .await;
    assert_eq!((code.as_str(), field(&error)), ("BAD_USER_INPUT", "status"));

    // Only the successful changes emailed the requester.
    wait_sent(&app, EmailKind::AssetRequestUpdated, 4).await;

    // Customers and anonymous callers may not change the status; unknown ids are not found.
    let (code, _) = app
        .gql_err(w.maria.auth(), UPDATE, json!({"id": other, "s": "APPROVED"}))
        .await;
    assert_eq!(code, "FORBIDDEN");
    let (code, _) = app.gql_err(None, UPDATE, json!({"id": other, "s": "APPROVED"})).await;
    assert_eq!(code, "UNAUTHENTICATED");
    for missing in [Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let (code, _) = app
            .gql_err(w.staff.auth(), UPDATE, json!({"id": missing, "s": "APPROVED"}))
            .await;
        assert_eq!(code, "NOT_FOUND");
    }
}

#[tokio::test]
async fn request_input_is_validated_with_the_field_at_fault_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let toilet = asset_type_named(&app, &w.staff, TOILET).await;
    let hand_wash = asset_type_named(&app, &w.staff, "Hand-wash station").await;
    asset_type::Entity::update_many()
        .col_expr(asset_type::Column::Requestable, sea_orm::sea_query::Expr::value(false))
        .filter(asset_type::Column::Id.eq(Uuid::parse_str(&hand_wash).expect("uuid")))
        .exec(&app.db)
        .await
        .expect("make it staff-only");
    let beta = app.staff("beta").await;
    let foreign_type = asset_type_named(&app, &beta, TOILET).await;
    let foreign_account = app.create_account(&beta, "B-1", "Beta customer", None).await;
    let foreign_location = app.create_location(&beta, &foreign_account, "Beta site").await;

    let with = |change: Value| {
        let mut value = input(&w.tower, &toilet, 2);
        for (k, v) in change.as_object().expect("object") {
            value[k] = v.clone();
        }
        value
    };
    let bad_input = [
        (json!({"quantity": 0}), "input.quantity"),
        (json!({"quantity": -3}), "input.quantity"),
        (json!({"quantity": 51}), "input.quantity"),
        (json!({"neededBy": in_days(-2)}), "input.neededBy"),
        (json!({"notes": "x".repeat(2_001)}), "input.notes"),
        (json!({"assetTypeId": hand_wash}), "input.assetTypeId"),
    ];
    for (change, expected) in bad_input {
        let (code, error) = app
            .gql_err(w.maria.auth(), REQUEST, json!({"input": with(change.clone())}))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{change}");
        assert_eq!(field(&error), expected, "{change}");
    }
    let (code, _) = app
        .gql_err(
            w.maria.auth(),
            REQUEST,
            json!({"input": with(json!({"neededBy": "2026-13-01"}))}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT", "not a date");
    let not_found = [
        json!({"locationId": Uuid::now_v7().to_string()}),
        json!({"locationId": "not-an-id"}),
        json!({"locationId": foreign_location}),
        json!({"assetTypeId": Uuid::now_v7().to_string()}),
        json!({"assetTypeId": "not-an-id"}),
        json!({"assetTypeId": foreign_type}),
    ];
    for change in not_found {
        let (code, _) = app
            .gql_err(w.maria.auth(), REQUEST, json!({"input": with(change.clone())}))
            .await;
        assert_eq!(code, "NOT_FOUND", "{change}");
    }
    // Staff do not request assets; anonymous callers must sign in.
    let (code, _) = app
        .gql_err(w.staff.auth(), REQUEST, json!({"input": with(json!({}))}))
        .await;
    assert_eq!(code, "FORBIDDEN");
    let (code, _) = app.gql_err(None, REQUEST, json!({"input": with(json!({}))})).await;
    assert_eq!(code, "UNAUTHENTICATED");
    assert_eq!(count_requests(&app).await, 0);
    assert!(deliveries(&app, EmailKind::AssetRequestReceived).await.is_empty());
    assert!(audit_events(&app, "ASSET_REQUESTED").await.is_empty());

    // The limits themselves are fine: 1 and 50, today, 2,000 characters of notes, no date or notes.
    for change in [
        json!({"quantity": 1}),
        json!({"quantity": 50, "neededBy": in_days(0), "notes": "y".repeat(2_000)}),
        json!({"neededBy": null, "notes": null}),
    ] {
        request(&app, &w.maria, with(change)).await;
    }
    assert_eq!(count_requests(&app).await, 3);
}

#[tokio::test]
async fn a_location_grant_requests_only_at_its_location_and_sees_only_requests_there() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let warehouse = app.create_location(&w.staff, &w.account, "Warehouse").await;
    // A second person on the account, granted only the Tower site.
    app.gql_ok(
        w.staff.auth(),
        "mutation($a: ID!) { updateAccountContact(accountId: $a, input: {email: \"site.boss@riverside.example\"}) { id } }",
        json!({"a": w.account}),
    )
    .await;
    let boss = customer(&app, &w.staff, &w.account, Some(vec![&w.tower]), "Site Boss").await;
    let toilet = asset_type_named(&app, &w.staff, TOILET).await;

    let (code, _) = app
        .gql_err(boss.auth(), REQUEST, json!({"input": input(&warehouse, &toilet, 1)}))
        .await;
    assert_eq!(code, "NOT_FOUND", "the warehouse was not granted");
    let boss_tower = request(&app, &boss, input(&w.tower, &toilet, 1)).await;
    assert_eq!(boss_tower["requestedBy"]["email"], boss.email);
    let maria_tower = request(&app, &w.maria, input(&w.tower, &toilet, 2)).await;
    let maria_warehouse = request(&app, &w.maria, input(&warehouse, &toilet, 3)).await;

    let seen = list(&app, boss.auth(), None).await;
    assert_eq!(
        ids(&seen),
        vec![
            boss_tower["id"].as_str().expect("id").to_owned(),
            maria_tower["id"].as_str().expect("id").to_owned()
        ]
    );
    assert_eq!(seen["totalCount"], 2);
    assert_eq!(seen["nodes"][0]["requestedBy"]["email"], boss.email);
    assert!(
        seen["nodes"][1]["requestedBy"].is_null(),
        "another customer's name is not shown"
    );
    assert_eq!(list(&app, w.maria.auth(), None).await["totalCount"], 3);
    let staff_view = list(&app, w.staff.auth(), None).await;
    assert_eq!(staff_view["totalCount"], 3);
    assert_eq!(staff_view["nodes"][2]["id"], maria_warehouse["id"]);
    assert_eq!(
        staff_view["nodes"][2]["requestedBy"]["email"],
        "maria@riverside.example"
    );

    // Seeing a request is not owning it.
    let (code, _) = app.gql_err(boss.auth(), CANCEL, json!({"id": maria_tower["id"]})).await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) = app
        .gql_err(boss.auth(), CANCEL, json!({"id": maria_warehouse["id"]}))
        .await;
    assert_eq!(code, "NOT_FOUND");
    let cancelled = app.gql_ok(boss.auth(), CANCEL, json!({"id": boss_tower["id"]})).await;
    assert_eq!(cancelled["cancelAssetRequest"]["status"], "CANCELLED");
}

#[tokio::test]
async fn another_organizations_staff_and_customers_see_none_of_it() {
    let app = TestApp::spawn().await;
    let acme = world(&app, "acme").await;
    let toilet = asset_type_named(&app, &acme.staff, TOILET).await;
    let made = request(&app, &acme.maria, input(&acme.tower, &toilet, 2)).await;
    let beta = world(&app, "beta").await;
    let beta_toilet = asset_type_named(&app, &beta.staff, TOILET).await;

    for token in [beta.staff.auth(), beta.maria.auth()] {
        let seen = list(&app, token, None).await;
        assert_eq!(seen["totalCount"], 0);
        assert!(ids(&seen).is_empty());
    }
    for status in ["APPROVED", "REJECTED", "CANCELLED"] {
        let (code, _) = app
            .gql_err(
                beta.staff.auth(),
                UPDATE,
                json!({"id": made["id"], "s": status, "r": "x"}),
            )
            .await;
        assert_eq!(code, "NOT_FOUND", "{status}");
    }
    let (code, _) = app.gql_err(beta.maria.auth(), CANCEL, json!({"id": made["id"]})).await;
    assert_eq!(code, "NOT_FOUND");
    for input in [input(&acme.tower, &beta_toilet, 1), input(&beta.tower, &toilet, 1)] {
        let (code, _) = app.gql_err(beta.maria.auth(), REQUEST, json!({"input": input})).await;
        assert_eq!(code, "NOT_FOUND");
    }
    let still = list(&app, acme.staff.auth(), None).await;
    assert_eq!(still["nodes"][0]["status"], "SUBMITTED");
    assert_eq!(still["totalCount"], 1);
    // acme's request told acme's staff only.
    let received = wait_sent(&app, EmailKind::AssetRequestReceived, 1).await;
    assert_eq!(received[0].recipient, "admin@acme.example");
}

#[tokio::test]
async fn a_customer_cancels_its_own_request_only_while_submitted_or_approved() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let toilet = asset_type_named(&app, &w.staff, TOILET).await;
    let submitted = request(&app, &w.maria, input(&w.tower, &toilet, 1)).await["id"].clone();
    let approved = request(&app, &w.maria, input(&w.tower, &toilet, 2)).await["id"].clone();
    let scheduled = request(&app, &w.maria, input(&w.tower, &toilet, 3)).await["id"].clone();
    update(&app, &w.staff, &approved, "APPROVED", None).await;
    update(&app, &w.staff, &scheduled, "APPROVED", None).await;
    update(&app, &w.staff, &scheduled, "SCHEDULED", None).await;

    for id in [&submitted, &approved] {
        let data = app.gql_ok(w.maria.auth(), CANCEL, json!({"id": id})).await;
        assert_eq!(data["cancelAssetRequest"]["status"], "CANCELLED");
        let (code, error) = app.gql_err(w.maria.auth(), CANCEL, json!({"id": id})).await;
        assert_eq!(
            (code.as_str(), field(&error)),
            ("BAD_USER_INPUT", "id"),
            "already cancelled"
        );
    }
    let (code, error) = app.gql_err(w.maria.auth(), CANCEL, json!({"id": scheduled})).await;
    assert_eq!((code.as_str(), field(&error)), ("BAD_USER_INPUT", "id"));
    assert!(
        error["message"].as_str().expect("message").contains("SCHEDULED"),
        "{error}"
    );

    let events = audit_events(&app, "ASSET_REQUEST_UPDATED").await;
    let by_customer: Vec<_> = events
        .iter()
        .filter(|e| e.actor_name.as_deref() == Some("Maria Lopez"))
        .collect();
    assert_eq!(by_customer.len(), 2);
    assert_eq!(
        by_customer[0].detail.as_deref(),
        Some("1 × Standard portable toilet at Tower site: SUBMITTED → CANCELLED by the customer")
    );
    assert_eq!(list(&app, w.maria.auth(), Some("CANCELLED")).await["totalCount"], 2);

    // Staff use updateAssetRequestStatus; unknown ids are not found.
    let (code, _) = app.gql_err(w.staff.auth(), CANCEL, json!({"id": scheduled})).await;
    assert_eq!(code, "FORBIDDEN");
    let (code, _) = app.gql_err(None, CANCEL, json!({"id": scheduled})).await;
    assert_eq!(code, "UNAUTHENTICATED");
    for missing in [Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let (code, _) = app.gql_err(w.maria.auth(), CANCEL, json!({"id": missing})).await;
        assert_eq!(code, "NOT_FOUND");
    }
}

#[tokio::test]
async fn asset_requests_page_in_id_order_at_most_100_at_a_time() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let toilet = asset_type_named(&app, &w.staff, TOILET).await;
    let mut made = Vec::new();
    for quantity in 1..=5 {
        made.push(
            request(&app, &w.maria, input(&w.tower, &toilet, quantity)).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .gql_ok(w.maria.auth(), LIST, json!({"first": 2, "after": after}))
            .await["assetRequests"]
            .clone();
        assert_eq!(page["totalCount"], 5);
        assert_eq!(page["edges"][0]["node"]["id"], page["nodes"][0]["id"]);
        walked.extend(ids(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(walked, made);
    let (code, error) = app.gql_err(w.staff.auth(), LIST, json!({"first": 101})).await;
    assert_eq!((code.as_str(), field(&error)), ("BAD_USER_INPUT", "first"));
    let (code, _) = app.gql_err(None, LIST, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");
}

#[tokio::test]
async fn two_staff_changes_at_once_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let toilet = asset_type_named(&app, &w.staff, TOILET).await;
    let id = request(&app, &w.maria, input(&w.tower, &toilet, 1)).await["id"].clone();

    let (approve, decline) = tokio::join!(
        app.gql(w.staff.auth(), UPDATE, json!({"id": id, "s": "APPROVED"})),
        app.gql(
            w.staff.auth(),
            UPDATE,
            json!({"id": id, "s": "REJECTED", "r": "No stock"})
        ),
    );
    let outcomes: Vec<&Value> = [&approve, &decline]
        .into_iter()
        .filter(|response| response.get("errors").is_none())
        .collect();
    assert_eq!(outcomes.len(), 1, "exactly one change wins: {approve:#} {decline:#}");
    let loser = if approve.get("errors").is_some() {
        &approve
    } else {
        &decline
    };
    assert_eq!(loser["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(field(&loser["errors"][0]), "status");
    let winner = outcomes[0]["data"]["updateAssetRequestStatus"]["status"].clone();
    assert_eq!(list(&app, w.staff.auth(), None).await["nodes"][0]["status"], winner);
    assert_eq!(audit_events(&app, "ASSET_REQUEST_UPDATED").await.len(), 1);
    wait_sent(&app, EmailKind::AssetRequestUpdated, 1).await;
}
