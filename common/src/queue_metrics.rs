//! Email queue metrics, the same on the api and on every worker (each on
//! its own `/metrics`):
//!
//! - `portal_email_deliveries{kind,status}`: deliveries QUEUED, RETRYING
//!   and FAILED right now (read from the outbox at each scrape, one
//!   statement, so every process reports the whole queue);
//! - `portal_email_queue_depth`: QUEUED deliveries (waiting for a worker);
//! - `portal_email_oldest_queued_age_seconds`: how long the oldest QUEUED
//!   delivery has waited (0 when none): the alert that says workers are
//!   missing or stuck;
//! - `portal_email_outcomes_total{kind,outcome}`: outcomes this process
//!   recorded (`sent`, `retrying`, `failed`, `cancelled`);
//! - `portal_email_attempts{kind}`: the attempt number at each outcome;
//! - `portal_email_send_duration_seconds{kind}`: how long each SMTP send
//!   (or `.eml` write) took, accepted or not.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use chrono::{DateTime, Utc};
use entity::{DeliveryStatus, EmailKind, email_delivery};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Iterable, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindStatus {
    kind: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindOutcome {
    kind: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindOnly {
    kind: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The statuses whose rows are counted at each scrape (SENT and CANCELLED
/// only grow; their flow shows in the outcome counters).
const COUNTED: [DeliveryStatus; 3] = [DeliveryStatus::Queued, DeliveryStatus::Retrying, DeliveryStatus::Failed];

/// The queue metrics of one process.
#[derive(Debug)]
pub struct QueueMetrics {
    deliveries: Family<KindStatus, Gauge>,
    depth: Gauge,
    oldest_queued: Gauge<f64, AtomicU64>,
    outcomes: Family<KindOutcome, Counter>,
    attempts: HistogramFamily<KindOnly>,
    send_duration: HistogramFamily<KindOnly>,
}

fn attempts_histogram() -> Histogram {
    Histogram::new([1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0])
}

fn send_histogram() -> Histogram {
    // 1 ms … ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for QueueMetrics {
    /// Metrics registered nowhere (a process that serves no `/metrics`).
    fn default() -> Self {
        Self {
            deliveries: Family::default(),
            depth: Gauge::default(),
            oldest_queued: Gauge::default(),
            outcomes: Family::default(),
            attempts: Family::new_with_constructor(attempts_histogram),
            send_duration: Family::new_with_constructor(send_histogram),
        }
    }
}

impl QueueMetrics {
    /// New metrics, registered in `registry` (whose prefix is `portal`).
    #[must_use]
    pub fn registered(registry: &mut Registry) -> Arc<Self> {
        let metrics = Self::default();
        registry.register(
            "email_deliveries",
            "Email deliveries QUEUED, RETRYING and FAILED now, by kind and status",
            metrics.deliveries.clone(),
        );
        registry.register(
            "email_queue_depth",
            "Email deliveries QUEUED now (waiting for a worker)",
            metrics.depth.clone(),
        );
        registry.register(
            "email_oldest_queued_age_seconds",
            "How long the oldest QUEUED email delivery has waited (0 when none)",
            metrics.oldest_queued.clone(),
        );
        registry.register(
            "email_outcomes",
            "Email delivery outcomes this process recorded, by kind and outcome",
            metrics.outcomes.clone(),
        );
        registry.register(
            "email_attempts",
            "The attempt number of an email delivery at each recorded outcome",
            metrics.attempts.clone(),
        );
        registry.register(
            "email_send_duration_seconds",
            "How long each SMTP send (or .eml write) took, accepted or not",
            metrics.send_duration.clone(),
        );
        Arc::new(metrics)
    }

    /// Reads the queue's state from the outbox (one statement) into the
    /// gauges. Call it before encoding a scrape.
    ///
    /// # Errors
    /// On database failure (the gauges keep their last values).
    pub async fn refresh(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let rows: Vec<(EmailKind, DeliveryStatus, i64, Option<DateTime<Utc>>)> = email_delivery::Entity::find()
            .select_only()
            .column(email_delivery::Column::Kind)
            .column(email_delivery::Column::Status)
            .column_as(Expr::col(email_delivery::Column::Id).count(), "n")
            .column_as(Expr::col(email_delivery::Column::QueuedAt).min(), "oldest")
            .filter(email_delivery::Column::Status.is_in(COUNTED))
            .group_by(email_delivery::Column::Kind)
            .group_by(email_delivery::Column::Status)
            .into_tuple()
            .all(db)
            .await?;
        let mut depth = 0;
        let mut oldest: Option<DateTime<Utc>> = None;
        for kind in EmailKind::iter() {
            for status in COUNTED {
                let (count, first) = rows
                    .iter()
                    .find(|(k, s, _, _)| *k == kind && *s == status)
                    .map_or((0, None), |(_, _, count, first)| (*count, *first));
                self.deliveries
                    .get_or_create(&KindStatus {
                        kind: kind.to_value(),
                        status: status.to_value(),
                    })
                    .set(count);
                if status == DeliveryStatus::Queued {
                    depth += count;
                    oldest = match (oldest, first) {
                        (Some(a), Some(b)) => Some(Ord::min(a, b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        self.depth.set(depth);
        let age = oldest.map_or(0.0, |first| (Utc::now() - first).as_seconds_f64().max(0.0));
        self.oldest_queued.set(age);
        Ok(())
    }

    /// Counts an outcome recorded at `attempts`.
    pub fn outcome(&self, kind: EmailKind, outcome: &'static str, attempts: i32) {
        let kind = kind.to_value();
        self.outcomes
            .get_or_create(&KindOutcome {
                kind: kind.clone(),
                outcome,
            })
            .inc();
        self.attempts
            .get_or_create(&KindOnly { kind })
            .observe(f64::from(Ord::max(attempts, 0)));
    }

    /// Times one send.
    pub fn send(&self, kind: EmailKind, elapsed: Duration) {
        self.send_duration
            .get_or_create(&KindOnly { kind: kind.to_value() })
            .observe(elapsed.as_secs_f64());
    }
}
