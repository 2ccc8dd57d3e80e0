//! Invoices: `GET /portal/invoices` (open and paid), `GET
//! /portal/invoices/{id}` (lines, payments, and a Pay form when the
//! organization takes payments online and the invoice is payable), and
//! `POST /portal/invoices/{id}/pay`.
//!
//! Each rendered Pay form carries an idempotency key of its own, so a
//! double submit (or a reload of the POST) pays once: `payInvoice` answers
//! the same payment for the same key. A successful payment answers 303 to
//! the invoice with `?paid=<payment id>`, which shows the receipt.

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Browser, Chrome, Formatted, GqlError, Named, Nodes, account::signed_in, csrf_refused, csrf_token, dashboard::date,
    message, page, run, see_other, something_went_wrong, status_of,
};
use crate::AppState;

const LIST: &str = include_str!("documents/Invoices.graphql");
const ONE: &str = include_str!("documents/Invoice.graphql");
const PAY: &str = include_str!("documents/PayInvoice.graphql");

#[derive(Deserialize)]
struct ListData {
    invoices: Nodes<ListInvoice>,
}

#[derive(Deserialize)]
struct ListInvoice {
    id: String,
    number: String,
    status: String,
    #[serde(rename = "issuedOn")]
    issued_on: String,
    #[serde(rename = "dueOn")]
    due_on: String,
    total: Formatted,
    #[serde(rename = "amountDue")]
    amount_due: Formatted,
    account: Named,
}

/// One invoice as the list shows it.
struct Row {
    id: String,
    number: String,
    account: String,
    issued: String,
    due: String,
    status: &'static str,
    total: String,
    amount_due: String,
}

#[derive(Template)]
#[template(path = "http/portal/templates/invoices.html")]
struct ListPage {
    chrome: Chrome,
    invoices: Vec<Row>,
}

fn status_name(status: &str) -> &'static str {
    match status {
        "OPEN" => "Open",
        "PAID" => "Paid",
        "VOID" => "Void",
        "SUCCEEDED" => "Paid",
        "DECLINED" => "Declined",
        _ => "Unknown",
    }
}

/// `GET /portal/invoices`: every invoice the customer may see, open first.
pub async fn list(State(state): State<AppState>, browser: Browser) -> Response {
    let (viewer, chrome) = match signed_in(&state, &browser, "Your invoices").await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let answer = run(&state, viewer, browser.client, LIST, json!({})).await;
    let Some(data) = answer.data::<ListData>() else {
        return something_went_wrong();
    };
    let mut invoices: Vec<Row> = data
        .invoices
        .nodes
        .into_iter()
        .map(|i| Row {
            status: status_name(&i.status),
            id: i.id,
            number: i.number,
            account: i.account.name,
            issued: date(&i.issued_on),
            due: date(&i.due_on),
            total: i.total.formatted,
            amount_due: i.amount_due.formatted,
        })
        .collect();
    invoices.sort_by_key(|row| row.status != "Open");
    page(StatusCode::OK, &ListPage { chrome, invoices })
}

#[derive(Deserialize)]
struct OneData {
    organization: Option<Organization>,
    invoice: Option<OneInvoice>,
}

#[derive(Deserialize)]
struct Organization {
    name: String,
    #[serde(rename = "onlinePaymentsEnabled")]
    online_payments_enabled: bool,
}

#[derive(Deserialize)]
struct OneInvoice {
    id: String,
    number: String,
    status: String,
    #[serde(rename = "issuedOn")]
    issued_on: String,
    #[serde(rename = "dueOn")]
    due_on: String,
    payable: bool,
    total: Formatted,
    #[serde(rename = "amountDue")]
    amount_due: Formatted,
    account: Named,
    location: Option<Named>,
    lines: Vec<Line>,
    payments: Vec<PaymentData>,
}

#[derive(Deserialize)]
struct Line {
    description: String,
    quantity: i64,
    #[serde(rename = "unitPrice")]
    unit_price: Formatted,
    amount: Formatted,
}

#[derive(Deserialize)]
struct PaymentData {
    id: String,
    status: String,
    #[serde(rename = "gatewayReference")]
    gateway_reference: Option<String>,
    #[serde(rename = "createdAt")]
    created_at: String,
    amount: Formatted,
}

/// The invoice as the page shows it.
struct InvoiceView {
    id: String,
    account: String,
    location: String,
    issued: String,
    due: String,
    status: &'static str,
    open: bool,
    total: String,
    amount_due: String,
    lines: Vec<LineView>,
    payments: Vec<PaymentView>,
}

struct LineView {
    description: String,
    quantity: i64,
    unit_price: String,
    amount: String,
}

struct PaymentView {
    id: String,
    at: String,
    status: &'static str,
    reference: String,
    amount: String,
}

/// The Pay form: its CSRF token, the idempotency key minted for this
/// rendering, what was typed, and the last attempt's error.
struct PayForm {
    csrf: String,
    idempotency_key: String,
    card_token: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "http/portal/templates/invoice.html")]
