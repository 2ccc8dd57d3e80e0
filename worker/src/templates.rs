//! The emails' words: the invitation template, and the layout of the notices
//! (asset requests, receipts) whose content the api composes. Each renders a text
//! and an HTML alternative. Every value from the database is HTML-escaped in
//! the HTML part.
//!
//! Templates are pure functions of what they are given: they load nothing,
//! mint nothing and send nothing (see [`crate::jobs`] for that).

use chrono::{DateTime, Utc};

/// A rendered email, ready for [`crate::mailer::Mailer::compose`].
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject line.
    pub subject: String,
    /// The `text/plain` alternative.
    pub text: String,
    /// The `text/html` alternative.
    pub html: String,
}

impl std::fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies may carry a live link token: never print them.
        f.debug_struct("RenderedEmail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What the "Welcome to the Customer Portal" email says.
#[derive(Clone, Copy)]
pub struct Invitation<'a> {
    /// The subject, as the api wrote it on the delivery row
    /// (`Welcome to the Customer Portal — {organization name}`).
    pub subject: &'a str,
    /// The inviting business.
    pub organization_name: &'a str,
    /// The invited account (the greeting).
    pub account_name: &'a str,
    /// `{PUBLIC_URL}/portal/accept?token=…` (see [`accept_link`]).
    pub link: &'a str,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// The accept page's link for `token`; `public_url` has no trailing slash.
#[must_use]
pub fn accept_link(public_url: &str, token: &str) -> String {
    // Tokens are URL-safe base64: nothing to encode.
    format!("{public_url}/portal/accept?token={token}")
}

/// Renders the invitation email.
#[must_use]
pub fn invitation(email: &Invitation<'_>) -> RenderedEmail {
    let expires = email.expires_at.format("%B %-d, %Y at %H:%M UTC").to_string();
    let text = format!(
        "Hello {account},\n\
         \n\
         {organization} invites you to the Customer Portal, where you can see the assets \
         at your locations, request new ones and pay open invoices.\n\
         \n\
         To accept, open this link and choose your password:\n\
         \n\
         {link}\n\
         \n\
         The link can be used once and works until {expires}.\n\
         \n\
         If you did not expect this invitation, you can ignore this email; nothing \
         happens unless the link is used.\n\
         \n\
         {organization}\n",
        account = email.account_name,
        organization = email.organization_name,
        link = email.link,
    );
    let html = format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head><meta charset=\"utf-8\"><title>{subject}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5; color: #222;\">\n\
         <p>Hello {account},</p>\n\
         <p>{organization} invites you to the Customer Portal, where you can see the assets \
         at your locations, request new ones and pay open invoices.</p>\n\
         <p><a href=\"{link}\" style=\"display: inline-block; padding: 10px 18px; background: #1f5fbf; \
         color: #fff; text-decoration: none; border-radius: 4px;\">Accept the invitation</a></p>\n\
         <p>Or copy this link into your browser:<br>{link}</p>\n\
         <p>The link can be used once and works until {expires}.</p>\n\
         <p style=\"color: #666;\">If you did not expect this invitation, you can ignore this email; \
         nothing happens unless the link is used.</p>\n\
         <p>{organization}</p>\n\
         </body>\n\
         </html>\n",
        subject = escape(email.subject),
        account = escape(email.account_name),
        organization = escape(email.organization_name),
        link = escape(email.link),
        expires = escape(&expires),
    );
    RenderedEmail {
        subject: email.subject.to_owned(),
        text,
        html,
    }
}

/// Lays out a notice (asset request received or updated, payment receipt)
/// whose content the api composed: text and HTML parts, all text escaped.
#[must_use]
pub fn notice(subject: &str, notice: &common::outbox::Notice) -> RenderedEmail {
    let mut text = format!("{}\n\n", notice.heading);
    for paragraph in &notice.paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
    }
    for (label, value) in &notice.details {
        text.push_str(&format!("{label}: {value}\n"));
    }
    if !notice.details.is_empty() {
        text.push('\n');
    }
    text.push_str(&notice.organization_name);
    text.push('\n');

    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5; color: #222;\">\n<p><strong>{}</strong></p>\n",
        escape(subject),
        escape(&notice.heading)
    );
    for paragraph in &notice.paragraphs {
        html.push_str(&format!("<p>{}</p>\n", escape(paragraph)));
    }
    if !notice.details.is_empty() {
        html.push_str("<table style=\"border-collapse: collapse;\">\n");
        for (label, value) in &notice.details {
            html.push_str(&format!(
                "<tr><th style=\"text-align: left; padding: 2px 12px 2px 0;\">{}</th><td>{}</td></tr>\n",
                escape(label),
                escape(value)
            ));
        }
        html.push_str("</table>\n");
    }
    html.push_str(&format!(
        "<p>{}</p>\n</body>\n</html>\n",
        escape(&notice.organization_name)
    ));
    RenderedEmail {
        subject: subject.to_owned(),
        text,
        html,
    }
}

pub use common::html::escape;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rendered(organization: &str, account: &str) -> RenderedEmail {
        let subject = format!("Welcome to the Customer Portal — {organization}");
        invitation(&Invitation {
            subject: &subject,
            organization_name: organization,
            account_name: account,
            link: &accept_link("https://portal.example.com", "tok_abc-123"),
            expires_at: Utc.with_ymd_and_hms(2026, 12, 7, 15, 30, 0).single().expect("date"),
        })
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
    }

    #[test]
    fn names_are_escaped_in_the_html_part_only() {
        let email = rendered("Tom & Jerry's <Rentals>", "<script>alert(1)</script>");
        assert!(
            email.html.contains("Tom &amp; Jerry&#39;s &lt;Rentals&gt;"),
            "{}",
            email.html
        );
        assert!(email.html.contains("Hello &lt;script&gt;alert(1)&lt;/script&gt;,"));
        assert!(!email.html.contains("<script>"));
        assert!(
            email.text.contains("Hello <script>alert(1)</script>,"),
            "text is not HTML"
        );
    }

    #[test]
    fn debug_output_hides_the_bodies() {
        let printed = format!("{:?}", rendered("Acme", "Jones"));
        assert!(!printed.contains("tok_abc"), "{printed}");
    }

    #[test]
    fn a_notice_lays_out_escaped_text_and_html() {
        let content = common::outbox::Notice {
            heading: "Your request was approved".to_owned(),
            paragraphs: vec!["We deliver <soon> & on time.".to_owned()],
            details: vec![("Location".to_owned(), "Tower site".to_owned())],
            organization_name: "Acme & Sons".to_owned(),
        };
        let email = notice("Request approved", &content);
        assert!(email.text.contains("We deliver <soon> & on time."));
        assert!(email.text.contains("Location: Tower site"));
        assert!(email.html.contains("We deliver &lt;soon&gt; &amp; on time."));
        assert!(email.html.contains("Acme &amp; Sons"));
    }
}
