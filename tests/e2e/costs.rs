//! What a document may cost: complexity counts each list's page size times
//! its rows' selection; `Invoice.payments` is bounded in SQL; anonymous
//! operations select at most a few root fields and `invitationPreview` is
//! rate limited; hourly quotas bound the emails and charges one tenant's
//! staff or one customer can cause.

use entity::{PaymentStatus, payment};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp};

const STAFF_DASHBOARD: &str = "query StaffDashboard($after: String) { accounts(first: 50, after: $after) { nodes { name contact { email } portalStatus balanceDue { formatted } locations { nodes { name address { city } assets { nodes { tag status assetType { name } } } } } } } }";

const DEEP: &str =
    "{ accounts(first: 100) { nodes { locations(first: 100) { nodes { assets(first: 100) { nodes { tag } } } } } } }";

#[tokio::test]
async fn nested_pages_multiply_their_cost_and_the_dashboards_still_fit() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    // A million assets asked for: refused before anything runs.
    let (code, error) = app.gql_err(staff.auth(), DEEP, json!({})).await;
    assert_eq!(code, "QUERY_TOO_COMPLEX", "{error}");
    // Under the old rule (one per field) it cost 10: pages multiply now.
    // The benchmark's staff dashboard (bench/src/dashboard.rs: default
    // pages of locations and assets nested under 50 accounts) passes.
    app.gql_ok(staff.auth(), STAFF_DASHBOARD, json!({"after": null})).await;
    // Small pages nest deeper.
    app.gql_ok(
        staff.auth(),
        "{ accounts(first: 10) { nodes { locations(first: 10) { nodes { assets(first: 10) { nodes { tag } } } } } } }",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn an_invoice_shows_its_latest_hundred_payments() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let invoice = app
        .create_invoice(&staff, &account, "INV-1", &[("Rental", 1, 1000)])
        .await;
    let invoice_id = Uuid::parse_str(&invoice).expect("uuid");
    let mut ids = Vec::new();
    for n in 0..105 {
        let row = payment::ActiveModel {
            id: Set(Uuid::now_v7()),
            organization_id: Set(staff.organization_id),
            invoice_id: Set(invoice_id),
            portal_user_id: Set(None),
            amount_cents: Set(1000),
            currency: Set("USD".to_owned()),
            status: Set(PaymentStatus::Declined),
            gateway_reference: Set(None),
            idempotency_key: Set(format!("attempt-{n}")),
            created_at: Set(chrono::Utc::now()),
        }
        .insert(&app.db)
        .await
        .expect("a payment attempt");
        ids.push(row.id.to_string());
    }
    let data = app
        .gql_ok(
            staff.auth(),
            "query($i: ID!) { invoice(id: $i) { payments { id } } }",
            json!({"i": invoice}),
        )
        .await;
    let shown: Vec<&str> = data["invoice"]["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    let latest: Vec<&str> = ids[5..].iter().map(String::as_str).collect();
    assert_eq!(shown, latest, "the latest 100, oldest first");
}

const PREVIEW: &str = "query($t: String!) { invitationPreview(token: $t) { status } }";

#[tokio::test]
async fn anonymous_documents_select_few_root_fields_and_previews_are_rate_limited() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let aliases = |n: usize| {
        let fields: Vec<String> = (0..n)
            .map(|i| format!("p{i}: invitationPreview(token: \"t{i}\") {{ status }}"))
            .collect();
        format!("{{ __typename {} }}", fields.join(" "))
    };
    let data = app.gql_ok(None, &aliases(5), json!({})).await;
    assert_eq!(data["p4"], Value::Null);
    let (code, error) = app.gql_err(None, &aliases(6), json!({})).await;
    assert_eq!(code, "QUERY_TOO_COMPLEX", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 5 root fields"))
    );
    // Signed in, the cap does not apply.
    let many: Vec<String> = (0..8).map(|i| format!("v{i}: viewer {{ __typename }}")).collect();
    app.gql_ok(staff.auth(), &format!("{{ {} }}", many.join(" ")), json!({}))
        .await;

    // Every opening of one link counts; past the limit, GraphQL and the
    // accept page both refuse.
    for _ in 0..60 {
        app.gql_ok(None, PREVIEW, json!({"t": "guess"})).await;
    }
    let (code, error) = app.gql_err(None, PREVIEW, json!({"t": "guess"})).await;
    assert_eq!(code, "RATE_LIMITED", "{error}");
    let page = app.get("/portal/accept?token=guess").await;
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("retry-after"));
    // Another link is another bucket.
    app.gql_ok(None, PREVIEW, json!({"t": "another"})).await;
}

async fn quota_error(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let (code, error) = app.gql_err(token, query, variables).await;
    assert_eq!(code, "RATE_LIMITED", "{error}");
    assert!(
        error["extensions"]["retryAfterSeconds"]
            .as_u64()
            .is_some_and(|s| s > 3000),
        "{error}"
    );
    error
}

const INVITE: &str = "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }";

async fn accounts(app: &TestApp, staff: &Staff, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.create_account(
                staff,
                &format!("C-{i}"),
                &format!("Customer {i}"),
                Some(&format!("c{i}@x.example")),
            )
            .await,
        );
    }
    ids
}

#[tokio::test]
async fn invitation_emails_per_organization_are_bounded_per_hour() {
    let app = TestApp::spawn_with(&[("INVITATIONS_PER_ORGANIZATION_PER_HOUR", "2")]).await;
    let staff = app.staff("acme").await;
    let other = app.staff("zenith").await;
    let ours = accounts(&app, &staff, 3).await;
    for account in &ours[..2] {
        app.gql_ok(staff.auth(), INVITE, json!({"a": account})).await;
    }
    let error = quota_error(&app, staff.auth(), INVITE, json!({"a": ours[2]})).await;
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains("INVITATIONS_PER_ORGANIZATION_PER_HOUR") && message.contains("at most 2"),
        "{message}"
    );
    // Another organization has its own quota.
    let theirs = accounts(&app, &other, 1).await;
    app.gql_ok(other.auth(), INVITE, json!({"a": theirs[0]})).await;
}

