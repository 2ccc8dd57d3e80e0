//! The GraphQL face of [`service::money::Money`].

use async_graphql::{Context, Object, Result};

use crate::graphql::rows::{PlainFields, plain_value};

use crate::error::ApiError;

/// An amount of money in minor units (cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub service::money::Money);

impl Money {
    /// Builds an amount (see [`service::money::Money::new`]).
    #[must_use]
    pub fn new(cents: i64, currency: &str) -> Self {
        Self(service::money::Money::new(cents, currency))
    }
}

impl From<service::money::Money> for Money {
    fn from(money: service::money::Money) -> Self {
        Self(money)
    }
}

impl PlainFields for Money {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "amountCents" => plain_value(ctx, &i32::try_from(self.0.cents).ok()?),
            "currency" => plain_value(ctx, &self.0.code()),
            "formatted" => plain_value(ctx, &self.0.formatted()),
            _ => None,
        }
    }
}

/// An amount of money.
#[Object]
impl Money {
    /// Minor units (cents); never floating point.
    async fn amount_cents(&self) -> Result<i32> {
        Ok(i32::try_from(self.0.cents).map_err(ApiError::internal)?)
    }

    /// ISO 4217 currency code.
    async fn currency(&self) -> &str {
        self.0.code()
    }

    /// For display, e.g. "$1,234.50".
    #[graphql(name = "formatted")]
    async fn formatted_field(&self) -> String {
        self.0.formatted()
    }
}
