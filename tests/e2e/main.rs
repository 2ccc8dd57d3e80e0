//! End-to-end tests: the real api on a loopback port against a real database
//! (SQLite by default, PostgreSQL with `TEST_DATABASE_URL=postgres://…`).

mod accounts;
mod bad_input;
mod helpers;
mod http_surface;
mod invoices;
mod isolation;
mod locations_assets;
mod pagination;
mod roles;
mod seed;
mod staff_login;
mod statements;
