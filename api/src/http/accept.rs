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
//!   same rate limit as the `acceptInvitation` mutation and, signed in,
//!   answers 303 to `/portal` with the session in the portal's cookie.
//! - Both forms carry a CSRF token bound to the browser's `portal_csrf`
//!   cookie (set with the page; see the portal module), so another site
//!   cannot sign a visitor in with its own invitation: without it, 403.
//! - `POST /portal/accept/new-link` (a form) runs
//!   [`invitations::request_new`] under the `requestNewInvitation` limit and
//!   always answers the same neutral page, so it reveals nothing about the
//!   token and never takes an address.
//!
//! The pages are askama templates in `accept/templates/` (one per page,
//! sharing `layout.html`), need no JavaScript and load nothing: the CSS is
//! inline and the Content-Security-Policy forbids everything else. askama
//! escapes every value the templates print, so user-derived text (names,
//! the token, service messages) can never become markup. The token is in the URL, so
//! every response carries `Referrer-Policy: no-referrer` and `Cache-Control:
//! no-store`.
//!
//! This module owns presentation only: what a token allows is decided by
//! the invitations service, and status codes follow its errors.

use askama::Template;
use axum::{
    Form,
    extract::{
        Query, State,
        rejection::{FormRejection, QueryRejection},
    },
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use entity::InvitationStatus;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN},
    error::ApiError,
    http::portal::Browser,
    rate_limit::Action,
};
use service::invitations::{self, Link, Preview};

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
    /// The form's CSRF token (bound to the browser's `portal_csrf` cookie).
    #[serde(default)]
    pub csrf: String,
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
    /// The form's CSRF token (bound to the browser's `portal_csrf` cookie).
    #[serde(default)]
    pub csrf: String,
    /// The expired or superseded link token.
    #[serde(default)]
    pub token: String,
}

