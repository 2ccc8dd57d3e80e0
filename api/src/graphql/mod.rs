//! The GraphQL layer: schema construction and limits, resolvers per domain,
//! output types, pagination and DataLoaders.
//!
//! Resolvers are short: they take the viewer's `Scope` (or check its role),
//! call a `service` function and map its result to an output type. Domain
//! rules, tenancy and grants live in the `service` crate; nothing here
//! filters rows.

pub mod connection;
pub mod context;
pub mod loaders;
pub mod mutation;
pub mod order;
pub mod query;
pub mod rows;
pub mod scalars;
pub mod schema;
pub mod subscription;
pub mod types;

pub use schema::{AppSchema, build_schema};
