//! Email jobs inside the api process, for when `REDIS_URL` is unset (the
//! quick start on a machine without services): an in-process channel drained
//! by `WORKER_CONCURRENCY` tasks that run the same [`process_delivery`] as a
//! `worker` process.
//!
//! The channel is only transport, as Redis is: a job lost with the process
//! is still a QUEUED row, which the sweeper (run it beside this, see
//! [`crate::sweeper::spawn`]) pushes again after a restart.
//!
//! ```no_run
//! # async fn example(db: sea_orm::DatabaseConnection, settings: common::Settings) -> anyhow::Result<()> {
//! let embedded = worker::embedded::start(db.clone(), &settings, common::events::Events::in_process(), Default::default())?;
//! let queue = embedded.queue(); // push after each commit
//! let (stop_sweeper, stopped) = tokio::sync::oneshot::channel::<()>();
//! let sweeper = worker::sweeper::spawn(
//!     db,
//!     queue.clone(),
//!     common::events::Events::in_process(),
//!     settings.outbox_sweep_interval(),
//!     settings.outbox_redeliver_after(),
//!     async move { let _ = stopped.await; },
//! );
//! // … serve until the shutdown signal, then:
//! let _ = stop_sweeper.send(());
//! let _ = sweeper.await;
//! embedded.shutdown(std::time::Duration::from_secs(30)).await;
//! # Ok(()) }
//! ```

use std::{sync::Arc, time::Duration};

use common::{Settings, events::Events, outbox::EmailJob, queue_metrics::QueueMetrics};
use sea_orm::DatabaseConnection;
use tokio::{
    sync::{Mutex, mpsc, watch},
    task::JoinSet,
};

use crate::{
    jobs::{JobContext, process_delivery},
    mailer::MailerError,
    queue::{IN_PROCESS_CAPACITY, JobQueue},
};

/// The running in-process consumers. Dropping it stops them without waiting
/// (jobs still in the channel stay QUEUED in the database).
#[derive(Debug)]
pub struct EmbeddedWorker {
    queue: JobQueue,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Starts `WORKER_CONCURRENCY` consumers of a new in-process queue (call it
/// inside the api's Tokio runtime), counting into `metrics`.
///
/// # Errors
/// When the mail settings are unusable (`MAIL_FROM`, `SMTP_URL`, `MAIL_OUTBOX_DIR`).
pub fn start(
    db: DatabaseConnection,
    settings: &Settings,
    events: Events,
    metrics: Arc<QueueMetrics>,
) -> Result<EmbeddedWorker, MailerError> {
    let owner = crate::unique_worker_name("api");
    let ctx = Arc::new(JobContext::from_settings(db, settings, owner, events)?.with_metrics(metrics));
    let (sender, receiver) = mpsc::channel::<EmailJob>(IN_PROCESS_CAPACITY);
    let receiver = Arc::new(Mutex::new(receiver));
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for _ in 0..settings.worker_concurrency.max(1) {
        tasks.spawn(consume(ctx.clone(), receiver.clone(), stopped.clone()));
    }
    tracing::info!(
        concurrency = settings.worker_concurrency,
        "in-process email queue started (REDIS_URL unset)"
    );
    Ok(EmbeddedWorker {
        queue: JobQueue::InProcess(sender),
        stop,
        tasks,
    })
}

async fn consume(
    ctx: Arc<JobContext>,
    receiver: Arc<Mutex<mpsc::Receiver<EmailJob>>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let job = {
            let mut receiver = receiver.lock().await;
            if *stopped.borrow() {
                return;
            }
            tokio::select! {
                biased;
                _ = stopped.changed() => return,
                job = receiver.recv() => job,
            }
        };
        let Some(job) = job else { return };
        // Its own task, so that a panic fails one job, not the consumer.
        let ctx = ctx.clone();
        let run = tokio::spawn(async move { process_delivery(&ctx, job.delivery_id).await });
        match run.await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::error!(delivery_id = %job.delivery_id, error = %err, "email job failed"),
            Err(err) => tracing::error!(delivery_id = %job.delivery_id, error = %err, "email job panicked"),
        }
    }
}

impl EmbeddedWorker {
    /// The queue to push jobs to (cheap to clone).
    #[must_use]
    pub fn queue(&self) -> JobQueue {
        self.queue.clone()
    }

    /// Stops taking jobs and waits up to `grace` for the ones in progress.
    /// Returns `false` when jobs were still running and were abandoned (their
    /// rows' leases lapse and the sweeper brings them back).
    pub async fn shutdown(mut self, grace: Duration) -> bool {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} })
            .await
            .is_ok();
        if drained {
            tracing::info!("in-process email queue stopped");
        } else {
            tracing::warn!("in-process email jobs still running after the grace period; abandoned");
            self.tasks.abort_all();
        }
        drained
    }
}
