//! The authorization matrix: every query and mutation of the schema, run by
//! each kind of caller — anonymous, staff of organization A, staff of
//! organization B, a portal user with a whole-account grant, a portal user
//! with a one-location grant — against organization A's data, with the
//! expected answer for each. An operation the schema has and the table lacks
//! fails the test, so a new operation must be given its row.

use std::collections::BTreeSet;

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{CUSTOMER_PASSWORD, STAFF_PASSWORD, Staff, TestApp, sent_link};

/// What a caller should get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// No error, and the operation's field is not null.
    Ok,
    /// No error, and the operation's field is null (nothing visible).
    Null,
    /// No error, and the connection's `totalCount` is this.
    Count(i64),
    /// An error with this `extensions.code`.
    Err(&'static str),
}

use Expect::{Count, Err, Null, Ok};

const ROLES: [&str; 5] = [
    "anonymous",
    "staff A",
    "staff B",
    "portal (whole account)",
    "portal (one location)",
];

struct Row {
    operation: &'static str,
    document: String,
    expect: [Expect; 5],
}

fn row(operation: &'static str, document: impl Into<String>, expect: [Expect; 5]) -> Row {
    Row {
        operation,
        document: document.into(),
        expect,
    }
}

/// Organization A's data, and who is who.
struct World {
    staff_a: Staff,
    staff_b: Staff,
    whole: String,
    one_location: String,
    whole_email: String,
    a1: String,
    a3: String,
    l1: String,
    x1: String,
    i1: String,
    asset_type: String,
    request_to_update: String,
    request_to_cancel: String,
    pending_invitation: String,
    invitation_to_revoke: String,
    disconnectable_user: String,
    a5: String,
    failed_delivery: String,
}

async fn world(app: &TestApp) -> World {
    let staff_a = app.staff("org-a").await;
    let staff_b = app.staff("org-b").await;
    let a1 = app
        .create_account(&staff_a, "A-1", "Whole Account Co", Some("whole@customer.example"))
        .await;
    let a2 = app
        .create_account(&staff_a, "A-2", "Two Sites Co", Some("site@customer.example"))
        .await;
    let a3 = app
        .create_account(&staff_a, "A-3", "Invited Co", Some("invited@customer.example"))
        .await;
    let a4 = app
        .create_account(&staff_a, "A-4", "Revoked Co", Some("revoked@customer.example"))
        .await;
    let a5 = app
        .create_account(&staff_a, "A-5", "Disconnected Co", Some("gone@customer.example"))
        .await;
    let l1 = app.create_location(&staff_a, &a1, "Whole site").await;
    let l2a = app.create_location(&staff_a, &a2, "Granted site").await;
    app.create_location(&staff_a, &a2, "Other site").await;
    let x1 = app.create_asset(&staff_a, "PT-1").await;
    app.deploy(&staff_a, &x1, Some(&l1)).await;
    let i1 = app.create_invoice(&staff_a, &a1, "INV-1", &[("Rental", 2, 5000)]).await;
    app.gql_ok(
        staff_a.auth(),
        "mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { id } }",
        json!({"input": {"accountId": a2, "locationId": l2a, "number": "INV-2", "issuedOn": "2026-11-01", "dueOn": "2026-12-01", "currency": "USD", "lines": [{"description": "Service", "quantity": 1, "unitPriceCents": 500}]}}),
    )
    .await;
    let asset_type = app.asset_type_id(&staff_a).await;

    let whole = app.invite_and_accept(&staff_a, &a1, None, "Whole Customer").await;
    let one_location = app
        .invite_and_accept(&staff_a, &a2, Some(vec![&l2a]), "Site Customer")
        .await;
    let gone = app.invite_and_accept(&staff_a, &a5, None, "Gone Customer").await;
    let disconnectable_user = app
        .gql_string(
            Some(&gone),
            "{ viewer { ... on PortalUser { id } } }",
            json!({}),
            &["viewer", "id"],
        )
        .await;

    let request_to_update = app.request_asset(&whole, &l1, &asset_type).await;
    let request_to_cancel = app.request_asset(&whole, &l1, &asset_type).await;

    let pending_invitation = app
        .gql_string(
            staff_a.auth(),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
            json!({"a": a3}),
            &["inviteToPortal", "id"],
        )
        .await;
    let invitation_to_revoke = app
        .gql_string(
            staff_a.auth(),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
            json!({"a": a4}),
            &["inviteToPortal", "id"],
        )
        .await;
    let failed_delivery = {
        use entity::{DeliveryStatus, email_delivery};
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        // Let the in-process worker finish, then fail one email for the retry row.
        sent_link(app, Uuid::parse_str(&pending_invitation).expect("uuid")).await;
        let row = email_delivery::Entity::find()
            .all(&app.db)
            .await
            .expect("deliveries")
            .into_iter()
            .find(|d| d.invitation_id == Some(Uuid::parse_str(&pending_invitation).expect("uuid")))
            .expect("the pending invitation's email");
        let mut failed: email_delivery::ActiveModel = row.into();
        failed.status = Set(DeliveryStatus::Failed);
        failed.last_error = Set(Some("550 mailbox unavailable".to_owned()));
        failed.update(&app.db).await.expect("fail it").id.to_string()
    };
    World {
        staff_a,
        staff_b,
        whole,
        one_location,
        whole_email: "whole@customer.example".to_owned(),
        a1,
        a3,
        l1,
        x1,
        i1,
        asset_type,
        request_to_update,
        request_to_cancel,
        pending_invitation,
        invitation_to_revoke,
        disconnectable_user,
        a5,
        failed_delivery,
    }
}

