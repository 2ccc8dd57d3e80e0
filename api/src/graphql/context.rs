//! What resolvers read from the GraphQL context.

use std::{net::IpAddr, sync::Arc};

use async_graphql::Context;
use common::Settings;
use sea_orm::DatabaseConnection;
use uuid::Uuid;
use worker::queue::JobQueue;

use crate::{auth::Viewer, graphql::loaders::Loaders, rate_limit::RateLimiter};

/// Process-wide state, added to the schema once.
#[derive(Clone)]
pub struct AppData {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The process settings.
    pub settings: Arc<Settings>,
    /// Where committed email deliveries are pushed.
    pub queue: JobQueue,
    /// Limits on the public sign-in operations.
    pub limiter: Arc<RateLimiter>,
    /// Charges `payInvoice` (the sandbox unless the api was built with
    /// another; see [`service::gateway`]).
    pub payment_gateway: Arc<dyn service::gateway::PaymentGateway>,
}

/// The client's address, as the connection saw it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

/// Shortcuts for resolvers.
pub trait ContextExt {
    /// The database pool.
    fn db(&self) -> &DatabaseConnection;
    /// The process settings.
    fn settings(&self) -> &Settings;
    /// Who is asking.
    fn viewer(&self) -> &Viewer;
    /// This request's DataLoaders.
    fn loaders(&self) -> &Loaders;
    /// The rate limiter.
    fn limiter(&self) -> &RateLimiter;
    /// The client's address, when known.
    fn client_addr(&self) -> Option<IpAddr>;
    /// The payment gateway `payInvoice` charges through.
    fn payment_gateway(&self) -> &dyn service::gateway::PaymentGateway;
    /// Pushes a committed delivery to the queue. A failed push is logged,
    /// not returned: the row is in the outbox and the sweeper pushes it again.
    fn dispatch(&self, delivery_id: Option<Uuid>) -> impl Future<Output = ()> + Send;
}

impl ContextExt for Context<'_> {
    fn db(&self) -> &DatabaseConnection {
        &self.data_unchecked::<AppData>().db
    }

    fn settings(&self) -> &Settings {
        &self.data_unchecked::<AppData>().settings
    }

    fn viewer(&self) -> &Viewer {
        self.data_unchecked::<Viewer>()
    }

    fn loaders(&self) -> &Loaders {
        self.data_unchecked::<Loaders>()
    }

    fn limiter(&self) -> &RateLimiter {
        &self.data_unchecked::<AppData>().limiter
    }

    fn client_addr(&self) -> Option<IpAddr> {
        self.data_opt::<ClientAddr>().and_then(|a| a.0)
    }

    fn payment_gateway(&self) -> &dyn service::gateway::PaymentGateway {
        self.data_unchecked::<AppData>().payment_gateway.as_ref()
    }

    fn dispatch(&self, delivery_id: Option<Uuid>) -> impl Future<Output = ()> + Send {
        let queue = self.data_unchecked::<AppData>().queue.clone();
        async move {
            let Some(delivery_id) = delivery_id else { return };
            if let Err(err) = queue.push(delivery_id).await {
                tracing::warn!(%delivery_id, error = %err, "push to the email queue failed; the sweeper will retry");
            }
        }
    }
}
