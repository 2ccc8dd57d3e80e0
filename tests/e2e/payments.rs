//! Paying invoices in the portal: `payInvoice` end to end through the
//! sandbox gateway (`tok_visa` succeeds, `tok_chargeDeclined` is declined),
//! with a customer made the way a real one is (invitation → link →
//! `acceptInvitation`) and the receipt email sent by the in-process queue
//! into an `.eml` file. Two tests call the payment service directly with a
//! gateway that counts its charges, to prove "never charges twice" against
//! the gateway itself rather than against our own rows.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use api::{
    auth::Grants,
    error::ApiError,
    payments::{BoxFuture, ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway, SandboxGateway},
};
use entity::{DeliveryStatus, EmailKind, PaymentStatus, audit_event, email_delivery, payment, portal_user};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use service::{
    Scope,
    payments::{self, PayInvoice},
};
use testkit::{eventually, smtp_sink::ReceivedEmail};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp, field, sent_link};

const PAY: &str = "mutation($i: ID!, $t: String!, $k: String!) { payInvoice(invoiceId: $i, paymentMethodToken: $t, idempotencyKey: $k) { id status amount { amountCents currency formatted } gatewayReference createdAt invoice { id status amountDue { amountCents } } } }";
const INVOICE: &str = "query($id: ID!) { invoice(id: $id) { id number status payable amountDue { amountCents } payments { id status amount { amountCents } gatewayReference } account { balanceDue { amountCents } } } }";
const CUSTOMER_EMAIL: &str = "maria@riverside.example";
const CUSTOMER_NAME: &str = "Maria Lopez";

/// An organization with one account whose contact signed up
/// for the portal, and an open invoice of $1,234.50 billed to the account.
struct Billing {
    app: TestApp,
    staff: Staff,
    account: String,
    /// The customer's session token.
    customer: String,
    /// INV-1001, $1,234.50, billed to the account as a whole.
    invoice: String,
}

impl Billing {
    async fn new(payments_enabled: bool) -> Self {
        let app = TestApp::spawn().await;
        let staff = app.staff("acme").await;
        let account = app
            .create_account(&staff, "C-1001", "Riverside Construction", Some(CUSTOMER_EMAIL))
            .await;
        let customer = sign_up(&app, &staff, &account, None, CUSTOMER_NAME).await;
        let invoice = create_invoice(&app, &staff, &account, None, "INV-1001", 123_450).await;
        if payments_enabled {
            enable_payments(&app, &staff).await;
        }
        Self {
            app,
            staff,
            account,
            customer,
            invoice,
        }
    }

    async fn pay(&self, token: Option<&str>, invoice: &str, card: &str, key: &str) -> Value {
        self.app
            .gql(token, PAY, json!({"i": invoice, "t": card, "k": key}))
            .await
    }

    async fn pay_ok(&self, invoice: &str, card: &str, key: &str) -> Value {
        let response = self.pay(Some(&self.customer), invoice, card, key).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
        response["data"]["payInvoice"].clone()
    }

    async fn pay_err(&self, token: Option<&str>, invoice: &str, card: &str, key: &str) -> (String, Value) {
        self.app
            .gql_err(token, PAY, json!({"i": invoice, "t": card, "k": key}))
            .await
    }

    /// The invoice as `token`'s viewer sees it (`null` when invisible).
    async fn invoice_as(&self, token: &str, invoice: &str) -> Value {
        self.app.gql_ok(Some(token), INVOICE, json!({"id": invoice})).await["invoice"].clone()
    }

    async fn balance_due(&self, token: &str) -> i64 {
        let data = self
            .app
            .gql_ok(
                Some(token),
                "query($id: ID!) { account(id: $id) { balanceDue { amountCents } } }",
                json!({"id": self.account}),
            )
            .await;
        data["account"]["balanceDue"]["amountCents"]
            .as_i64()
            .expect("balanceDue")
    }

