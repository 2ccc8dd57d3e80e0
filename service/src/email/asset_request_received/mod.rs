//! ASSET_REQUEST_RECEIVED — to each staff user of the organization: a
//! customer asked for assets at one of its locations.

use askama::Template;
use entity::EmailKind;
use serde::{Deserialize, Serialize};

use super::{Email, RenderedEmail, asset_request::AssetRequestFacts};

/// The payload of an ASSET_REQUEST_RECEIVED email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRequestReceived {
    /// The organization (the signature).
    pub organization_name: String,
    /// The portal user who asked.
    pub customer_name: String,
    /// Their login email, so staff can reply.
    pub customer_email: String,
    /// What was asked.
    pub request: AssetRequestFacts,
}

#[derive(Template)]
#[template(path = "email/asset_request_received/subject.txt")]
struct Subject<'a> {
    email: &'a AssetRequestReceived,
}

#[derive(Template)]
#[template(path = "email/asset_request_received/body.txt")]
struct Text<'a> {
    email: &'a AssetRequestReceived,
}

#[derive(Template)]
#[template(path = "email/asset_request_received/body.html")]
struct Html<'a> {
    subject: &'a str,
    email: &'a AssetRequestReceived,
}

impl Email for AssetRequestReceived {
    const KIND: EmailKind = EmailKind::AssetRequestReceived;

    fn subject(&self) -> askama::Result<String> {
        Subject { email: self }.render()
    }
}

/// Renders the email with its stored `subject`.
///
/// # Errors
/// When a template fails.
pub fn render(subject: &str, email: &AssetRequestReceived) -> askama::Result<RenderedEmail> {
    super::parts(subject, &Text { email }, &Html { subject, email })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::asset_request::tests::facts;

    fn email(customer: &str) -> AssetRequestReceived {
        AssetRequestReceived {
            organization_name: "Acme & Sons".to_owned(),
            customer_name: customer.to_owned(),
            customer_email: "maria@riverside.example".to_owned(),
            request: facts(),
        }
    }

    #[test]
    fn it_says_who_asked_for_what_and_where() {
        let payload = email("Maria Lopez");
        let subject = payload.subject().expect("subject");
        assert_eq!(subject, "New asset request: 2 × Standard portable toilet at Tower site");
        let rendered = render(&subject, &payload).expect("render");
        for expected in [
            "New asset request from Riverside Construction\n\n",
            "Maria Lopez requested 2 × Standard portable toilet at Tower site.\n\n",
            "Approve, schedule or decline it in the Customer Center; the customer is emailed at every step.",
            "Customer: Maria Lopez <maria@riverside.example>\n",
            "Account: C-1001 Riverside Construction\n",
            "Location: Tower site (1 Main St, Portland)\n",
            "Asset type: Standard portable toilet\n",
            "Quantity: 2\n",
            "Needed by: 2026-12-09\n",
            "Notes: Gate code 1234\n\nAcme & Sons",
        ] {
            assert!(
                rendered.text.contains(expected),
                "{expected:?} missing from:\n{}",
                rendered.text
            );
        }
        assert!(
            rendered
                .html
                .contains("<td>Maria Lopez &lt;maria@riverside.example&gt;</td>")
        );
        assert!(rendered.html.contains("<p>Acme &#38; Sons</p>"), "{}", rendered.html);
    }

    #[test]
    fn database_values_are_escaped_in_the_html_part_only() {
        let mut payload = email("<script>alert(1)</script>");
        payload.request.account_name = "<script>".to_owned();
        payload.request.notes = Some("<b>gate</b> & code".to_owned());
        let rendered = render("New asset request", &payload).expect("render");
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(!rendered.html.contains("<b>"), "{}", rendered.html);
        assert!(
            rendered
                .html
                .contains("&#60;script&#62;alert(1)&#60;/script&#62; requested")
        );
        assert!(rendered.html.contains("&#60;b&#62;gate&#60;/b&#62; &#38; code"));
        assert!(rendered.text.contains("New asset request from <script>\n"));
        assert!(rendered.text.contains("Notes: <b>gate</b> & code"));
    }
}
