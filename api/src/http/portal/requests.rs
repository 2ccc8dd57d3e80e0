//! Asset requests: `GET /portal/requests` (each request's status, with a
//! Cancel button while it can be cancelled), `POST /portal/requests/cancel`,
//! and `GET|POST /portal/requests/new` (location, asset type, quantity,
//! needed by, notes). Staff are emailed by the `requestAsset` mutation.

use askama::Template;
use axum::{
    Form,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Browser, Chrome, FormPage, FormSpec, GqlError, Input, Named, Nodes, account::signed_in, csrf_refused, csrf_token,
    dashboard::date, form_error, page, run, see_other, something_went_wrong,
};
use crate::AppState;

const LIST: &str = include_str!("documents/AssetRequests.graphql");
const NEW: &str = include_str!("documents/NewAssetRequest.graphql");
const REQUEST: &str = include_str!("documents/RequestAsset.graphql");
const CANCEL: &str = include_str!("documents/CancelAssetRequest.graphql");

/// `?done=sent|cancelled`: what the list says happened.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    /// `sent` after a new request, `cancelled` after a cancel.
    #[serde(default)]
    pub done: Option<String>,
}

#[derive(Deserialize)]
struct ListData {
    #[serde(rename = "assetRequests")]
    asset_requests: Nodes<RequestData>,
}

#[derive(Deserialize)]
struct RequestData {
    id: String,
    status: String,
    quantity: i64,
    #[serde(rename = "neededBy")]
    needed_by: Option<String>,
    notes: Option<String>,
    reason: Option<String>,
    #[serde(rename = "assetType")]
    asset_type: Named,
    location: LocationData,
}

#[derive(Deserialize)]
struct LocationData {
    name: String,
    account: Named,
}

/// One request as the list shows it.
struct Row {
    id: String,
    what: String,
    notes: String,
    location: String,
    needed_by: String,
    status: &'static str,
    reason: String,
    cancellable: bool,
}

#[derive(Template)]
#[template(path = "http/portal/templates/requests.html")]
struct ListPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    csrf: String,
    requests: Vec<Row>,
}

/// `GET /portal/requests`: the customer's asset requests, newest first.
pub async fn list(
    State(state): State<AppState>,
    browser: Browser,
    done: Result<Query<Done>, QueryRejection>,
) -> Response {
    let (viewer, chrome) = match signed_in(&state, &browser, "Your asset requests").await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let answer = run(&state, viewer, browser.client, LIST, json!({})).await;
    let Some(data) = answer.data::<ListData>() else {
        return something_went_wrong();
    };
    let requests = data
        .asset_requests
        .nodes
        .into_iter()
        .rev()
        .map(|r| Row {
            cancellable: matches!(r.status.as_str(), "SUBMITTED" | "APPROVED"),
            status: super::dashboard::status_name(&r.status),
            id: r.id,
            what: format!("{} × {}", r.quantity, r.asset_type.name),
            notes: r.notes.unwrap_or_default(),
            location: format!("{} ({})", r.location.name, r.location.account.name),
            needed_by: r.needed_by.as_deref().map_or_else(|| "—".to_owned(), date),
            reason: r.reason.unwrap_or_default(),
        })
        .collect();
    let notice = match done.ok().and_then(|Query(d)| d.done).as_deref() {
        Some("sent") => Some("Your request is sent. We will email you when its status changes."),
        Some("cancelled") => Some("The request is cancelled."),
        _ => None,
    };
    let csrf = browser.session.as_deref().map(csrf_token).unwrap_or_default();
    page(
        StatusCode::OK,
        &ListPage {
            chrome,
            notice,
            csrf,
            requests,
        },
    )
}

/// What the cancel button posts.
#[derive(Debug, Default, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
}

/// `POST /portal/requests/cancel`: `cancelAssetRequest`, then back to the list.
pub async fn cancel(State(state): State<AppState>, browser: Browser, Form(form): Form<CancelForm>) -> Response {
    if !browser.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let (viewer, chrome) = match signed_in(&state, &browser, "Your asset requests").await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let answer = run(&state, viewer, browser.client, CANCEL, json!({"id": form.id})).await;
    match answer.error() {
        None => see_other("/portal/requests?done=cancelled", []),
        Some(error) => page(
            super::status_of(error),
            &super::Message {
                chrome,
                class: "error",
                message: &super::sentence(&error.message),
                links: vec![("/portal/requests", "Back to your requests")],
            },
        ),
    }
}

#[derive(Deserialize)]
struct NewData {
    locations: Nodes<LocationOption>,
    #[serde(rename = "assetTypes")]
    asset_types: Vec<TypeOption>,
}

