//! Scans: rules triggered by time rather than by a request, run on the
//! outbox sweeper's tick in every api and worker process.
//!
//! Each scan finds the rows it is due to act on and claims every one with a
//! conditional UPDATE (the state it read is still the state it finds), so
//! any number of processes may run the same scan at once and each row is
//! acted on once. A scan's change, its audit event and any email it queues
//! commit together. A scan also declares how often it is worth running
//! ([`Scan::every`]); [`Schedule`] keeps that per process.
//!
//! Adding a scan: a module here with its `SCAN`, listed in [`SCANS`].
//! Scans own their rules; they send nothing (an email they queue goes
//! through the outbox like any other) and know no queue.

pub mod expire_invitations;

use std::{
    future::Future,
    pin::Pin,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

/// What a scan's run did: how many rows it acted on, and the live events
/// its committed changes call for (the sweeper publishes them).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Rows acted on.
    pub acted: u64,
    /// Events for subscriptions, in the order of the changes.
    pub events: Vec<common::events::Event>,
}

/// What a scan's run returns.
pub type ScanFuture<'a> = Pin<Box<dyn Future<Output = Result<Report, DbErr>> + Send + 'a>>;

/// One rule that runs on the sweeper's tick.
#[derive(Clone, Copy)]
pub struct Scan {
    /// Its name in logs.
    pub name: &'static str,
    /// How often a process runs it (a tick in between skips it).
    pub every: Duration,
    /// Acts on what is due at `now`; reports how many rows it changed.
    pub run: for<'a> fn(&'a DatabaseConnection, DateTime<Utc>) -> ScanFuture<'a>,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("name", &self.name)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// Every scan, in the order a tick runs them.
pub const SCANS: &[Scan] = &[expire_invitations::SCAN];

/// When each scan last ran in this process.
#[derive(Debug)]
pub struct Schedule {
    scans: Vec<(Scan, Option<Instant>)>,
}

impl Default for Schedule {
    fn default() -> Self {
        Self::new(SCANS)
    }
}

impl Schedule {
    /// A schedule of `scans`, each due at the first tick.
    #[must_use]
    pub fn new(scans: &[Scan]) -> Self {
        Self {
            scans: scans.iter().map(|scan| (*scan, None)).collect(),
        }
    }

    /// Runs the scans that are due; a failing scan is logged and tried
    /// again at its next period, and does not stop the others. Reports what
    /// the scans did, together.
    pub async fn tick(&mut self, db: &DatabaseConnection) -> Report {
        let mut total = Report::default();
        for (scan, last) in &mut self.scans {
            if last.is_some_and(|at| at.elapsed() < scan.every) {
                continue;
            }
            *last = Some(Instant::now());
            match (scan.run)(db, Utc::now()).await {
                Ok(report) => {
                    if report.acted > 0 {
                        tracing::info!(scan = scan.name, rows = report.acted, "scan acted");
                    }
                    total.acted += report.acted;
                    total.events.extend(report.events);
                }
                Err(err) => tracing::warn!(scan = scan.name, error = %err, "scan failed; it runs again next period"),
            }
        }
        total
    }
}
