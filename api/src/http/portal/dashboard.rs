//! `GET /portal`: the signed-in customer's dashboard — each granted account
//! (a switcher when there are several) with its balance due, each granted
//! location with the assets deployed there, open asset requests and open
//! invoices. Two documents read it: `documents/Dashboard.graphql` (who,
//! the account list, the requests) and `documents/DashboardAccount.graphql`
//! (the account shown, with its locations, assets and invoices), so that the
//! page never asks for every account's locations and assets at once (the
//! complexity limit multiplies nested pages).

use askama::Template;
use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Browser, Chrome, Formatted, Named, Nodes, SignedIn, csrf_token, organization_cookie, page, run, see_other,
    something_went_wrong,
};
use crate::AppState;

const DASHBOARD: &str = include_str!("documents/Dashboard.graphql");
const DASHBOARD_ACCOUNT: &str = include_str!("documents/DashboardAccount.graphql");

/// `?account=<id>`: which of the customer's accounts to show.
#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    /// An account id of the customer's; the first account otherwise.
    #[serde(default)]
    pub account: Option<String>,
}

// What the document answers (the fields it selects, in its shape).

#[derive(Deserialize)]
struct Data {
    viewer: Option<ViewerData>,
    #[serde(rename = "assetRequests")]
    asset_requests: Nodes<RequestData>,
}

#[derive(Deserialize)]
struct ViewerData {
    #[serde(rename = "__typename")]
    typename: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    organization: Option<OrganizationData>,
    accounts: Option<Nodes<AccountSummary>>,
}

