//! Access management and the audit log: staff see who has access to an
//! account and every step that led there, and can take access away.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp, sent_link};

const PASSWORD: &str = "a customer password";

/// Invites `email` to `account` and accepts; returns the portal session token.
async fn connect(app: &TestApp, staff: &Staff, account: &str, name: &str) -> String {
    let invited = app
        .gql_ok(
            staff.auth(),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
            json!({"a": account}),
        )
        .await;
    let id = Uuid::parse_str(invited["inviteToPortal"]["id"].as_str().expect("id")).expect("uuid");
    let token = sent_link(app, id).await;
    let session = app
        .gql_ok(
            None,
            "mutation($t: String!, $n: String!, $p: String!) { acceptInvitation(token: $t, name: $n, password: $p) { token } }",
            json!({"t": token, "n": name, "p": PASSWORD}),
        )
        .await;
    session["acceptInvitation"]["token"].as_str().expect("token").to_owned()
}

async fn audit_log(app: &TestApp, staff: &Staff, account: &str, first: i32, after: Option<&str>) -> Value {
    app.gql_ok(
        staff.auth(),
        "query($a: ID!, $f: Int, $after: String) { account(id: $a) { auditLog(first: $f, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { action actor detail occurredAt } } } }",
        json!({"a": account, "f": first, "after": after}),
    )
    .await["account"]["auditLog"]
        .clone()
}

#[tokio::test]
async fn the_audit_log_tells_the_invitation_story_newest_first_and_pages() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let invited = app
        .gql_ok(
            staff.auth(),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
            json!({"a": account}),
        )
        .await;
    let id = invited["inviteToPortal"]["id"].clone();
    app.gql_ok(
        staff.auth(),
        "mutation($id: ID!) { resendInvitation(invitationId: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    let token = sent_link(&app, Uuid::parse_str(id.as_str().expect("id")).expect("uuid")).await;
    app.gql_ok(
        None,
        "mutation($t: String!) { acceptInvitation(token: $t, name: \"Maria Lopez\", password: \"a customer password\") { token } }",
        json!({"t": token}),
    )
    .await;

    let log = audit_log(&app, &staff, &account, 20, None).await;
    let actions: Vec<&str> = log["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["INVITATION_ACCEPTED", "INVITATION_RESENT", "INVITATION_SENT"]);
    assert_eq!(log["totalCount"], 3);
    assert_eq!(log["nodes"][0]["actor"], "Maria Lopez");
    assert_eq!(log["nodes"][2]["actor"], "Admin of acme");
    assert!(
        log["nodes"][2]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("maria@riverside.example"))
    );

    // One page at a time, newest first, each event once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = audit_log(&app, &staff, &account, 1, after.as_deref()).await;
        seen.push(page["nodes"][0]["action"].as_str().expect("action").to_owned());
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, actions);

    // Customers never see it, not even for their own account.
    let customer = app
        .gql_ok(
            None,
            "mutation { portalLogin(organization: \"acme\", email: \"maria@riverside.example\", password: \"a customer password\") { token } }",
            json!({}),
        )
        .await;
    let customer = customer["portalLogin"]["token"].as_str().expect("token");
    let (code, _) = app
        .gql_err(
            Some(customer),
            "query($a: ID!) { account(id: $a) { auditLog { totalCount } } }",
            json!({"a": account}),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

#[tokio::test]
async fn disconnecting_a_portal_user_takes_the_account_away_at_once() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let customer = connect(&app, &staff, &account, "Maria Lopez").await;
    let users = app
        .gql_ok(
            staff.auth(),
            "query($a: ID!) { account(id: $a) { portalStatus portalUsers { id email } } }",
            json!({"a": account}),
        )
        .await;
    assert_eq!(users["account"]["portalStatus"], "CONNECTED");
    let user_id = users["account"]["portalUsers"][0]["id"]
        .as_str()
        .expect("user id")
        .to_owned();

    // Customers and other organizations cannot do it.
    const DISCONNECT: &str = "mutation($u: ID!, $a: ID!) { disconnectPortalUser(portalUserId: $u, accountId: $a) { id portalStatus portalUsers { id } } }";
    let (code, _) = app
        .gql_err(Some(&customer), DISCONNECT, json!({"u": user_id, "a": account}))
        .await;
    assert_eq!(code, "FORBIDDEN");
    let other = app.staff("other").await;
    let (code, _) = app
        .gql_err(other.auth(), DISCONNECT, json!({"u": user_id, "a": account}))
        .await;
    assert_eq!(code, "NOT_FOUND");

    let done = app
        .gql_ok(staff.auth(), DISCONNECT, json!({"u": user_id, "a": account}))
        .await;
    assert_eq!(done["disconnectPortalUser"]["portalStatus"], "NOT_CONNECTED");
    assert_eq!(done["disconnectPortalUser"]["portalUsers"], json!([]));

    // The customer's open session no longer sees the account.
    let seen = app
        .gql_ok(
            Some(&customer),
            "query($a: ID!) { accounts { totalCount } account(id: $a) { id } invoices { totalCount } }",
            json!({"a": account}),
        )
        .await;
    assert_eq!(seen["accounts"]["totalCount"], 0);
    assert!(seen["account"].is_null());
    assert_eq!(seen["invoices"]["totalCount"], 0);

    let (code, _) = app
        .gql_err(staff.auth(), DISCONNECT, json!({"u": user_id, "a": account}))
        .await;
    assert_eq!(code, "NOT_FOUND", "nothing left to disconnect");
    let log = audit_log(&app, &staff, &account, 1, None).await;
    assert_eq!(log["nodes"][0]["action"], "PORTAL_USER_DISCONNECTED");
    assert_eq!(log["nodes"][0]["actor"], "Admin of acme");
}