#[derive(Deserialize)]
struct LocationOption {
    id: String,
    name: String,
    account: Named,
}

#[derive(Deserialize)]
struct TypeOption {
    id: String,
    name: String,
    requestable: bool,
}

/// What the new-request form posts.
#[derive(Debug, Default, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    asset_type: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    needed_by: String,
    #[serde(default)]
    notes: String,
}

/// The form, with the choices the customer has and what it typed so far.
fn new_form(data: &NewData, csrf: String, typed: &NewForm) -> FormSpec {
    let locations = data
        .locations
        .nodes
        .iter()
        .map(|l| (l.id.clone(), format!("{} ({})", l.name, l.account.name)))
        .collect();
    let types = data
        .asset_types
        .iter()
        .filter(|t| t.requestable)
        .map(|t| (t.id.clone(), t.name.clone()))
        .collect();
    let today = chrono::Utc::now().date_naive().to_string();
    let quantity = if typed.quantity.is_empty() {
        "1"
    } else {
        &typed.quantity
    };
    FormSpec {
        intro: "Tell us what you need and where. We confirm by email.".to_owned(),
        error: None,
        action: "/portal/requests/new",
        csrf,
        hidden: vec![],
        inputs: vec![
            Input::new("location", "Location", "select", "")
                .options(locations)
                .value(&typed.location),
            Input::new("asset_type", "What you need", "select", "")
                .options(types)
                .value(&typed.asset_type),
            Input::new("quantity", "How many", "number", "off")
                .value(quantity)
                .range(Some("1".to_owned()), Some("50".to_owned())),
            Input::new("needed_by", "Needed by", "date", "off")
                .optional()
                .value(&typed.needed_by)
                .range(Some(today), None),
            Input::new("notes", "Notes for our team", "textarea", "off")
                .optional()
                .value(&typed.notes)
                .range(None, Some("2000".to_owned()))
                .hint("Where to put it on site, access codes, anything we should know."),
        ],
        submit: "Send the request",
        links: vec![("/portal/requests".to_owned(), "Back to your requests")],
    }
}

/// `GET /portal/requests/new`: the request form.
pub async fn new_page(State(state): State<AppState>, browser: Browser) -> Response {
    let (viewer, chrome) = match signed_in(&state, &browser, "Request assets").await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let answer = run(&state, viewer, browser.client, NEW, json!({})).await;
    let Some(data) = answer.data::<NewData>() else {
        return something_went_wrong();
    };
    let csrf = browser.session.as_deref().map(csrf_token).unwrap_or_default();
    page(
        StatusCode::OK,
        &FormPage {
            chrome,
            form: new_form(&data, csrf, &NewForm::default()),
        },
    )
}

/// `POST /portal/requests/new`: `requestAsset`, then 303 to the list; the
/// form again with the error beside its field (422) otherwise.
pub async fn create(State(state): State<AppState>, browser: Browser, Form(typed): Form<NewForm>) -> Response {
    if !browser.csrf_ok(&typed.csrf) {
        return csrf_refused();
    }
    let (viewer, chrome) = match signed_in(&state, &browser, "Request assets").await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let choices = run(&state, viewer.clone(), browser.client, NEW, json!({})).await;
    let Some(data) = choices.data::<NewData>() else {
        return something_went_wrong();
    };
    let form = new_form(&data, typed.csrf.clone(), &typed);
    let Ok(quantity) = typed.quantity.trim().parse::<i64>() else {
        let error = GqlError {
            code: "BAD_USER_INPUT".to_owned(),
            field: Some("input.quantity".to_owned()),
            message: "Enter how many you need, as a number from 1 to 50.".to_owned(),
            retry_after: None,
        };
        return form_error(chrome, form, &error, FIELDS);
    };
    let blank = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let input = json!({
        "locationId": typed.location,
        "assetTypeId": typed.asset_type,
        "quantity": quantity,
        "neededBy": blank(&typed.needed_by),
        "notes": blank(&typed.notes),
    });
    let answer = run(&state, viewer, browser.client, REQUEST, json!({"input": input})).await;
    match answer.error() {
        None => see_other("/portal/requests?done=sent", []),
        Some(error) => form_error(chrome, form, error, FIELDS),
    }
}

/// The mutation's input fields and the form's inputs they belong to.
const FIELDS: &[(&str, &str)] = &[
    ("input.locationId", "location"),
    ("input.assetTypeId", "asset_type"),
    ("input.quantity", "quantity"),
    ("input.neededBy", "needed_by"),
    ("input.notes", "notes"),
];
