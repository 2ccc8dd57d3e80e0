//! Two small pieces that apalis 1.0 lacks (see STACK-NOTES.md):
//!
//! - [`EagerInterval`], a poll strategy that really wakes an idle worker
//!   every period (the stock interval strategy leaves pickup to the
//!   heartbeat, which stalls for seconds);
//! - [`DrainKeepAlive`], which keeps a draining worker's heartbeat fresh:
//!   apalis stops heartbeating once shutdown starts, and a worker that looks
//!   dead has its in-flight jobs re-run by another worker.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{PollSnapshot, PollStrategy};
use redis::aio::ConnectionManager;

/// Polls the queue every `period`, re-arming its timer inside the same
/// `poll_drive` call so that the worker's waker is always registered.
#[derive(Debug)]
pub struct EagerInterval {
    period: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl EagerInterval {
    /// A strategy that fetches every `period`.
    #[must_use]
    pub fn new(period: Duration) -> Self {
        Self { period, sleep: None }
    }
}

impl Clone for EagerInterval {
    fn clone(&self) -> Self {
        Self::new(self.period)
    }
}

impl PollStrategy for EagerInterval {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut fired = false;
        loop {
            let period = self.period;
            let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(period)));
            match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    fired = true;
                    // The next turn creates AND polls the next timer.
                    self.sleep = None;
                }
                Poll::Pending if fired => return Poll::Ready(Some(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Refreshes a worker's entry in `{queue}:workers` while it drains.
#[derive(Clone)]
pub struct DrainKeepAlive {
    /// A connection to the queue's Redis.
    pub conn: ConnectionManager,
    /// `{queue}:workers`.
    pub workers_key: String,
    /// The draining worker's name.
    pub worker_name: String,
    /// How often (the heartbeat interval).
    pub every: Duration,
}

impl DrainKeepAlive {
    /// Starts refreshing; abort the handle when the worker has stopped.
    #[must_use]
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut conn = self.conn.clone();
            loop {
                let now = chrono::Utc::now().timestamp();
                // XX: only refresh; never re-register a worker already reaped.
                let refreshed: redis::RedisResult<i64> = redis::cmd("ZADD")
                    .arg(&self.workers_key)
                    .arg("XX")
                    .arg(now)
                    .arg(&self.worker_name)
                    .query_async(&mut conn)
                    .await;
                if let Err(err) = refreshed {
                    tracing::warn!(error = %err, "could not refresh the draining worker's heartbeat");
                }
                tokio::time::sleep(self.every).await;
            }
        })
    }
}
