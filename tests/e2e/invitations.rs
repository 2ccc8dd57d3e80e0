//! Invitations through the GraphQL API: inviting, the double-click rule,
//! resending, revoking, accepting (once), existing portal users, portal
//! sign-in and rate limits. The link token is minted here the way the worker
//! mints it (tests about the email itself live in `delivery.rs` and
//! `invitation_flow.rs`).

use entity::{email_delivery, invitation};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{Staff, TestApp, sent_link},
    worker_helpers::{RedisNamespace, redis_url},
};

const INVITE: &str = "mutation($a: ID!, $l: [ID!]) { inviteToPortal(accountId: $a, locationIds: $l) { id email status locations { id } invitedBy { email } expiresAt acceptedAt delivery { kind status recipient subject } } }";
const ACCEPT: &str = "mutation($t: String!, $n: String!, $p: String!) { acceptInvitation(token: $t, name: $n, password: $p) { token expiresAt viewer { ... on PortalUser { email name lastSignInAt } } } }";
const PASSWORD: &str = "a customer password";

async fn invite(app: &TestApp, staff: &Staff, account: &str, locations: Option<Vec<&str>>) -> Value {
    app.gql_ok(staff.auth(), INVITE, json!({"a": account, "l": locations}))
        .await["inviteToPortal"]
        .clone()
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

fn uuid_of(value: &Value) -> Uuid {
    Uuid::parse_str(value["id"].as_str().expect("id")).expect("uuid")
}

async fn deliveries_of(app: &TestApp, invitation_id: &str) -> u64 {
    email_delivery::Entity::find()
        .filter(email_delivery::Column::InvitationId.eq(Uuid::parse_str(invitation_id).expect("uuid")))
        .count(&app.db)
        .await
        .expect("count")
}

async fn portal_status(app: &TestApp, staff: &Staff, account: &str) -> String {
    let data = app
        .gql_ok(
            staff.auth(),
            "query($id: ID!) { account(id: $id) { portalStatus } }",
            json!({"id": account}),
        )
        .await;
    data["account"]["portalStatus"].as_str().expect("status").to_owned()
}

#[tokio::test]
async fn invite_without_contact_email_is_rejected_and_queues_nothing() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "A-1", "No Email Co", None).await;
    let (code, _) = app.gql_err(staff.auth(), INVITE, json!({"a": account})).await;
    assert_eq!(code, "CONTACT_EMAIL_MISSING");
    assert_eq!(invitation::Entity::find().count(&app.db).await.expect("count"), 0);
    assert_eq!(email_delivery::Entity::find().count(&app.db).await.expect("count"), 0);
    assert_eq!(portal_status(&app, &staff, &account).await, "NOT_CONNECTED");
}

#[tokio::test]
async fn invite_uses_the_email_on_file_queues_one_welcome_email_and_shows_invited() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("Maria@Riverside.example"))
        .await;
    let sent = invite(&app, &staff, &account, None).await;
    assert_eq!(sent["email"], "maria@riverside.example");
    assert_eq!(sent["status"], "PENDING");
    assert!(sent["locations"].is_null(), "whole account");
    assert_eq!(sent["invitedBy"]["email"], staff.email);
    assert_eq!(sent["delivery"]["kind"], "INVITATION");
    assert_eq!(sent["delivery"]["recipient"], "maria@riverside.example");
    assert_eq!(sent["delivery"]["subject"], "Welcome to the Customer Portal — Org acme");
    assert_eq!(portal_status(&app, &staff, &account).await, "INVITED");
    let listed = app
        .gql_ok(
            staff.auth(),
            "query($id: ID!) { invitations(status: PENDING) { totalCount nodes { id } } account(id: $id) { invitations { id } } }",
            json!({"id": account}),
        )
        .await;
    assert_eq!(listed["invitations"]["totalCount"], 1);
    assert_eq!(listed["account"]["invitations"][0]["id"], sent["id"]);
    let filtered = app
        .gql_ok(
            staff.auth(),
            "{ accounts(portalStatus: INVITED) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(filtered["accounts"]["nodes"][0]["id"], account.as_str());
    // The audit log has it.
    let events = entity::audit_event::Entity::find().all(&app.db).await.expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.action == "INVITATION_SENT" && e.actor_name.as_deref() == Some("Admin of acme"))
    );
}

