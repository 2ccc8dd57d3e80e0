//! Routes that are not resolvers: the GraphQL endpoint's HTTP handler,
//! GraphiQL, the Customer Portal web app, health, readiness and metrics,
//! and the client address every route sees ([`client_ip`]).

pub mod accept;
pub mod client_ip;
pub mod documents;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod permits;
pub mod portal;
pub mod server;
pub mod ws;