    async fn payment_rows(&self) -> Vec<payment::Model> {
        payment::Entity::find().all(&self.app.db).await.expect("payments")
    }

    async fn receipts(&self) -> Vec<entity::email_delivery::Model> {
        email_delivery::Entity::find()
            .filter(email_delivery::Column::Kind.eq(EmailKind::PaymentReceipt))
            .all(&self.app.db)
            .await
            .expect("deliveries")
    }

    /// The customer as the service layer takes it.
    async fn payer(&self) -> (portal_user::Model, Scope) {
        let user = portal_user::Entity::find()
            .filter(portal_user::Column::Email.eq(CUSTOMER_EMAIL))
            .one(&self.app.db)
            .await
            .expect("find")
            .expect("the customer signed up");
        let grants = Grants::load(&self.app.db, user.id).await.expect("grants");
        let scope = Scope::portal(user.organization_id, std::sync::Arc::new(grants));
        (user, scope)
    }
}

/// Invites `account`'s contact (for `locations`, or the whole account), waits
/// for the invitation email to be sent, accepts with the link; returns the
/// new portal user's session token.
async fn sign_up(app: &TestApp, staff: &Staff, account: &str, locations: Option<Vec<&str>>, name: &str) -> String {
    let invited = app
        .gql_ok(
            staff.auth(),
            "mutation($a: ID!, $l: [ID!]) { inviteToPortal(accountId: $a, locationIds: $l) { id } }",
            json!({"a": account, "l": locations}),
        )
        .await;
    let id = Uuid::parse_str(invited["inviteToPortal"]["id"].as_str().expect("id")).expect("uuid");
    let link = sent_link(app, id).await;
    let accepted = app
        .gql_ok(
            None,
            "mutation($t: String!, $n: String!, $p: String!) { acceptInvitation(token: $t, name: $n, password: $p) { token } }",
            json!({"t": link, "n": name, "p": "a customer password"}),
        )
        .await;
    accepted["acceptInvitation"]["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// `createInvoice` with one line of `cents`, billed to `location` when given.
async fn create_invoice(
    app: &TestApp,
    staff: &Staff,
    account: &str,
    location: Option<&str>,
    number: &str,
    cents: i32,
) -> String {
    let data = app
        .gql_ok(
            staff.auth(),
            "mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { id } }",
            json!({"input": {
                "accountId": account, "locationId": location, "number": number,
                "issuedOn": "2026-11-01", "dueOn": "2026-12-01", "currency": "USD",
                "lines": [{"description": "Portable toilet rental, November", "quantity": 1, "unitPriceCents": cents}]
            }}),
        )
        .await;
    data["createInvoice"]["id"].as_str().expect("invoice id").to_owned()
}

async fn enable_payments(app: &TestApp, staff: &Staff) {
    let data = app
        .gql_ok(
            staff.auth(),
            "mutation { setOnlinePayments(enabled: true) { onlinePaymentsEnabled } }",
            json!({}),
        )
        .await;
    assert_eq!(data["setOnlinePayments"]["onlinePaymentsEnabled"], true);
}

fn key() -> String {
    Uuid::new_v4().to_string()
}

/// Waits, with a deadline, until the delivery is SENT.
async fn wait_until_sent(app: &TestApp, id: Uuid) -> email_delivery::Model {
    eventually(Duration::from_secs(20), async || {
        let row = email_delivery::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .expect("find")
            .expect("the delivery exists");
        if row.status == DeliveryStatus::Sent {
            Ok(row)
        } else {
            Err(format!("the receipt was not sent: {row:?}"))
        }
    })
    .await
}

/// The `.eml` file the in-process queue wrote for a delivery.
fn written_email(app: &TestApp, delivery_id: Uuid) -> ReceivedEmail {
    let suffix = format!("-{delivery_id}.eml");
    let path = std::fs::read_dir(&app.settings.mail_outbox_dir)
        .expect("the outbox directory exists")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.to_string_lossy().ends_with(&suffix))
        .expect("an .eml file named after the delivery");
    ReceivedEmail {
        mail_from: String::new(),
        rcpt_to: Vec::new(),
        data: std::fs::read_to_string(path).expect("read .eml"),
    }
}

#[tokio::test]
async fn paying_before_online_payments_are_enabled_answers_payments_not_enabled() {
    let billing = Billing::new(false).await;
    let seen = billing.invoice_as(&billing.customer, &billing.invoice).await;
    assert_eq!(seen["payable"], false);
    let (code, _) = billing
        .pay_err(Some(&billing.customer), &billing.invoice, "tok_visa", &key())
        .await;
    assert_eq!(code, "PAYMENTS_NOT_ENABLED");
    assert!(billing.payment_rows().await.is_empty(), "nothing charged or recorded");

    enable_payments(&billing.app, &billing.staff).await;
    let seen = billing.invoice_as(&billing.customer, &billing.invoice).await;
    assert_eq!(seen["payable"], true);
}

#[tokio::test]
async fn a_declined_card_records_a_declined_payment_and_leaves_the_invoice_open() {
    let billing = Billing::new(true).await;
    let before = billing.balance_due(&billing.customer).await;
    assert_eq!(before, 123_450);
    let declined_key = key();
    let (code, _) = billing
        .pay_err(
            Some(&billing.customer),
            &billing.invoice,
            "tok_chargeDeclined",
            &declined_key,
        )
        .await;
    assert_eq!(code, "PAYMENT_DECLINED");

    let seen = billing.invoice_as(&billing.customer, &billing.invoice).await;
    assert_eq!(seen["status"], "OPEN");
    assert_eq!(seen["amountDue"]["amountCents"], 123_450);
    assert_eq!(seen["payable"], true, "the customer may try another card");
    let payments = seen["payments"].as_array().expect("payments");
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["status"], "DECLINED");
    assert!(payments[0]["gatewayReference"].is_null());
    assert_eq!(billing.balance_due(&billing.customer).await, before);
    assert!(billing.receipts().await.is_empty(), "no receipt for a decline");
    let paid_events = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("INVOICE_PAID"))
        .count(&billing.app.db)
        .await
        .expect("count");
    assert_eq!(paid_events, 0);

    // The key replays the decline, even with a good card, without a new charge.
    let (code, _) = billing
        .pay_err(Some(&billing.customer), &billing.invoice, "tok_visa", &declined_key)
        .await;
    assert_eq!(code, "PAYMENT_DECLINED");
    assert_eq!(billing.payment_rows().await.len(), 1);

    // A new key with a good card pays.
    let paid = billing.pay_ok(&billing.invoice, "tok_visa", &key()).await;
    assert_eq!(paid["status"], "SUCCEEDED");
}