#[derive(Deserialize)]
struct AccountSummary {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct AccountAnswer {
    account: Option<AccountData>,
}

#[derive(Deserialize)]
struct OrganizationData {
    name: String,
    slug: String,
    #[serde(rename = "onlinePaymentsEnabled")]
    online_payments_enabled: bool,
}

#[derive(Deserialize)]
struct AccountData {
    id: String,
    number: String,
    name: String,
    #[serde(rename = "balanceDue")]
    balance_due: Formatted,
    locations: Nodes<LocationData>,
    invoices: Nodes<InvoiceData>,
}

#[derive(Deserialize)]
struct LocationData {
    name: String,
    address: AddressData,
    assets: Nodes<AssetData>,
}

#[derive(Deserialize)]
struct AddressData {
    line1: String,
    line2: Option<String>,
    city: String,
    region: Option<String>,
    #[serde(rename = "postalCode")]
    postal_code: Option<String>,
}

#[derive(Deserialize)]
struct AssetData {
    tag: String,
    #[serde(rename = "assetType")]
    asset_type: Named,
    #[serde(rename = "deployedAt")]
    deployed_at: Option<String>,
}

#[derive(Deserialize)]
struct InvoiceData {
    id: String,
    number: String,
    #[serde(rename = "dueOn")]
    due_on: String,
    #[serde(rename = "amountDue")]
    amount_due: Formatted,
}

#[derive(Deserialize)]
struct RequestData {
    status: String,
    quantity: i64,
    #[serde(rename = "neededBy")]
    needed_by: Option<String>,
    #[serde(rename = "assetType")]
    asset_type: Named,
    location: RequestLocation,
}

#[derive(Deserialize)]
struct RequestLocation {
    name: String,
    account: IdData,
}

#[derive(Deserialize)]
struct IdData {
    id: String,
}

// What the template shows (formatted for reading).

/// The dashboard as the template shows it.
struct View {
    user_name: String,
    user_email: String,
    organization_name: String,
    payments_enabled: bool,
    /// Every account: id, name, whether it is the one shown.
    accounts: Vec<(String, String, bool)>,
    account: Option<AccountView>,
}

struct AccountView {
    name: String,
    number: String,
    balance: String,
    locations: Vec<LocationView>,
    requests: Vec<RequestView>,
    invoices: Vec<InvoiceView>,
}

struct LocationView {
    name: String,
    address: String,
    assets: Vec<AssetView>,
}

struct AssetView {
    tag: String,
    kind: String,
    since: String,
}

struct RequestView {
    what: String,
    location: String,
    needed_by: String,
    status: String,
}

struct InvoiceView {
    id: String,
    number: String,
    due: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "http/portal/templates/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    view: View,
}

/// `GET /portal[?account=<id>]`: the dashboard; 303 to the sign-in page when
/// not signed in as a customer.
pub async fn dashboard(
    State(state): State<AppState>,
    browser: Browser,
    query: Result<Query<AccountQuery>, QueryRejection>,
) -> Response {
    let viewer = match browser.customer(&state).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let answer = run(&state, viewer.clone(), browser.client, DASHBOARD, json!({})).await;
    let Some(data) = answer.data::<Data>() else {
        return something_went_wrong();
    };
    let Some(user) = data.viewer.filter(|v| v.typename == "PortalUser") else {
        // Signed out between the two reads.
        return see_other("/portal/sign-in", []);
    };
    let wanted = query.ok().and_then(|Query(q)| q.account);
    let accounts = user.accounts.as_ref().map_or(&[][..], |a| a.nodes.as_slice());
    let shown_id = accounts
        .iter()
        .find(|a| Some(a.id.as_str()) == wanted.as_deref())
        .or_else(|| accounts.first())
        .map(|a| a.id.clone());
    let shown = match &shown_id {
        None => None,
        Some(id) => {
            let answer = run(
                &state,
                viewer,
                browser.client,
                DASHBOARD_ACCOUNT,
                json!({"account": id}),
            )
            .await;
            let Some(data) = answer.data::<AccountAnswer>() else {
                return something_went_wrong();
            };
            data.account
        }
    };
    let remember = user
        .organization
        .as_ref()
        .and_then(|o| organization_cookie(&browser, &o.slug));
    let view = view(user, data.asset_requests.nodes, shown);
    let csrf = browser.session.as_deref().map(csrf_token).unwrap_or_default();
    let mut response = page(
        StatusCode::OK,
        &DashboardPage {
            chrome: Chrome {
                title: "Your dashboard".to_owned(),
                signed_in: Some(SignedIn {
                    organization_name: view.organization_name.clone(),
                    csrf,
                }),
            },
            view,
        },
    );
    if let Some(cookie) = remember {
        response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

fn view(viewer: ViewerData, requests: Vec<RequestData>, shown: Option<AccountData>) -> View {
    let accounts = viewer.accounts.map(|a| a.nodes).unwrap_or_default();
    let shown_id = shown.as_ref().map(|a| a.id.clone());
    let list = accounts
        .into_iter()
        .map(|a| {
            let is_shown = Some(&a.id) == shown_id.as_ref();
            (a.id, a.name, is_shown)
        })
        .collect();
    let organization = viewer.organization;
    let account = shown.map(|account| {
        let requests = requests
            .into_iter()
            .filter(|r| r.location.account.id == account.id)
            .filter(|r| matches!(r.status.as_str(), "SUBMITTED" | "APPROVED" | "SCHEDULED"))
            .map(|r| RequestView {
                what: format!("{} × {}", r.quantity, r.asset_type.name),
                location: r.location.name,
                needed_by: r.needed_by.as_deref().map_or_else(|| "—".to_owned(), date),
                status: status_name(&r.status).to_owned(),
            })
            .collect();
        AccountView {
            name: account.name,
            number: account.number,
            balance: account.balance_due.formatted,
            locations: account
                .locations
                .nodes
                .into_iter()
                .map(|l| LocationView {
                    name: l.name,
                    address: address(&l.address),
                    assets: l
                        .assets
                        .nodes
                        .into_iter()
                        .map(|a| AssetView {
                            tag: a.tag,
                            kind: a.asset_type.name,
                            since: a.deployed_at.as_deref().map_or_else(|| "—".to_owned(), date),
                        })
                        .collect(),
                })
                .collect(),
            requests,
            invoices: account
                .invoices
                .nodes
                .into_iter()
                .map(|i| InvoiceView {
                    id: i.id,
                    number: i.number,
                    due: date(&i.due_on),
                    amount: i.amount_due.formatted,
                })
                .collect(),
        }
    });
    View {
        user_name: viewer.name,
        user_email: viewer.email,
        organization_name: organization.as_ref().map(|o| o.name.clone()).unwrap_or_default(),
        payments_enabled: organization.is_some_and(|o| o.online_payments_enabled),
        accounts: list,
        account,
    }
}

/// One line of an address.
fn address(a: &AddressData) -> String {
    let region = [a.region.as_deref(), a.postal_code.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    [
        Some(a.line1.as_str()),
        a.line2.as_deref(),
        Some(a.city.as_str()),
        Some(region.as_str()),
    ]
    .into_iter()
    .flatten()
    .filter(|part| !part.is_empty())
    .collect::<Vec<_>>()
    .join(", ")
}

/// A date (`YYYY-MM-DD` or RFC 3339) as people read it: "December 3, 2026".
pub(super) fn date(value: &str) -> String {
    let day = value.get(..10).unwrap_or(value);
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_or_else(|_| value.to_owned(), |d| d.format("%B %-d, %Y").to_string())
}

/// An asset request's status in words.
pub(super) fn status_name(status: &str) -> &'static str {
    match status {
        "SUBMITTED" => "Sent, waiting for review",
        "APPROVED" => "Approved",
        "SCHEDULED" => "Delivery scheduled",
        "FULFILLED" => "Delivered",
        "CANCELLED" => "Cancelled",
        "REJECTED" => "Declined",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_words() {
        assert_eq!(date("2026-12-03"), "December 3, 2026");
        assert_eq!(date("2026-01-09T10:00:00+00:00"), "January 9, 2026");
        assert_eq!(date("soon"), "soon");
    }

    #[test]
    fn addresses_are_one_line_without_gaps() {
        let a = AddressData {
            line1: "1 Main St".to_owned(),
            line2: None,
            city: "Springfield".to_owned(),
            region: Some("IL".to_owned()),
            postal_code: Some("62701".to_owned()),
        };
        assert_eq!(address(&a), "1 Main St, Springfield, IL 62701");
    }
}
