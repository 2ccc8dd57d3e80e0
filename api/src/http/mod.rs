//! Routes that are not resolvers: the GraphQL endpoint's HTTP handler,
//! GraphiQL, the Customer Portal web app, health, readiness and metrics.

pub mod accept;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod portal;
pub mod ws;
