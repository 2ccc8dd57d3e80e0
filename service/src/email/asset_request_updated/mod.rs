//! ASSET_REQUEST_UPDATED — to the customer who made a request: staff moved
//! it to a new status (approved, scheduled, fulfilled, declined, cancelled),
//! with what happens next and the reason staff gave, if any.

use askama::Template;
use entity::{AssetRequestStatus, EmailKind};
use serde::{Deserialize, Serialize};

use super::{Email, RenderedEmail, asset_request::AssetRequestFacts};

/// The payload of an ASSET_REQUEST_UPDATED email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRequestUpdated {
    /// The organization (the signature).
    pub organization_name: String,
    /// The request.
    pub request: AssetRequestFacts,
    /// The status it was moved to.
    pub status: AssetRequestStatus,
    /// Why, when staff said (a decline or cancellation).
    pub reason: Option<String>,
}

#[derive(Template)]
#[template(path = "email/asset_request_updated/subject.txt")]
struct Subject<'a> {
    email: &'a AssetRequestUpdated,
}

#[derive(Template)]
#[template(path = "email/asset_request_updated/body.txt")]
struct Text<'a> {
    email: &'a AssetRequestUpdated,
}

#[derive(Template)]
#[template(path = "email/asset_request_updated/body.html")]
struct Html<'a> {
    subject: &'a str,
    email: &'a AssetRequestUpdated,
}

impl Email for AssetRequestUpdated {
    const KIND: EmailKind = EmailKind::AssetRequestUpdated;

    fn subject(&self) -> askama::Result<String> {
        Subject { email: self }.render()
    }
}

/// Renders the email with its stored `subject`.
///
/// # Errors
/// When a template fails.
pub fn render(subject: &str, email: &AssetRequestUpdated) -> askama::Result<RenderedEmail> {
    super::parts(subject, &Text { email }, &Html { subject, email })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::asset_request::tests::facts;

    fn email(status: AssetRequestStatus, reason: Option<&str>) -> AssetRequestUpdated {
        AssetRequestUpdated {
            organization_name: "Org acme".to_owned(),
            request: facts(),
            status,
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn a_decline_gives_its_reason_and_what_next() {
        let payload = email(AssetRequestStatus::Rejected, Some("No trucks that week"));
        let subject = payload.subject().expect("subject");
        assert_eq!(
            subject,
            "Your asset request was declined: 2 × Standard portable toilet at Tower site"
        );
        let rendered = render(&subject, &payload).expect("render");
        let expected = "Your asset request was declined

Your request for 2 × Standard portable toilet at Tower site was declined.

Reason: No trucks that week

If you have questions, reply to your usual contact.

Account: C-1001 Riverside Construction
Location: Tower site (1 Main St, Portland)
Asset type: Standard portable toilet
Quantity: 2
Needed by: 2026-12-09
Notes: Gate code 1234
Status: REJECTED
Reason: No trucks that week

Org acme";
        assert_eq!(rendered.text, expected);
        assert!(
            rendered.html.contains("<p>Reason: No trucks that week</p>"),
            "{}",
            rendered.html
        );
        assert!(rendered.html.contains("<td>REJECTED</td>"));
    }

    #[test]
    fn every_status_has_its_words() {
        for (status, words, next) in [
            (AssetRequestStatus::Approved, "approved", "scheduled"),
            (AssetRequestStatus::Scheduled, "scheduled", "once it is done"),
            (AssetRequestStatus::Fulfilled, "fulfilled", "Thank you"),
            (AssetRequestStatus::Cancelled, "cancelled", "Nothing will be delivered"),
        ] {
            let payload = email(status, None);
            let subject = payload.subject().expect("subject");
            assert!(
                subject.starts_with(&format!("Your asset request was {words}: ")),
                "{subject}"
            );
            let rendered = render(&subject, &payload).expect("render");
            assert!(rendered.text.contains(next), "{}", rendered.text);
            assert!(!rendered.text.contains("Reason:"), "{}", rendered.text);
        }
    }

    #[test]
    fn the_reason_is_escaped_in_the_html_part_only() {
        let mut payload = email(AssetRequestStatus::Rejected, Some("<script>alert(1)</script>"));
        payload.request.location_name = "<Tower & Co>".to_owned();
        let rendered = render("s", &payload).expect("render");
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(rendered.html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
        assert!(rendered.html.contains("&#60;Tower &#38; Co&#62;"));
        assert!(rendered.text.contains("Reason: <script>alert(1)</script>"));
        assert!(rendered.text.contains("at <Tower & Co>"));
    }
}
