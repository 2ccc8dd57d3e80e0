//! The Customer Portal web app: server-rendered pages for customers (and
//! the password pages for staff), working without JavaScript.
//!
//! The pages are a client of the project's own GraphQL API: each runs one
//! of the documents in `documents/` through [`execute_as`] with the
//! visitor's session, then renders what came back with an askama template
//! from `templates/` (every value escaped). Authorization lives in the
//! schema, so a page can never show more than the API would.
//!
//! Browser sessions:
//! - The session is the same `sessions` row a `portalLogin` makes, its
//!   token in an HttpOnly, `SameSite=Lax` cookie (`Secure` and named
//!   `__Host-portal_session` when `PUBLIC_URL` is https). `POST /graphql`
//!   never reads cookies, so a cross-site request gains nothing from it.
//! - Every POST carries a CSRF token: derived from the session token when
//!   signed in (so it is bound to the session), else from a random
//!   `portal_csrf` cookie set with the form (double submit). A POST without
//!   a matching one is refused with 403 before anything runs.
//! - Pages are `Cache-Control: no-store`, and the Content-Security-Policy
//!   allows the app's own stylesheet and same-origin forms, nothing else.
//!
//! This module owns presentation and the cookie; what a visitor may do is
//! the schema's decision.

mod account;
mod dashboard;
mod invoices;
mod requests;

use std::net::IpAddr;

use askama::Template;
use axum::{
    Router,
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::Value;
use service::auth::Viewer;

use crate::{AppState, http::graphql::execute_as};

/// The app's own stylesheet and same-origin forms; no scripts, no frames.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Ends the visitor's session (sign-out, and a customer left without accounts).
const SIGN_OUT: &str = include_str!("documents/SignOut.graphql");

/// The stylesheet every page links (`GET /portal/style.css`).
const STYLESHEET: &str = include_str!("templates/style.css");

/// The portal's routes (merged into the api's router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(dashboard::dashboard))
        .route("/portal/style.css", get(stylesheet))
        .route("/favicon.ico", get(no_icon))
        .route("/portal/sign-in", get(account::sign_in_page).post(account::sign_in))
        .route("/portal/sign-out", axum::routing::post(account::sign_out))
        .route(
            "/portal/forgot-password",
            get(account::forgot_form_page::<false>).post(account::forgot::<false>),
        )
        .route(
            "/portal/reset-password",
            get(account::reset_form_page::<false>).post(account::reset::<false>),
        )
        .route("/portal/requests", get(requests::list))
        .route("/portal/requests/new", get(requests::new_page).post(requests::create))
        .route("/portal/requests/cancel", axum::routing::post(requests::cancel))
        .route("/portal/invoices", get(invoices::list))
        .route("/portal/invoices/{id}", get(invoices::one))
        .route("/portal/invoices/{id}/pay", axum::routing::post(invoices::pay))
        .route(
            "/portal/account/password",
            get(account::change_page).post(account::change),
        )
        .route(
            "/staff/forgot-password",
            get(account::forgot_form_page::<true>).post(account::forgot::<true>),
        )
        .route(
            "/staff/reset-password",
            get(account::reset_form_page::<true>).post(account::reset::<true>),
        )
}

async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// `GET /favicon.ico`, which browsers ask for on every page: nothing (204),
/// cached for a day, rather than a 404 in the console.
async fn no_icon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"))],
    )
        .into_response()
}

// --- Cookies and CSRF ---------------------------------------------------------

/// What the portal reads from a request: its cookies and the client
/// address. An extractor: handlers take it as an argument.
pub struct Browser {
    /// The session token from the session cookie.
    session: Option<String>,
    /// The anonymous forms' CSRF secret from its cookie.
    csrf_secret: Option<String>,
    /// The organization (slug) this browser last used the portal of, so
    /// its sign-in and forgot-password forms need not ask.
    organization: Option<String>,
    /// Whether the cookies are `__Host-` and `Secure` (an https `PUBLIC_URL`).
    https: bool,
    /// The client's address (rate limits).
    client: Option<IpAddr>,
}

