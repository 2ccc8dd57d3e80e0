//! The Customer Portal api: a GraphQL server for the staff Customer Center and
//! the customer portal.
//!
//! [`Application::build`] connects to the database, migrates it, binds the
//! listener and assembles the router; [`Application::run_until_stopped`]
//! serves until SIGINT/SIGTERM and drains in-flight requests.

pub mod auth;
pub mod error;
pub mod graphql;
pub mod http;
pub mod operations;
pub use service::gateway as payments;
pub mod rate_limit;

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, Request, StatusCode, header},
    middleware,
    routing::get,
};
use common::{Settings, db::StatementCounter, events::Events};
use redis::aio::ConnectionManager;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tower::util::option_layer;
use tower_http::{
    compression::{
        CompressionLayer,
        predicate::{DefaultPredicate, Predicate, SizeAbove},
    },
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

use worker::queue::JobQueue;

use crate::{
    graphql::{AppSchema, build_schema, context::AppData},
    http::metrics::Metrics,
    rate_limit::RateLimiter,
};

/// Largest request body accepted (larger ones get 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Database and settings, also given to resolvers.
    pub data: AppData,
    /// The executable schema.
    pub schema: AppSchema,
    /// The same schema with the limits of introspection-only documents
    /// (see [`graphql::schema::build_introspection_schema`]).
    pub introspection_schema: AppSchema,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Redis, when `REDIS_URL` is set.
    pub redis: Option<ConnectionManager>,
    /// Permits to execute a GraphQL request (`GRAPHQL_MAX_CONCURRENCY`).
    pub graphql_permits: Arc<http::permits::Permits>,
    /// Parsed GraphQL documents, by their text.
    pub documents: Arc<http::documents::Documents>,
}

/// A built, bound, not yet serving api.
pub struct Application {
    listener: TcpListener,
    /// `METRICS_ADDR`'s listener, when set.
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
    statements: StatementCounter,
    /// The in-process email consumers when `REDIS_URL` is unset.
    embedded: Option<worker::embedded::EmbeddedWorker>,
}

/// How long shutdown waits for in-process email jobs to finish.
pub const EMAIL_DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

