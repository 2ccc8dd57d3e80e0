//! Test and benchmark support: a real SMTP server on loopback.
//!
//! [`smtp_sink::SmtpSink`] is what the end-to-end tests (`tests/e2e`) send
//! their emails to and read them back from, and what the benchmark (`bench`)
//! drains the queue into. It is fast enough not to be the bottleneck of
//! either: its bare-client rate is far above what the workers reach.

pub mod redis_keys;
pub mod smtp_sink;
