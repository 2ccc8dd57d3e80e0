//! Forgotten and changed passwords, end to end: `requestPasswordReset`
//! emails a link (through the api's in-process worker to a real SMTP
//! server on loopback), `resetPassword` with the token read out of that
//! email sets the password, ends every other session and signs in;
//! `changePassword` checks the current password and ends the other
//! sessions. Links are single use, expire, and are superseded by a newer
//! request (whose unsent predecessor is CANCELLED, not sent).

use std::time::Duration;

use chrono::Utc;
use entity::{DeliveryStatus, EmailKind, email_delivery, password_reset};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use testkit::{
    eventually,
    smtp_sink::{ReceivedEmail, SmtpSink},
};

use crate::helpers::{CUSTOMER_PASSWORD, STAFF_PASSWORD, TestApp, field};

const PUBLIC_URL: &str = "https://portal.example.test";
const NEW_PASSWORD: &str = "a brand new passphrase";
const REQUEST: &str = "mutation($e: String!, $o: String) { requestPasswordReset(email: $e, organization: $o) }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) { token expiresAt viewer { __typename ... on PortalUser { email } ... on StaffUser { email } } } }";
const VIEWER: &str = "{ viewer { __typename } }";

async fn app_with_smtp(sink: &SmtpSink) -> TestApp {
    TestApp::spawn_with(&[("SMTP_URL", &sink.url()), ("PUBLIC_URL", PUBLIC_URL)]).await
}

/// The reset token in a reset email's text part (`area`: portal or staff).
fn reset_token(email: &ReceivedEmail, area: &str) -> String {
    let text = email.text().expect("a text part");
    let prefix = format!("{PUBLIC_URL}/{area}/reset-password?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {area} reset link in: {text}"))
        + prefix.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The reset emails the sink has received so far, oldest first.
fn reset_emails(sink: &SmtpSink) -> Vec<ReceivedEmail> {
    sink.messages()
        .into_iter()
        .filter(|m| m.subject().starts_with("Reset your password"))
        .collect()
}

/// Waits for the `n`th reset email and returns it.
async fn nth_reset_email(sink: &SmtpSink, n: usize) -> ReceivedEmail {
    eventually(Duration::from_secs(20), async || {
        let emails = reset_emails(sink);
        emails
            .get(n - 1)
            .cloned()
            .ok_or_else(|| format!("{} reset emails so far, waiting for {n}", emails.len()))
    })
    .await
}

async fn request(app: &TestApp, email: &str, organization: Option<&str>) -> Value {
    app.gql(None, REQUEST, json!({"e": email, "o": organization})).await
}

async fn portal_login(app: &TestApp, email: &str, password: &str) -> Value {
    app.gql(
        None,
        "mutation($e: String!, $p: String!) { portalLogin(organization: \"acme\", email: $e, password: $p) { token } }",
        json!({"e": email, "p": password}),
    )
    .await
}

fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

