//! The Customer Portal web app over HTTP, as a browser without JavaScript
//! uses it ([`WebClient`] keeps the cookies and follows redirects): signing
//! up lands on the dashboard, which shows exactly what the grants cover;
//! sign-in and sign-out; CSRF; forgotten and changed passwords (customers
//! and staff) with the link read out of the email at a real SMTP server.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use testkit::{eventually, smtp_sink::SmtpSink};

use crate::helpers::{CUSTOMER_PASSWORD, STAFF_PASSWORD, Staff, TestApp, WebClient, WebPage, sent_link};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// Organization `acme` with account C-1 (two locations, an asset deployed at
/// each, an open invoice) whose contact is invited.
struct World {
    staff: Staff,
    account: String,
    invitation: uuid::Uuid,
}

async fn world(app: &TestApp, locations: Option<usize>) -> World {
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "C-1", "Harbor Cafe", Some("pat@customer.example"))
        .await;
    let first = app.create_location(&staff, &account, "Pier Site").await;
    let second = app.create_location(&staff, &account, "Yard Site").await;
    let pt = app.create_asset(&staff, "PT-101").await;
    app.deploy(&staff, &pt, Some(&first)).await;
    let dumpster = app.create_asset(&staff, "PT-202").await;
    app.deploy(&staff, &dumpster, Some(&second)).await;
    app.create_invoice(&staff, &account, "INV-1", &[("Rental", 2, 12_500)])
        .await;
    let granted = locations.map(|_| vec![first.as_str()]);
    let invitation = app
        .gql_string(
            staff.auth(),
            "mutation($a: ID!, $l: [ID!]) { inviteToPortal(accountId: $a, locationIds: $l) { id } }",
            json!({"a": account, "l": granted}),
            &["inviteToPortal", "id"],
        )
        .await;
    World {
        staff,
        account,
        invitation: uuid::Uuid::parse_str(&invitation).expect("uuid"),
    }
}

/// Signs up through the accept form; the page the browser lands on.
async fn sign_up(app: &TestApp, browser: &mut WebClient, w: &World) -> WebPage {
    let token = sent_link(app, w.invitation).await;
    let form = browser.get(&format!("/portal/accept?token={token}")).await;
    let csrf = form.field("accept", "csrf").expect("the form's CSRF token");
    browser
        .post(
            "/portal/accept",
            &[
                ("csrf", csrf.as_str()),
                ("token", token.as_str()),
                ("name", "Pat Customer"),
                ("password", CUSTOMER_PASSWORD),
                ("password_confirmation", CUSTOMER_PASSWORD),
            ],
        )
        .await
}

fn assert_private(page: &WebPage) {
    let header = |name: &str| page.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(header("cache-control"), "no-store");
    assert!(header("content-security-policy").starts_with("default-src 'none'; style-src 'self'"));
    assert!(!page.body.contains("<script"), "no scripts: {}", page.body);
    assert!(!page.body.contains("style=\""), "no inline styles: {}", page.body);
}

