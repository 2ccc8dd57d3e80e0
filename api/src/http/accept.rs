//! The customer's invitation accept page, the one the link in the "Welcome
//! to the Customer Portal" email opens:
//!
//! - `GET /portal/accept?token=…` shows the invitation (organization,
//!   account, masked email, expiry) and, for the current pending link, the
//!   sign-up form — or, when the email already has a portal login in the
//!   organization, a form asking only for that login's password. An expired
//!   or superseded link offers "Send me a new link"; a used or revoked one
//!   says so. Opening the page never uses the token up: only the POST does.
//! - `POST /portal/accept` (a form) runs [`invitations::accept`] under the
//!   same rate limit as the `acceptInvitation` mutation and shows the new
//!   session once.
//! - `POST /portal/accept/new-link` (a form) runs
//!   [`invitations::request_new`] under the `requestNewInvitation` limit and
//!   always answers the same neutral page, so it reveals nothing about the
//!   token and never takes an address.
//!
//! The pages are rendered here, need no JavaScript and load nothing: the CSS
//! is inline and the Content-Security-Policy forbids everything else. Every
//! user-derived text goes through [`escape`]. The token is in the URL, so
//! every response carries `Referrer-Policy: no-referrer` and `Cache-Control:
//! no-store` (the success page also shows a session token).
//!
//! This module owns presentation only: what a token allows is decided by
//! the invitations service, and status codes follow its errors.

use std::net::{IpAddr, SocketAddr};

use axum::{
    Extension, Form,
    extract::{
        ConnectInfo, Query, State,
        rejection::{FormRejection, QueryRejection},
    },
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use entity::InvitationStatus;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN},
    error::ApiError,
    rate_limit::Action,
};
use service::{
    accounts,
    invitations::{self, Link, Preview},
};

/// Nothing but inline styles, and forms only to this origin: the page
/// cannot load or send anything elsewhere, nor be framed.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Where the sign-up form posts. Relative to `/portal/accept`, so the page
/// also works behind a proxy that serves the api under a path prefix.
const ACCEPT_ACTION: &str = "accept";
/// Where the "Send me a new link" form posts (relative, as [`ACCEPT_ACTION`]).
const NEW_LINK_ACTION: &str = "accept/new-link";
/// The longest name the service accepts (`validate::required`).
const MAX_NAME_LEN: usize = 200;

/// The query of `GET /portal/accept`.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    /// The link token from the email; missing is the same as unknown.
    #[serde(default)]
    pub token: Option<String>,
}

/// What the sign-up (or password-only) form posts.
#[derive(Deserialize)]
pub struct AcceptForm {
    /// The link token, from the form's hidden field.
    #[serde(default)]
    pub token: String,
    /// The new portal user's name (absent on the existing-login form).
    #[serde(default)]
    pub name: String,
    /// The new password, or the existing login's password.
    #[serde(default)]
    pub password: String,
    /// The new password typed again; absent on the existing-login form.
    #[serde(default)]
    pub password_confirmation: Option<String>,
}

/// What the "Send me a new link" form posts: the token only, never an address.
#[derive(Debug, Deserialize)]
pub struct NewLinkForm {
    /// The expired or superseded link token.
    #[serde(default)]
    pub token: String,
}

/// `GET /portal/accept?token=…`: the invitation and what can be done with it.
/// 200 for a known token whatever its state, 404 for an unknown or missing one.
pub async fn accept_page(State(state): State<AppState>, query: Result<Query<TokenQuery>, QueryRejection>) -> Response {
    let token = query.ok().and_then(|Query(query)| query.token).unwrap_or_default();
    match invitations::preview(&state.data.db, &token).await {
        Ok(Some(preview)) => match standing(&preview) {
            Standing::Open => accept_form(&preview, &token, "", None, StatusCode::OK),
            _ => refusal(Some(&preview), &token, false, StatusCode::OK),
        },
        Ok(None) => unknown_link(StatusCode::NOT_FOUND),
        Err(err) => failure(err),
    }
}