#[tokio::test]
async fn a_successful_payment_marks_the_invoice_paid_audits_it_and_emails_a_receipt() {
    let billing = Billing::new(true).await;
    let other = create_invoice(&billing.app, &billing.staff, &billing.account, None, "INV-1002", 10_000).await;
    assert_eq!(billing.balance_due(&billing.customer).await, 133_450);
    assert_eq!(billing.balance_due(&billing.staff.token).await, 133_450);

    let paid = billing.pay_ok(&billing.invoice, "tok_visa", &key()).await;
    assert_eq!(paid["status"], "SUCCEEDED");
    assert_eq!(
        paid["amount"],
        json!({"amountCents": 123_450, "currency": "USD", "formatted": "$1,234.50"})
    );
    let reference = paid["gatewayReference"]
        .as_str()
        .expect("a gateway reference")
        .to_owned();
    assert!(reference.starts_with("sandbox_ch_"), "{reference}");
    assert_eq!(paid["invoice"]["status"], "PAID");
    assert_eq!(paid["invoice"]["amountDue"]["amountCents"], 0);

    let seen = billing.invoice_as(&billing.customer, &billing.invoice).await;
    assert_eq!(seen["status"], "PAID");
    assert_eq!(seen["payable"], false);
    assert_eq!(seen["amountDue"]["amountCents"], 0);
    assert_eq!(
        seen["payments"],
        json!([{"id": paid["id"], "status": "SUCCEEDED", "amount": {"amountCents": 123_450}, "gatewayReference": reference}])
    );
    assert_eq!(billing.balance_due(&billing.customer).await, 10_000);
    assert_eq!(billing.balance_due(&billing.staff.token).await, 10_000);
    let still_open = billing.invoice_as(&billing.customer, &other).await;
    assert_eq!(still_open["status"], "OPEN");

    // The audit log names the customer, the amount and the invoice.
    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("INVOICE_PAID"))
        .all(&billing.app.db)
        .await
        .expect("events");
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.actor_name.as_deref(), Some(CUSTOMER_NAME));
    assert_eq!(
        event.account_id.map(|id| id.to_string()).as_deref(),
        Some(billing.account.as_str())
    );
    let detail = event.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("$1,234.50") && detail.contains("INV-1001"), "{detail}");

    // One receipt to the payer, sent by the in-process queue into a file.
    let receipts = billing.receipts().await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0].recipient, CUSTOMER_EMAIL);
    let sent = wait_until_sent(&billing.app, receipts[0].id).await;
    assert_eq!(sent.attempts, 1);
    let email = written_email(&billing.app, sent.id);
    assert_eq!(email.header("To").as_deref(), Some(CUSTOMER_EMAIL));
    assert!(email.subject().contains("INV-1001"), "{}", email.subject());
    let text = email.text().expect("a text part");
    for expected in ["INV-1001", "$1,234.50", reference.as_str(), "Org acme"] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    let html = email.html().expect("an HTML part");
    assert!(html.contains("INV-1001") && html.contains("$1,234.50"), "{html}");
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_first_payment_without_charging_again() {
    let billing = Billing::new(true).await;
    let same = key();
    let first = billing.pay_ok(&billing.invoice, "tok_visa", &same).await;
    let again = billing.pay_ok(&billing.invoice, "tok_visa", &same).await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["gatewayReference"], first["gatewayReference"]);
    assert_eq!(again["status"], "SUCCEEDED");
    assert_eq!(billing.payment_rows().await.len(), 1, "one charge");
    assert_eq!(billing.receipts().await.len(), 1, "one receipt");

    // Keys are the organization's: the same key on another invoice is refused.
    let other = create_invoice(&billing.app, &billing.staff, &billing.account, None, "INV-1002", 5_000).await;
    let (code, error) = billing
        .pay_err(Some(&billing.customer), &other, "tok_visa", &same)
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(field(&error), "idempotencyKey");
    assert_eq!(billing.payment_rows().await.len(), 1);
}