/// A signed-up customer of organization `acme`: its email and session.
async fn customer(app: &TestApp) -> (String, String) {
    let staff = app.staff("acme").await;
    let email = "pat@customer.example";
    let account = app.create_account(&staff, "C-1", "Customer Co", Some(email)).await;
    let token = app.invite_and_accept(&staff, &account, None, "Pat Customer").await;
    (email.to_owned(), token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_resets_a_forgotten_password_with_the_emailed_link_and_other_sessions_end() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let (email, first_session) = customer(&app).await;
    let second = portal_login(&app, &email, CUSTOMER_PASSWORD).await;
    let second_session = second["data"]["portalLogin"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    // Known and unknown emails answer the same; only the known one gets mail.
    for (address, organization) in [
        (email.as_str(), Some("acme")),
        ("nobody@customer.example", Some("acme")),
        (email.as_str(), Some("no-such-org")),
        (email.as_str(), None),
    ] {
        let answer = request(&app, address, organization).await;
        assert_eq!(
            answer,
            json!({"data": {"requestPasswordReset": true}}),
            "{address} {organization:?}"
        );
    }
    let message = nth_reset_email(&sink, 1).await;
    assert_eq!(message.rcpt_to, vec![email.clone()]);
    assert_eq!(message.subject(), "Reset your password — Org acme");
    let token = reset_token(&message, "portal");
    assert!(
        message
            .html()
            .expect("html")
            .contains(&format!("/portal/reset-password?token={token}"))
    );

    // Only the digest is stored.
    let row = password_reset::Entity::find()
        .one(&app.db)
        .await
        .expect("read")
        .expect("a reset row");
    assert_eq!(
        row.token_digest.as_deref(),
        Some(service::auth::token_digest(&token).as_str())
    );
    assert!(row.used_at.is_none());

    // A too-short password is refused beside its field, and uses nothing up.
    let short = app.gql(None, RESET, json!({"t": token, "p": "short"})).await;
    assert_eq!(code(&short), "BAD_USER_INPUT");
    assert_eq!(field(&short["errors"][0]), "password");

    let reset = app.gql_ok(None, RESET, json!({"t": token, "p": NEW_PASSWORD})).await;
    let session = &reset["resetPassword"];
    assert_eq!(session["viewer"], json!({"__typename": "PortalUser", "email": email}));
    let new_session = session["token"].as_str().expect("token");
    let viewer = app.gql_ok(Some(new_session), VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["__typename"], "PortalUser");
    for old in [&first_session, &second_session] {
        let viewer = app.gql(Some(old), VIEWER, json!({})).await;
        assert_eq!(
            viewer["data"]["viewer"],
            Value::Null,
            "an earlier session ended: {viewer}"
        );
    }

    // The link is single use; the old password is gone, the new one works.
    let again = app
        .gql(None, RESET, json!({"t": token, "p": "yet another passphrase"}))
        .await;
    assert_eq!(code(&again), "PASSWORD_RESET_INVALID", "{again}");
    assert_eq!(
        code(&portal_login(&app, &email, CUSTOMER_PASSWORD).await),
        "INVALID_CREDENTIALS"
    );
    let signed_in = portal_login(&app, &email, NEW_PASSWORD).await;
    assert!(signed_in["data"]["portalLogin"]["token"].is_string(), "{signed_in}");

    // Nothing else was mailed: unknown emails and organizations got nothing.
    sink.assert_count_stays(sink.count(), Duration::from_millis(500)).await;
    assert_eq!(reset_emails(&sink).len(), 1);
    let delivery = email_delivery::Entity::find()
        .filter(email_delivery::Column::Kind.eq(EmailKind::PasswordReset))
        .all(&app.db)
        .await
        .expect("deliveries");
    assert_eq!(delivery.len(), 1);
    assert_eq!(delivery[0].status, DeliveryStatus::Sent);
    assert!(
        !delivery[0].payload.to_string().contains(&token),
        "no token in the payload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_user_resets_with_a_link_to_the_staff_page() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let staff = app.staff("acme").await;
    assert_eq!(
        request(&app, &staff.email.to_uppercase(), None).await,
        json!({"data": {"requestPasswordReset": true}})
    );
    let message = nth_reset_email(&sink, 1).await;
    assert!(
        message
            .text()
            .expect("text")
            .contains("Customer Center account at Org acme")
    );
    let token = reset_token(&message, "staff");
    let reset = app.gql_ok(None, RESET, json!({"t": token, "p": NEW_PASSWORD})).await;
    assert_eq!(
        reset["resetPassword"]["viewer"],
        json!({"__typename": "StaffUser", "email": staff.email})
    );
    let old = app.gql(Some(&staff.token), VIEWER, json!({})).await;
    assert_eq!(old["data"]["viewer"], Value::Null, "the earlier staff session ended");
    let login = |password: &'static str| {
        app.gql(
            None,
            "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }",
            json!({"e": staff.email, "p": password}),
        )
    };
    assert_eq!(code(&login(STAFF_PASSWORD).await), "INVALID_CREDENTIALS");
    assert!(login(NEW_PASSWORD).await["data"]["staffLogin"]["token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_request_supersedes_the_earlier_link() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let (email, _) = customer(&app).await;
    request(&app, &email, Some("acme")).await;
    let first = reset_token(&nth_reset_email(&sink, 1).await, "portal");
    request(&app, &email, Some("acme")).await;
    let second = reset_token(&nth_reset_email(&sink, 2).await, "portal");
    assert_ne!(first, second);

    let superseded = app.gql(None, RESET, json!({"t": first, "p": NEW_PASSWORD})).await;
    assert_eq!(code(&superseded), "PASSWORD_RESET_INVALID");
    assert!(
        superseded["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("ask for a new one")),
        "{superseded}"
    );
    app.gql_ok(None, RESET, json!({"t": second, "p": NEW_PASSWORD})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_email_superseded_before_its_turn_is_cancelled_not_sent() {
    let sink = SmtpSink::start().await;
    // The in-process worker gets no push here (the service is called
    // directly); the sweeper finds both rows after a second.
    let app = TestApp::spawn_with(&[
        ("SMTP_URL", &sink.url()),
        ("PUBLIC_URL", PUBLIC_URL),
        ("OUTBOX_REDELIVER_SECONDS", "1"),
        ("OUTBOX_SWEEP_INTERVAL_MS", "200"),
    ])
    .await;
    let (email, _) = customer(&app).await;
    let first = service::password_resets::request(&app.db, &app.settings, &email, Some("acme"))
        .await
        .expect("request")
        .expect("a known user");
    let second = service::password_resets::request(&app.db, &app.settings, &email, Some("acme"))
        .await
        .expect("request")
        .expect("a known user");

    let statuses = eventually(Duration::from_secs(20), async || {
        let rows = email_delivery::Entity::find()
            .filter(email_delivery::Column::Kind.eq(EmailKind::PasswordReset))
            .all(&app.db)
            .await
            .expect("deliveries");
        let status = |id| {
            rows.iter()
                .find(|r| r.id == id)
                .map(|r| (r.status, r.last_error.clone()))
        };
        match (status(first.delivery_id), status(second.delivery_id)) {
            (Some(a), Some(b)) if a.0 != DeliveryStatus::Queued && b.0 != DeliveryStatus::Queued => Ok((a, b)),
            other => Err(format!("not both done yet: {other:?}")),
        }
    })
    .await;
    assert_eq!(
        statuses.0,
        (
            DeliveryStatus::Cancelled,
            Some(service::email::password_reset::NOT_WANTED.to_owned())
        )
    );
    assert_eq!(statuses.1.0, DeliveryStatus::Sent);
    assert_eq!(reset_emails(&sink).len(), 1, "only the newer link was mailed");

    // Staff see it as CANCELLED, apart from the failures.
    let staff = app
        .gql_ok(
            None,
            "mutation { staffLogin(email: \"admin@acme.example\", password: \"correct horse battery staple\") { token } }",
            json!({}),
        )
        .await;
    let token = staff["staffLogin"]["token"].as_str().expect("token");
    let listed = app
        .gql_ok(
            Some(token),
            "{ cancelled: emailDeliveries(status: CANCELLED) { totalCount nodes { kind lastError } } failed: emailDeliveries(status: FAILED) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["cancelled"]["totalCount"], 1);
    assert_eq!(listed["cancelled"]["nodes"][0]["kind"], "PASSWORD_RESET");
    assert_eq!(listed["failed"]["totalCount"], 0);
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let (email, _) = customer(&app).await;
    request(&app, &email, Some("acme")).await;
    let token = reset_token(&nth_reset_email(&sink, 1).await, "portal");
    let row = password_reset::Entity::find()
        .one(&app.db)
        .await
        .expect("read")
        .expect("row");
    let mut row: password_reset::ActiveModel = row.into();
    row.expires_at = Set(Utc::now() - chrono::Duration::seconds(1));
    row.update(&app.db).await.expect("expire");
    let expired = app.gql(None, RESET, json!({"t": token, "p": NEW_PASSWORD})).await;
    assert_eq!(code(&expired), "PASSWORD_RESET_INVALID");
    assert_eq!(
        code(&portal_login(&app, &email, NEW_PASSWORD).await),
        "INVALID_CREDENTIALS"
    );
    let unknown = app
        .gql(None, RESET, json!({"t": "not-a-token", "p": NEW_PASSWORD}))
        .await;
    assert_eq!(code(&unknown), "PASSWORD_RESET_INVALID");
}

#[tokio::test]
async fn change_password_checks_the_current_one_and_ends_only_the_other_sessions() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let other = app
        .gql_ok(
            None,
            "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }",
            json!({"e": staff.email, "p": STAFF_PASSWORD}),
        )
        .await;
    let other = other["staffLogin"]["token"].as_str().expect("token").to_owned();
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

    let anonymous = app
        .gql(None, change, json!({"c": STAFF_PASSWORD, "n": NEW_PASSWORD}))
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let wrong = app
        .gql(
            Some(&staff.token),
            change,
            json!({"c": "not my password", "n": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
    let short = app
        .gql(Some(&staff.token), change, json!({"c": STAFF_PASSWORD, "n": "short"}))
        .await;
    assert_eq!(code(&short), "BAD_USER_INPUT");
    assert_eq!(field(&short["errors"][0]), "newPassword");
    // Nothing changed so far: the other session still works.
    assert_eq!(
        app.gql_ok(Some(&other), VIEWER, json!({})).await["viewer"]["__typename"],
        "StaffUser"
    );

    let changed = app
        .gql_ok(
            Some(&staff.token),
            change,
            json!({"c": STAFF_PASSWORD, "n": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(changed["changePassword"], true);
    assert_eq!(
        app.gql_ok(Some(&staff.token), VIEWER, json!({})).await["viewer"]["__typename"],
        "StaffUser",
        "the session that changed it stays signed in"
    );
    assert_eq!(
        app.gql(Some(&other), VIEWER, json!({})).await["data"]["viewer"],
        Value::Null
    );
    let login = |password: &'static str| {
        app.gql(
            None,
            "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }",
            json!({"e": staff.email, "p": password}),
        )
    };
    assert_eq!(code(&login(STAFF_PASSWORD).await), "INVALID_CREDENTIALS");
    assert!(login(NEW_PASSWORD).await["data"]["staffLogin"]["token"].is_string());
}

#[tokio::test]
async fn reset_requests_are_rate_limited_and_the_limit_does_not_tell_who_exists() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let (email, _) = customer(&app).await;
    for address in [email.as_str(), "nobody@customer.example"] {
        for n in 0..api::rate_limit::MAX_FAILURES {
            let answer = request(&app, address, Some("acme")).await;
            assert_eq!(
                answer["data"]["requestPasswordReset"], true,
                "request {n} for {address}: {answer}"
            );
        }
        let limited = request(&app, address, Some("acme")).await;
        assert_eq!(code(&limited), "RATE_LIMITED", "{address}: {limited}");
    }
    let rows = password_reset::Entity::find().all(&app.db).await.expect("rows");
    assert_eq!(rows.len(), 10, "one row per allowed request of the known email");
    assert_eq!(
        rows.iter().filter(|r| r.superseded_at.is_none()).count(),
        1,
        "only the newest is open"
    );
}

#[tokio::test]
async fn a_wrong_reset_token_is_rate_limited() {
    let app = TestApp::spawn().await;
    for _ in 0..10 {
        let answer = app.gql(None, RESET, json!({"t": "guess", "p": NEW_PASSWORD})).await;
        assert_eq!(code(&answer), "PASSWORD_RESET_INVALID");
    }
    let limited = app.gql(None, RESET, json!({"t": "guess", "p": NEW_PASSWORD})).await;
    assert_eq!(code(&limited), "RATE_LIMITED");
}
