//! INVITATION — "Welcome to the Customer Portal": the one-time link that
//! lets the account's contact sign up.
//!
//! The payload names the invitation only; the link is minted when the email
//! is rendered for sending ([`crate::invitation_links::mint_for`]), from the
//! invitation and the names it shows as read right after the claim. An invitation that is no longer
//! PENDING (accepted, revoked, expired) or gone cancels its email: it must
//! not go out.

use askama::Template;
use chrono::{DateTime, Utc};
use common::Settings;
use entity::{EmailKind, email_delivery};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Email, RenderError, RenderedEmail};
use crate::invitation_links::{self, Invitee, Mint};

/// `last_error` of an invitation email whose invitation was accepted,
/// revoked or expired before it could be sent.
pub const NOT_PENDING: &str = "invitation is no longer pending";

/// `last_error` of an invitation email whose invitation was deleted.
pub const GONE: &str = "the delivery's invitation no longer exists";

/// The payload of an INVITATION email. No link in it: links are minted at
/// send time and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The invitation the link opens.
    pub invitation_id: Uuid,
    /// The inviting business, for the subject. Rows written before the
    /// subject had a template lack it; their subject is already stored.
    #[serde(default)]
    pub organization_name: String,
}

#[derive(Template)]
#[template(path = "email/invitation/subject.txt")]
struct Subject<'a> {
    email: &'a Invitation,
}

impl Email for Invitation {
    const KIND: EmailKind = EmailKind::Invitation;

    fn subject(&self) -> askama::Result<String> {
        Subject { email: self }.render()
    }

    fn invitation_id(&self) -> Option<Uuid> {
        Some(self.invitation_id)
    }
}

/// What the email's body shows.
#[derive(Debug)]
pub struct Content {
    /// The subject line (the HTML part's title).
    pub subject: String,
    /// The inviting business.
    pub organization_name: String,
    /// The invited account (the greeting).
    pub account_name: String,
    /// `{PUBLIC_URL}/portal/accept?token=…` (see [`invitation_links::accept_link`]).
    pub link: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

#[derive(Template)]
#[template(path = "email/invitation/body.txt")]
struct Text<'a> {
    email: &'a Content,
}

#[derive(Template)]
#[template(path = "email/invitation/body.html")]
struct Html<'a> {
    subject: &'a str,
    email: &'a Content,
}

/// Renders the body parts of an invitation email.
///
/// # Errors
/// When a template fails.
pub fn render_content(content: &Content) -> askama::Result<RenderedEmail> {
    super::parts(
        &content.subject,
        &Text { email: content },
        &Html {
            subject: &content.subject,
            email: content,
        },
    )
}

/// Mints the delivery's invitation link (from `invitee`, its invitation as
/// loaded for the batch; `None` when it is gone) and renders the email
/// around it; the link is stored, as the current one, once the email is
/// accepted ([`super::AfterSent::InvitationLink`]).
pub(super) fn render(
    settings: &Settings,
    delivery: &email_delivery::Model,
    invitee: Option<&Invitee>,
) -> Result<RenderedEmail, RenderError> {
    let invitation_id = delivery
        .invitation_id
        .ok_or_else(|| RenderError::Cancelled(GONE.to_owned()))?;
    let minted = match invitation_links::mint_for(invitee, delivery.organization_id, Utc::now()) {
        Mint::Minted(minted) => minted,
        Mint::NotPending => return Err(RenderError::Cancelled(NOT_PENDING.to_owned())),
        Mint::Gone => return Err(RenderError::Cancelled(GONE.to_owned())),
    };
    let content = Content {
        subject: delivery.subject.clone(),
        link: invitation_links::accept_link(&settings.public_url, &minted.token),
        organization_name: minted.organization_name,
        account_name: minted.account_name,
        expires_at: minted.expires_at,
    };
    let mut email = render_content(&content).map_err(super::template_failed)?;
    // The earlier link keeps working until the relay accepts this one.
    email.after_sent = Some(super::AfterSent::InvitationLink {
        invitation_id,
        digest: minted.digest,
    });
    Ok(email)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn rendered(organization: &str, account: &str) -> RenderedEmail {
        let payload = Invitation {
            invitation_id: Uuid::nil(),
            organization_name: organization.to_owned(),
        };
        render_content(&Content {
            subject: payload.subject().expect("subject"),
            organization_name: organization.to_owned(),
            account_name: account.to_owned(),
            link: invitation_links::accept_link("https://portal.example.com", "tok_abc-123"),
            expires_at: Utc.with_ymd_and_hms(2026, 12, 7, 15, 30, 0).single().expect("date"),
        })
        .expect("render")
    }

    #[test]
    fn the_invitation_greets_the_account_and_carries_link_expiry_and_an_ignore_line() {
        let email = rendered("Acme Sanitation", "Jones Construction");
        assert_eq!(email.subject, "Welcome to the Customer Portal — Acme Sanitation");
        for part in [&email.text, &email.html] {
            assert!(part.contains("Hello Jones Construction,"), "{part}");
            assert!(part.contains("https://portal.example.com/portal/accept?token=tok_abc-123"));
            assert!(part.contains("December 7, 2026 at 15:30 UTC"), "{part}");
            assert!(part.contains("If you did not expect this invitation, you can ignore this email"));
            assert!(part.contains("Acme Sanitation"));
        }
        assert!(
            email
                .html
                .contains("href=\"https://portal.example.com/portal/accept?token=tok_abc-123\"")
        );
        assert!(
            email
                .html
                .contains("<title>Welcome to the Customer Portal — Acme Sanitation</title>")
        );
    }

    #[test]
    fn names_are_escaped_in_the_html_part_only() {
        let email = rendered("Tom & Jerry's <Rentals>", "<script>alert(1)</script>");
        assert!(
            email.html.contains("Tom &#38; Jerry&#39;s &#60;Rentals&#62;"),
            "{}",
            email.html
        );
        assert!(email.html.contains("Hello &#60;script&#62;alert(1)&#60;/script&#62;,"));
        assert!(!email.html.contains("<script>"));
        assert!(!email.html.contains("<Rentals>"), "the title is escaped too");
        assert!(
            email.text.contains("Hello <script>alert(1)</script>,"),
            "text is not HTML"
        );
        assert!(email.text.contains("Tom & Jerry's <Rentals>"));
        assert_eq!(
            email.subject,
            "Welcome to the Customer Portal — Tom & Jerry's <Rentals>"
        );
    }

    #[test]
    fn debug_output_hides_the_bodies() {
        let printed = format!("{:?}", rendered("Acme", "Jones"));
        assert!(!printed.contains("tok_abc"), "{printed}");
    }

    #[test]
    fn a_payload_of_the_old_shape_still_reads() {
        let old: Invitation =
            serde_json::from_value(serde_json::json!({"invitation_id": Uuid::nil()})).expect("old payload");
        assert_eq!(old.organization_name, "");
    }
}
