//! Code that both the `api` and the `worker` processes need, kept in one place:
//! typed settings from the environment, the database connection (with its
//! statement counter and migration lock), the Redis connection, logging set-up,
//! the email outbox's state machine and its metrics, and small helpers such as masking email
//! addresses for logs and minting tokens.
//!
//! Nothing here knows about GraphQL or about email jobs' contents.

pub mod config;
pub mod db;
pub mod events;
pub mod outbox;
pub mod queue_metrics;
pub mod redact;
pub mod redis_conn;
pub mod shutdown;
pub mod telemetry;
pub mod token;

pub use config::{ConfigError, GraphqlExecution, Introspection, LogFormat, Settings};
