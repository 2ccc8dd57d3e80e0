//! The one error type of the domain, with the contract's codes.
//!
//! Policy (after crates.io's `util/errors.rs`): every service returns an
//! [`ApiError`]. Expected failures carry one of the contract's stable
//! `extensions.code` values ([`ApiError::code`]) and a message meant for the
//! user. Anything else is [`ApiError::Internal`]: the api logs its cause chain
//! with the request's span, and the client sees only `INTERNAL` and
//! "internal error" — database messages, SQL and stack details never leave
//! the server. How an error becomes a GraphQL or HTTP answer is the api's
//! business (`api::error`), not this module's.

use sea_orm::{DbErr, SqlErr};

/// Every error the api answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No session token, or an invalid or expired one.
    #[error("sign in first: this needs a valid session token")]
    Unauthenticated,
    /// Signed in, but this role may not do this.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// No such object visible to the viewer (also: another organization's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Validation failed; `field` names the input (e.g. `input.contact.email`).
    #[error("{message}")]
    BadInput {
        /// The argument or input field at fault.
        field: String,
        /// What is wrong, for the user.
        message: String,
    },
    /// The account has no contact email on file to invite.
    #[error("the account has no contact email on file; add one under Contact Information first")]
    ContactEmailMissing,
    /// The invitation token is unknown, already used, or revoked.
    #[error("this invitation link is not valid (already used, replaced or revoked)")]
    InvitationInvalid,
    /// The invitation token is past its expiry.
    #[error("this invitation link has expired")]
    InvitationExpired,
    /// The password-reset token is unknown, used, superseded or expired.
    #[error(
        "this password reset link is not valid (already used, replaced by a newer one, or expired); ask for a new one"
    )]
    PasswordResetInvalid,
    /// Login failed; the same for an unknown email and a wrong password.
    #[error("the email or password is not correct")]
    InvalidCredentials,
    /// Too many attempts.
    #[error("too many attempts; try again in {retry_after_seconds} seconds")]
    RateLimited {
        /// When the caller may try again.
        retry_after_seconds: u64,
    },
    /// An hourly quota is used up (code `RATE_LIMITED`).
    #[error("{what}: at most {limit} an hour ({setting}); try again in {retry_after_seconds} seconds")]
    QuotaExceeded {
        /// What is counted, e.g. "invitation emails of this organization".
        what: &'static str,
        /// The setting that sets the quota.
        setting: &'static str,
        /// The quota.
        limit: u64,
        /// When the caller may try again.
        retry_after_seconds: u64,
    },
    /// The organization has not set up online payments.
    #[error("online payments are not enabled for this organization")]
    PaymentsNotEnabled,
    /// The payment gateway declined the charge.
    #[error("the payment was declined; nothing was charged")]
    PaymentDeclined,
    /// The invoice is already paid or void.
    #[error("this invoice cannot be paid (already paid or void)")]
    InvoiceNotPayable,
    /// A websocket connection already has as many subscriptions open as it
    /// may.
    #[error("this connection already has {limit} subscriptions open; complete one first")]
    TooManySubscriptions {
        /// Subscriptions one connection may have open.
        limit: usize,
    },
    /// A subscriber fell too far behind the events and missed some; the
    /// subscription ended (subscribe again, and read the current state).
    #[error("this subscription fell {missed} events behind and was ended; subscribe again")]
    SubscriptionLagged {
        /// Events it missed.
        missed: u64,
    },
    /// Anything unexpected. Logged with its cause; clients see no details.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A validation error on `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Wraps an unexpected failure.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// The contract's `extensions.code` for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadInput { .. } => "BAD_USER_INPUT",
            Self::ContactEmailMissing => "CONTACT_EMAIL_MISSING",
            Self::InvitationInvalid => "INVITATION_INVALID",
            Self::InvitationExpired => "INVITATION_EXPIRED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::PasswordResetInvalid => "PASSWORD_RESET_INVALID",
            Self::RateLimited { .. } | Self::QuotaExceeded { .. } => "RATE_LIMITED",
            Self::PaymentsNotEnabled => "PAYMENTS_NOT_ENABLED",
            Self::PaymentDeclined => "PAYMENT_DECLINED",
            Self::InvoiceNotPayable => "INVOICE_NOT_PAYABLE",
            Self::TooManySubscriptions { .. } => "TOO_MANY_SUBSCRIPTIONS",
            Self::SubscriptionLagged { .. } => "SUBSCRIPTION_LAGGED",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

impl From<crate::email::QueueError> for ApiError {
    fn from(err: crate::email::QueueError) -> Self {
        match err {
            crate::email::QueueError::Database(err) => err.into(),
            other @ crate::email::QueueError::Prepare(_) => Self::internal(other),
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        Self::Internal(err.into())
    }
}

/// Which input a unique constraint guards, for [`on_unique`].
#[derive(Debug, Clone, Copy)]
pub struct UniqueRule {
    /// The index name, as PostgreSQL reports it (`migration::constraint::…`).
    pub constraint: &'static str,
    /// The input field to name in `extensions.field`.
    pub field: &'static str,
    /// The message for the user.
    pub message: &'static str,
}

/// Maps a unique-constraint violation to `BAD_USER_INPUT` on the input field
/// that the violated constraint guards; any other error stays internal.
pub fn on_unique(err: DbErr, rules: &[UniqueRule]) -> ApiError {
    if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
        // PostgreSQL names the index, SQLite the columns: the migration
        // crate knows both.
        let violated = migration::constraint::violated_unique_index(&detail).map(|index| index.name);
        if let Some(rule) = rules.iter().find(|rule| violated == Some(rule.constraint)) {
            return ApiError::bad_input(rule.field, rule.message);
        }
    }
    ApiError::from(err)
}