/// `POST /portal/accept`: signs the customer up (or adds the account to the
/// existing login) and shows the new session. Statuses: 200 signed in; 422
/// passwords differ or a field is invalid; 410 the link is used, revoked,
/// superseded or expired; 401 wrong password of an existing login; 429 too
/// many failures (with `Retry-After`); 500 anything unexpected.
pub async fn accept_submit(
    State(state): State<AppState>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Result<Form<AcceptForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&rejection),
    };
    let db = &state.data.db;
    let token = form.token.as_str();

    // A typo in the confirmation is caught here, before the service (and
    // the rate limit) see anything.
    if form
        .password_confirmation
        .as_ref()
        .is_some_and(|again| *again != form.password)
    {
        return match invitations::preview(db, token).await {
            Ok(Some(preview)) if standing(&preview) == Standing::Open => {
                let error = FieldError {
                    field: Some("password_confirmation"),
                    message: "The two passwords do not match. Type the same password in both fields.".to_owned(),
                };
                accept_form(
                    &preview,
                    token,
                    &form.name,
                    Some(&error),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            }
            Ok(preview) => refusal(preview.as_ref(), token, false, StatusCode::GONE),
            Err(err) => failure(err),
        };
    }

    // The same rules as the `acceptInvitation` mutation: refuse when the
    // token or the address used up its attempts; count only the failures
    // that guessing would produce.
    let limiter = &state.data.limiter;
    let address = client_address(connection);
    if let Err(err) = limiter.check(Action::AcceptInvitation, token, address).await {
        return failure(err);
    }
    let ttl = state.data.settings.session_ttl_hours;
    let err = match invitations::accept(db, token, &form.name, &form.password, ttl).await {
        Ok(accepted) => {
            tracing::info!(portal_user = %accepted.user.id, account = %accepted.account_id, "invitation accepted");
            let account_name = match accounts::get(
                db,
                &service::Scope::organization(accepted.user.organization_id),
                accepted.account_id,
            )
            .await
            {
                Ok(account) => account.name,
                Err(err) => {
                    // The sign-up is committed: show the session anyway.
                    tracing::warn!(error = ?err, "reading the accepted invitation's account failed");
                    "your account".to_owned()
                }
            };
            return welcome(&accepted.user.name, &account_name, &accepted.session);
        }
        Err(err) => err,
    };
    if matches!(
        err,
        ApiError::InvitationInvalid | ApiError::InvitationExpired | ApiError::InvalidCredentials
    ) {
        limiter.count(Action::AcceptInvitation, token, address).await;
    }
    match err {
        ApiError::BadInput { field, message } => {
            let error = FieldError {
                field: match field.as_str() {
                    "name" => Some("name"),
                    "password" => Some("password"),
                    _ => None,
                },
                message: sentence(&message),
            };
            form_again(&state, token, &form.name, &error, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        ApiError::InvalidCredentials => {
            let error = FieldError {
                field: Some("password"),
                message: "That password is not correct. Enter the password of your existing portal login.".to_owned(),
            };
            form_again(&state, token, &form.name, &error, StatusCode::UNAUTHORIZED).await
        }
        ApiError::InvitationInvalid | ApiError::InvitationExpired => {
            let expired = matches!(err, ApiError::InvitationExpired);
            match invitations::preview(db, token).await {
                Ok(preview) => refusal(preview.as_ref(), token, expired, StatusCode::GONE),
                Err(err) => failure(err),
            }
        }
        other => failure(other),
    }
}

/// `POST /portal/accept/new-link`: asks for a fresh link to be sent to the
/// email on file. Answers the same page whether or not anything was sent
/// (429 when rate limited, 500 when the database fails).
pub async fn request_new_link(
    State(state): State<AppState>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Result<Form<NewLinkForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&rejection),
    };
    // The same rules as the `requestNewInvitation` mutation: every request counts.
    let limiter = &state.data.limiter;
    let address = client_address(connection);
    if let Err(err) = limiter.check(Action::RequestNewInvitation, &form.token, address).await {
        return failure(err);
    }
    limiter.count(Action::RequestNewInvitation, &form.token, address).await;
    match invitations::request_new(&state.data.db, &form.token, &state.data.settings).await {
        Ok(delivery) => {
            if let Some(delivery_id) = delivery {
                // Committed: a failed push is only late, the sweeper pushes it again.
                if let Err(err) = state.data.queue.push(delivery_id).await {
                    tracing::warn!(%delivery_id, error = %err, "push to the email queue failed; the sweeper will retry");
                }
            }
            Page::new(StatusCode::OK, "Check your email")
                .html(
                    "<p class=\"ok\" role=\"status\">If this invitation can be renewed, a new link is on its way \
                     to the email address on file.</p>\n<p>It can take a few minutes to arrive. Use the link in \
                     the newest email: it replaces the earlier ones. If nothing arrives, ask the business that \
                     invited you to send a new invitation.</p>\n",
                )
                .into_response()
        }
        Err(err) => failure(err),
    }
}

