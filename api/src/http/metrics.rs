//! Prometheus metrics: HTTP requests by route and status, GraphQL operations
//! by root field with their latency, GraphQL requests waiting for a permit,
//! SQL statements run, and the email queue ([`common::queue_metrics`]). One registry per application (not a global), so
//! several apps in one test process stay apart.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode, header::CONTENT_TYPE},
    middleware::Next,
    response::{IntoResponse, Response},
};
use common::{db::StatementCounter, queue_metrics::QueueMetrics};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationOnly {
    operation: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~8 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// The application's metrics.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    graphql_operations: Family<OperationLabels, Counter>,
    graphql_duration: HistogramFamily<OperationOnly>,
    graphql_waiting: Gauge,
    queue: Arc<QueueMetrics>,
}

/// Counts a GraphQL request as waiting for its permit until dropped (also
/// when the client goes away while it waits).
pub struct Waiting<'a>(&'a Gauge);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// A fresh registry; `statements` is the database pool's counter.
    #[must_use]
    pub fn new(statements: &StatementCounter) -> Self {
        let mut registry = Registry::with_prefix("portal");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration: HistogramFamily<RouteLabels> = Family::new_with_constructor(latency_histogram);
        let graphql_operations = Family::<OperationLabels, Counter>::default();
        let graphql_duration: HistogramFamily<OperationOnly> = Family::new_with_constructor(latency_histogram);
        let graphql_waiting = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            http_duration.clone(),
        );
        registry.register(
            "graphql_operations",
            "GraphQL operations by root field and outcome",
            graphql_operations.clone(),
        );
        registry.register(
            "graphql_operation_duration_seconds",
            "GraphQL operation latency by root field",
            graphql_duration.clone(),
        );
        registry.register(
            "graphql_waiting",
            "GraphQL requests waiting for one of the GRAPHQL_MAX_CONCURRENCY permits",
            graphql_waiting.clone(),
        );
        registry.register(
            "db_statements",
            "SQL statements run by this process",
            statements.0.clone(),
        );
        let queue = QueueMetrics::registered(&mut registry);
        Self {
            registry,
            http_requests,
            http_duration,
            graphql_operations,
            graphql_duration,
            graphql_waiting,
            queue,
        }
    }

    /// The email queue's metrics (also counting the in-process queue's
    /// outcomes when `REDIS_URL` is unset).
    #[must_use]
    pub fn queue(&self) -> Arc<QueueMetrics> {
        self.queue.clone()
    }

    /// Counts one more GraphQL request waiting for a permit, until the
    /// returned guard is dropped.
    #[must_use]
    pub fn waiting(&self) -> Waiting<'_> {
        self.graphql_waiting.inc();
        Waiting(&self.graphql_waiting)
    }

    /// Records one GraphQL operation.
    pub fn observe_graphql(&self, operation: &str, elapsed: Duration, ok: bool) {
        let operation = operation.to_owned();
        self.graphql_operations
            .get_or_create(&OperationLabels {
                operation: operation.clone(),
                outcome: if ok { "ok" } else { "error" },
            })
            .inc();
        self.graphql_duration
            .get_or_create(&OperationOnly { operation })
            .observe(elapsed.as_secs_f64());
    }

    fn observe_http(&self, method: &'static str, route: String, status: StatusCode, elapsed: Duration) {
        self.http_duration
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
    }

    /// The metrics in Prometheus' text format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The `method` label of a request: one of HTTP's standard methods, or
/// `OTHER` for any extension method a client makes up (so clients cannot
/// create label values).
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ];
    STANDARD
        .into_iter()
        .find(|name| *name == method.as_str())
        .unwrap_or("OTHER")
}

/// Middleware: counts and times every HTTP request by its route pattern
/// (never the raw path) and its method folded to the standard set (never a
/// made-up method), so clients cannot create label values.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .observe_http(method, route, response.status(), started.elapsed());
    response
}

/// `GET /metrics` (on `METRICS_ADDR`'s listener when that is set): the
/// queue's state is read from the outbox first.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(err) = state.metrics.queue.refresh(&state.data.db).await {
        tracing::warn!(error = %err, "reading the queue's state for /metrics failed");
    }
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_fold_to_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for made_up in ["PROPFIND", "get", "X-1234"] {
            let method = Method::from_bytes(made_up.as_bytes()).expect("a token");
            assert_eq!(method_label(&method), "OTHER", "{made_up}");
        }
    }
}
