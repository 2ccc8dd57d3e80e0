//! Headless Chromium (Debian's `chromium`, driven by playwright-core from
//! `tests/js`) against the real api: the staff GraphiQL console, and CORS as
//! a page on another origin sees it.

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::{CUSTOMER_PASSWORD, STAFF_PASSWORD, TestApp, node_json};

fn screenshot(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("portal-tests");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir.join(name)
}

#[tokio::test]
async fn staff_sign_in_on_graphiql_see_the_docs_and_run_the_readme_accounts_query() {
    assert!(
        api::http::graphiql::bundles_available(),
        "this build has no GraphiQL bundles (the npm registry was not reachable from api/build.rs)"
    );
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    app.create_account(&staff, "C-1", "Riverside Construction", Some("maria@riverside.example"))
        .await;
    app.create_account(&staff, "C-2", "Harbor Events", None).await;
    let shot = screenshot("graphiql.png");
    let page = node_json(
        "graphiql-browser.mjs",
        vec![
            app.address.clone(),
            staff.email.clone(),
            STAFF_PASSWORD.to_owned(),
            shot.display().to_string(),
        ],
        true,
    )
    .await;
    eprintln!("GraphiQL screenshot: {}", shot.display());

    let tabs: Vec<&str> = page["tabs"]
        .as_array()
        .expect("tabs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tabs, ["StaffLogin", "Accounts", "Invite", "FailedEmails", "Access"]);

    let token = page["signIn"]["data"]["staffLogin"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("staffLogin in GraphiQL: {}", page["signIn"]));

    let docs = page["docs"].as_str().expect("docs text");
    assert!(docs.contains("All Schema Types"), "Docs shows no schema: {docs}");
    assert!(docs.contains("Account"), "Docs lists no Account: {docs}");
    assert!(docs.contains("accounts"), "Docs shows no Query.accounts: {docs}");

    let accounts = &page["accounts"];
    assert!(accounts["errors"].is_null(), "the Accounts tab: {accounts}");
    assert_eq!(accounts["data"]["accounts"]["totalCount"], 2, "{accounts}");
    let names: Vec<&str> = accounts["data"]["accounts"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|node| node["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{accounts}");
    assert!(names.contains(&"Riverside Construction"), "{accounts}");

    // Where the token went: nothing before signing in, then the session's
    // token on every request, the schema's reload included.
    let requests = page["requests"].as_array().expect("requests");
    let bearer = format!("Bearer {token}");
    let sign_in = requests
        .iter()
        .position(|r| r["operationName"] == "StaffLogin")
        .expect("the sign-in request");
    assert!(
        requests[..=sign_in].iter().all(|r| r["authorization"].is_null()),
        "requests before signing in carried a token: {requests:?}"
    );
    let after = &requests[sign_in + 1..];
    assert!(
        after.iter().any(|r| r["introspection"] == true),
        "GraphiQL did not load the schema again after signing in: {requests:?}"
    );
    assert!(
        after.iter().all(|r| r["authorization"] == bearer.as_str()),
        "a request after signing in went without the session's token: {requests:?}"
    );
}

/// A free loopback port (a later bind by someone else could take it; the
/// script binds it at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_calls_the_api_and_another_origin_is_blocked() {
    let (allowed, other) = (free_port(), free_port());
    let origin = format!("http://127.0.0.1:{allowed}");
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", &origin)]).await;
    let staff = app.staff("acme").await;
    let result = node_json(
        "cors-browser.mjs",
        vec![
            format!("{}/graphql", app.address),
            staff.token.clone(),
            allowed.to_string(),
            other.to_string(),
        ],
        true,
    )
    .await;

    let allowed = &result["allowed"];
    assert_eq!(allowed["origin"], origin.as_str());
    assert_eq!(allowed["ok"], true, "the allowed origin's fetch failed: {allowed}");
    assert_eq!(allowed["status"], 200, "{allowed}");
    assert_eq!(
        allowed["body"]["data"]["viewer"]["__typename"], "StaffUser",
        "the token went with the request: {allowed}"
    );
    assert!(
        allowed["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        "x-request-id is readable: {allowed}"
    );

    let other = &result["other"];
    assert_eq!(other["ok"], false, "another origin's page read the answer: {other}");
    assert!(
        other["error"].as_str().is_some_and(|e| e.contains("Failed to fetch")),
        "{other}"
    );
    assert!(
        other["console"].to_string().contains("CORS policy"),
        "Chromium names CORS as the reason: {other}"
    );
}

/// Where the portal journey's screenshots go: `<target>/portal-screenshots`.
fn portal_screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target"),
        PathBuf::from,
    );
    let dir = target.join("portal-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// The path and query of the link in the newest email whose text has
/// `marker` (e.g. `/portal/accept?token=`), waiting for it.
async fn emailed_path(sink: &testkit::smtp_sink::SmtpSink, marker: &str) -> String {
    let text = testkit::eventually(std::time::Duration::from_secs(20), async || {
        sink.messages()
            .into_iter()
            .rev()
            .filter_map(|m| m.text())
            .find(|text| text.contains(marker))
            .ok_or_else(|| format!("no email with {marker} yet"))
    })
    .await;
    let start = text.find(marker).expect("marker");
    let token: String = text[start + marker.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("{marker}{token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signs_up_requests_assets_pays_signs_out_and_resets_the_password_in_chromium() {
    let sink = testkit::smtp_sink::SmtpSink::start().await;
    let app = TestApp::spawn_with(&[("SMTP_URL", &sink.url())]).await;
    let staff = app.staff("acme").await;
    let email = "pat@customer.example";
    let account = app.create_account(&staff, "C-1", "Harbor Cafe", Some(email)).await;
    let pier = app.create_location(&staff, &account, "Pier Site").await;
    for tag in ["PT-101", "PT-102"] {
        let asset = app.create_asset(&staff, tag).await;
        app.deploy(&staff, &asset, Some(&pier)).await;
    }
    app.create_invoice(&staff, &account, "INV-1", &[("Rental", 2, 12_500)])
        .await;
    app.gql_ok(
        staff.auth(),
        "mutation { setOnlinePayments(enabled: true) { id } }",
        serde_json::json!({}),
    )
    .await;
    app.gql_ok(
        staff.auth(),
        "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
        serde_json::json!({"a": account}),
    )
    .await;
    let accept = emailed_path(&sink, "/portal/accept?token=").await;
    let shots = portal_screenshots();
    let profile = std::env::temp_dir().join(format!("portal-journey-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&profile).expect("profile dir");
    let args = |phase: &str, path: &str, extra: &[&str]| {
        let mut args = vec![
            phase.to_owned(),
            app.address.clone(),
            path.to_owned(),
            profile.display().to_string(),
            shots.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };

    let first = node_json(
        "portal-journey.mjs",
        args("sign-up", &accept, &[email, CUSTOMER_PASSWORD]),
        true,
    )
    .await;
    eprintln!("portal screenshots: {}", shots.display());
    assert_eq!(
        first["problems"],
        serde_json::json!([]),
        "console errors or CSP violations: {first}"
    );
    let dashboard = &first["dashboard"];
    assert_eq!(dashboard["url"], "/portal", "{first}");
    assert_eq!(
        dashboard["tags"],
        serde_json::json!(["PT-101", "PT-102"]),
        "{dashboard}"
    );
    assert_eq!(
        dashboard["stylesheetApplied"], true,
        "the stylesheet loads under the CSP"
    );
    let text = dashboard["text"].as_str().expect("text");
    assert!(
        text.contains("Harbor Cafe") && text.contains("$250.00") && text.contains("INV-1"),
        "{text}"
    );
    assert_eq!(
        first["phone"]["overflows"], false,
        "one column on a phone: {}",
        first["phone"]
    );
    // Requested: listed, and the staff were emailed.
    assert_eq!(
        first["requestStatuses"],
        serde_json::json!(["Sent, waiting for review"]),
        "{first}"
    );
    let requests = first["requests"]["text"].as_str().expect("text");
    assert!(
        requests.contains("2 × ") && requests.contains("Behind the <kitchen> door"),
        "{requests}"
    );
    testkit::eventually(std::time::Duration::from_secs(20), async || {
        let to_staff = sink
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_to == vec![staff.email.clone()] && m.subject().starts_with("New asset request"))
            .count();
        if to_staff == 1 {
            Ok(())
        } else {
            Err(format!("{to_staff} request emails to staff"))
        }
    })
    .await;
    // Paid: the receipt page, the invoice PAID, the receipt emailed.
    assert_eq!(first["paidStatus"], "Paid", "{}", first["paid"]);
    assert!(
        first["paid"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Payment received") && t.contains("$250.00")),
        "{}",
        first["paid"]
    );
    let invoice = app
        .gql_ok(staff.auth(), "{ invoices { nodes { status } } }", serde_json::json!({}))
        .await;
    assert_eq!(invoice["invoices"]["nodes"][0]["status"], "PAID");
    testkit::eventually(std::time::Duration::from_secs(20), async || {
        let receipts = sink
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_to == vec![email.to_owned()] && m.subject().to_lowercase().contains("receipt"))
            .count();
        if receipts == 1 {
            Ok(())
        } else {
            Err(format!("{receipts} receipts"))
        }
    })
    .await;
    assert_eq!(first["afterSignOut"]["url"], "/portal/sign-in", "signed out for real");
    assert!(
        first["checkEmail"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("on its way")),
        "{first}"
    );

    let reset = emailed_path(&sink, "/portal/reset-password?token=").await;
    let second = node_json(
        "portal-journey.mjs",
        args("reset", &reset, &["a brand new passphrase"]),
        true,
    )
    .await;
    assert_eq!(second["problems"], serde_json::json!([]), "{second}");
    assert_eq!(second["dashboard"]["url"], "/portal", "{second}");
    assert_eq!(second["dashboard"]["tags"], serde_json::json!(["PT-101", "PT-102"]));
    std::fs::remove_dir_all(&profile).ok();
    let login = app
        .gql(
            None,
            "mutation($e: String!) { portalLogin(organization: \"acme\", email: $e, password: \"a brand new passphrase\") { token } }",
            serde_json::json!({"e": email}),
        )
        .await;
    assert!(login["data"]["portalLogin"]["token"].is_string(), "{login}");
}
