//! The scans that run on the sweeper's tick (`service::scans`): each acts
//! on a due row once however many processes scan at the same time, and the
//! rules read what they store.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration, Utc};
use entity::{InvitationStatus, audit_event, invitation};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use service::scans::{Scan, ScanFuture, Schedule, expire_invitations};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp, sent_link};

const INVITE: &str = "mutation($a: ID!) { inviteToPortal(accountId: $a) { id status } }";

async fn invite(app: &TestApp, staff: &Staff, account: &str) -> Uuid {
    let data = app.gql_ok(staff.auth(), INVITE, json!({"a": account})).await;
    Uuid::parse_str(data["inviteToPortal"]["id"].as_str().expect("id")).expect("uuid")
}

/// Moves the invitations' expiry into the past, as time passing would.
async fn lapse(app: &TestApp, ids: &[Uuid]) {
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::hours(1)),
        )
        .filter(invitation::Column::Id.is_in(ids.iter().copied()))
        .exec(&app.db)
        .await
        .expect("lapse the invitations");
}

async fn stored_status(app: &TestApp, id: Uuid) -> InvitationStatus {
    invitation::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("read")
        .expect("the invitation")
        .status
}

async fn expiry_events(app: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(expire_invitations::ACTION))
        .all(&app.db)
        .await
        .expect("audit events")
}

async fn count(app: &TestApp, staff: &Staff, status: &str) -> Value {
    app.gql_ok(
        staff.auth(),
        "query($s: InvitationStatus) { invitations(status: $s) { totalCount } }",
        json!({"s": status}),
    )
    .await["invitations"]["totalCount"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_concurrent_scans_expire_each_lapsed_invitation_once_with_one_audit_event() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let mut invitations = Vec::new();
    for n in 0..8 {
        let email = format!("contact{n}@customer.example");
        let account = app
            .create_account(&staff, &format!("A-{n}"), &format!("Customer {n}"), Some(&email))
            .await;
        invitations.push(invite(&app, &staff, &account).await);
    }
    let (lapsed, rest) = invitations.split_at(6);
    let (valid, revoked) = (rest[0], rest[1]);
    app.gql_ok(
        staff.auth(),
        "mutation($id: ID!) { revokeInvitation(invitationId: $id) { status } }",
        json!({"id": revoked}),
    )
    .await;
    lapse(&app, lapsed).await;
    lapse(&app, &[revoked]).await;

    let now = Utc::now();
    let (a, b, c, d) = tokio::join!(
        expire_invitations::expire_due(&app.db, now),
        expire_invitations::expire_due(&app.db, now),
        expire_invitations::expire_due(&app.db, now),
        expire_invitations::expire_due(&app.db, now),
    );
    let acted: usize = [a, b, c, d].into_iter().map(|r| r.expect("scan").len()).sum();
    assert_eq!(acted, 6, "each lapsed invitation is expired by exactly one scan");
    let events = expiry_events(&app).await;
    assert_eq!(events.len(), 6, "{events:?}");
    for id in lapsed {
        assert_eq!(stored_status(&app, *id).await, InvitationStatus::Expired);
    }
    assert_eq!(stored_status(&app, valid).await, InvitationStatus::Pending);
    assert_eq!(stored_status(&app, revoked).await, InvitationStatus::Revoked);
    assert!(events.iter().all(|e| e.actor_name.is_none() && e.account_id.is_some()));
    assert!(
        events
            .iter()
            .all(|e| e.detail.as_deref().is_some_and(|d| d.contains("@customer.example")))
    );

    // Nothing is left to do: a later scan acts on nothing.
    assert_eq!(
        expire_invitations::expire_due(&app.db, Utc::now())
            .await
            .expect("scan")
            .len(),
        0
    );
    // The API reads the stored status as it read the derived one.
    assert_eq!(count(&app, &staff, "EXPIRED").await, 6);
    assert_eq!(count(&app, &staff, "PENDING").await, 1);
}

#[tokio::test]
async fn an_expired_invitation_can_be_resent_and_a_contact_change_still_revokes_it() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let resent_account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let changed_account = app
        .create_account(&staff, "A-2", "Harbor", Some("jo@harbor.example"))
        .await;
    let resent = invite(&app, &staff, &resent_account).await;
    let changed = invite(&app, &staff, &changed_account).await;
    // Their first emails go out while they are pending (an email whose
    // invitation has lapsed by its turn is not sent, rightly).
    sent_link(&app, resent).await;
    sent_link(&app, changed).await;
    lapse(&app, &[resent, changed]).await;
    assert_eq!(
        expire_invitations::expire_due(&app.db, Utc::now())
            .await
            .expect("scan")
            .len(),
        2
    );

    // Resending restarts a stored EXPIRED invitation, and its new link works.
    let data = app
        .gql_ok(
            staff.auth(),
            "mutation($id: ID!) { resendInvitation(invitationId: $id) { status } }",
            json!({"id": resent}),
        )
        .await;
    assert_eq!(data["resendInvitation"]["status"], "PENDING");
    let token = sent_link(&app, resent).await;
    assert_eq!(token.len(), 43);
    // A scan after the resend leaves it alone.
    assert_eq!(
        expire_invitations::expire_due(&app.db, Utc::now())
            .await
            .expect("scan")
            .len(),
        0
    );
    assert_eq!(stored_status(&app, resent).await, InvitationStatus::Pending);

    // A stored EXPIRED invitation went to the old address: a contact change
    // revokes it, so it can never be resent there.
    app.gql_ok(
        staff.auth(),
        "mutation($a: ID!) { updateAccountContact(accountId: $a, input: {email: \"new@harbor.example\"}) { id } }",
        json!({"a": changed_account}),
    )
    .await;
    assert_eq!(stored_status(&app, changed).await, InvitationStatus::Revoked);
}

static RUNS: AtomicU64 = AtomicU64::new(0);

fn counting(_db: &DatabaseConnection, _now: chrono::DateTime<Utc>) -> ScanFuture<'_> {
    Box::pin(async {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(service::scans::Report {
            acted: 1,
            events: Vec::new(),
        })
    })
}

#[tokio::test]
async fn a_schedule_runs_each_scan_once_per_period_of_its_own() {
    let app = TestApp::spawn().await;
    let hourly = Scan {
        name: "counting",
        every: std::time::Duration::from_secs(3600),
        run: counting,
    };
    let mut schedule = Schedule::new(&[hourly]);
    assert_eq!(schedule.tick(&app.db).await.acted, 1, "due at the first tick");
    assert_eq!(schedule.tick(&app.db).await.acted, 0, "not again within its period");
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_expiry_scan_reports_each_expired_accounts_portal_status_for_subscriptions() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Customer 1", Some("contact@customer.example"))
        .await;
    let invitation = invite(&app, &staff, &account).await;
    lapse(&app, &[invitation]).await;
    let expires_at = invitation::Entity::find_by_id(invitation)
        .one(&app.db)
        .await
        .expect("read")
        .expect("the invitation")
        .expires_at;
    let report = (expire_invitations::SCAN.run)(&app.db, Utc::now()).await.expect("scan");
    assert_eq!(report.acted, 1);
    assert_eq!(
        report.events,
        [common::events::Event::PortalStatusChanged {
            organization_id: staff.organization_id,
            account_id: Uuid::parse_str(&account).expect("uuid"),
            occurred_at: expires_at,
        }]
    );
}