fn client_address(connection: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<IpAddr> {
    connection.map(|Extension(ConnectInfo(addr))| addr.ip())
}

// --- What a token allows ------------------------------------------------------

/// What the page can offer for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// The current link of a pending invitation: sign up.
    Open,
    /// The current link, past its expiry: ask for a new one.
    Expired,
    /// An earlier link, replaced by a newer email: ask for a new one.
    Superseded,
    /// Already accepted.
    Used,
    /// Withdrawn by the business.
    Revoked,
}

fn standing(preview: &Preview) -> Standing {
    match (preview.status, preview.link) {
        (InvitationStatus::Accepted, _) => Standing::Used,
        (InvitationStatus::Revoked, _) => Standing::Revoked,
        (_, Link::Superseded) => Standing::Superseded,
        (InvitationStatus::Expired, Link::Current) => Standing::Expired,
        (InvitationStatus::Pending, Link::Current) => Standing::Open,
    }
}

// --- Pages --------------------------------------------------------------------

/// A problem with what the customer typed, shown above the form.
struct FieldError {
    /// The input to mark invalid (`name`, `password`, `password_confirmation`).
    field: Option<&'static str>,
    /// The message, a full sentence.
    message: String,
}

/// The sign-up form, or the password-only form for an existing login.
fn accept_form(preview: &Preview, token: &str, name: &str, error: Option<&FieldError>, status: StatusCode) -> Response {
    let org = escape(&preview.organization_name);
    let account = escape(&preview.account_name);
    let invalid = |field: &str| {
        if error.is_some_and(|e| e.field == Some(field)) {
            " aria-invalid=\"true\" aria-describedby=\"form-error\""
        } else {
            ""
        }
    };
    let mut body = String::new();
    let title = if preview.existing_user {
        body.push_str(&format!(
            "<p>You already have a portal login for {org}; enter its password to add {account}.</p>\n"
        ));
        format!("Add {} to your portal login", preview.account_name)
    } else {
        body.push_str(&format!(
            "<p>{org} invites you to the Customer Portal for {account}: see the assets at your locations, \
             request new ones and pay open invoices online. Choose your name and a password to get started.</p>\n"
        ));
        "Join the Customer Portal".to_owned()
    };
    body.push_str(&summary(preview, true));
    if let Some(error) = error {
        body.push_str(&format!(
            "<p class=\"error\" id=\"form-error\" role=\"alert\">{}</p>\n",
            escape(&error.message)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"{ACCEPT_ACTION}\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\n",
        escape(token)
    ));
    if preview.existing_user {
        body.push_str(&format!(
            "<label for=\"password\">Your portal password</label>\n\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" \
             required minlength=\"{MIN_PASSWORD_LEN}\" maxlength=\"{MAX_PASSWORD_LEN}\"{}>\n\
             <button type=\"submit\">Add {account}</button>\n",
            invalid("password")
        ));
    } else {
        body.push_str(&format!(
            "<label for=\"name\">Your name</label>\n\
             <input id=\"name\" name=\"name\" type=\"text\" autocomplete=\"name\" required \
             maxlength=\"{MAX_NAME_LEN}\" value=\"{}\"{}>\n\
             <label for=\"password\">Choose a password</label>\n\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
             required minlength=\"{MIN_PASSWORD_LEN}\" maxlength=\"{MAX_PASSWORD_LEN}\" \
             aria-describedby=\"password-hint\"{}>\n\
             <p class=\"hint\" id=\"password-hint\">At least {MIN_PASSWORD_LEN} characters. A few unrelated \
             words make a strong password that is easy to remember.</p>\n\
             <label for=\"password_confirmation\">Type the password again</label>\n\
             <input id=\"password_confirmation\" name=\"password_confirmation\" type=\"password\" \
             autocomplete=\"new-password\" required minlength=\"{MIN_PASSWORD_LEN}\" \
             maxlength=\"{MAX_PASSWORD_LEN}\"{}>\n\
             <button type=\"submit\">Create my portal account</button>\n",
            escape(name),
            invalid("name"),
            invalid("password"),
            invalid("password_confirmation"),
        ));
    }
    body.push_str("</form>\n");
    Page::new(status, &title).html(body).into_response()
}

/// Re-renders the form after the service refused the input; when the link
/// is no longer open (it changed meanwhile), says so instead.
async fn form_again(state: &AppState, token: &str, name: &str, error: &FieldError, status: StatusCode) -> Response {
    match invitations::preview(&state.data.db, token).await {
        Ok(Some(preview)) if standing(&preview) == Standing::Open => {
            accept_form(&preview, token, name, Some(error), status)
        }
        Ok(preview) => refusal(preview.as_ref(), token, false, StatusCode::GONE),
        Err(err) => failure(err),
    }
}

/// The page for a link that cannot be accepted (any more): `expired` is the
/// service's verdict when the preview is gone or looks open (a race).
fn refusal(preview: Option<&Preview>, token: &str, expired: bool, status: StatusCode) -> Response {
    let standing = match preview.map(standing) {
        Some(Standing::Open) | None if expired => Standing::Expired,
        Some(Standing::Open) | None => return invalid_link(preview, status),
        Some(standing) => standing,
    };
    let org = preview.map_or_else(
        || "the business that invited you".to_owned(),
        |p| escape(&p.organization_name),
    );
    let mut body = String::new();
    let title = match standing {
        Standing::Expired => {
            body.push_str(
                "<p>Invitation links work for a limited time, and this one has run out. We can send a new \
                 link to the email address the invitation went to.</p>\n",
            );
            "This invitation has expired"
        }
        Standing::Superseded => {
            body.push_str(&format!(
                "<p>{org} sent you a newer invitation email, so the link in this one no longer works. \
                 Use the link in the newest email, or ask for a new one.</p>\n"
            ));
            "A newer link was sent"
        }
        Standing::Used => {
            body.push_str(&format!(
                "<p>Each invitation link works only once, and this one has already set up a portal login. \
                 Sign in to the portal with your email and password. If that was not you, contact {org}.</p>\n"
            ));
            "This invitation link was already used"
        }
        Standing::Revoked | Standing::Open => {
            body.push_str(&format!(
                "<p>{org} withdrew this invitation, so its link no longer works. If you still need access \
                 to the Customer Portal, ask them to invite you again.</p>\n"
            ));
            "This invitation was withdrawn"
        }
    };
    if let Some(preview) = preview {
        body.push_str(&summary(preview, standing == Standing::Expired));
    }
    if matches!(standing, Standing::Expired | Standing::Superseded) {
        body.push_str(&new_link_form(token));
    }
    Page::new(status, title).html(body).into_response()
}

/// A link that the service refused for a reason the preview does not show.
fn invalid_link(preview: Option<&Preview>, status: StatusCode) -> Response {
    let mut body = String::from(
        "<p>This invitation link cannot be used any more: it was already used, replaced by a newer one, \
         or withdrawn. Use the link in the newest invitation email, or ask the business that invited you \
         to send a new invitation.</p>\n",
    );
    if let Some(preview) = preview {
        body.push_str(&summary(preview, false));
    }
    Page::new(status, "This invitation link is not valid")
        .html(body)
        .into_response()
}

/// The page for a token that matches no invitation (or no token at all).
fn unknown_link(status: StatusCode) -> Response {
    Page::new(status, "This invitation link is not valid")
        .html(
            "<p>We could not find an invitation for this link. Check that you opened the whole link from \
             the email (some email programs break long links in two). If it still does not work, ask the \
             business that invited you to send a new invitation.</p>\n",
        )
        .into_response()
}

fn new_link_form(token: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{NEW_LINK_ACTION}\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\n\
         <button type=\"submit\">Send me a new link</button>\n\
         <p class=\"hint\">The new link goes to the email address on file, never to another one.</p>\n\
         </form>\n",
        escape(token)
    )
}