#[tokio::test]
async fn signing_up_lands_on_the_dashboard_with_the_accounts_assets_balance_and_invoices() {
    let app = TestApp::spawn().await;
    let w = world(&app, None).await;
    let mut browser = WebClient::new(&app);
    let dashboard = sign_up(&app, &mut browser, &w).await;
    assert_eq!(
        (dashboard.path.as_str(), dashboard.status),
        ("/portal", StatusCode::OK),
        "{}",
        dashboard.body
    );
    assert_private(&dashboard);
    assert!(browser.cookies.contains_key("portal_session"), "{:?}", browser.cookies);
    for shown in [
        "Signed in as Pat Customer",
        "Harbor Cafe",
        "Pier Site",
        "Yard Site",
        ">PT-101<",
        ">PT-202<",
        "INV-1",
        "$250.00",
        "Org acme has not set up online payments yet",
    ] {
        assert!(dashboard.body.contains(shown), "{shown} missing: {}", dashboard.body);
    }
    let css = app.get("/portal/style.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.text().await.expect("css").contains("@media (max-width: 40rem)"));
}

#[tokio::test]
async fn a_location_only_customer_never_sees_the_other_location() {
    let app = TestApp::spawn().await;
    let w = world(&app, Some(1)).await;
    let mut browser = WebClient::new(&app);
    let dashboard = sign_up(&app, &mut browser, &w).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    assert!(dashboard.body.contains("Pier Site") && dashboard.body.contains(">PT-101<"));
    assert!(!dashboard.body.contains("Yard Site"), "{}", dashboard.body);
    assert!(!dashboard.body.contains("PT-202"), "{}", dashboard.body);
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_a_signed_out_cookie_is_refused() {
    let app = TestApp::spawn().await;
    let w = world(&app, None).await;
    let mut anonymous = WebClient::new(&app);
    let page = anonymous.get("/portal").await;
    assert_eq!((page.path.as_str(), page.status), ("/portal/sign-in", StatusCode::OK));
    assert!(
        page.body.contains("name=\"organization\""),
        "asks for the organization without ?organization="
    );

    let mut browser = WebClient::new(&app);
    let dashboard = sign_up(&app, &mut browser, &w).await;
    let stolen = browser.cookies.clone();

    // Sign-out needs the page's CSRF token: without it nothing happens.
    let refused = browser.post("/portal/sign-out", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/portal").await.path, "/portal");

    let signed_out = browser.submit(&dashboard, "/portal/sign-out", &[]).await;
    assert_eq!(signed_out.path, "/portal/sign-in");
    assert_eq!(
        signed_out.field("/portal/sign-in", "organization").as_deref(),
        Some("acme"),
        "the sign-in form remembers the organization"
    );
    assert!(!browser.cookies.contains_key("portal_session"));
    // The session ended in the database: the old cookie is refused too.
    let mut replay = WebClient::new(&app);
    replay.cookies = stolen;
    assert_eq!(replay.get("/portal").await.path, "/portal/sign-in");
}

#[tokio::test]
async fn staff_disconnecting_the_customers_last_account_ends_the_cookies_session_at_once() {
    let app = TestApp::spawn().await;
    let w = world(&app, None).await;
    let mut browser = WebClient::new(&app);
    sign_up(&app, &mut browser, &w).await;
    let user = app
        .gql_ok(
            w.staff.auth(),
            "query($a: ID!) { account(id: $a) { portalUsers { id } } }",
            json!({"a": w.account}),
        )
        .await;
    let user = user["account"]["portalUsers"][0]["id"]
        .as_str()
        .expect("user")
        .to_owned();
    app.gql_ok(
        w.staff.auth(),
        "mutation($u: ID!, $a: ID!) { disconnectPortalUser(portalUserId: $u, accountId: $a) { id } }",
        json!({"u": user, "a": w.account}),
    )
    .await;
    // Its last account gone, the customer's cookie session ends at once.
    let session = browser.cookies.get("portal_session").expect("signed in").clone();
    let after = browser.get("/portal").await;
    assert_eq!(after.path, "/portal/sign-in", "{}", after.body);
    assert!(!after.body.contains("Harbor Cafe"), "{}", after.body);
    assert!(!browser.cookies.contains_key("portal_session"), "the cookie is cleared");
    let viewer = app.gql(Some(&session), "{ viewer { __typename } }", json!({})).await;
    assert_eq!(
        viewer["data"]["viewer"],
        serde_json::Value::Null,
        "the session ended: {viewer}"
    );
}

#[tokio::test]
async fn sign_in_keeps_the_email_on_a_wrong_password_and_needs_its_csrf_token() {
    let app = TestApp::spawn().await;
    let w = world(&app, None).await;
    sign_up(&app, &mut WebClient::new(&app), &w).await;

    let mut browser = WebClient::new(&app);
    let form = browser.get("/portal/sign-in?organization=acme").await;
    assert_eq!(form.status, StatusCode::OK);
    assert_private(&form);
    assert_eq!(form.field("/portal/sign-in", "organization").as_deref(), Some("acme"));

    let no_csrf = browser
        .post(
            "/portal/sign-in",
            &[
                ("organization", "acme"),
                ("email", "pat@customer.example"),
                ("password", CUSTOMER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN, "{}", no_csrf.body);
    assert!(!browser.cookies.contains_key("portal_session"));

    let wrong = browser
        .submit(
            &form,
            "/portal/sign-in",
            &[
                ("organization", "acme"),
                ("email", "pat@customer.example"),
                ("password", "not it at all"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("The email or password is not correct"),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("aria-invalid=\"true\""),
        "the error is beside the password"
    );
    assert_eq!(
        wrong.field("/portal/sign-in", "email").as_deref(),
        Some("pat@customer.example")
    );

    let signed_in = browser
        .submit(
            &wrong,
            "/portal/sign-in",
            &[
                ("organization", "acme"),
                ("email", "pat@customer.example"),
                ("password", CUSTOMER_PASSWORD),
            ],
        )
        .await;
    assert_eq!((signed_in.path.as_str(), signed_in.status), ("/portal", StatusCode::OK));
    assert!(signed_in.body.contains(">PT-101<"));
}

/// The token of the newest reset email's link to `area`'s page.
async fn emailed_reset_token(sink: &SmtpSink, area: &str, count: usize) -> String {
    let message = eventually(Duration::from_secs(20), async || {
        let resets: Vec<_> = sink
            .messages()
            .into_iter()
            .filter(|m| m.subject().starts_with("Reset your password"))
            .collect();
        if resets.len() >= count {
            Ok(resets[count - 1].clone())
        } else {
            Err(format!("{} reset emails so far", resets.len()))
        }
    })
    .await;
    let text = message.text().expect("text");
    let marker = format!("/{area}/reset-password?token=");
    let start = text.find(&marker).expect("the reset link") + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_from_the_emailed_link_and_the_customer_is_signed_in() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(&[("SMTP_URL", &sink.url())]).await;
    let w = world(&app, None).await;
    let mut old_device = WebClient::new(&app);
    sign_up(&app, &mut old_device, &w).await;

    let mut browser = WebClient::new(&app);
    let sign_in = browser.get("/portal/sign-in?organization=acme").await;
    assert!(
        sign_in
            .body
            .contains("href=\"/portal/forgot-password?organization=acme\"")
    );
    let forgot = browser.get("/portal/forgot-password?organization=acme").await;
    assert_private(&forgot);
    let sent = browser
        .submit(
            &forgot,
            "/portal/forgot-password",
            &[("organization", "acme"), ("email", "pat@customer.example")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(
        sent.body.contains("a link to choose a new password is on its way"),
        "{}",
        sent.body
    );
    let token = emailed_reset_token(&sink, "portal", 1).await;

    let form = browser.get(&format!("/portal/reset-password?token={token}")).await;
    assert_eq!(
        form.field("/portal/reset-password", "token").as_deref(),
        Some(token.as_str())
    );
    let mismatch = browser
        .submit(
            &form,
            "/portal/reset-password",
            &[
                ("token", &token),
                ("password", NEW_PASSWORD),
                ("password_confirmation", "something else"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.body.contains("do not match"));
    let dashboard = browser
        .submit(
            &form,
            "/portal/reset-password",
            &[
                ("token", &token),
                ("password", NEW_PASSWORD),
                ("password_confirmation", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (dashboard.path.as_str(), dashboard.status),
        ("/portal", StatusCode::OK),
        "{}",
        dashboard.body
    );
    assert!(dashboard.body.contains(">PT-101<"));
    // Every other session ended; the link is used up.
    assert_eq!(old_device.get("/portal").await.path, "/portal/sign-in");
    let again = browser
        .submit(
            &form,
            "/portal/reset-password",
            &[
                ("token", &token),
                ("password", NEW_PASSWORD),
                ("password_confirmation", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(
        again.body.contains("href=\"/portal/forgot-password\""),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn the_customer_changes_the_password_and_other_devices_are_signed_out() {
    let app = TestApp::spawn().await;
    let w = world(&app, None).await;
    let mut other_device = WebClient::new(&app);
    sign_up(&app, &mut other_device, &w).await;
    let mut browser = WebClient::new(&app);
    let sign_in = browser.get("/portal/sign-in?organization=acme").await;
    browser
        .submit(
            &sign_in,
            "/portal/sign-in",
            &[
                ("organization", "acme"),
                ("email", "pat@customer.example"),
                ("password", CUSTOMER_PASSWORD),
            ],
        )
        .await;
    let form = browser.get("/portal/account/password").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let wrong = browser
        .submit(
            &form,
            "/portal/account/password",
            &[
                ("current_password", "not my password"),
                ("password", NEW_PASSWORD),
                ("password_confirmation", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("That is not your current password."),
        "{}",
        wrong.body
    );
    let done = browser
        .submit(
            &form,
            "/portal/account/password",
            &[
                ("current_password", CUSTOMER_PASSWORD),
                ("password", NEW_PASSWORD),
                ("password_confirmation", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Your password is changed"));
    assert_eq!(
        browser.get("/portal").await.path,
        "/portal",
        "this device stays signed in"
    );
    assert_eq!(other_device.get("/portal").await.path, "/portal/sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_reset_their_password_on_the_staff_pages() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(&[("SMTP_URL", &sink.url())]).await;
    let staff = app.staff("acme").await;
    let mut browser = WebClient::new(&app);
    let forgot = browser.get("/staff/forgot-password").await;
    assert!(
        !forgot.body.contains("name=\"organization\""),
        "staff emails are unique: no organization"
    );
    browser
        .submit(&forgot, "/staff/forgot-password", &[("email", &staff.email)])
        .await;
    let token = emailed_reset_token(&sink, "staff", 1).await;
    let form = browser.get(&format!("/staff/reset-password?token={token}")).await;
    let done = browser
        .submit(
            &form,
            "/staff/reset-password",
            &[
                ("token", &token),
                ("password", NEW_PASSWORD),
                ("password_confirmation", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Your new password is set"), "{}", done.body);
    assert!(
        !browser.cookies.contains_key("portal_session"),
        "staff get no portal cookie"
    );
    let login = |password: &'static str| {
        app.gql(
            None,
            "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }",
            json!({"e": staff.email, "p": password}),
        )
    };
    assert!(login(NEW_PASSWORD).await["data"]["staffLogin"]["token"].is_string());
    assert_eq!(
        login(STAFF_PASSWORD).await["errors"][0]["extensions"]["code"],
        "INVALID_CREDENTIALS"
    );
}

/// The first option's value of the `<select name="{name}">` on `page`.
fn first_option(page: &WebPage, name: &str) -> String {
    let select = &page.body[page.body.find(&format!("<select id=\"{name}\"")).expect("the select")..];
    let start = select.find("<option value=\"").expect("an option") + "<option value=\"".len();
    select[start..start + select[start..].find('"').expect("end")].to_owned()
}

#[tokio::test]
async fn a_customer_requests_assets_sees_errors_beside_the_field_and_cancels_a_request() {
    let app = TestApp::spawn().await;
    let w = world(&app, None).await;
    let mut browser = WebClient::new(&app);
    sign_up(&app, &mut browser, &w).await;
    let form = browser.get("/portal/requests/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert_private(&form);
    assert!(form.body.contains("Pier Site (Harbor Cafe)") && form.body.contains("Yard Site (Harbor Cafe)"));
    let location = first_option(&form, "location");
    let asset_type = first_option(&form, "asset_type");

    let refused = browser
        .submit(
            &form,
            "/portal/requests/new",
            &[
                ("location", &location),
                ("asset_type", &asset_type),
                ("quantity", "0"),
                ("needed_by", ""),
                ("notes", "Gate code <1234>"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"quantity-error\""),
        "the error is beside the quantity: {}",
        refused.body
    );
    assert!(
        refused.body.contains("Gate code &#60;1234&#62;</textarea>"),
        "the notes are kept: {}",
        refused.body
    );

    let sent = browser
        .submit(
            &form,
            "/portal/requests/new",
            &[
                ("location", &location),
                ("asset_type", &asset_type),
                ("quantity", "2"),
                ("needed_by", ""),
                ("notes", "Gate code <1234>"),
            ],
        )
        .await;
    assert_eq!(
        (sent.path.as_str(), sent.status),
        ("/portal/requests?done=sent", StatusCode::OK)
    );
    assert!(sent.body.contains("Your request is sent"), "{}", sent.body);
    assert!(sent.body.contains("Sent, waiting for review"));
    let dashboard = browser.get("/portal").await;
    assert!(
        dashboard.body.contains("Sent, waiting for review"),
        "open requests show on the dashboard"
    );

    let no_csrf = browser.post("/portal/requests/cancel", &[("id", "x")]).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let id = sent.field("/portal/requests/cancel", "id").expect("a cancel form");
    let cancelled = browser.submit(&sent, "/portal/requests/cancel", &[("id", &id)]).await;
    assert_eq!(cancelled.path, "/portal/requests?done=cancelled");
    assert!(cancelled.body.contains(">Cancelled"), "{}", cancelled.body);
    assert!(
        cancelled.field("/portal/requests/cancel", "id").is_none(),
        "no Cancel button any more"
    );
}

/// The id of invoice INV-1 (its link on the dashboard).
fn invoice_path(dashboard: &WebPage) -> String {
    let start = dashboard
        .body
        .find("href=\"/portal/invoices/")
        .expect("an invoice link")
        + "href=\"".len();
    dashboard.body[start..start + dashboard.body[start..].find('"').expect("end")].to_owned()
}

#[tokio::test]
async fn paying_an_invoice_shows_the_receipt_and_a_double_submit_pays_once() {
    let app = TestApp::spawn().await;
    let w = world(&app, None).await;
    let mut browser = WebClient::new(&app);
    let dashboard = sign_up(&app, &mut browser, &w).await;
    let path = invoice_path(&dashboard);

    let not_set_up = browser.get(&path).await;
    assert_eq!(not_set_up.status, StatusCode::OK);
    assert!(
        not_set_up.body.contains("has not set up online payments yet"),
        "{}",
        not_set_up.body
    );
    assert!(!not_set_up.body.contains("card_token"), "no Pay form");

    app.gql_ok(
        w.staff.auth(),
        "mutation { setOnlinePayments(enabled: true) { id } }",
        json!({}),
    )
    .await;
    let invoice = browser.get(&path).await;
    assert!(
        invoice.body.contains("Rental") && invoice.body.contains("$125.00"),
        "lines: {}",
        invoice.body
    );
    let pay = format!("{path}/pay");
    let declined = browser
        .submit(
            &invoice,
            &pay,
            &[("idempotency_key", "k-declined"), ("card_token", "tok_chargeDeclined")],
        )
        .await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED, "{}", declined.body);
    assert!(declined.body.contains("declined"), "{}", declined.body);

    let key = invoice.field(&pay, "idempotency_key").expect("a key per form");
    let csrf = invoice.field(&pay, "csrf").expect("csrf");
    let fields = [
        ("csrf", csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("card_token", "tok_visa"),
    ];
    let (first, second) = (browser.post(&pay, &fields).await, browser.post(&pay, &fields).await);
    for paid in [&first, &second] {
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
        assert!(paid.path.contains("?paid="), "{}", paid.path);
        assert!(paid.body.contains("Payment received"), "{}", paid.body);
        assert!(paid.body.contains("id=\"invoice-status\">Paid<"), "{}", paid.body);
    }
    assert_eq!(first.path, second.path, "the same payment both times");
    let payments = app
        .gql_ok(
            w.staff.auth(),
            "{ invoices { nodes { status payments { status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        payments["invoices"]["nodes"][0]["payments"],
        json!([{"status": "DECLINED"}, {"status": "SUCCEEDED"}]),
        "one charge for two submits"
    );
    let list = browser.get("/portal/invoices").await;
    assert!(
        list.body.contains("INV-1") && list.body.contains(">Paid<"),
        "{}",
        list.body
    );
    let unknown = browser
        .get("/portal/invoices/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_graphql_api_ignores_the_portal_cookie() {
    let app = TestApp::spawn().await;
    let w = world(&app, None).await;
    let mut browser = WebClient::new(&app);
    sign_up(&app, &mut browser, &w).await;
    let session = browser.cookies.get("portal_session").expect("signed in").clone();
    // What another site could make the browser send: the cookie, no header.
    let answer: serde_json::Value = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("cookie", format!("portal_session={session}"))
        .json(&json!({"query": "{ viewer { __typename } accounts { totalCount } }"}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["data"]["viewer"], serde_json::Value::Null, "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{answer}");
    // The same token as a bearer token is the customer.
    let viewer = app.gql_ok(Some(&session), "{ viewer { __typename } }", json!({})).await;
    assert_eq!(viewer["viewer"]["__typename"], "PortalUser");
}
