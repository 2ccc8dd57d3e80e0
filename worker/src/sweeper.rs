//! The outbox sweeper: every `OUTBOX_SWEEP_INTERVAL_MS` it takes the
//! deliveries that are due ([`common::outbox::take_due`]: QUEUED rows nobody
//! picked up within `OUTBOX_REDELIVER_SECONDS`, RETRYING rows whose backoff
//! has passed) and pushes their jobs again. This is what makes a lost push,
//! a restarted or wiped Redis, or a crashed worker lose no email.
//!
//! Any number of sweepers (api and worker processes) may run at once:
//! `take_due` hands each due row to one of them per redelivery period, and a
//! job pushed twice is still sent once (the claim). The sweeper sends nothing.

use std::{future::Future, time::Duration};

use sea_orm::{DatabaseConnection, DbErr};
use tokio::task::JoinHandle;

use crate::queue::JobQueue;

/// Rows taken per query; a larger backlog is swept in several rounds at once.
pub const BATCH: u64 = 500;

/// Takes the due deliveries once and pushes their jobs; returns how many
/// were pushed. A failed push is logged and retried a period later (the
/// row's next redelivery time has already moved on).
///
/// # Errors
/// When the database fails.
pub async fn sweep_once(db: &DatabaseConnection, queue: &JobQueue, redeliver_after: Duration) -> Result<usize, DbErr> {
    let mut pushed = 0;
    loop {
        let due = common::outbox::take_due(db, BATCH, redeliver_after).await?;
        let full_batch = due.len() as u64 == BATCH;
        for delivery_id in due {
            match queue.push(delivery_id).await {
                Ok(()) => pushed += 1,
                Err(err) => tracing::warn!(%delivery_id, error = %err, "sweeper could not push a due delivery"),
            }
        }
        if !full_batch {
            return Ok(pushed);
        }
    }
}

/// Runs [`sweep_once`] every `interval` until `shutdown` completes; await the
/// handle to know it has stopped.
pub fn spawn(
    db: DatabaseConnection,
    queue: JobQueue,
    interval: Duration,
    redeliver_after: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => {}
            }
            // A sweep in progress is not interrupted: it only pushes ids.
            match sweep_once(&db, &queue, redeliver_after).await {
                Ok(0) => {}
                Ok(pushed) => tracing::info!(pushed, "sweeper pushed due deliveries"),
                Err(err) => tracing::warn!(error = %err, "sweeper could not read the outbox"),
            }
        }
        tracing::debug!("sweeper stopped");
    })
}