fn table(w: &World) -> Vec<Row> {
    const UN: Expect = Err("UNAUTHENTICATED");
    const FB: Expect = Err("FORBIDDEN");
    const NF: Expect = Err("NOT_FOUND");
    let staff_email = &w.staff_a.email;
    vec![
        // --- queries -------------------------------------------------------
        row("viewer", "{ viewer { __typename } }", [Null, Ok, Ok, Ok, Ok]),
        row("organization", "{ organization { slug } }", [Null, Ok, Ok, Ok, Ok]),
        row(
            "accounts",
            "{ accounts { totalCount } }",
            [UN, Count(5), Count(0), Count(1), Count(1)],
        ),
        row(
            "account",
            format!("{{ account(id: \"{}\") {{ id }} }}", w.a1),
            [UN, Ok, Null, Ok, Null],
        ),
        row(
            "locations",
            "{ locations { totalCount } }",
            [UN, Count(3), Count(0), Count(1), Count(1)],
        ),
        row(
            "location",
            format!("{{ location(id: \"{}\") {{ id }} }}", w.l1),
            [UN, Ok, Null, Ok, Null],
        ),
        row(
            "assets",
            "{ assets { totalCount } }",
            [UN, Count(1), Count(0), Count(1), Count(0)],
        ),
        row(
            "asset",
            format!("{{ asset(id: \"{}\") {{ id }} }}", w.x1),
            [UN, Ok, Null, Ok, Null],
        ),
        row(
            "invoices",
            "{ invoices { totalCount } }",
            [UN, Count(2), Count(0), Count(1), Count(1)],
        ),
        row(
            "invoice",
            format!("{{ invoice(id: \"{}\") {{ id }} }}", w.i1),
            [UN, Ok, Null, Ok, Null],
        ),
        row("assetTypes", "{ assetTypes { id } }", [UN, Ok, Ok, Ok, Ok]),
        row(
            "assetRequests",
            "{ assetRequests { totalCount } }",
            [UN, Count(2), Count(0), Count(2), Count(0)],
        ),
        row("invitations", "{ invitations { totalCount } }", [UN, Ok, Ok, FB, FB]),
        row(
            "emailDeliveries",
            "{ emailDeliveries { totalCount } }",
            [UN, Ok, Ok, FB, FB],
        ),
        row(
            "invitationPreview",
            "{ invitationPreview(token: \"unknown\") { status } }",
            [Null, Null, Null, Null, Null],
        ),
        // --- mutations: sign-in --------------------------------------------
        row(
            "staffLogin",
            format!("mutation {{ staffLogin(email: \"{staff_email}\", password: \"{STAFF_PASSWORD}\") {{ token }} }}"),
            [Ok, Ok, Ok, Ok, Ok],
        ),
        row(
            "portalLogin",
            format!(
                "mutation {{ portalLogin(organization: \"org-a\", email: \"{}\", password: \"{CUSTOMER_PASSWORD}\") {{ token }} }}",
                w.whole_email
            ),
            [Ok, Ok, Ok, Ok, Ok],
        ),
        // `logout` runs with a fresh session of each caller (see `run`).
        row("logout", "mutation { logout }", [UN, Ok, Ok, Ok, Ok]),
        // --- mutations: staff ----------------------------------------------
        row(
            "setOnlinePayments",
            "mutation { setOnlinePayments(enabled: true) { onlinePaymentsEnabled } }",
            [UN, Ok, Ok, FB, FB],
        ),
        row(
            "createAccount",
            "mutation { createAccount(input: {number: \"NEW-{n}\", name: \"New\"}) { id } }",
            [UN, Ok, Ok, FB, FB],
        ),
        row(
            "updateAccountContact",
            format!(
                "mutation {{ updateAccountContact(accountId: \"{}\", input: {{phone: \"+1 555 0100\"}}) {{ id }} }}",
                w.a1
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "createLocation",
            format!(
                "mutation {{ createLocation(accountId: \"{}\", input: {{name: \"Yard {{n}}\", address: {{line1: \"1 Main\", city: \"Salem\", country: \"US\"}}}}) {{ id }} }}",
                w.a1
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "createAsset",
            format!(
                "mutation {{ createAsset(input: {{assetTypeId: \"{}\", tag: \"NEW-{{n}}\"}}) {{ id }} }}",
                w.asset_type
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "moveAsset",
            format!(
                "mutation {{ moveAsset(assetId: \"{}\", locationId: \"{}\") {{ id }} }}",
                w.x1, w.l1
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "createInvoice",
            format!(
                "mutation {{ createInvoice(input: {{accountId: \"{}\", number: \"INV-N{{n}}\", issuedOn: \"2026-11-01\", dueOn: \"2026-12-01\", currency: \"USD\", lines: [{{description: \"X\", quantity: 1, unitPriceCents: 100}}]}}) {{ id }} }}",
                w.a1
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "updateAssetRequestStatus",
            format!(
                "mutation {{ updateAssetRequestStatus(id: \"{}\", status: APPROVED) {{ status }} }}",
                w.request_to_update
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "inviteToPortal",
            format!("mutation {{ inviteToPortal(accountId: \"{}\") {{ id }} }}", w.a3),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "resendInvitation",
            format!(
                "mutation {{ resendInvitation(invitationId: \"{}\") {{ id }} }}",
                w.pending_invitation
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "revokeInvitation",
            format!(
                "mutation {{ revokeInvitation(invitationId: \"{}\") {{ status }} }}",
                w.invitation_to_revoke
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "disconnectPortalUser",
            format!(
                "mutation {{ disconnectPortalUser(portalUserId: \"{}\", accountId: \"{}\") {{ id }} }}",
                w.disconnectable_user, w.a5
            ),
            [UN, Ok, NF, FB, FB],
        ),
        row(
            "retryEmailDelivery",
            format!(
                "mutation {{ retryEmailDelivery(id: \"{}\") {{ status }} }}",
                w.failed_delivery
            ),
            [UN, Ok, NF, FB, FB],
        ),
        // Another organization's ids match nothing: an empty list, not NOT_FOUND.
        row(
            "retryEmailDeliveries",
            format!(
                "mutation {{ retryEmailDeliveries(ids: [\"{}\"]) {{ status }} }}",
                w.failed_delivery
            ),
            [UN, Ok, Ok, FB, FB],
        ),
        // --- mutations: public ---------------------------------------------
        row(
            "acceptInvitation",
            format!(
                "mutation {{ acceptInvitation(token: \"unknown\", name: \"X\", password: \"{CUSTOMER_PASSWORD}\") {{ token }} }}"
            ),
            [Err("INVITATION_INVALID"); 5],
        ),
        row(
            "requestNewInvitation",
            "mutation { requestNewInvitation(token: \"unknown\") }",
            [Ok, Ok, Ok, Ok, Ok],
        ),
        row(
            "requestPasswordReset",
            "mutation { requestPasswordReset(email: \"nobody@example.com\", organization: \"org-a\") }",
            [Ok, Ok, Ok, Ok, Ok],
        ),
        row(
            "resetPassword",
            "mutation { resetPassword(token: \"unknown\", password: \"a long enough password\") { token } }",
            [Err("PASSWORD_RESET_INVALID"); 5],
        ),
        // --- mutations: anybody signed in ----------------------------------
        row(
            "changePassword",
            "mutation { changePassword(currentPassword: \"not the password\", newPassword: \"a long enough password\") }",
            [
                UN,
                Err("INVALID_CREDENTIALS"),
                Err("INVALID_CREDENTIALS"),
                Err("INVALID_CREDENTIALS"),
                Err("INVALID_CREDENTIALS"),
            ],
        ),
        // --- mutations: portal user ----------------------------------------
        row(
            "requestAsset",
            format!(
                "mutation {{ requestAsset(input: {{locationId: \"{}\", assetTypeId: \"{}\", quantity: 1}}) {{ id }} }}",
                w.l1, w.asset_type
            ),
            [UN, FB, FB, Ok, NF],
        ),
        row(
            "cancelAssetRequest",
            format!(
                "mutation {{ cancelAssetRequest(id: \"{}\") {{ status }} }}",
                w.request_to_cancel
            ),
            [UN, FB, FB, Ok, NF],
        ),
        row(
            "payInvoice",
            format!(
                "mutation {{ payInvoice(invoiceId: \"{}\", paymentMethodToken: \"tok_visa\", idempotencyKey: \"key-{{n}}\") {{ status }} }}",
                w.i1
            ),
            [UN, FB, FB, Ok, NF],
        ),
    ]
}

/// A fresh session for `role` (for `logout`, which ends it).
async fn fresh_session(app: &TestApp, w: &World, role: usize) -> Option<String> {
    let (query, path) = match role {
        0 => return None,
        1 => (
            format!(
                "mutation {{ staffLogin(email: \"{}\", password: \"{STAFF_PASSWORD}\") {{ token }} }}",
                w.staff_a.email
            ),
            "staffLogin",
        ),
        2 => (
            format!(
                "mutation {{ staffLogin(email: \"{}\", password: \"{STAFF_PASSWORD}\") {{ token }} }}",
                w.staff_b.email
            ),
            "staffLogin",
        ),
        3 => (
            format!(
                "mutation {{ portalLogin(organization: \"org-a\", email: \"{}\", password: \"{CUSTOMER_PASSWORD}\") {{ token }} }}",
                w.whole_email
            ),
            "portalLogin",
        ),
        _ => (
            format!(
                "mutation {{ portalLogin(organization: \"org-a\", email: \"site@customer.example\", password: \"{CUSTOMER_PASSWORD}\") {{ token }} }}"
            ),
            "portalLogin",
        ),
    };
    Some(app.gql_string(None, &query, json!({}), &[path, "token"]).await)
}

#[tokio::test]
async fn every_operation_answers_each_kind_of_caller_as_the_table_says() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let rows = table(&w);

    // Every operation of the schema has a row, and every row is an operation
    // (introspection is for staff).
    let schema = app
        .gql_ok(
            Some(&w.staff_a.token),
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
            json!({}),
        )
        .await;
    let mut operations = BTreeSet::new();
    for kind in ["queryType", "mutationType"] {
        for field in schema["__schema"][kind]["fields"].as_array().expect("fields") {
            operations.insert(field["name"].as_str().expect("name").to_owned());
        }
    }
    let covered: BTreeSet<String> = rows.iter().map(|r| r.operation.to_owned()).collect();
    assert_eq!(covered, operations, "the table must have exactly one row per operation");

    let tokens: [Option<String>; 5] = [
        None,
        Some(w.staff_a.token.clone()),
        Some(w.staff_b.token.clone()),
        Some(w.whole.clone()),
        Some(w.one_location.clone()),
    ];
    let mut failures = Vec::new();
    let mut n = 0;
    for row in &rows {
        for (role, expect) in row.expect.iter().enumerate() {
            n += 1;
            let document = row.document.replace("{n}", &n.to_string());
            let token = if row.operation == "logout" {
                fresh_session(&app, &w, role).await
            } else {
                tokens[role].clone()
            };
            let response = app.gql(token.as_deref(), &document, json!({})).await;
            let field = &response["data"][row.operation];
            let code = response["errors"][0]["extensions"]["code"].as_str();
            let ok = match expect {
                Ok => code.is_none() && !field.is_null(),
                Null => code.is_none() && field.is_null(),
                Count(count) => code.is_none() && field["totalCount"].as_i64() == Some(*count),
                Err(expected) => code == Some(*expected),
            };
            if !ok {
                failures.push(format!(
                    "{} as {}: expected {expect:?}, got {response}",
                    row.operation, ROLES[role]
                ));
            }
        }
    }
    println!(
        "authorization matrix: {} operations × {} roles = {} cells",
        rows.len(),
        ROLES.len(),
        rows.len() * ROLES.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cells differ:\n{}",
        failures.len(),
        n,
        failures.join("\n")
    );
}