#[tokio::test]
async fn asset_requests_and_payment_attempts_per_user_are_bounded_per_hour() {
    let app = TestApp::spawn_with(&[
        ("ASSET_REQUESTS_PER_USER_PER_HOUR", "1"),
        ("PAYMENT_ATTEMPTS_PER_USER_PER_HOUR", "2"),
    ])
    .await;
    let staff = app.staff("acme").await;
    let account = accounts(&app, &staff, 1).await.remove(0);
    let location = app.create_location(&staff, &account, "Yard").await;
    let customer = app.invite_and_accept(&staff, &account, None, "Maria").await;
    let asset_type = app.asset_type_id(&staff).await;
    app.request_asset(&customer, &location, &asset_type).await;
    let error = quota_error(
        &app,
        Some(&customer),
        "mutation($l: ID!, $t: ID!) { requestAsset(input: {locationId: $l, assetTypeId: $t, quantity: 1}) { id } }",
        json!({"l": location, "t": asset_type}),
    )
    .await;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("ASSET_REQUESTS_PER_USER_PER_HOUR"))
    );

    app.gql_ok(
        staff.auth(),
        "mutation { setOnlinePayments(enabled: true) { onlinePaymentsEnabled } }",
        json!({}),
    )
    .await;
    let invoice = app
        .create_invoice(&staff, &account, "INV-1", &[("Rental", 1, 1000)])
        .await;
    const PAY: &str = "mutation($i: ID!, $t: String!, $k: String!) { payInvoice(invoiceId: $i, paymentMethodToken: $t, idempotencyKey: $k) { status } }";
    for key in ["k1", "k2"] {
        let (code, _) = app
            .gql_err(
                Some(&customer),
                PAY,
                json!({"i": invoice, "t": "tok_chargeDeclined", "k": key}),
            )
            .await;
        assert_eq!(code, "PAYMENT_DECLINED");
    }
    let error = quota_error(
        &app,
        Some(&customer),
        PAY,
        json!({"i": invoice, "t": "tok_visa", "k": "k3"}),
    )
    .await;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("PAYMENT_ATTEMPTS_PER_USER_PER_HOUR"))
    );
}

/// Nested connections read one page per parent in SQL: at most `first + 1`
/// rows of each parent's children (the extra row says a next page exists),
/// however many there are, while `totalCount` and the pages themselves stay
/// what paging in memory gave.
#[tokio::test]
async fn nested_pages_read_at_most_first_plus_one_rows_per_parent() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let inserted = app.insert_accounts(staff.organization_id, 3, 12, 9).await;
    let scope = service::Scope::organization(staff.organization_id);
    let page = service::Page::new(Some(4), None).expect("page");

    let locations = service::locations::page_of_accounts(&app.db, &scope, &inserted.accounts, page)
        .await
        .expect("locations");
    for account in &inserted.accounts {
        assert_eq!(locations[account].len(), 5, "first + 1 of 12 locations");
    }
    let of_accounts = service::assets::page_of_accounts(&app.db, &scope, &inserted.accounts, None, page)
        .await
        .expect("assets of accounts");
    for account in &inserted.accounts {
        assert_eq!(
            of_accounts[account].len(),
            5,
            "first + 1 of 108 assets across 12 locations"
        );
    }
    let some_locations: Vec<Uuid> = inserted.locations.iter().take(3).copied().collect();
    let assets = service::assets::page_at_locations(&app.db, &scope, &some_locations, None, page)
        .await
        .expect("assets");
    for location in &some_locations {
        assert_eq!(assets[location].len(), 5, "first + 1 of 9 assets");
    }
    // After a cursor: the rows that follow it, per parent.
    let first_rows: Vec<Uuid> = some_locations.iter().map(|l| assets[l][3].id).collect();
    let after =
        service::Page::new(Some(4), Some(&api::graphql::connection::encode_cursor(first_rows[0]))).expect("page after");
    let next = service::assets::page_at_locations(&app.db, &scope, &some_locations[..1], None, after)
        .await
        .expect("next page");
    assert_eq!(next[&some_locations[0]].len(), 5);
    assert!(next[&some_locations[0]].iter().all(|a| a.id > first_rows[0]));

    // Through GraphQL: pages, cursors and counts as before.
    let data = app
        .gql_ok(
            staff.auth(),
            "{ accounts(first: 3) { nodes { assets(first: 4) { totalCount pageInfo { hasNextPage } nodes { id } } locations(first: 4) { totalCount pageInfo { hasNextPage } nodes { assets(first: 4) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } } } } } }",
            json!({}),
        )
        .await;
    for account in data["accounts"]["nodes"].as_array().expect("accounts") {
        assert_eq!(account["assets"]["totalCount"], 108);
        assert_eq!(account["assets"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(account["assets"]["nodes"].as_array().expect("assets").len(), 4);
        let locations = &account["locations"];
        assert_eq!(locations["totalCount"], 12);
        assert_eq!(locations["pageInfo"]["hasNextPage"], true);
        let nodes = locations["nodes"].as_array().expect("locations");
        assert_eq!(nodes.len(), 4);
        for location in nodes {
            assert_eq!(location["assets"]["totalCount"], 9);
            assert_eq!(location["assets"]["pageInfo"]["hasNextPage"], true);
            assert_eq!(location["assets"]["nodes"].as_array().expect("assets").len(), 4);
        }
    }
}
