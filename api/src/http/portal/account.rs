//! Signing in and out, forgotten passwords (customers and staff) and
//! changing a password: the portal's pages around its session.

use axum::{
    Form,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use serde_json::json;
use service::auth::{MIN_PASSWORD_LEN, Viewer};

use super::{
    Answer, Browser, Chrome, FormPage, FormSpec, GqlError, Input, SIGN_OUT, SignedIn, clear_session_cookie,
    csrf_refused, csrf_token, form_error, message, page, run, see_other, session_cookie,
};
use crate::AppState;

const SIGN_IN: &str = include_str!("documents/PortalSignIn.graphql");
const REQUEST_RESET: &str = include_str!("documents/RequestPasswordReset.graphql");
const RESET: &str = include_str!("documents/ResetPassword.graphql");
const CHANGE: &str = include_str!("documents/ChangePassword.graphql");
const ME: &str = include_str!("documents/Me.graphql");

/// `?organization=<slug>` on the sign-in and forgot-password pages.
#[derive(Debug, Default, Deserialize)]
pub struct OrganizationQuery {
    /// The organization's slug, when the link names it.
    #[serde(default)]
    pub organization: Option<String>,
}

/// `?token=…` on the reset pages.
#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    /// The reset link's token.
    #[serde(default)]
    pub token: Option<String>,
}

/// Every form's fields (each page reads those it has).
#[derive(Debug, Default, Deserialize)]
pub struct Fields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirmation: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    token: String,
}

fn password_hint() -> String {
    format!(
        "At least {MIN_PASSWORD_LEN} characters. A few unrelated words make a strong password that is easy to remember."
    )
}

// --- Sign in and out ----------------------------------------------------------

fn sign_in_form(csrf: String, organization: &str, email: &str) -> FormSpec {
    let mut inputs = Vec::new();
    let mut hidden = Vec::new();
    let known = !organization.is_empty();
    if known {
        hidden.push(("organization", organization.to_owned()));
    } else {
        inputs.push(
            Input::new("organization", "Organization", "text", "organization")
                .hint("The short name in your invitation's link, e.g. acme."),
        );
    }
    inputs.push(Input::new("email", "Email", "email", "email").value(email));
    inputs.push(Input::new("password", "Password", "password", "current-password"));
    let forgot = if known {
        format!("/portal/forgot-password?organization={}", url_component(organization))
    } else {
        "/portal/forgot-password".to_owned()
    };
    FormSpec {
        intro: String::new(),
        error: None,
        action: "/portal/sign-in",
        csrf,
        hidden,
        inputs,
        submit: "Sign in",
        links: if known {
            vec![
                (forgot, "Forgot your password?"),
                (
                    "/portal/sign-in?organization=".to_owned(),
                    "Signing in to another organization?",
                ),
            ]
        } else {
            vec![(forgot, "Forgot your password?")]
        },
    }
}

/// `GET /portal/sign-in[?organization=slug]`: the sign-in form (straight to
/// the dashboard when already signed in).
pub async fn sign_in_page(
    State(state): State<AppState>,
    browser: Browser,
    query: Result<Query<OrganizationQuery>, QueryRejection>,
) -> Response {
    if let Ok(Viewer::Portal { .. }) = browser.viewer(&state).await {
        return see_other("/portal", []);
    }
    let organization = query
        .ok()
        .and_then(|Query(q)| q.organization)
        .or_else(|| browser.organization.clone())
        .unwrap_or_default();
    anonymous_form(&browser, "Sign in", |csrf| sign_in_form(csrf, organization.trim(), ""))
}