struct OnePage {
    chrome: Chrome,
    invoice: InvoiceView,
    receipt: Option<PaymentView>,
    pay: Option<PayForm>,
    payments_enabled: bool,
    organization_name: String,
}

/// `?paid=<payment id>`: show that payment's receipt.
#[derive(Debug, Default, Deserialize)]
pub struct Paid {
    /// The payment just made.
    #[serde(default)]
    pub paid: Option<String>,
}

/// `GET /portal/invoices/{id}`: lines, payments, and the Pay form.
pub async fn one(
    State(state): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    paid: Result<Query<Paid>, QueryRejection>,
) -> Response {
    let paid = paid.ok().and_then(|Query(p)| p.paid);
    show(&state, &browser, &id, paid.as_deref(), None, "").await
}

/// Renders the invoice page (with a fresh idempotency key on the Pay form).
async fn show(
    state: &AppState,
    browser: &Browser,
    id: &str,
    paid: Option<&str>,
    error: Option<&GqlError>,
    card_token: &str,
) -> Response {
    let (viewer, chrome) = match signed_in(state, browser, "Invoice").await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let answer = run(state, viewer, browser.client, ONE, json!({"id": id})).await;
    let Some(data) = answer.data::<OneData>() else {
        return match answer.error() {
            Some(error) if error.code == "BAD_USER_INPUT" || error.code == "NOT_FOUND" => not_found(),
            _ => something_went_wrong(),
        };
    };
    let Some(invoice) = data.invoice else {
        return not_found();
    };
    let payments_enabled = data.organization.as_ref().is_some_and(|o| o.online_payments_enabled);
    let organization_name = data.organization.map(|o| o.name).unwrap_or_default();
    let view = InvoiceView {
        id: invoice.id,
        account: invoice.account.name,
        location: invoice.location.map(|l| l.name).unwrap_or_default(),
        issued: date(&invoice.issued_on),
        due: date(&invoice.due_on),
        status: status_name(&invoice.status),
        open: invoice.status == "OPEN",
        total: invoice.total.formatted,
        amount_due: invoice.amount_due.formatted,
        lines: invoice
            .lines
            .into_iter()
            .map(|l| LineView {
                description: l.description,
                quantity: l.quantity,
                unit_price: l.unit_price.formatted,
                amount: l.amount.formatted,
            })
            .collect(),
        payments: invoice
            .payments
            .into_iter()
            .map(|p| PaymentView {
                id: p.id,
                at: date(&p.created_at),
                status: status_name(&p.status),
                reference: p.gateway_reference.unwrap_or_else(|| "—".to_owned()),
                amount: p.amount.formatted,
            })
            .collect(),
    };
    let receipt = paid.and_then(|paid| {
        view.payments
            .iter()
            .find(|p| p.id == paid && p.status == "Paid")
            .map(|p| PaymentView {
                id: p.id.clone(),
                at: p.at.clone(),
                status: p.status,
                reference: p.reference.clone(),
                amount: p.amount.clone(),
            })
    });
    let pay = invoice.payable.then(|| PayForm {
        csrf: browser.session.as_deref().map(csrf_token).unwrap_or_default(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
        card_token: card_token.to_owned(),
        error: error.map(|e| super::sentence(&e.message)),
    });
    let status = error.map_or(StatusCode::OK, status_of);
    page(
        status,
        &OnePage {
            chrome: Chrome {
                title: format!("Invoice {}", invoice.number),
                ..chrome
            },
            invoice: view,
            receipt,
            pay,
            payments_enabled,
            organization_name,
        },
    )
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Invoice not found",
        "error",
        "There is no such invoice among yours.",
        vec![("/portal/invoices", "Your invoices")],
    )
}

/// What the Pay form posts.
#[derive(Debug, Default, Deserialize)]
pub struct PayFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    card_token: String,
}

/// `POST /portal/invoices/{id}/pay`: `payInvoice` with the form's key; 303
/// to the receipt, or the invoice again with the reason (402 declined).
pub async fn pay(
    State(state): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(fields): Form<PayFields>,
) -> Response {
    if !browser.csrf_ok(&fields.csrf) {
        return csrf_refused();
    }
    let viewer = match browser.customer(&state).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let answer = run(
        &state,
        viewer,
        browser.client,
        PAY,
        json!({
            "invoiceId": id,
            "paymentMethodToken": fields.card_token.trim(),
            "idempotencyKey": fields.idempotency_key,
        }),
    )
    .await;
    #[derive(Deserialize)]
    struct Data {
        #[serde(rename = "payInvoice")]
        payment: Payment,
    }
    #[derive(Deserialize)]
    struct Payment {
        id: String,
    }
    match answer.data::<Data>() {
        Some(Data { payment }) => see_other(&format!("/portal/invoices/{id}?paid={}", payment.id), []),
        None => {
            let error = answer.error().cloned().unwrap_or(GqlError {
                code: "INTERNAL".to_owned(),
                field: None,
                message: "Something went wrong on our side. Please try again in a moment.".to_owned(),
                retry_after: None,
            });
            show(&state, &browser, &id, None, Some(&error), &fields.card_token).await
        }
    }
}
