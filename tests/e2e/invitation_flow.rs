//! The product's central flow, end to end and in production shape: the demo
//! organization's staff invite an account over GraphQL, the api commits the
//! outbox row and pushes the job to Redis, a real `worker` process sends the
//! "Welcome to the Customer Portal" email to a real SMTP server, and the
//! customer follows the link read out of that email, signs up on the accept
//! page and is signed in; the account goes NOT_CONNECTED → INVITED → CONNECTED.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use testkit::smtp_sink::{ReceivedEmail, SmtpSink};

use crate::{
    helpers::{TestApp, WebClient},
    worker_helpers::{RedisNamespace, WorkerProcess, redis_url},
};

const PUBLIC_URL: &str = "https://portal.example.test";

async fn production_like(sink: &SmtpSink) -> (TestApp, RedisNamespace) {
    let redis = redis_url();
    let smtp = sink.url();
    let app = TestApp::spawn_with(&[
        ("REDIS_URL", &redis),
        ("SMTP_URL", &smtp),
        ("PUBLIC_URL", PUBLIC_URL),
        ("EMAIL_RETRY_BASE_MS", "200"),
        ("OUTBOX_REDELIVER_SECONDS", "2"),
    ])
    .await;
    let namespace = RedisNamespace::new(&app.settings.queue_namespace).await;
    (app, namespace)
}