impl Browser {
    fn new(state: &AppState, headers: &HeaderMap, client: Option<IpAddr>) -> Self {
        let https = state.data.settings.public_url.starts_with("https://");
        let names = CookieNames::new(https);
        Self {
            session: cookie(headers, names.session),
            csrf_secret: cookie(headers, names.csrf),
            organization: cookie(headers, names.organization)
                .filter(|slug| slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
            https,
            client,
        }
    }

    /// The client's address (for rate limits).
    pub(crate) fn client(&self) -> Option<IpAddr> {
        self.client
    }

    fn names(&self) -> CookieNames {
        CookieNames::new(self.https)
    }

    /// The viewer of the session cookie (anonymous without one, or when it
    /// was signed out, disconnected or has expired).
    async fn viewer(&self, state: &AppState) -> Result<Viewer, Response> {
        match &self.session {
            Some(token) => service::auth::viewer_for_token(&state.data.db, token)
                .await
                .map_err(|err| {
                    tracing::error!(error = ?err, "reading the portal session failed");
                    something_went_wrong()
                }),
            None => Ok(Viewer::Anonymous),
        }
    }

    /// The signed-in customer, or the redirect to the sign-in page: without
    /// a session, for a session that is not a customer's, and for a customer
    /// left without any account (staff disconnected the last one), whose
    /// session ends here and whose cookie is cleared.
    async fn customer(&self, state: &AppState) -> Result<Viewer, Response> {
        let viewer = self.viewer(state).await?;
        let Viewer::Portal { grants, .. } = &viewer else {
            return Err(see_other("/portal/sign-in", []));
        };
        if grants.accounts.is_empty() {
            let answer = run(state, viewer.clone(), self.client, SIGN_OUT, serde_json::json!({})).await;
            if let Some(error) = answer.error() {
                tracing::warn!(code = %error.code, "ending the session of a customer without accounts failed");
            }
            return Err(see_other("/portal/sign-in", [clear_session_cookie(self)]));
        }
        Ok(viewer)
    }

    /// Whether a form's `csrf` value matches this browser's session or its
    /// anonymous CSRF cookie.
    pub(crate) fn csrf_ok(&self, submitted: &str) -> bool {
        !submitted.is_empty()
            && [&self.session, &self.csrf_secret]
                .into_iter()
                .flatten()
                .any(|secret| csrf_token(secret) == submitted)
    }

    /// The CSRF token for a form shown to an anonymous visitor, and the
    /// cookie to set when the browser has no secret yet.
    pub(crate) fn anonymous_csrf(&self) -> (String, Option<HeaderValue>) {
        match &self.csrf_secret {
            Some(secret) => (csrf_token(secret), None),
            None => {
                let (secret, _) = service::auth::new_token();
                let cookie = set_cookie(self.names().csrf, &secret, self.https, None);
                (csrf_token(&secret), cookie)
            }
        }
    }
}

/// Every portal handler (and the accept page) takes the browser as an
/// extractor: its cookies and the client address, read once.
impl FromRequestParts<AppState> for Browser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let client = parts
            .extensions
            .get::<crate::http::client_ip::ClientIp>()
            .map(|client| client.0);
        Ok(Self::new(state, &parts.headers, client))
    }
}

/// The cookies' names: `__Host-` prefixed (so only this origin over https
/// can set them) when the portal is served over https.
#[derive(Clone, Copy)]
struct CookieNames {
    session: &'static str,
    csrf: &'static str,
    organization: &'static str,
}

impl CookieNames {
    fn new(https: bool) -> Self {
        if https {
            Self {
                session: "__Host-portal_session",
                csrf: "__Host-portal_csrf",
                organization: "__Host-portal_organization",
            }
        } else {
            Self {
                session: "portal_session",
                csrf: "portal_csrf",
                organization: "portal_organization",
            }
        }
    }
}

