//! The Customer Portal worker: sends the emails of the outbox.
//!
//! - [`queue`]: where jobs are pushed (Redis, or the api's in-process channel).
//! - [`jobs`]: what one job does (claim the delivery row, render it through
//!   the `service` crate, send, record the outcome).
//! - [`group_commit`]: the jobs' claims and records, done together in one
//!   transaction for all the jobs waiting.
//! - [`mailer`]: sending over SMTP or into `.eml` files.
//! - [`sweeper`]: pushes due and lost deliveries again.
//! - [`embedded`]: the same jobs inside the api when `REDIS_URL` is unset.
//! - [`run`] / [`cli::main`]: the `worker` process, an apalis consumer of the
//!   Redis queue with graceful drain on SIGTERM/SIGINT.
//!
//! The database decides what is sent; apalis and Redis only carry ids. Every
//! failure is recorded on the delivery row, never retried by apalis.

mod apalis_support;
pub mod cli;
pub mod embedded;
pub mod group_commit;
pub mod jobs;
pub mod mailer;
pub mod metrics;
pub mod queue;
pub mod sweeper;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context as _;
use apalis::prelude::{AbortError, BackendExt, BoxDynError, Data, Event, Monitor, WorkerBuilder, WorkerBuilderExt};
use apalis_core::backend::Vacuum;
use common::{Settings, outbox::EmailJob};

use crate::{
    apalis_support::{DrainKeepAlive, EagerInterval},
    jobs::JobContext,
};

/// Exit code when `REDIS_URL` is unset: there is no queue to drain, the api
/// sends emails itself in that mode.
pub const EXIT_NO_REDIS: u8 = 2;

/// How long a stopping worker waits for its in-flight jobs (longer than one
/// SMTP exchange can take). Jobs still running then are abandoned: their
/// rows' leases lapse and the sweeper brings them back.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How often an idle worker looks for new jobs: the pickup latency (every
/// push lands in apalis's scheduled set, and nothing wakes a worker when it
/// does). At 50 ms an invitation's email leaves about 30 ms after the
/// mutation (median; 200 ms gave about 125 ms); an idle worker pays 20
/// small Redis scripts a second, under 1 % of a CPU. A busy worker does not
/// wait for it: it fetches again as soon as its batch is taken.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How often the worker trims finished jobs' bookkeeping from Redis, and
/// how old they must be (apalis never expires anything by itself).
const VACUUM_EVERY: Duration = Duration::from_secs(600);
const VACUUM_OLDER_THAN: Duration = Duration::from_secs(3600);