#[tokio::test]
async fn a_double_click_returns_the_pending_invitation_and_queues_one_email() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let first = invite(&app, &staff, &account, None).await;
    let second = invite(&app, &staff, &account, None).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(deliveries_of(&app, &id_of(&first)).await, 1);
    assert_eq!(invitation::Entity::find().count(&app.db).await.expect("count"), 1);
}

#[tokio::test]
async fn inviting_again_after_a_minute_resends_with_a_new_expiry() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let first = invite(&app, &staff, &account, None).await;
    let id = uuid_of(&first);
    // Let the in-process worker send it first: sending restarts last_sent_at.
    sent_link(&app, id).await;
    let row = invitation::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("find")
        .expect("row");
    let earlier = row.last_sent_at - chrono::Duration::minutes(5);
    let mut active: invitation::ActiveModel = row.into();
    active.last_sent_at = Set(earlier);
    active.expires_at = Set(earlier + chrono::Duration::hours(1));
    active.update(&app.db).await.expect("backdate");

    let again = invite(&app, &staff, &account, None).await;
    assert_eq!(again["id"], first["id"], "the same invitation, resent");
    assert_eq!(deliveries_of(&app, &id_of(&first)).await, 2);
    let expires: chrono::DateTime<chrono::Utc> = again["expiresAt"].as_str().expect("expiresAt").parse().expect("time");
    assert!(
        expires > chrono::Utc::now() + chrono::Duration::hours(167),
        "expiry restarted: {expires}"
    );
    // A different scope is a different invitation.
    let location = app.create_location(&staff, &account, "Site").await;
    let scoped = invite(&app, &staff, &account, Some(vec![&location])).await;
    assert_ne!(scoped["id"], first["id"]);
    assert_eq!(scoped["locations"][0]["id"], location.as_str());
}

#[tokio::test]
async fn location_ids_must_be_locations_of_the_account() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let other = app
        .create_account(&staff, "A-2", "Other", Some("o@other.example"))
        .await;
    let foreign = app.create_location(&staff, &other, "Elsewhere").await;
    for ids in [json!([foreign]), json!([]), json!(["not-an-id"])] {
        let (code, error) = app.gql_err(staff.auth(), INVITE, json!({"a": account, "l": ids})).await;
        assert_eq!(code, "BAD_USER_INPUT", "{ids}");
        assert_eq!(error["extensions"]["field"], "locationIds");
    }
    assert_eq!(invitation::Entity::find().count(&app.db).await.expect("count"), 0);
}