/// The token of the accept link in an email's text part.
fn link_token(email: &ReceivedEmail) -> String {
    let text = email.text().expect("a text part");
    let prefix = format!("{PUBLIC_URL}/portal/accept?token=");
    let start = text.find(&prefix).expect("the accept link") + prefix.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn staff_token(app: &TestApp, password: &str) -> String {
    let data = app
        .gql_ok(
            None,
            "mutation($p: String!) { staffLogin(email: \"admin@demo.example\", password: $p) { token } }",
            json!({"p": password}),
        )
        .await;
    data["staffLogin"]["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn the_demo_account_goes_from_not_connected_to_connected_through_redis_a_worker_smtp_and_the_accept_page() {
    let sink = SmtpSink::start().await;
    let (app, namespace) = production_like(&sink).await;
    let _worker = WorkerProcess::spawn(&app, &[]).await;
    let password = "demo staff password";
    service::seed::seed_demo(&app.db, password.to_owned())
        .await
        .expect("seed")
        .expect("an empty database");
    let staff = staff_token(&app, password).await;

    let found = app
        .gql_ok(
            Some(&staff),
            "{ accounts(search: \"riverside\") { nodes { id name portalStatus contact { email } } } }",
            json!({}),
        )
        .await;
    let account = &found["accounts"]["nodes"][0];
    assert_eq!(account["portalStatus"], "NOT_CONNECTED");
    let account_id = account["id"].as_str().expect("id").to_owned();
    let email = account["contact"]["email"].as_str().expect("email on file").to_owned();

    let invited = app
        .gql_ok(
            Some(&staff),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { id status email } }",
            json!({"a": account_id}),
        )
        .await;
    assert_eq!(invited["inviteToPortal"]["email"], email.as_str());
    let status = app
        .gql_ok(
            Some(&staff),
            "query($a: ID!) { account(id: $a) { portalStatus } }",
            json!({"a": account_id}),
        )
        .await;
    assert_eq!(status["account"]["portalStatus"], "INVITED");

    let received = sink.wait_for(1, Duration::from_secs(30)).await;
    let message = &received[0];
    assert_eq!(message.rcpt_to, vec![email.clone()]);
    assert!(
        message.subject().contains("Welcome to the Customer Portal"),
        "{}",
        message.subject()
    );
    assert!(
        message.subject().contains("Demo Sanitation & Roll-off"),
        "{}",
        message.subject()
    );
    assert!(
        message
            .html()
            .is_some_and(|html| html.contains("/portal/accept?token="))
    );
    let token = link_token(message);
    assert_eq!(token.len(), 43, "a 256-bit token");
    assert!(
        !namespace.all_values().await.iter().any(|value| value.contains(&token)),
        "the raw token is never in Redis"
    );

    // The customer opens the link (the path of PUBLIC_URL's link on this api).
    let page = app
        .client
        .get(format!("{}/portal/accept?token={token}", app.address))
        .send()
        .await
        .expect("GET the accept page");
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.expect("page");
    assert!(body.contains("Riverside Construction") && body.contains("m***@riverside-construction.example"));
    let mut browser = WebClient::new(&app);
    let form = browser.get(&format!("/portal/accept?token={token}")).await;
    let csrf = form.field("accept", "csrf").expect("the form's CSRF token");
    let dashboard = browser
        .post(
            "/portal/accept",
            &[
                ("csrf", csrf.as_str()),
                ("token", token.as_str()),
                ("name", "Maria Lopez"),
                ("password", "a customer password"),
                ("password_confirmation", "a customer password"),
            ],
        )
        .await;
    assert_eq!((dashboard.path.as_str(), dashboard.status), ("/portal", StatusCode::OK));
    assert!(
        dashboard.body.contains("Signed in as Maria Lopez") && dashboard.body.contains("Riverside Construction"),
        "signed up, the customer lands on the dashboard: {}",
        dashboard.body
    );

    let after = app
        .gql_ok(
            Some(&staff),
            "query($a: ID!) { account(id: $a) { portalStatus portalUsers { name email } invitations { status delivery { status attempts sentAt } } } emailDeliveries(status: SENT) { totalCount } }",
            json!({"a": account_id}),
        )
        .await;
    assert_eq!(after["account"]["portalStatus"], "CONNECTED");
    assert_eq!(
        after["account"]["portalUsers"],
        json!([{"name": "Maria Lopez", "email": email}])
    );
    let invitation = &after["account"]["invitations"][0];
    assert_eq!(invitation["status"], "ACCEPTED");
    assert_eq!(invitation["delivery"]["status"], "SENT");
    assert_eq!(invitation["delivery"]["attempts"], 1);
    assert_eq!(after["emailDeliveries"]["totalCount"], 1);

    // The customer signs in again later and sees the account's assets.
    let login = app
        .gql_ok(
            None,
            "mutation($e: String!) { portalLogin(organization: \"demo\", email: $e, password: \"a customer password\") { token } }",
            json!({"e": email}),
        )
        .await;
    let customer = login["portalLogin"]["token"].as_str().expect("token");
    let seen = app
        .gql_ok(
            Some(customer),
            "{ accounts { nodes { name locations { totalCount } assets { totalCount } invoices(status: OPEN) { totalCount } } } }",
            json!({}),
        )
        .await;
    let mine = &seen["accounts"]["nodes"];
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
    assert_eq!(mine[0]["name"], "Riverside Construction");
    assert_eq!(mine[0]["locations"]["totalCount"], 3);
    assert!(mine[0]["assets"]["totalCount"].as_i64().unwrap_or(0) > 0);
}

#[tokio::test]
async fn a_double_click_sends_one_email_and_a_resend_supersedes_the_emailed_link() {
    let sink = SmtpSink::start().await;
    let (app, _namespace) = production_like(&sink).await;
    let _worker = WorkerProcess::spawn(&app, &[]).await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "A-1", "Riverside", Some("maria@riverside.example"))
        .await;
    const INVITE: &str = "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }";
    let first = app.gql_ok(staff.auth(), INVITE, json!({"a": account})).await;
    let second = app.gql_ok(staff.auth(), INVITE, json!({"a": account})).await;
    assert_eq!(first["inviteToPortal"]["id"], second["inviteToPortal"]["id"]);
    let old = link_token(&sink.wait_for(1, Duration::from_secs(30)).await[0]);
    sink.assert_count_stays(1, Duration::from_secs(2)).await;

    app.gql_ok(
        staff.auth(),
        "mutation($id: ID!) { resendInvitation(invitationId: $id) { id } }",
        json!({"id": first["inviteToPortal"]["id"]}),
    )
    .await;
    let new = link_token(&sink.wait_for(2, Duration::from_secs(30)).await[1]);
    assert_ne!(old, new);
    const ACCEPT: &str = "mutation($t: String!) { acceptInvitation(token: $t, name: \"Maria\", password: \"a customer password\") { token } }";
    let (code, _) = app.gql_err(None, ACCEPT, json!({"t": old})).await;
    assert_eq!(code, "INVITATION_INVALID", "the first email's link was superseded");
    app.gql_ok(None, ACCEPT, json!({"t": new})).await;
}
