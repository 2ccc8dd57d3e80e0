//! Invoices: `createInvoice` (lines, total, amount due), `invoice(s)` with
//! their filters, `balanceDue` on the account, and `setOnlinePayments`
//! deciding whether an open invoice is payable.

use entity::{InvoiceStatus, invoice};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, field, ids};

const CREATE: &str = "mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) {
    id number account { id } location { id } issuedOn dueOn status
    total { amountCents currency formatted } amountDue { amountCents currency formatted }
    lines { description quantity unitPrice { amountCents formatted } amount { amountCents formatted } }
    payments { id } payable } }";

/// Marks an invoice as the payment flow or a void would leave it.
async fn set_status(app: &TestApp, id: &str, status: InvoiceStatus) {
    let row = invoice::Entity::find_by_id(Uuid::parse_str(id).expect("uuid"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("invoice");
    let mut active: invoice::ActiveModel = row.into();
    active.status = Set(status);
    active.amount_due_cents = Set(0);
    active.update(&app.db).await.expect("update invoice");
}

#[tokio::test]
async fn create_invoice_computes_line_amounts_the_total_and_the_amount_due() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let location = app.create_location(&staff, &account, "Tower").await;
    let created = app
        .gql_ok(
            staff.auth(),
            CREATE,
            json!({"input": {
                "accountId": account, "locationId": location, "number": "INV-5001",
                "issuedOn": "2026-11-01", "dueOn": "2026-12-01", "currency": "usd",
                "lines": [
                    {"description": "Portable toilet rental, 28 days", "quantity": 12, "unitPriceCents": 14_500},
                    {"description": " Weekly service ", "quantity": 4, "unitPriceCents": 3_505},
                    {"description": "Delivery", "quantity": 1, "unitPriceCents": 0}
                ]
            }}),
        )
        .await["createInvoice"]
        .clone();
    let id = created["id"].as_str().expect("id").to_owned();
    let expected = json!({
        "id": id, "number": "INV-5001", "account": {"id": account}, "location": {"id": location},
        "issuedOn": "2026-11-01", "dueOn": "2026-12-01", "status": "OPEN",
        "total": {"amountCents": 188_020, "currency": "USD", "formatted": "$1,880.20"},
        "amountDue": {"amountCents": 188_020, "currency": "USD", "formatted": "$1,880.20"},
        "lines": [
            {"description": "Portable toilet rental, 28 days", "quantity": 12,
             "unitPrice": {"amountCents": 14_500, "formatted": "$145.00"},
             "amount": {"amountCents": 174_000, "formatted": "$1,740.00"}},
            {"description": "Weekly service", "quantity": 4,
             "unitPrice": {"amountCents": 3_505, "formatted": "$35.05"},
             "amount": {"amountCents": 14_020, "formatted": "$140.20"}},
            {"description": "Delivery", "quantity": 1,
             "unitPrice": {"amountCents": 0, "formatted": "$0.00"},
             "amount": {"amountCents": 0, "formatted": "$0.00"}}
        ],
        "payments": [], "payable": false,
    });
    assert_eq!(created, expected);

    let read = app
        .gql_ok(
            staff.auth(),
            &CREATE.replace(
                "mutation($input: CreateInvoiceInput!) { createInvoice(input: $input)",
                "query($id: ID!) { invoice(id: $id)",
            ),
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["invoice"], expected);
    let data = app
        .gql_ok(
            staff.auth(),
            "query($a: ID!) { account(id: $a) { balanceDue { amountCents formatted } invoices { totalCount nodes { id } } } }",
            json!({"a": account}),
        )
        .await;
    assert_eq!(
        data["account"]["balanceDue"],
        json!({"amountCents": 188_020, "formatted": "$1,880.20"})
    );
    assert_eq!(ids(&data["account"]["invoices"]), vec![id]);
}

#[tokio::test]
async fn balance_due_sums_the_amount_due_of_open_invoices_only() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let other = app.create_account(&staff, "C-2", "Lakeview", None).await;
    let open = app
        .create_invoice(&staff, &account, "INV-1", &[("Rental", 2, 14_500)])
        .await;
    let paid = app
        .create_invoice(&staff, &account, "INV-2", &[("Rental", 1, 9_999)])
        .await;
    let void = app
        .create_invoice(&staff, &account, "INV-3", &[("Rental", 1, 5_000)])
        .await;
    let open_too = app
        .create_invoice(&staff, &account, "INV-4", &[("Service", 3, 1_000)])
        .await;
    let others = app
        .create_invoice(&staff, &other, "INV-5", &[("Rental", 1, 100_000)])
        .await;
    set_status(&app, &paid, InvoiceStatus::Paid).await;
    set_status(&app, &void, InvoiceStatus::Void).await;

    let data = app
        .gql_ok(
            staff.auth(),
            "query($a: ID!) {
                account(id: $a) {
                    balanceDue { amountCents currency formatted }
                    all: invoices { totalCount nodes { id } }
                    open: invoices(status: OPEN) { totalCount nodes { id } }
                    paid: invoices(status: PAID) { nodes { id status amountDue { amountCents } total { amountCents } } } }
                ofAccount: invoices(accountId: $a) { totalCount nodes { id } }
                openOfAccount: invoices(accountId: $a, status: OPEN) { nodes { id } }
                allOpen: invoices(status: OPEN) { totalCount nodes { id } }
                voided: invoices(status: VOID) { nodes { id } } }",
            json!({"a": account}),
        )
        .await;
    let acc = &data["account"];
    assert_eq!(
        acc["balanceDue"],
        json!({"amountCents": 32_000, "currency": "USD", "formatted": "$320.00"})
    );
    assert_eq!(
        ids(&acc["all"]),
        vec![open.clone(), paid.clone(), void.clone(), open_too.clone()]
    );
    assert_eq!(acc["all"]["totalCount"], 4);
    assert_eq!(ids(&acc["open"]), vec![open.clone(), open_too.clone()]);
    assert_eq!(acc["open"]["totalCount"], 2);
    assert_eq!(
        acc["paid"]["nodes"],
        json!([{"id": paid, "status": "PAID", "amountDue": {"amountCents": 0}, "total": {"amountCents": 9_999}}])
    );
    assert_eq!(
        ids(&data["ofAccount"]),
        vec![open.clone(), paid, void.clone(), open_too.clone()]
    );
    assert_eq!(ids(&data["openOfAccount"]), vec![open.clone(), open_too.clone()]);
    assert_eq!(ids(&data["allOpen"]), vec![open, open_too, others]);
    assert_eq!(ids(&data["voided"]), vec![void]);
}