#[tokio::test]
async fn accepting_connects_the_account_signs_the_customer_in_and_the_token_works_once() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let sent = invite(&app, &staff, &account, None).await;
    let token = sent_link(&app, uuid_of(&sent)).await;

    let preview = app
        .gql_ok(
            None,
            "query($t: String!) { invitationPreview(token: $t) { organizationName accountName email status existingUser } }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(
        preview["invitationPreview"],
        json!({"organizationName": "Org acme", "accountName": "Riverside", "email": "m***@riverside.example", "status": "PENDING", "existingUser": false})
    );
    let (code, error) = app
        .gql_err(None, ACCEPT, json!({"t": token, "n": "Maria", "p": "short"}))
        .await;
    assert_eq!(
        (code.as_str(), error["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT", Some("password"))
    );

    let session = app
        .gql_ok(None, ACCEPT, json!({"t": token, "n": "Maria Lopez", "p": PASSWORD}))
        .await;
    let session = &session["acceptInvitation"];
    assert_eq!(session["viewer"]["email"], "maria@riverside.example");
    assert!(session["viewer"]["lastSignInAt"].is_string());
    let portal_token = session["token"].as_str().expect("token");
    let mine = app
        .gql_ok(
            Some(portal_token),
            "{ viewer { ... on PortalUser { name accounts { nodes { name } } } } accounts { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["viewer"]["name"], "Maria Lopez");
    assert_eq!(mine["viewer"]["accounts"]["nodes"][0]["name"], "Riverside");
    assert_eq!(mine["accounts"]["totalCount"], 1);

    assert_eq!(portal_status(&app, &staff, &account).await, "CONNECTED");
    let staff_view = app
        .gql_ok(
            staff.auth(),
            "query($id: ID!) { account(id: $id) { portalUsers { email } invitations { status acceptedAt } } }",
            json!({"id": account}),
        )
        .await;
    assert_eq!(
        staff_view["account"]["portalUsers"][0]["email"],
        "maria@riverside.example"
    );
    assert_eq!(staff_view["account"]["invitations"][0]["status"], "ACCEPTED");
    assert!(staff_view["account"]["invitations"][0]["acceptedAt"].is_string());

    let (code, _) = app
        .gql_err(None, ACCEPT, json!({"t": token, "n": "Again", "p": PASSWORD}))
        .await;
    assert_eq!(code, "INVITATION_INVALID", "a used token");
    let (code, _) = app
        .gql_err(None, ACCEPT, json!({"t": "made-up", "n": "X", "p": PASSWORD}))
        .await;
    assert_eq!(code, "INVITATION_INVALID", "an unknown token");
}

#[tokio::test]
async fn concurrent_accepts_of_one_token_let_exactly_one_succeed() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let token = sent_link(&app, uuid_of(&invite(&app, &staff, &account, None).await)).await;
    let attempts = (0..5).map(|i| {
        let app = &app;
        let token = token.clone();
        async move {
            app.gql(
                None,
                ACCEPT,
                json!({"t": token, "n": format!("Maria {i}"), "p": PASSWORD}),
            )
            .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.get("errors").is_none()).count();
    let invalid = results
        .iter()
        .filter(|r| r["errors"][0]["extensions"]["code"] == "INVITATION_INVALID")
        .count();
    assert_eq!((ok, invalid), (1, 4), "{results:#?}");
    assert_eq!(
        entity::portal_user::Entity::find().count(&app.db).await.expect("count"),
        1
    );
    assert_eq!(
        entity::portal_access::Entity::find()
            .count(&app.db)
            .await
            .expect("count"),
        1
    );
}

#[tokio::test]
async fn an_expired_invitation_cannot_be_accepted_and_can_be_renewed_to_the_email_on_file() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let sent = invite(&app, &staff, &account, None).await;
    let token = sent_link(&app, uuid_of(&sent)).await;
    let id = Uuid::parse_str(&id_of(&sent)).expect("uuid");
    let row = invitation::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("find")
        .expect("row");
    let past = chrono::Utc::now() - chrono::Duration::hours(2);
    let mut active: invitation::ActiveModel = row.into();
    active.expires_at = Set(past);
    active.last_sent_at = Set(past - chrono::Duration::hours(1));
    active.update(&app.db).await.expect("expire");

    let (code, _) = app
        .gql_err(None, ACCEPT, json!({"t": token, "n": "Maria", "p": PASSWORD}))
        .await;
    assert_eq!(code, "INVITATION_EXPIRED");
    assert_eq!(portal_status(&app, &staff, &account).await, "NOT_CONNECTED");
    let expired = app
        .gql_ok(
            staff.auth(),
            "{ invitations(status: EXPIRED) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(expired["invitations"]["totalCount"], 1);

    let before = deliveries_of(&app, &id_of(&sent)).await;
    let renewed = app
        .gql_ok(
            None,
            "mutation($t: String!) { requestNewInvitation(token: $t) }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(renewed["requestNewInvitation"], true);
    assert_eq!(deliveries_of(&app, &id_of(&sent)).await, before + 1);
    let delivery = email_delivery::Entity::find()
        .filter(email_delivery::Column::InvitationId.eq(id))
        .all(&app.db)
        .await
        .expect("rows");
    assert!(
        delivery.iter().all(|d| d.recipient == "maria@riverside.example"),
        "only the email on file"
    );
    assert_eq!(portal_status(&app, &staff, &account).await, "INVITED");

    // An unknown token answers the same and sends nothing.
    let total = email_delivery::Entity::find().count(&app.db).await.expect("count");
    let unknown = app
        .gql_ok(None, "mutation { requestNewInvitation(token: \"nope\") }", json!({}))
        .await;
    assert_eq!(unknown["requestNewInvitation"], true);
    assert_eq!(
        email_delivery::Entity::find().count(&app.db).await.expect("count"),
        total
    );
}

#[tokio::test]
async fn a_resend_supersedes_the_earlier_link() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let sent = invite(&app, &staff, &account, None).await;
    let old = sent_link(&app, uuid_of(&sent)).await;
    let resent = app
        .gql_ok(
            staff.auth(),
            "mutation($id: ID!) { resendInvitation(invitationId: $id) { id status } }",
            json!({"id": sent["id"]}),
        )
        .await;
    assert_eq!(resent["resendInvitation"]["status"], "PENDING");
    assert_eq!(deliveries_of(&app, &id_of(&sent)).await, 2);
    let new = sent_link(&app, uuid_of(&sent)).await;

    let preview = app
        .gql_ok(
            None,
            "query($t: String!) { invitationPreview(token: $t) { status } }",
            json!({"t": old}),
        )
        .await;
    assert_eq!(preview["invitationPreview"]["status"], "EXPIRED", "a superseded link");
    let (code, _) = app
        .gql_err(None, ACCEPT, json!({"t": old, "n": "Maria", "p": PASSWORD}))
        .await;
    assert_eq!(code, "INVITATION_INVALID");
    app.gql_ok(None, ACCEPT, json!({"t": new, "n": "Maria", "p": PASSWORD}))
        .await;
}

#[tokio::test]
async fn revoking_stops_the_link_and_changing_the_contact_email_revokes_pending_invitations() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let sent = invite(&app, &staff, &account, None).await;
    let token = sent_link(&app, uuid_of(&sent)).await;
    let revoked = app
        .gql_ok(
            staff.auth(),
            "mutation($id: ID!) { revokeInvitation(invitationId: $id) { status } }",
            json!({"id": sent["id"]}),
        )
        .await;
    assert_eq!(revoked["revokeInvitation"]["status"], "REVOKED");
    let (code, _) = app
        .gql_err(None, ACCEPT, json!({"t": token, "n": "Maria", "p": PASSWORD}))
        .await;
    assert_eq!(code, "INVITATION_INVALID");
    assert_eq!(portal_status(&app, &staff, &account).await, "NOT_CONNECTED");

    let second = invite(&app, &staff, &account, None).await;
    assert_ne!(second["id"], sent["id"]);
    let token = sent_link(&app, uuid_of(&second)).await;
    app.gql_ok(
        staff.auth(),
        "mutation($a: ID!) { updateAccountContact(accountId: $a, input: {email: \"new@riverside.example\"}) { id } }",
        json!({"a": account}),
    )
    .await;
    let (code, _) = app
        .gql_err(None, ACCEPT, json!({"t": token, "n": "Maria", "p": PASSWORD}))
        .await;
    assert_eq!(code, "INVITATION_INVALID");
    let events: Vec<String> = entity::audit_event::Entity::find()
        .all(&app.db)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        events.iter().filter(|a| *a == "INVITATION_REVOKED").count(),
        2,
        "{events:?}"
    );
}