/// A name unique to this process: host, pid and a random suffix. apalis
/// needs it (a restarted worker reusing a name within a heartbeat stops at
/// once), and claims use it as the lease owner.
#[must_use]
pub fn unique_worker_name(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{role}-{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

async fn handle_email_job(job: EmailJob, ctx: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    match jobs::process_delivery(&ctx, job.delivery_id).await {
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::error!(delivery_id = %job.delivery_id, error = %err, "email job failed");
            // Abort: apalis must never re-run a job; the row's lease lapses
            // and the sweeper pushes it again.
            Err(AbortError::new(err).into())
        }
    }
}

/// The `worker` process: drains the Redis queue `{QUEUE_NAMESPACE}:email`
/// with `WORKER_CONCURRENCY` jobs in flight and runs the outbox sweeper,
/// until `shutdown` completes; then stops taking jobs, finishes the
/// in-flight ones within [`SHUTDOWN_GRACE`] and returns `Ok`.
///
/// # Errors
/// When `REDIS_URL` is unset, the database, Redis or mail settings are
/// unusable, or the apalis monitor stops by itself (Redis gone): the process
/// should exit non-zero so that its supervisor restarts it.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let redis_url = settings
        .redis_url
        .as_ref()
        .context("REDIS_URL is not set: without Redis the api sends emails itself")?;
    // Poll the shutdown future once now: that installs the signal handlers,
    // so a signal arriving from here on is a graceful stop, not a kill.
    tokio::pin!(shutdown);
    tokio::select! {
        biased;
        () = &mut shutdown => {
            tracing::info!("stopped before start");
            return Ok(());
        }
        () = std::future::ready(()) => {}
    }
    let concurrency = usize::try_from(settings.worker_concurrency).unwrap_or(1).max(1);
    let (db, statements) = common::db::connect(&settings.database_url, settings.worker_concurrency + 2)
        .await
        .context("connecting to the database (DATABASE_URL)")?;
    // The api (or `api migrate`) owns migrations; a worker only refuses a
    // schema older than its own and runs against a newer one.
    common::db::prepare_schema(&db, false)
        .await
        .context("checking the database schema")?;
    let mut redis = common::redis_conn::connect(redis_url)
        .await
        .context("connecting to Redis (REDIS_URL)")?;
    if !common::redis_conn::ping(&mut redis).await {
        anyhow::bail!("Redis did not answer PING");
    }

    let name = unique_worker_name("worker");
    // Delivery states are announced to the api processes' subscriptions.
    let events = common::events::Events::redis(redis.clone(), &settings.queue_namespace);
    let mut registry = prometheus_client::registry::Registry::with_prefix("portal");
    registry.register(
        "db_statements",
        "SQL statements run by this process",
        statements.0.clone(),
    );
    let queue_metrics = common::queue_metrics::QueueMetrics::registered(&mut registry);
    let metrics_listener = match settings.metrics_addr {
        None => None,
        Some(address) => Some(
            metrics::bind(address)
                .await
                .with_context(|| format!("binding METRICS_ADDR {address}"))?,
        ),
    };
    let ctx = Arc::new(
        JobContext::from_settings(db.clone(), &settings, name.clone(), events.clone())?
            .with_metrics(queue_metrics.clone()),
    );
    let storage = queue::storage(redis.clone(), &settings.queue_namespace, concurrency);
    let config = storage.get_config().clone();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        }
    };
    // A backlog pushed while no worker fetched may be too large for
    // apalis's fetch to promote in one go (see `JobQueue::promote_due`).
    let job_queue = queue::JobQueue::redis(redis.clone(), &settings.queue_namespace, concurrency);
    match job_queue.promote_due().await {
        Ok(0) => {}
        Ok(moved) => tracing::info!(moved, "moved due jobs to the ready list before fetching"),
        Err(err) => tracing::warn!(error = %err, "could not move due jobs to the ready list"),
    }
    let sweeper = sweeper::spawn(
        db.clone(),
        job_queue,
        events,
        settings.outbox_sweep_interval(),
        settings.outbox_redeliver_after(),
        stopped(),
    );
    let vacuum = spawn_vacuum(storage.clone(), stopped());
    let metrics_server = metrics_listener.map(|listener| {
        if let Ok(address) = listener.local_addr() {
            tracing::info!(%address, "worker metrics on /metrics");
        }
        let scrape = Arc::new(metrics::Scrape {
            registry,
            queue: queue_metrics,
            db: db.clone(),
        });
        tokio::spawn(metrics::serve(listener, scrape, stopped()))
    });

    let monitor = {
        let name = name.clone();
        Monitor::new()
            .register(move |_restarts| {
                WorkerBuilder::new(name.clone())
                    .backend(storage.clone().poll_with_strategy(EagerInterval::new(POLL_INTERVAL)))
                    .concurrency(concurrency)
                    .catch_panic()
                    .data(ctx.clone())
                    .build(handle_email_job)
            })
            .on_event(|worker, event| match event {
                Event::Error(err) => tracing::warn!(worker = %worker.name(), error = %err, "queue worker error"),
                Event::Start | Event::Stop | Event::Exit => {
                    tracing::debug!(worker = %worker.name(), ?event, "queue worker event");
                }
                _ => {}
            })
    };
    let monitor_ctx = monitor.context();
    let running = monitor.run();
    tokio::pin!(running);
    tracing::info!(
        worker = %name,
        queue = %config.queue.as_ref(),
        concurrency,
        "worker ready"
    );

    let result = tokio::select! {
        result = &mut running => {
            let _ = stop_tx.send(true);
            Err(match result {
                Ok(()) => anyhow::anyhow!("the queue worker stopped by itself"),
                Err(err) => anyhow::Error::new(err).context("the queue worker stopped"),
            })
        }
        () = &mut shutdown => {
            tracing::info!(grace = ?SHUTDOWN_GRACE, "draining in-flight jobs");
            let _ = stop_tx.send(true);
            if let Err(err) = monitor_ctx.shutdown() {
                tracing::warn!(error = %err, "could not signal the queue worker to stop");
            }
            let keep_alive = DrainKeepAlive {
                conn: redis.clone(),
                workers_key: config.workers_set(),
                worker_name: name.clone(),
                every: queue::HEARTBEAT_INTERVAL,
            }
            .spawn();
            let drained = tokio::time::timeout(SHUTDOWN_GRACE, &mut running).await;
            keep_alive.abort();
            match drained {
                Ok(Ok(())) => tracing::info!("drained; worker stopped"),
                Ok(Err(err)) => tracing::warn!(error = %err, "queue worker reported an error while stopping"),
                Err(_) => tracing::warn!("grace period over; in-flight jobs abandoned (the sweeper brings them back)"),
            }
            Ok(())
        }
    };
    let _ = sweeper.await;
    let _ = vacuum.await;
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    db.close().await.ok();
    result
}

/// Trims finished jobs' data and metadata from Redis now and then.
fn spawn_vacuum(
    mut storage: apalis_redis::RedisStorage<EmailJob>,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(stopped);
        let mut ticks = tokio::time::interval(VACUUM_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut stopped => break,
                _ = ticks.tick() => {}
            }
            match storage.vacuum_before(VACUUM_OLDER_THAN).await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "trimmed finished jobs from Redis"),
                Err(err) => tracing::warn!(error = %err, "could not trim finished jobs from Redis"),
            }
        }
    })
}