impl Application {
    /// Connects, migrates, binds `LISTEN_ADDR` and assembles the router;
    /// invoices are paid through the built-in sandbox gateway.
    ///
    /// # Errors
    /// When the database or Redis cannot be reached, a migration fails, or
    /// the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_gateway(settings, Arc::new(payments::SandboxGateway)).await
    }

    /// Like [`Application::build`], charging `payInvoice` through
    /// `payment_gateway` instead of the sandbox (see [`payments`]).
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_with_gateway(
        settings: Settings,
        payment_gateway: Arc<dyn payments::PaymentGateway>,
    ) -> anyhow::Result<Self> {
        let (db, statements) = common::db::connect(&settings.database_url, 16)
            .await
            .context("connecting to the database (DATABASE_URL)")?;
        common::db::prepare_schema(&db, settings.migrate_on_start)
            .await
            .context("preparing the database schema (MIGRATE_ON_START)")?;
        let redis = match &settings.redis_url {
            None => None,
            Some(url) => Some(
                common::redis_conn::connect(url)
                    .await
                    .context("connecting to Redis (REDIS_URL)")?,
            ),
        };
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .with_context(|| format!("binding LISTEN_ADDR {}", settings.listen_addr))?;
        let metrics = Arc::new(Metrics::new(&statements));
        let metrics_listener = match settings.metrics_addr {
            None => None,
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding METRICS_ADDR {address}"))?,
            ),
        };
        let (queue, embedded, limiter, events) = match &redis {
            Some(conn) => (
                JobQueue::redis(
                    conn.clone(),
                    &settings.queue_namespace,
                    settings.worker_concurrency as usize,
                ),
                None,
                RateLimiter::redis(conn.clone(), &settings.queue_namespace)
                    .with_quotas(rate_limit::Quotas::from_settings(&settings)),
                Events::redis(conn.clone(), &settings.queue_namespace),
            ),
            None => {
                let events = Events::in_process();
                let embedded = worker::embedded::start(db.clone(), &settings, events.clone(), metrics.queue())
                    .context("starting the in-process email queue")?;
                let limiter = RateLimiter::in_memory().with_quotas(rate_limit::Quotas::from_settings(&settings));
                (embedded.queue(), Some(embedded), limiter, events)
            }
        };
        let graphql_permits = Arc::new(http::permits::Permits::new(
            settings.graphql_max_concurrency as usize,
            settings.graphql_max_waiting as usize,
        ));
        let data = AppData {
            db,
            settings: Arc::new(settings),
            queue,
            limiter: Arc::new(limiter),
            payment_gateway,
            events,
        };
        let state = AppState {
            schema: build_schema(Some(data.clone())),
            introspection_schema: graphql::schema::build_introspection_schema(),
            metrics,
            data,
            redis,
            graphql_permits,
            documents: Arc::default(),
        };
        let router = router(state.clone());
        Ok(Self {
            listener,
            metrics_listener,
            router,
            state,
            statements,
            embedded,
        })
    }

    /// The bound address (the real port when `LISTEN_ADDR` asked for port 0).
    ///
    /// # Errors
    /// When the socket has no local address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The bound address of `METRICS_ADDR`'s listener, when it is set.
    #[must_use]
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The database pool (tests use it to arrange data).
    #[must_use]
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.data.db
    }

    /// Statements the pool has run so far.
    #[must_use]
    pub fn statements(&self) -> StatementCounter {
        self.statements.clone()
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
    ///
    /// # Errors
    /// When serving fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(common::shutdown::signal()).await
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    ///
    /// # Errors
    /// When serving fails.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let addr = self.listener.local_addr()?;
        let settings = self.state.data.settings.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let sweeper = worker::sweeper::spawn(
            self.state.data.db.clone(),
            self.state.data.queue.clone(),
            self.state.data.events.clone(),
            std::time::Duration::from_millis(settings.outbox_sweep_interval_ms),
            settings.outbox_redeliver_after(),
            async move {
                let mut stopped = stopped;
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        );
        // Every api process hears every process's live events (Redis pub/sub).
        let relay = settings.redis_url.clone().map(|url| {
            let events = self.state.data.events.clone();
            let mut stopped = stop.subscribe();
            tokio::spawn(async move {
                events
                    .relay(&url, async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await;
            })
        });
        let metrics_server = self.metrics_listener.map(|listener| {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "api metrics on /metrics");
            }
            let mut stopped = stop.subscribe();
            tokio::spawn(http::server::serve(
                listener,
                Router::new()
                    .route("/metrics", get(http::metrics::metrics))
                    .with_state(self.state.clone()),
                settings.http_header_timeout(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            ))
        });
        tracing::info!(%addr, "api listening");
        let served = http::server::serve(self.listener, self.router, settings.http_header_timeout(), shutdown).await;
        let _ = stop.send(true);
        let _ = sweeper.await;
        if let Some(server) = metrics_server {
            let _ = server.await;
        }
        if let Some(relay) = relay {
            let _ = relay.await;
        }
        if let Some(embedded) = self.embedded {
            embedded.shutdown(EMAIL_DRAIN_GRACE).await;
        }
        tracing::info!("api stopped");
        served
    }
}

/// Responses smaller than this are sent as they are: compressing them costs
/// more than it saves.
pub const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// Cross-origin access for the browser origins of `CORS_ALLOWED_ORIGINS`
/// (none by default: same-origin only). Preflights are answered; the
/// `Authorization` and `Content-Type` request headers are allowed and
/// `x-request-id` is readable by the page. Credentials (cookies) are not
/// allowed: the API takes its session from `Authorization: Bearer` only.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .expose_headers([HeaderName::from_static("x-request-id")])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The complete router.
pub fn router(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let cors = cors(&state.data.settings.cors_allowed_origins);
    let routes = Router::new()
        .route(
            "/graphql",
            get(http::graphql::graphql_get).post(http::graphql::graphql_handler),
        )
        .route("/graphql/ws", get(http::ws::graphql_ws))
        .route("/portal/accept", get(http::accept::accept_page))
        .route("/portal/accept", axum::routing::post(http::accept::accept_submit))
        .route(
            "/portal/accept/new-link",
            axum::routing::post(http::accept::request_new_link),
        )
        .merge(http::graphiql::assets_router())
        .merge(http::portal::routes())
        .route("/healthz", get(http::health::healthz))
        .route("/readyz", get(http::health::readyz));
    // With METRICS_ADDR, /metrics is served on that listener only.
    let routes = if state.data.settings.metrics_addr.is_none() {
        routes.route("/metrics", get(http::metrics::metrics))
    } else {
        routes
    };
    routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.data.settings.http_request_timeout(),
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), http::metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), http::client_ip::layer))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                        client = tracing::field::Empty
                    )
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        // Only when the client asks (Accept-Encoding), above a size
        // threshold: GraphQL answers and GraphiQL's bundles alike.
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        .layer(option_layer(cors))
        .with_state(state)
}