/// A form's CSRF token for `secret` (a session token or the CSRF cookie):
/// a digest, so the page never shows the secret itself.
fn csrf_token(secret: &str) -> String {
    service::auth::token_digest(&format!("portal-csrf:{secret}"))
}

/// The value of cookie `name`, if the request carries it.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// A `Set-Cookie` value: HttpOnly, `SameSite=Lax`, the whole site, `Secure`
/// over https; `max_age` seconds, or a browser-session cookie.
fn set_cookie(name: &str, value: &str, https: bool, max_age: Option<i64>) -> Option<HeaderValue> {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if https {
        cookie.push_str("; Secure");
    }
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={}", seconds.max(0)));
    }
    HeaderValue::from_str(&cookie).ok()
}

/// Sets the session cookie for a new session expiring at `expires_at` (as
/// the API writes a `DateTime`: RFC 3339).
fn session_cookie(browser: &Browser, token: &str, expires_at: &str) -> Option<HeaderValue> {
    let expires_at = chrono::DateTime::parse_from_rfc3339(expires_at).map_or_else(
        |_| chrono::Utc::now() + chrono::Duration::hours(1),
        |at| at.with_timezone(&chrono::Utc),
    );
    session_cookie_until(browser, token, expires_at)
}

/// The session cookie, kept by the browser until the session expires.
fn session_cookie_until(
    browser: &Browser,
    token: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Option<HeaderValue> {
    let max_age = (expires_at - chrono::Utc::now()).num_seconds();
    set_cookie(browser.names().session, token, browser.https, Some(max_age))
}

/// Signed in by another page (the invitation's accept form): 303 to the
/// dashboard with the session in the portal's cookie.
pub(crate) fn enter(browser: &Browser, session: &service::sessions::NewSession) -> Response {
    see_other(
        "/portal",
        [session_cookie_until(browser, &session.token, session.expires_at)],
    )
}

/// Remembers the organization (slug) of the signed-in customer for a year:
/// not a secret, only so the sign-in form need not ask for it again.
fn organization_cookie(browser: &Browser, slug: &str) -> Option<HeaderValue> {
    if browser.organization.as_deref() == Some(slug) {
        return None;
    }
    set_cookie(browser.names().organization, slug, browser.https, Some(365 * 24 * 3600))
}

/// Removes the session cookie.
fn clear_session_cookie(browser: &Browser) -> Option<HeaderValue> {
    set_cookie(browser.names().session, "", browser.https, Some(0))
}

// --- GraphQL ------------------------------------------------------------------

/// A connection's `nodes`, as the pages' documents select them.
#[derive(Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

/// An object of which a document selects only `name`.
#[derive(Deserialize)]
struct Named {
    name: String,
}

/// A `Money` of which a document selects only `formatted`.
#[derive(Deserialize)]
struct Formatted {
    formatted: String,
}

/// One error of a document's answer, as a page shows it.
#[derive(Debug, Clone)]
struct GqlError {
    code: String,
    field: Option<String>,
    message: String,
    retry_after: Option<u64>,
}

/// A document's answer: its data as JSON and its errors.
struct Answer {
    data: Value,
    errors: Vec<GqlError>,
}

impl Answer {
    /// The first error, if any.
    fn error(&self) -> Option<&GqlError> {
        self.errors.first()
    }

    /// The data as `T` (`None` when it does not fit: an error answer).
    fn data<T: for<'de> Deserialize<'de>>(&self) -> Option<T> {
        serde_json::from_value(self.data.clone()).ok()
    }
}

/// Runs `document` with `variables` for `viewer`, in process.
async fn run(state: &AppState, viewer: Viewer, client: Option<IpAddr>, document: &str, variables: Value) -> Answer {
    let request = async_graphql::Request::new(document).variables(async_graphql::Variables::from_json(variables));
    let response = execute_as(state, viewer, client, request).await;
    let errors = response
        .errors
        .iter()
        .map(|error| {
            let extensions = error.extensions.as_ref();
            let text = |key: &str| match extensions.and_then(|e| e.get(key)) {
                Some(async_graphql::Value::String(value)) => Some(value.clone()),
                _ => None,
            };
            GqlError {
                code: text("code").unwrap_or_else(|| "INTERNAL".to_owned()),
                field: text("field"),
                message: error.message.clone(),
                retry_after: match extensions.and_then(|e| e.get("retryAfterSeconds")) {
                    Some(async_graphql::Value::Number(n)) => n.as_u64(),
                    _ => None,
                },
            }
        })
        .collect::<Vec<_>>();
    for error in errors.iter().filter(|e| e.code == "INTERNAL") {
        tracing::warn!(message = %error.message, "a portal page's document failed");
    }
    Answer {
        data: response.data.into_json().unwrap_or(Value::Null),
        errors,
    }
}

// --- Pages --------------------------------------------------------------------

/// What every page's layout shows: the title, and for a signed-in customer
/// the navigation with the sign-out form.
pub(crate) struct Chrome {
    title: String,
    signed_in: Option<SignedIn>,
}

/// The signed-in customer, as the layout shows it.
pub(crate) struct SignedIn {
    organization_name: String,
    csrf: String,
}

impl Chrome {
    fn anonymous(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            signed_in: None,
        }
    }
}

