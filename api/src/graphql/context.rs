//! What resolvers read from the GraphQL context.

use std::{net::IpAddr, sync::Arc};

use async_graphql::Context;
use common::{
    Settings,
    events::{Event, Events},
};
use sea_orm::DatabaseConnection;
use uuid::Uuid;
use worker::queue::JobQueue;

use crate::{auth::Viewer, graphql::loaders::Loaders, rate_limit::RateLimiter};

/// The longest a queue push after commit may take (it runs beside the
/// response, never in its way).
pub const PUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

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
    /// Live events for subscriptions (Redis pub/sub, or in-process).
    pub events: Events,
}

impl AppData {
    /// Pushes a committed delivery of `organization_id` to the queue and
    /// tells subscribers it is QUEUED. The push runs on its own task, within
    /// [`PUSH_TIMEOUT`]: the response never waits for Redis, and a failed or
    /// timed-out push is only logged, because the row is in the outbox and
    /// the sweeper pushes it again.
    pub async fn dispatch(&self, organization_id: Uuid, delivery_id: Option<Uuid>) {
        let Some(delivery_id) = delivery_id else { return };
        let queue = self.queue.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(PUSH_TIMEOUT, queue.push(delivery_id)).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(%delivery_id, error = %err, "push to the email queue failed; the sweeper will retry");
                }
                Err(_) => tracing::warn!(
                    %delivery_id,
                    timeout_ms = PUSH_TIMEOUT.as_millis(),
                    "push to the email queue timed out; the sweeper will retry"
                ),
            }
        });
        self.events.publish(Event::EmailDeliveryUpdated {
            organization_id,
            delivery_id,
        });
    }

    /// [`AppData::dispatch`] of a `requestNewInvitation`'s email, and the
    /// portal status change it makes (an expired invitation is pending again).
    pub async fn dispatch_requested(&self, queued: Option<service::invitations::Queued>) {
        let Some(queued) = queued else { return };
        let invitation = &queued.invitation;
        self.dispatch(invitation.organization_id, queued.delivery_id).await;
        self.publish_portal_status(invitation.organization_id, invitation.account_id);
    }

    /// Tells subscribers the portal status of `account_id` may have moved
    /// (call it after the change committed; subscribers read the status).
    pub fn publish_portal_status(&self, organization_id: Uuid, account_id: Uuid) {
        self.events.publish(Event::PortalStatusChanged {
            organization_id,
            account_id,
            occurred_at: chrono::Utc::now(),
        });
    }

    /// Tells subscribers asset request `asset_request_id` changed.
    pub fn publish_asset_request(&self, organization_id: Uuid, asset_request_id: Uuid) {
        self.events.publish(Event::AssetRequestUpdated {
            organization_id,
            asset_request_id,
        });
    }
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
    /// The process-wide state.
    fn app(&self) -> &AppData;
    /// [`AppData::dispatch`].
    fn dispatch(&self, organization_id: Uuid, delivery_id: Option<Uuid>) -> impl Future<Output = ()> + Send;
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

    fn app(&self) -> &AppData {
        self.data_unchecked::<AppData>()
    }

    fn dispatch(&self, organization_id: Uuid, delivery_id: Option<Uuid>) -> impl Future<Output = ()> + Send {
        self.data_unchecked::<AppData>().dispatch(organization_id, delivery_id)
    }
}
