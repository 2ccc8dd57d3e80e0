//! PASSWORD_RESET — "Reset your password": a one-time link, valid for an
//! hour, to a staff user's or a portal user's own address.
//!
//! The payload names the reset request only; the link is minted when the
//! email is rendered for sending ([`crate::password_resets::mint`]). A
//! request that was superseded by a newer one, used or has expired by then
//! cancels its email.

use askama::Template;
use chrono::{DateTime, Utc};
use common::Settings;
use entity::{EmailKind, email_delivery};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Email, RenderError, RenderedEmail};
use crate::password_resets;

/// `last_error` of a reset email whose link was superseded, used or had
/// expired before it could be sent.
pub const NOT_WANTED: &str = "the reset link was superseded, used or has expired";

/// The payload of a PASSWORD_RESET email. No link in it: links are minted
/// at send time and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    /// The `password_resets` row the link opens.
    pub password_reset_id: Uuid,
    /// The user's business (the subject and the signature).
    pub organization_name: String,
    /// A staff user's reset (its link opens the staff page).
    pub staff: bool,
}

#[derive(Template)]
#[template(path = "email/password_reset/subject.txt")]
struct Subject<'a> {
    email: &'a PasswordReset,
}

impl Email for PasswordReset {
    const KIND: EmailKind = EmailKind::PasswordReset;

    fn subject(&self) -> askama::Result<String> {
        Subject { email: self }.render()
    }
}

/// What the email's body shows.
#[derive(Debug)]
pub struct Content {
    /// The subject line (the HTML part's title).
    pub subject: String,
    /// The user's business.
    pub organization_name: String,
    /// A staff user's reset.
    pub staff: bool,
    /// `{PUBLIC_URL}/{portal|staff}/reset-password?token=…`.
    pub link: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl Content {
    fn area(&self) -> &'static str {
        if self.staff {
            "Customer Center"
        } else {
            "Customer Portal"
        }
    }
}

#[derive(Template)]
#[template(path = "email/password_reset/body.txt")]
struct Text<'a> {
    email: &'a Content,
    area: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset/body.html")]
struct Html<'a> {
    subject: &'a str,
    email: &'a Content,
    area: &'a str,
}

/// Renders the body parts of a reset email.
///
/// # Errors
/// When a template fails.
pub fn render_content(content: &Content) -> askama::Result<RenderedEmail> {
    let area = content.area();
    super::parts(
        &content.subject,
        &Text { email: content, area },
        &Html {
            subject: &content.subject,
            email: content,
            area,
        },
    )
}

/// Mints the reset's link and renders the email around it.
pub(super) async fn render(
    db: &impl ConnectionTrait,
    settings: &Settings,
    delivery: &email_delivery::Model,
    email: &PasswordReset,
) -> Result<RenderedEmail, RenderError> {
    let Some(minted) = password_resets::mint(db, delivery.organization_id, email.password_reset_id).await? else {
        return Err(RenderError::Cancelled(NOT_WANTED.to_owned()));
    };
    let content = Content {
        subject: delivery.subject.clone(),
        organization_name: email.organization_name.clone(),
        staff: email.staff,
        link: password_resets::reset_link(&settings.public_url, email.staff, &minted.token),
        expires_at: minted.expires_at,
    };
    render_content(&content).map_err(super::template_failed)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn rendered(organization: &str, staff: bool) -> RenderedEmail {
        let payload = PasswordReset {
            password_reset_id: Uuid::nil(),
            organization_name: organization.to_owned(),
            staff,
        };
        render_content(&Content {
            subject: payload.subject().expect("subject"),
            organization_name: organization.to_owned(),
            staff,
            link: password_resets::reset_link("https://portal.example.com", staff, "tok_abc-123"),
            expires_at: Utc.with_ymd_and_hms(2026, 12, 7, 15, 30, 0).single().expect("date"),
        })
        .expect("render")
    }

    #[test]
    fn the_email_carries_the_link_its_expiry_and_an_ignore_line() {
        let email = rendered("Acme Sanitation", false);
        assert_eq!(email.subject, "Reset your password — Acme Sanitation");
        for part in [&email.text, &email.html] {
            assert!(
                part.contains("https://portal.example.com/portal/reset-password?token=tok_abc-123"),
                "{part}"
            );
            assert!(part.contains("Customer Portal account at Acme Sanitation"), "{part}");
            assert!(part.contains("December 7, 2026 at 15:30 UTC"), "{part}");
            assert!(part.contains("If you did not ask for this, you can ignore this email"));
        }
        assert!(
            email
                .html
                .contains("href=\"https://portal.example.com/portal/reset-password?token=tok_abc-123\"")
        );
    }

    #[test]
    fn a_staff_users_link_opens_the_staff_page() {
        let email = rendered("Acme", true);
        assert!(email.text.contains("/staff/reset-password?token=tok_abc-123"));
        assert!(email.text.contains("Customer Center account at Acme"));
    }

    #[test]
    fn names_are_escaped_in_the_html_part_only() {
        let email = rendered("Tom & Jerry's <Rentals>", false);
        assert!(
            email.html.contains("Tom &#38; Jerry&#39;s &#60;Rentals&#62;"),
            "{}",
            email.html
        );
        assert!(!email.html.contains("<Rentals>"));
        assert!(email.text.contains("Tom & Jerry's <Rentals>"));
    }
}
