//! The built-in sandbox gateway: the default, for demos, development and
//! tests. It follows the card processors' test conventions and moves no money.

use uuid::Uuid;

use super::{BoxFuture, ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway};

/// The test card that always succeeds.
pub const TOKEN_SUCCEEDS: &str = "tok_visa";
/// The test card that is always declined.
pub const TOKEN_DECLINED: &str = "tok_chargeDeclined";

/// Charges test cards: [`TOKEN_SUCCEEDS`] succeeds with a reference like
/// `sandbox_ch_<uuid>`, [`TOKEN_DECLINED`] is declined, any other token is
/// an unknown card ([`GatewayError::InvalidPaymentMethod`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxGateway;

impl PaymentGateway for SandboxGateway {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn charge(&self, request: ChargeRequest) -> BoxFuture<'_, Result<ChargeOutcome, GatewayError>> {
        Box::pin(async move {
            match request.payment_method_token.as_str() {
                TOKEN_SUCCEEDS => Ok(ChargeOutcome::Succeeded {
                    reference: format!("sandbox_ch_{}", Uuid::now_v7().simple()),
                }),
                TOKEN_DECLINED => Ok(ChargeOutcome::Declined {
                    reason: "card_declined: the test card is always declined".to_owned(),
                }),
                _ => Err(GatewayError::InvalidPaymentMethod("unknown test card token".to_owned())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: &str) -> ChargeRequest {
        ChargeRequest {
            amount_cents: 12_345,
            currency: "USD".to_owned(),
            payment_method_token: token.to_owned(),
            idempotency_key: "org:key".to_owned(),
            description: "Invoice INV-1".to_owned(),
        }
    }

    #[tokio::test]
    async fn test_cards_succeed_decline_or_are_unknown() {
        let gateway = SandboxGateway;
        match gateway.charge(request(TOKEN_SUCCEEDS)).await {
            Ok(ChargeOutcome::Succeeded { reference }) => assert!(reference.starts_with("sandbox_ch_"), "{reference}"),
            other => panic!("expected success, got {other:?}"),
        }
        assert!(matches!(
            gateway.charge(request(TOKEN_DECLINED)).await,
            Ok(ChargeOutcome::Declined { .. })
        ));
        assert!(matches!(
            gateway.charge(request("tok_mastercard_typo")).await,
            Err(GatewayError::InvalidPaymentMethod(message)) if message == "unknown test card token"
        ));
    }
}