/// A page answer: `status`, the rendered template, and the portal's headers.
fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => with_headers((status, axum::response::Html(html)).into_response()),
        Err(err) => {
            tracing::error!(error = %err, "a portal template failed to render");
            with_headers((StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response())
        }
    }
}

/// The headers every portal answer carries.
fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A 303 to `location`, with `cookies` set.
fn see_other(location: &str, cookies: impl IntoIterator<Item = Option<HeaderValue>>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_owned())]).into_response();
    for cookie in cookies.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    with_headers(response)
}

/// A page of one message (and links onward).
#[derive(Template)]
#[template(path = "http/portal/templates/message.html")]
struct Message<'a> {
    chrome: Chrome,
    class: &'a str,
    message: &'a str,
    links: Vec<(&'a str, &'a str)>,
}

fn message(status: StatusCode, title: &str, class: &str, text: &str, links: Vec<(&str, &str)>) -> Response {
    page(
        status,
        &Message {
            chrome: Chrome::anonymous(title),
            class,
            message: text,
            links,
        },
    )
}

fn something_went_wrong() -> Response {
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "error",
        "Something went wrong on our side. Please try again in a moment.",
        vec![("/portal", "Back to the portal")],
    )
}

/// The answer to a POST whose CSRF token is missing or wrong.
fn csrf_refused() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Please try again",
        "error",
        "This form has expired or did not come from the Customer Portal. Go back, reload the page and send it again.",
        vec![("/portal", "Back to the portal")],
    )
}

/// One labelled input of a form.
pub(crate) struct Input {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    required: bool,
    value: String,
    hint: String,
    error: Option<String>,
    /// The choices of a `select` (value, text).
    options: Vec<(String, String)>,
    /// `min` of a number or date; `max` of a number or date, or a
    /// textarea's `maxlength`.
    min: Option<String>,
    max: Option<String>,
}

impl Input {
    fn new(name: &'static str, label: &'static str, kind: &'static str, autocomplete: &'static str) -> Self {
        Self {
            name,
            label,
            kind,
            autocomplete,
            required: true,
            value: String::new(),
            hint: String::new(),
            error: None,
            options: Vec::new(),
            min: None,
            max: None,
        }
    }

    fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    fn options(mut self, options: Vec<(String, String)>) -> Self {
        self.options = options;
        self
    }

    fn range(mut self, min: Option<String>, max: Option<String>) -> Self {
        self.min = min;
        self.max = max;
        self
    }

    fn value(mut self, value: &str) -> Self {
        value.clone_into(&mut self.value);
        self
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }
}