/// The invitation at a glance; the expiry only where it still means something.
fn summary(preview: &Preview, with_expiry: bool) -> String {
    let mut out = format!(
        "<dl class=\"summary\">\n\
         <dt>From</dt><dd>{}</dd>\n\
         <dt>Account</dt><dd>{}</dd>\n\
         <dt>Sent to</dt><dd>{}</dd>\n",
        escape(&preview.organization_name),
        escape(&preview.account_name),
        escape(&preview.masked_email),
    );
    if with_expiry {
        let label = if preview.expires_at <= Utc::now() {
            "Expired"
        } else {
            "Link valid until"
        };
        out.push_str(&format!("<dt>{label}</dt><dd>{}</dd>\n", time(preview.expires_at)));
    }
    out.push_str("</dl>\n");
    out
}

/// Signed up (or in): the welcome and the session, shown this once.
fn welcome(name: &str, account_name: &str, session: &service::sessions::NewSession) -> Response {
    let body = format!(
        "<p class=\"ok\" role=\"status\">Welcome, {name}: your portal account for {account} is ready and you \
         are signed in.</p>\n\
         <h2>Your session</h2>\n\
         <p>The portal app and the API accept this session token as \
         <code>Authorization: Bearer &lt;token&gt;</code>. It is yours alone and is shown only this once: \
         keep it private, because anyone who has it can act as you until it expires or you sign out. You \
         can always sign in again with your email and password.</p>\n\
         <p><code class=\"token\" id=\"session-token\">{token}</code></p>\n\
         <p>Expires {expires}.</p>\n",
        name = escape(name),
        account = escape(account_name),
        token = escape(&session.token),
        expires = time(session.expires_at),
    );
    Page::new(StatusCode::OK, "You are all set").html(body).into_response()
}