#[tokio::test]
async fn an_existing_portal_user_adds_a_second_account_with_its_password() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let first = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let second = app
        .create_account(&staff, "A-2", "Riverside East", Some("maria@riverside.example"))
        .await;
    let token = sent_link(&app, uuid_of(&invite(&app, &staff, &first, None).await)).await;
    app.gql_ok(None, ACCEPT, json!({"t": token, "n": "Maria", "p": PASSWORD}))
        .await;

    let token = sent_link(&app, uuid_of(&invite(&app, &staff, &second, None).await)).await;
    let preview = app
        .gql_ok(
            None,
            "query($t: String!) { invitationPreview(token: $t) { existingUser } }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(preview["invitationPreview"]["existingUser"], true);
    let (code, _) = app
        .gql_err(None, ACCEPT, json!({"t": token, "n": "Maria", "p": "not the password"}))
        .await;
    assert_eq!(code, "INVALID_CREDENTIALS");
    let session = app
        .gql_ok(None, ACCEPT, json!({"t": token, "n": "ignored", "p": PASSWORD}))
        .await;
    let portal_token = session["acceptInvitation"]["token"].as_str().expect("token").to_owned();
    let mine = app
        .gql_ok(
            Some(&portal_token),
            "{ viewer { ... on PortalUser { name } } accounts { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["viewer"]["name"], "Maria", "the existing user keeps its name");
    assert_eq!(
        mine["accounts"]["nodes"],
        json!([{"name": "Riverside"}, {"name": "Riverside East"}])
    );
    assert_eq!(
        entity::portal_user::Entity::find().count(&app.db).await.expect("count"),
        1
    );
}

#[tokio::test]
async fn portal_login_signs_in_by_organization_slug_and_logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let token = sent_link(&app, uuid_of(&invite(&app, &staff, &account, None).await)).await;
    app.gql_ok(None, ACCEPT, json!({"t": token, "n": "Maria", "p": PASSWORD}))
        .await;

    const LOGIN: &str = "mutation($o: String!, $e: String!, $p: String!) { portalLogin(organization: $o, email: $e, password: $p) { token viewer { ... on PortalUser { email lastSignInAt } } } }";
    let session = app
        .gql_ok(
            None,
            LOGIN,
            json!({"o": "acme", "e": "MARIA@riverside.example", "p": PASSWORD}),
        )
        .await;
    assert!(session["portalLogin"]["viewer"]["lastSignInAt"].is_string());
    let portal_token = session["portalLogin"]["token"].as_str().expect("token").to_owned();
    for (org, email, password) in [
        ("acme", "maria@riverside.example", "wrong password!"),
        ("acme", "nobody@riverside.example", PASSWORD),
        ("other-org", "maria@riverside.example", PASSWORD),
    ] {
        let (code, _) = app
            .gql_err(None, LOGIN, json!({"o": org, "e": email, "p": password}))
            .await;
        assert_eq!(code, "INVALID_CREDENTIALS", "{org} {email}");
    }
    // Staff operations are not for customers.
    let (code, _) = app
        .gql_err(
            Some(&portal_token),
            "mutation { setOnlinePayments(enabled: true) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    let (code, _) = app
        .gql_err(Some(&portal_token), "{ invitations { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "FORBIDDEN");
    app.gql_ok(Some(&portal_token), "mutation { logout }", json!({})).await;
    let (code, _) = app
        .gql_err(Some(&portal_token), "{ accounts { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_with_a_retry_time() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    const LOGIN: &str = "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }";
    for _ in 0..10 {
        let (code, _) = app
            .gql_err(None, LOGIN, json!({"e": staff.email, "p": "wrong password"}))
            .await;
        assert_eq!(code, "INVALID_CREDENTIALS");
    }
    let (code, error) = app
        .gql_err(
            None,
            LOGIN,
            json!({"e": staff.email, "p": crate::helpers::STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(code, "RATE_LIMITED", "even the right password waits: {error}");
    let retry = error["extensions"]["retryAfterSeconds"]
        .as_u64()
        .expect("retryAfterSeconds");
    assert!(retry > 0 && retry <= 900, "{retry}");
    // The same wait as an HTTP header, for clients and proxies that honour it.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({"query": LOGIN, "variables": {"e": staff.email, "p": "wrong password"}}))
        .send()
        .await
        .expect("POST /graphql");
    let header: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header");
    assert!(
        header > 0 && header <= retry,
        "Retry-After {header}, retryAfterSeconds {retry}"
    );
}

#[tokio::test]
async fn rate_limits_are_shared_through_redis_when_it_is_configured() {
    let redis = redis_url();
    let app = TestApp::spawn_with(&[("REDIS_URL", &redis)]).await;
    let _cleanup = RedisNamespace::new(&app.settings.queue_namespace).await;
    let other = TestApp::spawn_with(&[
        ("REDIS_URL", &redis),
        ("QUEUE_NAMESPACE", &app.settings.queue_namespace),
    ])
    .await;
    const LOGIN: &str = "mutation($o: String!, $e: String!, $p: String!) { portalLogin(organization: $o, email: $e, password: $p) { token } }";
    let vars = json!({"o": "acme", "e": "someone@acme.example", "p": "wrong password"});
    for i in 0..10 {
        let target = if i % 2 == 0 { &app } else { &other };
        let (code, _) = target.gql_err(None, LOGIN, vars.clone()).await;
        assert_eq!(code, "INVALID_CREDENTIALS");
    }
    let (code, _) = app.gql_err(None, LOGIN, vars.clone()).await;
    assert_eq!(code, "RATE_LIMITED");
    let (code, _) = other.gql_err(None, LOGIN, vars).await;
    assert_eq!(code, "RATE_LIMITED");
}

#[tokio::test]
async fn a_location_grant_sees_only_that_location_its_assets_and_invoices() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("site.boss@riverside.example"))
        .await;
    let mine = app.create_location(&staff, &account, "Tower site").await;
    let theirs = app.create_location(&staff, &account, "Warehouse").await;
    let my_asset = app.create_asset(&staff, "PT-1").await;
    app.deploy(&staff, &my_asset, Some(&mine)).await;
    let their_asset = app.create_asset(&staff, "PT-2").await;
    app.deploy(&staff, &their_asset, Some(&theirs)).await;
    let yard_asset = app.create_asset(&staff, "PT-3").await;
    let whole_invoice = app
        .create_invoice(&staff, &account, "INV-1", &[("Rental", 1, 1000)])
        .await;
    let my_invoice = app
        .gql_ok(
            staff.auth(),
            "mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { id } }",
            json!({"input": {"accountId": account, "locationId": mine, "number": "INV-2", "issuedOn": "2026-11-01", "dueOn": "2026-12-01", "currency": "USD", "lines": [{"description": "Service", "quantity": 1, "unitPriceCents": 500}]}}),
        )
        .await["createInvoice"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let token = sent_link(&app, uuid_of(&invite(&app, &staff, &account, Some(vec![&mine])).await)).await;
    let session = app
        .gql_ok(None, ACCEPT, json!({"t": token, "n": "Site Boss", "p": PASSWORD}))
        .await;
    let portal = session["acceptInvitation"]["token"].as_str().expect("token").to_owned();

    let seen = app
        .gql_ok(
            Some(&portal),
            "{ accounts { nodes { name locations { nodes { id } } assets { nodes { id } } invoices { nodes { id } } balanceDue { amountCents } } }
               locations { nodes { id } } assets { nodes { id } } invoices { nodes { id } } }",
            json!({}),
        )
        .await;
    let ids = |v: &Value| crate::helpers::ids(v);
    assert_eq!(ids(&seen["locations"]), vec![mine.clone()]);
    assert_eq!(ids(&seen["assets"]), vec![my_asset.clone()]);
    assert_eq!(ids(&seen["invoices"]), vec![my_invoice.clone()]);
    let nested = &seen["accounts"]["nodes"][0];
    assert_eq!(nested["name"], "Riverside");
    assert_eq!(ids(&nested["locations"]), vec![mine.clone()]);
    assert_eq!(ids(&nested["assets"]), vec![my_asset.clone()]);
    assert_eq!(ids(&nested["invoices"]), vec![my_invoice.clone()]);
    assert_eq!(nested["balanceDue"]["amountCents"], 500);

    for (query, id) in [
        ("query($id: ID!) { location(id: $id) { id } }", &theirs),
        ("query($id: ID!) { asset(id: $id) { id } }", &their_asset),
        ("query($id: ID!) { asset(id: $id) { id } }", &yard_asset),
        ("query($id: ID!) { invoice(id: $id) { id } }", &whole_invoice),
    ] {
        let data = app.gql_ok(Some(&portal), query, json!({"id": id})).await;
        let value = data
            .as_object()
            .and_then(|o| o.values().next())
            .cloned()
            .unwrap_or_default();
        assert!(value.is_null(), "{query} {id} should be invisible, got {value}");
    }
    let visible = app
        .gql_ok(
            Some(&portal),
            "query($id: ID!) { location(id: $id) { name } }",
            json!({"id": mine}),
        )
        .await;
    assert_eq!(visible["location"]["name"], "Tower site");
}
