//! The GraphQL permits: at most `GRAPHQL_MAX_CONCURRENCY` requests execute
//! at once and at most `GRAPHQL_MAX_WAITING` wait for their turn. Beyond
//! that a request is refused at once (503 with `Retry-After`, code
//! `RATE_LIMITED`), so a burst cannot pile up memory and latency without
//! bound: a load balancer sends the refused requests elsewhere, a client
//! tries again in a second.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::http::metrics::Metrics;

/// The seconds a refused request is told to wait.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The permits of one api process.
pub struct Permits {
    semaphore: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Why no permit was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every permit is taken and the wait queue is full.
    Busy,
    /// The process is shutting down.
    Closed,
}

/// Counts a request as waiting until dropped (also when the client goes
/// away while it waits).
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Permits {
    /// `concurrency` permits and room for `max_waiting` waiting requests.
    #[must_use]
    pub fn new(concurrency: usize, max_waiting: usize) -> Self {
        Self {
            semaphore: Semaphore::new(concurrency),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// A permit: at once when one is free, else after waiting in the queue
    /// (shown as `portal_graphql_waiting`), unless the queue is full.
    ///
    /// # Errors
    /// [`Refused::Busy`] when the queue is full, [`Refused::Closed`] on shutdown.
    pub async fn acquire(&self, metrics: &Metrics) -> Result<SemaphorePermit<'_>, Refused> {
        match self.semaphore.try_acquire() {
            Ok(permit) => return Ok(permit),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(Refused::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::Busy);
        }
        let _waiter = Waiter(&self.waiting);
        let _shown = metrics.waiting();
        self.semaphore.acquire().await.map_err(|_| Refused::Closed)
    }
}

#[cfg(test)]
mod tests {
    use common::db::StatementCounter;

    use super::*;

    #[tokio::test]
    async fn beyond_the_permits_and_the_queue_a_request_is_refused_at_once() {
        let metrics = Metrics::new(&StatementCounter::default());
        let permits = std::sync::Arc::new(Permits::new(1, 1));
        let held = permits.acquire(&metrics).await.expect("the permit");
        let queued = {
            let permits = permits.clone();
            tokio::spawn(async move {
                let metrics = Metrics::new(&StatementCounter::default());
                permits.acquire(&metrics).await.map(drop)
            })
        };
        // Let the second request take its place in the queue.
        while permits.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(permits.acquire(&metrics).await.err(), Some(Refused::Busy));
        drop(held);
        assert_eq!(queued.await.expect("joined"), Ok(()));
        assert_eq!(permits.waiting.load(Ordering::Acquire), 0);
        assert!(permits.acquire(&metrics).await.is_ok(), "room again");
    }
}
