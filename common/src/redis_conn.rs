//! The Redis connection used for the job queue, readiness checks and rate limits.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

/// Opens a reconnecting Redis connection.
///
/// redis-rs answers a slow reply after 500 ms with a timeout by default, and
/// one such timeout used to kill a worker: allow 10 s instead.
///
/// # Errors
/// When the URL is malformed or Redis does not answer.
pub async fn connect(url: &SecretString) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url.expose_secret())?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(3);
    client.get_connection_manager_with_config(config).await
}

/// How long [`ping`] waits for PONG.
pub const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// Sends PING; `true` when Redis answered PONG within [`PING_TIMEOUT`].
pub async fn ping(conn: &mut ConnectionManager) -> bool {
    let answer = tokio::time::timeout(PING_TIMEOUT, redis::cmd("PING").query_async::<String>(conn)).await;
    matches!(answer, Ok(Ok(ref pong)) if pong == "PONG")
}
