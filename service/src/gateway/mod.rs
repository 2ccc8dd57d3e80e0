//! The payment gateway: the one seam between `payInvoice` and whoever moves
//! the money.
//!
//! [`PaymentGateway`] is deliberately small — one `charge` — so that a card
//! processor's adapter is a few dozen lines. The built-in [`SandboxGateway`]
//! (the default) follows the processors' test-card conventions and never
//! talks to the network.
//!
//! This module owns the gateway's types only; the rules of paying (who may
//! pay what, the invoice lock, idempotency, recording the result) live in
//! [`crate::payments`].
//!
//! # Plugging in a real processor
//!
//! 1. Implement [`PaymentGateway`] for a client of the processor (for example
//!    a `reqwest` client holding the secret key in a `SecretString`). Map a
//!    refused card to [`ChargeOutcome::Declined`], a token the processor does
//!    not know to [`GatewayError::InvalidPaymentMethod`], and anything whose
//!    outcome is unknown (timeouts, 5xx, connection errors) to
//!    [`GatewayError::Unavailable`].
//! 2. Send [`ChargeRequest::idempotency_key`] as the processor's idempotency
//!    key (Stripe: the `Idempotency-Key` header). It is already namespaced by
//!    organization, so it is unique across the deployment. The processor then
//!    returns the original charge when the same key arrives again — after a
//!    timeout, or after our commit failed — which is what makes a retry by
//!    the customer safe end to end.
//! 3. Start the api with it: `Application::build_with_gateway(settings,
//!    Arc::new(MyProcessor::new(…)))` instead of `Application::build`.
//!    Resolvers reach it as `ctx.payment_gateway()`.
//!
//! Read `service::payments`' module documentation before pointing a real
//! processor at production: the sandbox's charge runs inside the invoice's
//! row lock, which a network call should not.

mod sandbox;

use std::{future::Future, pin::Pin};

pub use sandbox::SandboxGateway;

/// A boxed, sendable future: what [`PaymentGateway::charge`] returns, so the
/// trait stays usable as `Arc<dyn PaymentGateway>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One charge to make: the whole amount due of one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// What to charge, in minor units (cents); always positive.
    pub amount_cents: i64,
    /// ISO 4217 code of `amount_cents`, e.g. `USD`.
    pub currency: String,
    /// The card (or other method) as the processor's client-side library
    /// tokenised it; card numbers never reach the api.
    pub payment_method_token: String,
    /// Unique per charge across the deployment (`<organization id>:<the
    /// client's idempotencyKey>`); a real processor must receive it so that a
    /// repeated request returns the first charge instead of making another.
    pub idempotency_key: String,
    /// Shown on the processor's dashboard and statements, e.g. "Invoice INV-1001".
    pub description: String,
}

/// What the processor decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The money was captured.
    Succeeded {
        /// The processor's id of the charge (shown as `Payment.gatewayReference`).
        reference: String,
    },
    /// The processor refused the charge; nothing was captured.
    Declined {
        /// Why, in the processor's words (logged, not shown to the customer).
        reason: String,
    },
}

/// A charge that produced no decision.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The payment method token is unknown or unusable; the customer can fix
    /// it (answered as `BAD_USER_INPUT` on `paymentMethodToken`).
    #[error("{0}")]
    InvalidPaymentMethod(String),
    /// The processor could not be reached or failed; whether it charged is
    /// unknown, so a retry must reuse the idempotency key.
    #[error("the payment gateway failed")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Moves money for `payInvoice`. Held by the api as `Arc<dyn PaymentGateway>`
/// (see the module documentation for plugging in a real processor).
pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// A short name for logs, e.g. `sandbox`.
    fn name(&self) -> &'static str;

    /// Charges `request.amount_cents` to the payment method.
    ///
    /// Implementations must be idempotent on `request.idempotency_key` when
    /// the processor supports it, and must not retry a charge on their own.
    ///
    /// # Errors
    /// [`GatewayError`] when there is no decision: an unusable token, or a
    /// failure whose outcome is unknown.
    fn charge(&self, request: ChargeRequest) -> BoxFuture<'_, Result<ChargeOutcome, GatewayError>>;
}
