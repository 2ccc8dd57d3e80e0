//! PAYMENT_RECEIPT — to the portal user who paid an invoice online: what
//! was paid, and the gateway's reference for it.

use askama::Template;
use chrono::{DateTime, Utc};
use entity::EmailKind;
use serde::{Deserialize, Serialize};

use super::{Email, RenderedEmail};

/// The payload of a PAYMENT_RECEIPT email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReceipt {
    /// The organization paid (the subject and the signature).
    pub organization_name: String,
    /// The invoice's number, e.g. `INV-1001`.
    pub invoice_number: String,
    /// The amount paid as the customer reads it, e.g. `$1,234.50` (the
    /// domain's money formatting, applied when the payment is recorded).
    pub amount: String,
    /// The payment gateway's reference of the charge.
    pub reference: String,
    /// When the payment was recorded.
    pub paid_at: DateTime<Utc>,
}

#[derive(Template)]
#[template(path = "email/payment_receipt/subject.txt")]
struct Subject<'a> {
    email: &'a PaymentReceipt,
}

#[derive(Template)]
#[template(path = "email/payment_receipt/body.txt")]
struct Text<'a> {
    email: &'a PaymentReceipt,
}

#[derive(Template)]
#[template(path = "email/payment_receipt/body.html")]
struct Html<'a> {
    subject: &'a str,
    email: &'a PaymentReceipt,
}

impl Email for PaymentReceipt {
    const KIND: EmailKind = EmailKind::PaymentReceipt;

    fn subject(&self) -> askama::Result<String> {
        Subject { email: self }.render()
    }
}

/// Renders the email with its stored `subject`.
///
/// # Errors
/// When a template fails.
pub fn render(subject: &str, email: &PaymentReceipt) -> askama::Result<RenderedEmail> {
    super::parts(subject, &Text { email }, &Html { subject, email })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn email(organization: &str) -> PaymentReceipt {
        PaymentReceipt {
            organization_name: organization.to_owned(),
            invoice_number: "INV-1001".to_owned(),
            amount: "$1,234.50".to_owned(),
            reference: "ch_sandbox_1".to_owned(),
            paid_at: Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).single().expect("date"),
        }
    }

    #[test]
    fn the_receipt_names_invoice_amount_reference_and_date() {
        let payload = email("Org acme");
        let subject = payload.subject().expect("subject");
        assert_eq!(subject, "Payment receipt for invoice INV-1001 — Org acme");
        let rendered = render(&subject, &payload).expect("render");
        for expected in [
            "We received your payment of $1,234.50 for invoice INV-1001. The invoice is now paid in full.",
            "Invoice: INV-1001\nAmount: $1,234.50\nReference: ch_sandbox_1\nDate: 2026-12-02\n",
            "Org acme",
        ] {
            assert!(
                rendered.text.contains(expected),
                "{expected:?} missing from:\n{}",
                rendered.text
            );
        }
        assert!(rendered.html.contains("<td>$1,234.50</td>"), "{}", rendered.html);
        assert!(
            rendered
                .html
                .contains("<title>Payment receipt for invoice INV-1001 — Org acme</title>")
        );
    }

    #[test]
    fn the_organization_is_escaped_in_the_html_part_only() {
        let payload = email("<script>Acme</script>");
        let subject = payload.subject().expect("subject");
        let rendered = render(&subject, &payload).expect("render");
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(rendered.html.contains("<p>&#60;script&#62;Acme&#60;/script&#62;</p>"));
        assert!(rendered.text.ends_with("<script>Acme</script>"), "{}", rendered.text);
        assert_eq!(subject, "Payment receipt for invoice INV-1001 — <script>Acme</script>");
    }
}