/// `GET /portal/accept?token=…`: the invitation and what can be done with it.
/// 200 for a known token whatever its state, 404 for an unknown or missing one.
pub async fn accept_page(
    State(state): State<AppState>,
    browser: Browser,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let token = query.ok().and_then(|Query(query)| query.token).unwrap_or_default();
    let (csrf, cookie) = browser.anonymous_csrf();
    // The same limits as the `invitationPreview` query: every opening counts.
    let counted = state
        .data
        .limiter
        .acquire(Action::InvitationPreview, &token, browser.client())
        .await;
    let mut response = match counted {
        Err(err) => failure(err),
        Ok(_counted) => match invitations::preview(&state.data.db, &token).await {
            Ok(Some(preview)) => match standing(&preview) {
                Standing::Open => accept_form(&preview, &token, &csrf, "", None, StatusCode::OK),
                _ => refusal(Some(&preview), &token, &csrf, false, StatusCode::OK),
            },
            Ok(None) => unknown_link(StatusCode::NOT_FOUND),
            Err(err) => failure(err),
        },
    };
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /portal/accept`: signs the customer up (or adds the account to the
/// existing login) and shows the new session. Statuses: 200 signed in; 422
/// passwords differ or a field is invalid; 410 the link is used, revoked,
/// superseded or expired; 401 wrong password of an existing login; 429 too
/// many failures (with `Retry-After`); 500 anything unexpected.
pub async fn accept_submit(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<Form<AcceptForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&rejection),
    };
    if !browser.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let csrf = form.csrf.as_str();
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
                    csrf,
                    &form.name,
                    Some(&error),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            }
            Ok(preview) => refusal(preview.as_ref(), token, csrf, false, StatusCode::GONE),
            Err(err) => failure(err),
        };
    }

    // The same rules as the `acceptInvitation` mutation: count the attempt
    // before anything is checked, refused when a bucket is full; hand it
    // back unless it failed the way guessing would.
    let limiter = &state.data.limiter;
    let address = browser.client();
    let attempt = match limiter.acquire(Action::AcceptInvitation, token, address).await {
        Ok(attempt) => attempt,
        Err(err) => return failure(err),
    };
    let ttl = state.data.settings.session_ttl_hours;
    let err = match invitations::accept(db, token, &form.name, &form.password, ttl).await {
        Ok(accepted) => {
            attempt.refund().await;
            tracing::info!(portal_user = %accepted.user.id, account = %accepted.account_id, "invitation accepted");
            state
                .data
                .publish_portal_status(accepted.user.organization_id, accepted.account_id);
            // Signed in: into the portal, with the session in its cookie.
            return crate::http::portal::enter(&browser, &accepted.session);
        }
        Err(err) => err,
    };
    if !matches!(
        err,
        ApiError::InvitationInvalid | ApiError::InvitationExpired | ApiError::InvalidCredentials
    ) {
        attempt.refund().await;
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
            form_again(
                &state,
                token,
                csrf,
                &form.name,
                &error,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        ApiError::InvalidCredentials => {
            let error = FieldError {
                field: Some("password"),
                message: "That password is not correct. Enter the password of your existing portal login.".to_owned(),
            };
            form_again(&state, token, csrf, &form.name, &error, StatusCode::UNAUTHORIZED).await
        }
        ApiError::InvitationInvalid | ApiError::InvitationExpired => {
            let expired = matches!(err, ApiError::InvitationExpired);
            match invitations::preview(db, token).await {
                Ok(preview) => refusal(preview.as_ref(), token, csrf, expired, StatusCode::GONE),
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
    browser: Browser,
    form: Result<Form<NewLinkForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&rejection),
    };
    if !browser.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    // The same rules as the `requestNewInvitation` mutation: every request counts.
    let limiter = &state.data.limiter;
    let address = browser.client();
    // Every request counts: each may send an email.
    let _counted = match limiter
        .acquire(Action::RequestNewInvitation, &form.token, address)
        .await
    {
        Ok(attempt) => attempt,
        Err(err) => return failure(err),
    };
    match invitations::request_new(&state.data.db, &form.token, &state.data.settings).await {
        Ok(queued) => {
            // Committed: a failed push is only late, the sweeper pushes it again.
            state.data.dispatch_requested(queued).await;
            page(
                StatusCode::OK,
                &NewLinkRequested {
                    title: "Check your email",
                },
            )
        }
        Err(err) => failure(err),
    }
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
#[derive(Template)]
#[template(path = "http/accept/templates/form.html")]
struct AcceptPage<'a> {
    title: &'a str,
    /// The form's CSRF token.
    csrf: &'a str,
    preview: &'a Preview,
    /// The summary shows the expiry.
    with_expiry: bool,
    token: &'a str,
    /// The name typed so far.
    name: &'a str,
    error: Option<&'a FieldError>,
}

impl AcceptPage<'_> {
    /// Whether `field` is the one the error is about.
    fn invalid(&self, field: &str) -> bool {
        self.error.is_some_and(|e| e.field == Some(field))
    }
}

/// A link that cannot be accepted (any more), with what can still be done.
#[derive(Template)]
#[template(path = "http/accept/templates/refusal.html")]
struct Refusal<'a> {
    title: &'a str,
    /// The "Send me a new link" form's CSRF token.
    csrf: &'a str,
    standing: Standing,
    /// The inviting business, or a description of it when unknown.
    organization: &'a str,
    preview: Option<&'a Preview>,
    with_expiry: bool,
    token: &'a str,
}

impl Refusal<'_> {
    fn offers_new_link(&self) -> bool {
        matches!(self.standing, Standing::Expired | Standing::Superseded)
    }
}

#[derive(Template)]
#[template(path = "http/accept/templates/invalid_link.html")]
struct InvalidLink<'a> {
    title: &'a str,
    preview: Option<&'a Preview>,
    with_expiry: bool,
}

#[derive(Template)]
#[template(path = "http/accept/templates/unknown_link.html")]
struct UnknownLink<'a> {
    title: &'a str,
}

#[derive(Template)]
#[template(path = "http/accept/templates/new_link_requested.html")]
struct NewLinkRequested<'a> {
    title: &'a str,
}

#[derive(Template)]
#[template(path = "http/accept/templates/too_many_attempts.html")]
struct TooManyAttempts<'a> {
    title: &'a str,
    minutes: u64,
}

#[derive(Template)]
#[template(path = "http/accept/templates/something_went_wrong.html")]
struct SomethingWentWrong<'a> {
    title: &'a str,
}

#[derive(Template)]
#[template(path = "http/accept/templates/unreadable_form.html")]
struct UnreadableForm<'a> {
    title: &'a str,
}

/// The sign-up form, or the password-only form for an existing login.
fn accept_form(
    preview: &Preview,
    token: &str,
    csrf: &str,
    name: &str,
    error: Option<&FieldError>,
    status: StatusCode,
) -> Response {
    let title = if preview.existing_user {
        format!("Add {} to your portal login", preview.account_name)
    } else {
        "Join the Customer Portal".to_owned()
    };
    page(
        status,
        &AcceptPage {
            title: &title,
            csrf,
            preview,
            with_expiry: true,
            token,
            name,
            error,
        },
    )
}

/// Re-renders the form after the service refused the input; when the link
/// is no longer open (it changed meanwhile), says so instead.
async fn form_again(
    state: &AppState,
    token: &str,
    csrf: &str,
    name: &str,
    error: &FieldError,
    status: StatusCode,
) -> Response {
    match invitations::preview(&state.data.db, token).await {
        Ok(Some(preview)) if standing(&preview) == Standing::Open => {
            accept_form(&preview, token, csrf, name, Some(error), status)
        }
        Ok(preview) => refusal(preview.as_ref(), token, csrf, false, StatusCode::GONE),
        Err(err) => failure(err),
    }
}

/// The page for a link that cannot be accepted (any more): `expired` is the
/// service's verdict when the preview is gone or looks open (a race).
fn refusal(preview: Option<&Preview>, token: &str, csrf: &str, expired: bool, status: StatusCode) -> Response {
    let standing = match preview.map(standing) {
        Some(Standing::Open) | None if expired => Standing::Expired,
        Some(Standing::Open) | None => return invalid_link(preview, status),
        Some(standing) => standing,
    };
    let title = match standing {
        Standing::Expired => "This invitation has expired",
        Standing::Superseded => "A newer link was sent",
        Standing::Used => "This invitation link was already used",
        Standing::Revoked | Standing::Open => "This invitation was withdrawn",
    };
    page(
        status,
        &Refusal {
            title,
            csrf,
            standing,
            organization: preview.map_or("the business that invited you", |p| p.organization_name.as_str()),
            preview,
            with_expiry: standing == Standing::Expired,
            token,
        },
    )
}

/// A link that the service refused for a reason the preview does not show.
fn invalid_link(preview: Option<&Preview>, status: StatusCode) -> Response {
    page(
        status,
        &InvalidLink {
            title: "This invitation link is not valid",
            preview,
            with_expiry: false,
        },
    )
}

/// The page for a token that matches no invitation (or no token at all).
fn unknown_link(status: StatusCode) -> Response {
    page(
        status,
        &UnknownLink {
            title: "This invitation link is not valid",
        },
    )
}

/// A refusal of the service that is not about the link: rate limited (429
/// with `Retry-After`) or unexpected (500, logged, no details).
fn failure(err: ApiError) -> Response {
    match err {
        ApiError::RateLimited { retry_after_seconds } => {
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                &TooManyAttempts {
                    title: "Too many attempts",
                    minutes: retry_after_seconds.div_ceil(60).max(1),
                },
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            response
        }
        other => {
            match &other {
                ApiError::Internal(cause) => tracing::error!(error = ?cause, "accept page: internal error"),
                unexpected => {
                    tracing::error!(code = unexpected.code(), error = %unexpected, "accept page: unexpected error");
                }
            }
            something_went_wrong()
        }
    }
}

fn something_went_wrong() -> Response {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        &SomethingWentWrong {
            title: "Something went wrong",
        },
    )
}

/// A POST whose body is not the form (wrong content type, bad encoding).
fn unreadable_form(rejection: &FormRejection) -> Response {
    page(
        rejection.status(),
        &UnreadableForm {
            title: "The form could not be read",
        },
    )
}

/// A form posted without this browser's CSRF token (another site's form,
/// or a page from before the browser's cookies were cleared): 403, nothing done.
fn csrf_refused() -> Response {
    page(
        StatusCode::FORBIDDEN,
        &UnreadableForm {
            title: "The form could not be read",
        },
    )
}

/// Renders one page with the headers every accept page carries. A template
/// that fails (a value's `Display` failed: a bug) is logged and answered
/// with a plain 500.
fn page(status: StatusCode, template: &impl Template) -> Response {
    let html = match template.render() {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(error = %err, "accept page: the template failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong").into_response();
        }
    };
    (
        status,
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
        .into_response()
}

// --- Text ---------------------------------------------------------------------

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
    use super::*;

    fn preview(existing_user: bool) -> Preview {
        Preview {
            organization_name: "<script>alert(1)</script> & Co".to_owned(),
            account_name: "<b>Harbor</b>".to_owned(),
            masked_email: "j***@customer.example".to_owned(),
            status: InvitationStatus::Pending,
            link: Link::Current,
            expires_at: chrono::Utc::now() + chrono::Duration::days(7),
            existing_user,
        }
    }

    fn rendered(template: &impl Template) -> String {
        template.render().expect("the page renders")
    }

    #[test]
    fn names_are_escaped_on_every_page_that_shows_them() {
        let existing = preview(true);
        let preview = preview(false);
        let error = FieldError {
            field: Some("name"),
            message: "<i>Name</i> is required.".to_owned(),
        };
        let pages = [
            rendered(&AcceptPage {
                title: "Join the Customer Portal",
                csrf: "c",
                preview: &preview,
                with_expiry: true,
                token: "tok\"en",
                name: "\"><script>",
                error: Some(&error),
            }),
            rendered(&AcceptPage {
                title: "Add <b>Harbor</b> to your portal login",
                csrf: "c",
                preview: &existing,
                with_expiry: true,
                token: "t",
                name: "",
                error: None,
            }),
            rendered(&Refusal {
                title: "A newer link was sent",
                csrf: "c",
                standing: Standing::Superseded,
                organization: &preview.organization_name,
                preview: Some(&preview),
                with_expiry: false,
                token: "t",
            }),
            rendered(&InvalidLink {
                title: "This invitation link is not valid",
                preview: Some(&preview),
                with_expiry: false,
            }),
        ];
        for page in &pages {
            assert!(page.starts_with("<!doctype html>\n<html lang=\"en\">"), "{page}");
            assert!(!page.contains("<script"), "{page}");
            assert!(!page.contains("<b>"), "{page}");
            assert!(page.contains("&#60;b&#62;Harbor&#60;/b&#62;"), "{page}");
        }
        assert!(pages[0].contains("value=\"tok&#34;en\""), "{}", pages[0]);
        assert!(
            pages[0].contains("value=\"&#34;&#62;&#60;script&#62;\""),
            "{}",
            pages[0]
        );
        assert!(pages[0].contains("&#60;i&#62;Name&#60;/i&#62; is required."));
        assert!(pages[0].contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; Co"));
    }

    #[test]
    fn only_the_field_in_error_is_marked_invalid() {
        let preview = preview(false);
        let error = FieldError {
            field: Some("password"),
            message: "Too short.".to_owned(),
        };
        let page = rendered(&AcceptPage {
            title: "Join the Customer Portal",
            csrf: "c",
            preview: &preview,
            with_expiry: true,
            token: "t",
            name: "Jo",
            error: Some(&error),
        });
        assert_eq!(page.matches("aria-invalid=\"true\"").count(), 1, "{page}");
        assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"form-error password-hint\""));
        assert!(page.contains("Link valid until"));
        assert!(page.contains("<form method=\"post\" action=\"accept\">"));
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