#[tokio::test]
async fn an_open_invoice_is_payable_only_while_online_payments_are_enabled() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let open = app
        .create_invoice(&staff, &account, "INV-1", &[("Rental", 1, 100)])
        .await;
    let paid = app
        .create_invoice(&staff, &account, "INV-2", &[("Rental", 1, 100)])
        .await;
    let free = app
        .create_invoice(&staff, &account, "INV-3", &[("Goodwill", 1, 0)])
        .await;
    set_status(&app, &paid, InvoiceStatus::Paid).await;
    let payable = "query($a: ID!, $b: ID!, $c: ID!) { organization { onlinePaymentsEnabled }
        open: invoice(id: $a) { payable } paid: invoice(id: $b) { payable } free: invoice(id: $c) { payable } }";
    let vars = json!({"a": open, "b": paid, "c": free});
    let switch = "mutation($on: Boolean!) { setOnlinePayments(enabled: $on) { id slug onlinePaymentsEnabled } }";

    let before = app.gql_ok(staff.auth(), payable, vars.clone()).await;
    assert_eq!(
        before,
        json!({"organization": {"onlinePaymentsEnabled": false},
               "open": {"payable": false}, "paid": {"payable": false}, "free": {"payable": false}})
    );

    let on = app.gql_ok(staff.auth(), switch, json!({"on": true})).await;
    assert_eq!(
        on["setOnlinePayments"],
        json!({"id": staff.organization_id.to_string(), "slug": "acme", "onlinePaymentsEnabled": true})
    );
    // Staff never pay (payInvoice is FORBIDDEN to them), so to them nothing
    // is payable; payments.rs checks what a portal user sees.
    let enabled = app.gql_ok(staff.auth(), payable, vars.clone()).await;
    assert_eq!(
        enabled,
        json!({"organization": {"onlinePaymentsEnabled": true},
               "open": {"payable": false}, "paid": {"payable": false}, "free": {"payable": false}})
    );

    let off = app.gql_ok(staff.auth(), switch, json!({"on": false})).await;
    assert_eq!(off["setOnlinePayments"]["onlinePaymentsEnabled"], false);
    assert_eq!(app.gql_ok(staff.auth(), payable, vars).await, before);
}

