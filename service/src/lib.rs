//! The Customer Portal's domain rules, free of GraphQL and HTTP.
//!
//! Every function takes a connection (or transaction) and plain Rust values,
//! enforces the product's rules and the tenant boundary, and returns entity
//! models or an error carrying one of the contract's codes. Reads take a
//! [`Scope`](scope::Scope) — the organization and the viewer's grants — and
//! apply it in their SQL, so no caller can forget to filter.
//!
//! This crate must not depend on async-graphql or axum: the `api` crate maps
//! its results to GraphQL and HTTP, the `worker` crate only transports email.

pub mod email;
pub mod invitation_links;
pub mod scans;