/// A refusal of the service that is not about the link: rate limited (429
/// with `Retry-After`) or unexpected (500, logged, no details).
fn failure(err: ApiError) -> Response {
    match err {
        ApiError::RateLimited { retry_after_seconds } => {
            let minutes = retry_after_seconds.div_ceil(60).max(1);
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            Page::new(StatusCode::TOO_MANY_REQUESTS, "Too many attempts")
                .html(format!(
                    "<p class=\"error\" role=\"alert\">There were too many attempts with this link. To keep \
                     your account safe, please wait about {minutes} {unit} and try again.</p>\n"
                ))
                .retry_after(retry_after_seconds)
                .into_response()
        }
        other => {
            match &other {
                ApiError::Internal(cause) => tracing::error!(error = ?cause, "accept page: internal error"),
                unexpected => {
                    tracing::error!(code = unexpected.code(), error = %unexpected, "accept page: unexpected error");
                }
            }
            Page::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
                .html(
                    "<p class=\"error\" role=\"alert\">Something went wrong on our side. Please try again in a \
                     few minutes; your invitation link still works if it did before.</p>\n",
                )
                .into_response()
        }
    }
}

/// A POST whose body is not the form (wrong content type, bad encoding).
fn unreadable_form(rejection: &FormRejection) -> Response {
    Page::new(rejection.status(), "The form could not be read")
        .html(
            "<p class=\"error\" role=\"alert\">The form could not be read. Open the link from your invitation \
             email again and fill in the form on that page.</p>\n",
        )
        .into_response()
}

