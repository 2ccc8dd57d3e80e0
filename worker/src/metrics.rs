//! The worker's `/metrics` listener (`METRICS_ADDR`; a worker has no other
//! port): the queue metrics of [`common::queue_metrics`] (the outbox read
//! at each scrape, this worker's outcomes, attempts and send times) and the
//! SQL statements it ran, in Prometheus' text format. `GET /healthz`
//! answers `ok`; anything else is a 404.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use common::queue_metrics::QueueMetrics;
use hyper::{Method, Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::{encoding::text::encode, registry::Registry};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

/// What a scrape reads.
pub struct Scrape {
    /// The process's registry (prefix `portal`).
    pub registry: Registry,
    /// The queue metrics registered in it.
    pub queue: Arc<QueueMetrics>,
    /// Where the queue's state is read from.
    pub db: DatabaseConnection,
}

impl Scrape {
    /// The metrics in Prometheus' text format, the queue's state read now.
    pub async fn render(&self) -> String {
        if let Err(err) = self.queue.refresh(&self.db).await {
            tracing::warn!(error = %err, "reading the queue's state for /metrics failed");
        }
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Binds `address` (so a taken port stops start-up with a clear error).
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Serves `/metrics` on `listener` until `stop` completes.
pub async fn serve(listener: TcpListener, scrape: Arc<Scrape>, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a metrics connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let scrape = scrape.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let scrape = scrape.clone();
                async move { Ok::<_, Infallible>(answer(&scrape, &request).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(scrape: &Scrape, request: &Request<Incoming>) -> Response<String> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            scrape.render().await,
        ),
        (&Method::GET, "/healthz") => (200, "text/plain; charset=utf-8", "ok".to_owned()),
        _ => (
            404,
            "text/plain; charset=utf-8",
            "not found: try GET /metrics".to_owned(),
        ),
    };
    let mut response = Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