#[tokio::test]
async fn paying_a_paid_invoice_with_a_new_key_answers_invoice_not_payable() {
    let billing = Billing::new(true).await;
    billing.pay_ok(&billing.invoice, "tok_visa", &key()).await;
    let (code, _) = billing
        .pay_err(Some(&billing.customer), &billing.invoice, "tok_visa", &key())
        .await;
    assert_eq!(code, "INVOICE_NOT_PAYABLE");
    assert_eq!(billing.payment_rows().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_concurrent_payments_with_different_keys_charge_once() {
    let billing = Billing::new(true).await;
    let keys: Vec<String> = (0..6).map(|_| key()).collect();
    let responses = futures::future::join_all(
        keys.iter()
            .map(|k| billing.pay(Some(&billing.customer), &billing.invoice, "tok_visa", k)),
    )
    .await;
    let mut succeeded = 0;
    let mut codes = Vec::new();
    for response in &responses {
        if response.get("errors").is_none() {
            assert_eq!(response["data"]["payInvoice"]["status"], "SUCCEEDED");
            succeeded += 1;
        } else {
            codes.push(
                response["errors"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or("<none>")
                    .to_owned(),
            );
        }
    }
    assert_eq!(succeeded, 1, "{responses:#?}");
    assert_eq!(codes, vec!["INVOICE_NOT_PAYABLE"; 5], "{responses:#?}");
    let rows = billing.payment_rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, PaymentStatus::Succeeded);
    assert_eq!(billing.receipts().await.len(), 1);
    let seen = billing.invoice_as(&billing.customer, &billing.invoice).await;
    assert_eq!(seen["status"], "PAID");
}

/// A gateway that counts its charges and answers like the sandbox, a little
/// slowly, so that concurrent payments overlap while one is charging.
#[derive(Debug, Default)]
struct CountingGateway {
    charges: AtomicUsize,
}

impl PaymentGateway for CountingGateway {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn charge(&self, request: ChargeRequest) -> BoxFuture<'_, Result<ChargeOutcome, GatewayError>> {
        self.charges.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            SandboxGateway.charge(request).await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_payments_reach_the_gateway_once_whatever_their_keys() {
    let billing = Billing::new(true).await;
    let (payer, scope) = billing.payer().await;
    let gateway = CountingGateway::default();
    let pay = |key: String| {
        payments::pay(
            &billing.app.db,
            &gateway,
            &billing.app.settings,
            &payer,
            &scope,
            PayInvoice {
                invoice_id: Uuid::parse_str(&billing.invoice).expect("uuid"),
                payment_method_token: "tok_visa".to_owned(),
                idempotency_key: key,
            },
        )
    };

    // Six at once with one key: one charge, every answer the same payment.
    let same = key();
    let results = futures::future::join_all((0..6).map(|_| pay(same.clone()))).await;
    assert_eq!(gateway.charges.load(Ordering::SeqCst), 1);
    let ids: Vec<Uuid> = results
        .into_iter()
        .map(|r| r.expect("every replay answers the first payment").payment.id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");

    // Six more with new keys: the invoice is paid, nobody reaches the gateway.
    let results = futures::future::join_all((0..6).map(|_| pay(key()))).await;
    assert!(
        results.iter().all(|r| matches!(r, Err(ApiError::InvoiceNotPayable))),
        "{results:?}"
    );
    assert_eq!(gateway.charges.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_payments_with_different_keys_reach_the_gateway_once() {
    let billing = Billing::new(true).await;
    let (payer, scope) = billing.payer().await;
    let gateway = CountingGateway::default();
    let invoice_id = Uuid::parse_str(&billing.invoice).expect("uuid");
    let results = futures::future::join_all((0..6).map(|_| {
        payments::pay(
            &billing.app.db,
            &gateway,
            &billing.app.settings,
            &payer,
            &scope,
            PayInvoice {
                invoice_id,
                payment_method_token: "tok_visa".to_owned(),
                idempotency_key: key(),
            },
        )
    }))
    .await;
    assert_eq!(gateway.charges.load(Ordering::SeqCst), 1);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(ApiError::InvoiceNotPayable)))
            .count(),
        5,
        "{results:?}"
    );
}

#[tokio::test]
async fn only_portal_users_pay_staff_are_forbidden_and_anonymous_callers_unauthenticated() {
    let billing = Billing::new(true).await;
    let (code, _) = billing
        .pay_err(billing.staff.auth(), &billing.invoice, "tok_visa", &key())
        .await;
    assert_eq!(code, "FORBIDDEN");
    let (code, _) = billing.pay_err(None, &billing.invoice, "tok_visa", &key()).await;
    assert_eq!(code, "UNAUTHENTICATED");
    assert!(billing.payment_rows().await.is_empty());
    // Staff see the invoice, but it is not payable by them.
    let seen = billing.invoice_as(&billing.staff.token, &billing.invoice).await;
    assert_eq!(seen["status"], "OPEN");
    assert_eq!(seen["payable"], false);
    assert_eq!(
        billing.invoice_as(&billing.customer, &billing.invoice).await["payable"],
        true
    );
}

#[tokio::test]
async fn a_location_only_grant_pays_only_invoices_billed_to_its_location() {
    let billing = Billing::new(true).await;
    let (app, staff) = (&billing.app, &billing.staff);
    // Another account whose site manager was granted only the tower site.
    let contact = "site.manager@harbor.example";
    let account = app
        .create_account(staff, "C-2000", "Harbor Builders", Some(contact))
        .await;
    let tower = app.create_location(staff, &account, "Tower site").await;
    let depot = app.create_location(staff, &account, "Depot").await;
    let site_token = sign_up(app, staff, &account, Some(vec![&tower]), "Sam Site").await;
    let whole = create_invoice(app, staff, &account, None, "INV-2000", 40_000).await;
    let at_tower = create_invoice(app, staff, &account, Some(&tower), "INV-2001", 25_000).await;
    let at_depot = create_invoice(app, staff, &account, Some(&depot), "INV-2002", 30_000).await;

    // The account-level invoice, the other location's and another account's
    // are invisible, and paying them answers like a missing invoice.
    for hidden in [&whole, &at_depot, &billing.invoice] {
        assert!(billing.invoice_as(&site_token, hidden).await.is_null());
        let (code, _) = billing.pay_err(Some(&site_token), hidden, "tok_visa", &key()).await;
        assert_eq!(code, "NOT_FOUND");
    }
    assert!(billing.payment_rows().await.is_empty());

    // Its own location's invoice it sees and pays.
    assert_eq!(billing.invoice_as(&site_token, &at_tower).await["payable"], true);
    let response = billing.pay(Some(&site_token), &at_tower, "tok_visa", &key()).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    assert_eq!(response["data"]["payInvoice"]["status"], "SUCCEEDED");
    assert_eq!(response["data"]["payInvoice"]["invoice"]["status"], "PAID");
    let receipts = billing.receipts().await;
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].recipient, contact, "the receipt goes to the payer");
}

#[tokio::test]
async fn another_organizations_invoice_answers_not_found() {
    let billing = Billing::new(true).await;
    let other_staff = billing.app.staff("globex").await;
    enable_payments(&billing.app, &other_staff).await;
    let other_account = billing
        .app
        .create_account(&other_staff, "G-1", "Globex Customer", None)
        .await;
    let foreign = create_invoice(&billing.app, &other_staff, &other_account, None, "G-INV-1", 9_900).await;
    let (code, _) = billing
        .pay_err(Some(&billing.customer), &foreign, "tok_visa", &key())
        .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) = billing
        .pay_err(Some(&billing.customer), "not-an-id", "tok_visa", &key())
        .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) = billing
        .pay_err(Some(&billing.customer), &Uuid::now_v7().to_string(), "tok_visa", &key())
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert!(billing.payment_rows().await.is_empty());
}

#[tokio::test]
async fn bad_keys_and_unknown_cards_are_rejected_naming_the_field_and_record_nothing() {
    let billing = Billing::new(true).await;
    for bad in [String::new(), "k".repeat(201)] {
        let (code, error) = billing
            .pay_err(Some(&billing.customer), &billing.invoice, "tok_visa", &bad)
            .await;
        assert_eq!(code, "BAD_USER_INPUT");
        assert_eq!(field(&error), "idempotencyKey");
    }
    // 200 characters is fine (checked below with a good card).
    let longest = "k".repeat(200);
    let (code, error) = billing
        .pay_err(Some(&billing.customer), &billing.invoice, "tok_unknown", &longest)
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(field(&error), "paymentMethodToken");
    assert_eq!(error["message"], "unknown test card token");
    assert!(billing.payment_rows().await.is_empty(), "no decision, nothing recorded");
    // The key was not used up by a charge that never happened.
    let paid = billing.pay_ok(&billing.invoice, "tok_visa", &longest).await;
    assert_eq!(paid["status"], "SUCCEEDED");
}