/// One HTML page with the headers every accept page carries.
struct Page {
    status: StatusCode,
    title: String,
    body: String,
    retry_after: Option<u64>,
}

impl Page {
    fn new(status: StatusCode, title: &str) -> Self {
        Self {
            status,
            title: title.to_owned(),
            body: String::new(),
            retry_after: None,
        }
    }

    /// The page's content, already escaped where it holds user-derived text.
    fn html(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let html = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n\
             <title>{title} · Customer Portal</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
             <p class=\"brand\">Customer Portal</p>\n<h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n",
            title = escape(&self.title),
            body = self.body,
        );
        let mut response = (
            self.status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
                (header::REFERRER_POLICY, "no-referrer"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (HeaderName::from_static("x-frame-options"), "DENY"),
            ],
            html,
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

const STYLE: &str = "
  body { font: 16px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; color: #1d2330;
    background: #f4f5f7; }
  main { max-width: 34rem; margin: 2rem auto; padding: 1.5rem 1.75rem 2rem; background: #fff;
    border: 1px solid #dde1e7; border-radius: 10px; }
  .brand { margin: 0 0 .25rem; font-size: .85rem; letter-spacing: .06em; text-transform: uppercase; color: #556070; }
  h1 { font-size: 1.45rem; line-height: 1.25; margin: 0 0 1rem; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
  .summary { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 1rem 0 1.25rem;
    padding: .75rem 1rem; background: #f6f7f9; border-radius: 6px; }
  dt { color: #556070; }
  dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
  label { display: block; font-weight: 600; margin: 1rem 0 .3rem; }
  input { box-sizing: border-box; width: 100%; font: inherit; padding: .55rem .65rem; border: 1px solid #8d95a3;
    border-radius: 6px; }
  input[aria-invalid=true] { border: 2px solid #b3261e; }
  input:focus, button:focus { outline: 3px solid #8aa8f0; outline-offset: 1px; }
  .hint { margin: .3rem 0 0; font-size: .9rem; color: #556070; }
  button { font: inherit; font-weight: 600; margin-top: 1.25rem; padding: .6rem 1.4rem; border: 0;
    border-radius: 6px; background: #2d5be3; color: #fff; cursor: pointer; }
  button:hover { background: #2149c0; }
  .error, .ok { padding: .6rem .8rem; border-radius: 6px; }
  .error { background: #fdecea; border: 1px solid #e6a39b; color: #7d1c10; }
  .ok { background: #e8f6ec; border: 1px solid #9fd3ae; }
  code { background: #eceef2; padding: 0 .25em; border-radius: 3px; }
  code.token { display: block; padding: .6rem; border: 1px solid #dde1e7; font: 14px/1.4 ui-monospace, monospace;
    overflow-wrap: anywhere; user-select: all; }
  @media (max-width: 36rem) { main { margin: 0; border: 0; border-radius: 0; } }
";

// --- Text ---------------------------------------------------------------------

pub use common::html::escape;

/// A `<time>` element, escaped, readable by people and machines.
fn time(at: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        at.format("%B %-d, %Y, %H:%M UTC")
    )
}

/// A service message as a sentence: capital first letter, final period.
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, sentence};

    #[test]
    fn escape_neutralises_markup_in_text_and_attributes() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("Ünïcode stays"), "Ünïcode stays");
    }

    #[test]
    fn service_messages_become_sentences() {
        assert_eq!(
            sentence("the password must have at least 10 characters"),
            "The password must have at least 10 characters."
        );
        assert_eq!(sentence("Name is required."), "Name is required.");
    }
}
