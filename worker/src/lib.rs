//! The Customer Portal worker: drains the email queue in Redis.
//!
//! For now it connects to the database and Redis, reports that it is ready
//! and waits for SIGTERM/SIGINT; the email jobs come with the invitation flow.

use anyhow::Context;
use common::Settings;

/// Exit code when `REDIS_URL` is unset: there is no queue to drain, the api
/// sends emails itself in that mode.
pub const EXIT_NO_REDIS: i32 = 2;

/// Connects to the database and Redis, then waits for `shutdown`.
///
/// # Errors
/// When `REDIS_URL` is unset, or the database or Redis cannot be reached.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let redis_url = settings
        .redis_url
        .as_ref()
        .context("REDIS_URL is not set: without Redis the api sends emails itself")?;
    let (db, _) = common::db::connect(&settings.database_url, settings.worker_concurrency + 1)
        .await
        .context("connecting to the database (DATABASE_URL)")?;
    db.ping().await.context("pinging the database")?;
    let mut redis = common::redis_conn::connect(redis_url)
        .await
        .context("connecting to Redis (REDIS_URL)")?;
    if !common::redis_conn::ping(&mut redis).await {
        anyhow::bail!("Redis did not answer PING");
    }
    tracing::info!(
        queue_namespace = %settings.queue_namespace,
        concurrency = settings.worker_concurrency,
        "worker ready"
    );
    shutdown.await;
    tracing::info!("worker stopped");
    Ok(())
}