/// A form page: inputs with their errors, hidden values, a submit button.
#[derive(Template)]
#[template(path = "http/portal/templates/form.html")]
pub(crate) struct FormPage {
    chrome: Chrome,
    form: FormSpec,
}

/// What a [`FormPage`] shows.
pub(crate) struct FormSpec {
    intro: String,
    error: Option<String>,
    action: &'static str,
    csrf: String,
    hidden: Vec<(&'static str, String)>,
    inputs: Vec<Input>,
    submit: &'static str,
    links: Vec<(String, &'static str)>,
}

impl FormSpec {
    /// Puts `error` beside the input it names (or above the form).
    fn with_error(mut self, error: &GqlError, field_names: &[(&str, &'static str)]) -> Self {
        let message = sentence(&error.message);
        let target = error.field.as_deref().and_then(|field| {
            field_names
                .iter()
                .find(|(graphql, _)| *graphql == field)
                .map(|(_, input)| *input)
        });
        match target.and_then(|name| self.inputs.iter_mut().find(|input| input.name == name)) {
            Some(input) => input.error = Some(message),
            None => self.error = Some(message),
        }
        self
    }
}

/// A service message as a sentence: capitalised, with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The status a page answers a document's error with.
fn status_of(error: &GqlError) -> StatusCode {
    match error.code.as_str() {
        "BAD_USER_INPUT" => StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_CREDENTIALS" | "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "FORBIDDEN" => StatusCode::FORBIDDEN,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
        "PASSWORD_RESET_INVALID" => StatusCode::GONE,
        "PAYMENT_DECLINED" => StatusCode::PAYMENT_REQUIRED,
        "PAYMENTS_NOT_ENABLED" | "INVOICE_NOT_PAYABLE" => StatusCode::CONFLICT,
        "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A form page answering `error` (with `Retry-After` when rate limited).
fn form_error(chrome: Chrome, form: FormSpec, error: &GqlError, fields: &[(&str, &'static str)]) -> Response {
    let mut response = page(
        status_of(error),
        &FormPage {
            chrome,
            form: form.with_error(error, fields),
        },
    );
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).expect("header"));
        headers
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let headers = headers("portal_session_x=1; portal_session=abc ; other=2");
        assert_eq!(cookie(&headers, "portal_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_over_https() {
        let plain = set_cookie("portal_session", "t", false, Some(60)).expect("cookie");
        assert_eq!(plain, "portal_session=t; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
        let names = CookieNames::new(true);
        let secure = set_cookie(names.session, "t", true, None).expect("cookie");
        assert_eq!(
            secure,
            "__Host-portal_session=t; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn a_csrf_token_is_bound_to_its_secret_and_never_the_secret_itself() {
        let browser = Browser {
            session: Some("session-token".to_owned()),
            csrf_secret: None,
            organization: None,
            https: false,
            client: None,
        };
        assert!(browser.csrf_ok(&csrf_token("session-token")));
        assert!(!browser.csrf_ok(&csrf_token("another-session")));
        assert!(!browser.csrf_ok(""));
        assert!(!csrf_token("session-token").contains("session-token"));
    }

    #[test]
    fn form_values_and_errors_are_escaped() {
        let html = FormPage {
            chrome: Chrome::anonymous("Sign in <now>"),
            form: FormSpec {
                intro: "Tom & Jerry's".to_owned(),
                error: Some("<script>alert(1)</script>".to_owned()),
                action: "/portal/sign-in",
                csrf: "c".to_owned(),
                hidden: vec![("organization", "\"><script>".to_owned())],
                inputs: vec![Input::new("email", "Email", "email", "email").value("\"><b>x</b>")],
                submit: "Sign in",
                links: vec![],
            },
        }
        .render()
        .expect("render");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>x</b>"));
        assert!(html.contains("Tom &#38; Jerry&#39;s"));
        assert!(html.contains("Sign in &#60;now&#62;"));
    }
}