#[tokio::test]
async fn create_invoice_rejects_bad_input_naming_the_field_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let other_account = app.create_account(&staff, "C-2", "Lakeview", None).await;
    let others_location = app.create_location(&staff, &other_account, "Amphitheater").await;
    app.create_invoice(&staff, &account, "INV-1", &[("Rental", 1, 100)])
        .await;
    let line = json!({"description": "Rental", "quantity": 1, "unitPriceCents": 100});
    let base = json!({"accountId": account, "number": "INV-2", "issuedOn": "2026-11-01",
                      "dueOn": "2026-12-01", "currency": "USD", "lines": [line]});
    let with = |key: &str, value: serde_json::Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    let cases = [
        (with("number", json!("INV-1")), "input.number"),
        (with("number", json!(" ")), "input.number"),
        (with("dueOn", json!("2026-10-31")), "input.dueOn"),
        (with("currency", json!("US")), "input.currency"),
        (with("currency", json!("U$D")), "input.currency"),
        (with("lines", json!([])), "input.lines"),
        (
            with(
                "lines",
                json!([line, {"description": "x", "quantity": 0, "unitPriceCents": 1}]),
            ),
            "input.lines.1.quantity",
        ),
        (
            with(
                "lines",
                json!([{"description": "x", "quantity": 1, "unitPriceCents": -1}]),
            ),
            "input.lines.0.unitPriceCents",
        ),
        (
            with(
                "lines",
                json!([{"description": " ", "quantity": 1, "unitPriceCents": 1}]),
            ),
            "input.lines.0.description",
        ),
        (
            with(
                "lines",
                json!([{"description": "x", "quantity": 1_000_000, "unitPriceCents": 1_000_000}]),
            ),
            "input.lines",
        ),
        (with("locationId", json!(others_location)), "input.locationId"),
    ];
    for (input, expected) in cases {
        let (code, error) = app.gql_err(staff.auth(), CREATE, json!({"input": input})).await;
        assert_eq!(code, "BAD_USER_INPUT", "{expected}: {error}");
        assert_eq!(field(&error), expected, "{error}");
    }
    let (code, _) = app
        .gql_err(
            staff.auth(),
            CREATE,
            json!({"input": with("accountId", json!(Uuid::now_v7().to_string()))}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, error) = app
        .gql_err(
            staff.auth(),
            CREATE,
            json!({"input": with("locationId", json!(Uuid::now_v7().to_string()))}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(error["message"], "location not found");

    let data = app
        .gql_ok(staff.auth(), "{ invoices { totalCount nodes { number } } }", json!({}))
        .await;
    assert_eq!(
        data["invoices"],
        json!({"totalCount": 1, "nodes": [{"number": "INV-1"}]})
    );
}

#[tokio::test]
async fn a_page_of_accounts_reads_balances_and_portal_statuses_with_its_rows_as_each_account_answers_alone() {
    // The sweeper stays asleep so the counter sees the request alone.
    let app = TestApp::spawn_with(&[("OUTBOX_SWEEP_INTERVAL_MS", "3600000")]).await;
    let staff = app.staff("acme").await;
    let mixed = app.create_account(&staff, "C-1", "Riverside", None).await;
    let plain = app
        .create_account(&staff, "C-2", "Lakeview", Some("ops@lakeview.example"))
        .await;
    let empty = app.create_account(&staff, "C-3", "Hillcrest", None).await;
    app.gql_ok(
        staff.auth(),
        "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
        json!({"a": plain}),
    )
    .await;
    let first = app
        .create_invoice(&staff, &mixed, "INV-1", &[("Rental", 2, 14_500)])
        .await;
    app.create_invoice(&staff, &mixed, "INV-2", &[("Service", 3, 1_000)])
        .await;
    let paid = app
        .create_invoice(&staff, &plain, "INV-3", &[("Rental", 1, 9_999)])
        .await;
    app.create_invoice(&staff, &plain, "INV-4", &[("Rental", 1, 100_000)])
        .await;
    set_status(&app, &paid, InvoiceStatus::Paid).await;
    // The balance is in the currency of the first open invoice (by id).
    let row = invoice::Entity::find_by_id(Uuid::parse_str(&first).expect("uuid"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("invoice");
    let mut active: invoice::ActiveModel = row.into();
    active.currency = Set("EUR".to_owned());
    active.update(&app.db).await.expect("update invoice");

    let before = app.statements.get();
    let page = app
        .gql_ok(
            staff.auth(),
            "{ accounts(first: 10) { nodes { id portalStatus balanceDue { amountCents currency } } } }",
            json!({}),
        )
        .await;
    let statements = app.statements.get() - before;
    let nodes = page["accounts"]["nodes"].as_array().expect("nodes").clone();
    assert_eq!(
        nodes,
        vec![
            json!({"id": mixed, "portalStatus": "NOT_CONNECTED", "balanceDue": {"amountCents": 32_000, "currency": "EUR"}}),
            json!({"id": plain, "portalStatus": "INVITED", "balanceDue": {"amountCents": 100_000, "currency": "USD"}}),
            json!({"id": empty, "portalStatus": "NOT_CONNECTED", "balanceDue": {"amountCents": 0, "currency": "USD"}}),
        ]
    );
    // The session, then the page with both values: nothing per field.
    assert_eq!(
        statements, 2,
        "the balances and portal statuses come with the page's rows"
    );
    for node in &nodes {
        let alone = app
            .gql_ok(
                staff.auth(),
                "query($a: ID!) { account(id: $a) { id portalStatus balanceDue { amountCents currency } } }",
                json!({"a": node["id"]}),
            )
            .await;
        assert_eq!(&alone["account"], node, "the page and the account alone disagree");
    }
}