/// A form page for a visitor not signed in: its CSRF token is bound to the
/// browser's `portal_csrf` cookie, set with the page when it has none.
fn anonymous_form(browser: &Browser, title: &str, form: impl FnOnce(String) -> FormSpec) -> Response {
    let (csrf, cookie) = browser.anonymous_csrf();
    let mut response = page(
        StatusCode::OK,
        &FormPage {
            chrome: Chrome::anonymous(title),
            form: form(csrf),
        },
    );
    if let Some(cookie) = cookie {
        response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /portal/sign-in`: `portalLogin`, then the session cookie and 303
/// to `/portal`; the form again with the error otherwise (401 wrong
/// credentials, 429 too many attempts).
pub async fn sign_in(State(state): State<AppState>, browser: Browser, Form(fields): Form<Fields>) -> Response {
    if !browser.csrf_ok(&fields.csrf) {
        return csrf_refused();
    }
    let organization = fields.organization.trim().to_lowercase();
    let answer = run(
        &state,
        Viewer::Anonymous,
        browser.client,
        SIGN_IN,
        json!({"organization": organization, "email": fields.email, "password": fields.password}),
    )
    .await;
    #[derive(Deserialize)]
    struct Data {
        #[serde(rename = "portalLogin")]
        login: NewSession,
    }
    if let Some(Data { login }) = answer.data::<Data>() {
        return see_other("/portal", [session_cookie(&browser, &login.token, &login.expires_at)]);
    }
    let form = sign_in_form(fields.csrf.clone(), &organization, &fields.email);
    let mut error = friendlier(
        answer.error(),
        "The email or password is not correct. Check both and try again.",
    );
    if error.code == "INVALID_CREDENTIALS" {
        // Shown beside the password (the email is kept in its field).
        error.field = Some("password".to_owned());
    }
    form_error(Chrome::anonymous("Sign in"), form, &error, &[("password", "password")])
}

/// A session a document started.
#[derive(Deserialize)]
struct NewSession {
    token: String,
    #[serde(rename = "expiresAt")]
    expires_at: String,
}

/// `POST /portal/sign-out`: ends the session at once, clears the cookie and
/// goes to the sign-in page (which remembers the organization).
pub async fn sign_out(State(state): State<AppState>, browser: Browser, Form(fields): Form<Fields>) -> Response {
    if !browser.csrf_ok(&fields.csrf) {
        return csrf_refused();
    }
    let viewer = match browser.viewer(&state).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    if !matches!(viewer, Viewer::Anonymous) {
        let answer = run(&state, viewer, browser.client, SIGN_OUT, json!({})).await;
        if let Some(error) = answer.error() {
            tracing::warn!(code = %error.code, "signing out failed");
        }
    }
    // The sign-in page knows the organization from its cookie.
    see_other("/portal/sign-in", [clear_session_cookie(&browser)])
}

// --- Forgotten passwords ------------------------------------------------------

/// Which reset flow a page is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Portal,
    Staff,
}

impl Area {
    fn of(staff: bool) -> Self {
        if staff { Self::Staff } else { Self::Portal }
    }

    fn forgot_action(self) -> &'static str {
        match self {
            Self::Portal => "/portal/forgot-password",
            Self::Staff => "/staff/forgot-password",
        }
    }

    fn reset_action(self) -> &'static str {
        match self {
            Self::Portal => "/portal/reset-password",
            Self::Staff => "/staff/reset-password",
        }
    }
}

fn forgot_form(area: Area, csrf: String, organization: &str, email: &str) -> FormSpec {
    let mut inputs = Vec::new();
    let mut hidden = Vec::new();
    if area == Area::Portal {
        if organization.is_empty() {
            inputs.push(
                Input::new("organization", "Organization", "text", "organization")
                    .hint("The short name in your invitation's link, e.g. acme."),
            );
        } else {
            hidden.push(("organization", organization.to_owned()));
        }
    }
    inputs.push(Input::new("email", "Email", "email", "email").value(email));
    FormSpec {
        intro: "Enter the email you sign in with. We will email you a link to choose a new password.".to_owned(),
        error: None,
        action: area.forgot_action(),
        csrf,
        hidden,
        inputs,
        submit: "Email me a link",
        links: vec![],
    }
}

fn forgot_page(browser: &Browser, area: Area, organization: &str) -> Response {
    anonymous_form(browser, "Forgot your password?", |csrf| {
        forgot_form(area, csrf, organization, "")
    })
}

async fn request_reset(state: &AppState, browser: &Browser, area: Area, fields: &Fields) -> Response {
    if !browser.csrf_ok(&fields.csrf) {
        return csrf_refused();
    }
    let organization = (area == Area::Portal).then(|| fields.organization.trim().to_lowercase());
    let answer = run(
        state,
        Viewer::Anonymous,
        browser.client,
        REQUEST_RESET,
        json!({"email": fields.email, "organization": organization}),
    )
    .await;
    if let Some(error) = answer.error() {
        let form = forgot_form(
            area,
            fields.csrf.clone(),
            organization.as_deref().unwrap_or(""),
            &fields.email,
        );
        return form_error(Chrome::anonymous("Forgot your password?"), form, error, &[]);
    }
    message(
        StatusCode::OK,
        "Check your email",
        "ok",
        "If that email belongs to a login, a link to choose a new password is on its way. It works once, for an hour.",
        vec![],
    )
}

/// `GET /portal/forgot-password[?organization=slug]` (the organization
/// from the link, else from the last visit, else a field) and `GET
/// /staff/forgot-password` (`STAFF`: staff emails are unique, no organization).
pub async fn forgot_form_page<const STAFF: bool>(
    browser: Browser,
    query: Result<Query<OrganizationQuery>, QueryRejection>,
) -> Response {
    if STAFF {
        return forgot_page(&browser, Area::Staff, "");
    }
    let organization = query
        .ok()
        .and_then(|Query(q)| q.organization)
        .or_else(|| browser.organization.clone())
        .unwrap_or_default();
    forgot_page(&browser, Area::Portal, organization.trim())
}

/// `POST /portal/forgot-password` and `POST /staff/forgot-password`
/// (`STAFF`): `requestPasswordReset`; the same answer whether or not the
/// email exists.
pub async fn forgot<const STAFF: bool>(
    State(state): State<AppState>,
    browser: Browser,
    Form(fields): Form<Fields>,
) -> Response {
    request_reset(&state, &browser, Area::of(STAFF), &fields).await
}

fn reset_form(area: Area, csrf: String, token: &str) -> FormSpec {
    FormSpec {
        intro: "Choose a new password. Setting it signs you out everywhere else.".to_owned(),
        error: None,
        action: area.reset_action(),
        csrf,
        hidden: vec![("token", token.to_owned())],
        inputs: vec![
            Input::new("password", "New password", "password", "new-password").hint(password_hint()),
            Input::new("password_confirmation", "Type it again", "password", "new-password"),
        ],
        submit: "Set my new password",
        links: vec![],
    }
}

fn reset_page(browser: &Browser, area: Area, token: &str) -> Response {
    anonymous_form(browser, "Choose a new password", |csrf| reset_form(area, csrf, token))
}

async fn set_new_password(state: &AppState, browser: &Browser, area: Area, fields: &Fields) -> Response {
    if !browser.csrf_ok(&fields.csrf) {
        return csrf_refused();
    }
    let chrome = || Chrome::anonymous("Choose a new password");
    let form = || reset_form(area, fields.csrf.clone(), &fields.token);
    if fields.password != fields.password_confirmation {
        let error = GqlError {
            code: "BAD_USER_INPUT".to_owned(),
            field: Some("password_confirmation".to_owned()),
            message: "The two passwords do not match. Type the same password in both fields.".to_owned(),
            retry_after: None,
        };
        return form_error(
            chrome(),
            form(),
            &error,
            &[("password_confirmation", "password_confirmation")],
        );
    }
    let answer = run(
        state,
        Viewer::Anonymous,
        browser.client,
        RESET,
        json!({"token": fields.token, "password": fields.password}),
    )
    .await;
    #[derive(Deserialize)]
    struct Data {
        #[serde(rename = "resetPassword")]
        reset: ResetSession,
    }
    #[derive(Deserialize)]
    struct ResetSession {
        #[serde(flatten)]
        session: NewSession,
        viewer: Typename,
    }
    #[derive(Deserialize)]
    struct Typename {
        #[serde(rename = "__typename")]
        typename: String,
    }
    match answer.data::<Data>() {
        Some(Data { reset }) if reset.viewer.typename == "PortalUser" && area == Area::Portal => see_other(
            "/portal",
            [session_cookie(browser, &reset.session.token, &reset.session.expires_at)],
        ),
        Some(Data { reset }) => {
            // Staff sign in where they work (GraphiQL): end the page's session.
            let viewer = service::auth::viewer_for_token(&state.data.db, &reset.session.token).await;
            if let Ok(viewer) = viewer {
                run(state, viewer, browser.client, SIGN_OUT, json!({})).await;
            }
            message(
                StatusCode::OK,
                "Your new password is set",
                "ok",
                "Your new password is set and every other session was signed out. Sign in with it where you work.",
                vec![("/graphql", "Open GraphiQL")],
            )
        }
        None => match answer.error() {
            Some(error) if error.code == "PASSWORD_RESET_INVALID" => {
                let forgot = area.forgot_action();
                let mut response = message(
                    StatusCode::GONE,
                    "This link does not work any more",
                    "error",
                    "This password reset link was already used, replaced by a newer one, or has expired (links work for an hour). Ask for a new one.",
                    vec![(forgot, "Email me a new link")],
                );
                *response.status_mut() = StatusCode::GONE;
                response
            }
            error => {
                let error = friendlier(error, "Something went wrong. Please try again.");
                form_error(chrome(), form(), &error, &[("password", "password")])
            }
        },
    }
}

/// `GET /portal/reset-password?token=…` and `GET /staff/reset-password?token=…`
/// (`STAFF`): the new-password form.
pub async fn reset_form_page<const STAFF: bool>(
    browser: Browser,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let token = query.ok().and_then(|Query(q)| q.token).unwrap_or_default();
    reset_page(&browser, Area::of(STAFF), &token)
}

/// `POST /portal/reset-password` (then signed in: cookie, 303 to
/// `/portal`) and `POST /staff/reset-password` (`STAFF`: they then sign in
/// in GraphiQL): `resetPassword`; 410 for a used, superseded or expired link.
pub async fn reset<const STAFF: bool>(
    State(state): State<AppState>,
    browser: Browser,
    Form(fields): Form<Fields>,
) -> Response {
    set_new_password(&state, &browser, Area::of(STAFF), &fields).await
}

// --- Changing the password ----------------------------------------------------

/// The signed-in customer's chrome (title, navigation, sign-out CSRF), or
/// the redirect to the sign-in page.
pub(super) async fn signed_in(state: &AppState, browser: &Browser, title: &str) -> Result<(Viewer, Chrome), Response> {
    let viewer = browser.customer(state).await?;
    let answer: Answer = run(state, viewer.clone(), browser.client, ME, json!({})).await;
    let organization_name = answer.data["viewer"]["organization"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let csrf = browser.session.as_deref().map(csrf_token).unwrap_or_default();
    Ok((
        viewer,
        Chrome {
            title: title.to_owned(),
            signed_in: Some(SignedIn {
                organization_name,
                csrf,
            }),
        },
    ))
}

fn change_form(csrf: String) -> FormSpec {
    FormSpec {
        intro: "Changing your password signs you out on every other device.".to_owned(),
        error: None,
        action: "/portal/account/password",
        csrf,
        hidden: vec![],
        inputs: vec![
            Input::new("current_password", "Current password", "password", "current-password"),
            Input::new("password", "New password", "password", "new-password").hint(password_hint()),
            Input::new(
                "password_confirmation",
                "Type the new one again",
                "password",
                "new-password",
            ),
        ],
        submit: "Change my password",
        links: vec![],
    }
}

/// `GET /portal/account/password`: the change-password form.
pub async fn change_page(State(state): State<AppState>, browser: Browser) -> Response {
    let (_, chrome) = match signed_in(&state, &browser, "Change your password").await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let csrf = browser.session.as_deref().map(csrf_token).unwrap_or_default();
    page(
        StatusCode::OK,
        &FormPage {
            chrome,
            form: change_form(csrf),
        },
    )
}

/// `POST /portal/account/password`: `changePassword`; the other sessions end.
pub async fn change(State(state): State<AppState>, browser: Browser, Form(fields): Form<Fields>) -> Response {
    if !browser.csrf_ok(&fields.csrf) {
        return csrf_refused();
    }
    let (viewer, chrome) = match signed_in(&state, &browser, "Change your password").await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let form = change_form(fields.csrf.clone());
    if fields.password != fields.password_confirmation {
        let error = GqlError {
            code: "BAD_USER_INPUT".to_owned(),
            field: Some("password_confirmation".to_owned()),
            message: "The two new passwords do not match. Type the same password in both fields.".to_owned(),
            retry_after: None,
        };
        return form_error(
            chrome,
            form,
            &error,
            &[("password_confirmation", "password_confirmation")],
        );
    }
    let answer = run(
        &state,
        viewer,
        browser.client,
        CHANGE,
        json!({"currentPassword": fields.current_password, "newPassword": fields.password}),
    )
    .await;
    match answer.error() {
        None => {
            let csrf = browser.session.as_deref().map(csrf_token).unwrap_or_default();
            page(
                StatusCode::OK,
                &super::Message {
                    chrome: Chrome {
                        title: "Your password is changed".to_owned(),
                        signed_in: chrome.signed_in.map(|s| SignedIn { csrf, ..s }),
                    },
                    class: "ok",
                    message: "Your password is changed. Every other session was signed out.",
                    links: vec![("/portal", "Back to the dashboard")],
                },
            )
        }
        Some(error) => {
            let error = if error.code == "INVALID_CREDENTIALS" {
                GqlError {
                    field: Some("currentPassword".to_owned()),
                    message: "That is not your current password.".to_owned(),
                    ..error.clone()
                }
            } else {
                error.clone()
            };
            form_error(
                chrome,
                form,
                &error,
                &[("currentPassword", "current_password"), ("newPassword", "password")],
            )
        }
    }
}

// --- Helpers ------------------------------------------------------------------

/// `error` with its message made plain for the page: wrong credentials get
/// `fallback`; anything internal a generic sentence.
fn friendlier(error: Option<&GqlError>, fallback: &str) -> GqlError {
    let Some(error) = error else {
        return GqlError {
            code: "INTERNAL".to_owned(),
            field: None,
            message: "Something went wrong on our side. Please try again in a moment.".to_owned(),
            retry_after: None,
        };
    };
    let message = match error.code.as_str() {
        "INVALID_CREDENTIALS" => fallback.to_owned(),
        "INTERNAL" => "Something went wrong on our side. Please try again in a moment.".to_owned(),
        _ => error.message.clone(),
    };
    GqlError {
        message,
        ..error.clone()
    }
}

/// Percent-encodes a query value (slugs are plain already; this is a guard).
fn url_component(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
