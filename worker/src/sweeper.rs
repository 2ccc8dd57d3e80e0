//! The outbox sweeper: every `OUTBOX_SWEEP_INTERVAL_MS` it takes the
//! deliveries that are due ([`common::outbox::take_due`]: QUEUED rows nobody
//! picked up within `OUTBOX_REDELIVER_SECONDS`, RETRYING rows whose backoff
//! has passed) and pushes their jobs again. This is what makes a lost push,
//! a restarted or wiped Redis, or a crashed worker lose no email.
//!
//! Each tick also runs the domain's time-triggered scans
//! ([`service::scans`], e.g. recording expired invitations) that are due in
//! this process; they claim their rows themselves, so running them in every
//! process is safe.
//!
//! Any number of sweepers (api and worker processes) may run at once:
//! `take_due` hands each due row to one of them per redelivery period, and a
//! job pushed twice is still sent once (the claim). The sweeper sends nothing.
//!
//! Two guards keep a backlog from feeding on itself. A sweep pushes only
//! while the queue holds fewer than [`MAX_QUEUE_DEPTH`] jobs: the rows of a
//! waiting backlog are already queued, and pushing them again every
//! redelivery period would only add duplicates for the workers to skip.
//! And every round first moves due jobs out of apalis's scheduled set in
//! bounded steps ([`JobQueue::promote_due`]), so that a worker's fetch,
//! which promotes them all in one Lua call, never faces more than a sweep
//! interval's pushes.

use std::{future::Future, time::Duration};

use common::{
    events::{Event, Events},
    outbox::Due,
};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::task::JoinHandle;

use crate::queue::JobQueue;

/// Rows taken per query; a larger backlog is swept in several rounds at once.
pub const BATCH: u64 = 500;

/// A sweep pushes nothing once this many jobs wait in the queue (and only
/// up to it): those are being drained, and the rows it would take are
/// likely among them. Rows it leaves stay due and are pushed once the
/// queue is shorter.
pub const MAX_QUEUE_DEPTH: u64 = 2 * BATCH;

/// Promotes due jobs in the queue ([`JobQueue::promote_due`]), then takes
/// the due deliveries while the queue is shorter than [`MAX_QUEUE_DEPTH`]
/// and pushes their jobs; returns how many were pushed. A failed push is
/// logged and retried a period later (the row's next redelivery time has
/// already moved on).
///
/// # Errors
/// When the database fails.
pub async fn sweep_once(
    db: &DatabaseConnection,
    queue: &JobQueue,
    events: &Events,
    redeliver_after: Duration,
) -> Result<usize, DbErr> {
    match queue.promote_due().await {
        Ok(0) => {}
        Ok(moved) => tracing::debug!(moved, "moved due jobs to the ready list"),
        Err(err) => tracing::warn!(error = %err, "could not move due jobs to the ready list"),
    }
    // Unknown depth (Redis not answering): one batch; its pushes will fail
    // and be retried anyway.
    let mut room = queue
        .depth()
        .await
        .map_or(BATCH, |depth| MAX_QUEUE_DEPTH.saturating_sub(depth));
    let mut pushed = 0;
    while room > 0 {
        let limit = room.min(BATCH);
        let due = common::outbox::take_due(db, limit, redeliver_after).await?;
        let taken = due.len() as u64;
        for Due {
            id: delivery_id,
            organization_id,
            was_retrying,
        } in due
        {
            if was_retrying {
                // RETRYING → QUEUED: subscriptions hear of it.
                events.publish(Event::EmailDeliveryUpdated {
                    organization_id,
                    delivery_id,
                });
            }
            match queue.push(delivery_id).await {
                Ok(()) => pushed += 1,
                Err(err) => tracing::warn!(%delivery_id, error = %err, "sweeper could not push a due delivery"),
            }
        }
        if taken < limit {
            break;
        }
        room -= taken;
    }
    Ok(pushed)
}

/// Runs [`sweep_once`], then the due [`service::scans`], every `interval`
/// until `shutdown` completes; await the handle to know it has stopped.
pub fn spawn(
    db: DatabaseConnection,
    queue: JobQueue,
    events: Events,
    interval: Duration,
    redeliver_after: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut scans = service::scans::Schedule::default();
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => {}
            }
            // A sweep in progress is not interrupted: it only pushes ids.
            match sweep_once(&db, &queue, &events, redeliver_after).await {
                Ok(0) => {}
                Ok(pushed) => tracing::info!(pushed, "sweeper pushed due deliveries"),
                Err(err) => tracing::warn!(error = %err, "sweeper could not read the outbox"),
            }
            // Each scan logs what it did or why it failed.
            for event in scans.tick(&db).await.events {
                events.publish(event);
            }
        }
        tracing::debug!("sweeper stopped");
    })
}
