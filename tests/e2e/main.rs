//! End-to-end tests: the real api on a loopback port against a real database
//! (SQLite by default, PostgreSQL with `TEST_DATABASE_URL=postgres://…`),
//! and for email delivery real Redis (`TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`), `worker` processes and an SMTP sink.

mod accept_page;
mod access;
mod accounts;
mod asset_requests;
mod authorization;
mod bad_input;
mod browser;
mod cors_compression;
mod costs;
mod degrade;
mod delivery;
mod deploy;
mod fast_path;
mod grant_walk;
mod graphql_http_audit;
mod graphql_over_http;
mod helpers;
mod http_surface;
mod introspection;
mod invitation_flow;
mod invitations;
mod invoices;
mod isolation;
mod locations_assets;
mod operations;
mod pagination;
mod passwords;
mod payments;
mod portal_pages;
mod rate_limits;
mod roles;
mod scans;
mod schema_versions;
mod seed;
mod staff_login;
mod statements;
mod subscriptions;
mod worker_helpers;
