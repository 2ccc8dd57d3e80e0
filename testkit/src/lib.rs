//! Test and benchmark support, shared by the end-to-end tests (`tests/`),
//! the crates' own integration tests and the benchmark (`bench`):
//!
//! - [`database::TestDatabase`]: a throwaway database per test, cloned from
//!   a migrated template (PostgreSQL) or copied from a template file (SQLite);
//! - [`builders`]: rows with defaults, so tests name only the columns they
//!   care about;
//! - [`eventually`]: waiting for an asynchronous effect with a deadline;
//! - [`smtp_sink::SmtpSink`]: a real SMTP server on loopback that tests read
//!   their emails back from and the benchmark drains the queue into, fast
//!   enough not to be the bottleneck of either;
//! - [`redis_keys`]: finding a queue namespace's keys without blocking Redis;
//! - [`proxy::Proxy`]: a TCP proxy in front of Redis or PostgreSQL that can
//!   stall or cut its connections.
//!
//! Nothing here is used by the product's binaries.

pub mod builders;
pub mod database;
mod eventually;
pub mod node;
pub mod proxy;
pub mod redis_keys;
pub mod smtp_sink;

pub use database::{Server, TestDatabase};
pub use eventually::{POLL_INTERVAL, eventually};
