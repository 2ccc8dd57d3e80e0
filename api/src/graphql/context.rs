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
    /// Pushes a committed delivery to the queue and tells subscribers it is
    /// QUEUED. A failed push is logged, not returned: the row is in the
    /// outbox and the sweeper pushes it again. `organization_id` when the
    /// caller knows it (otherwise it is read from the row).
    pub async fn dispatch(&self, organization_id: Option<Uuid>, delivery_id: Option<Uuid>) {
        let Some(delivery_id) = delivery_id else { return };
        if let Err(err) = self.queue.push(delivery_id).await {
            tracing::warn!(%delivery_id, error = %err, "push to the email queue failed; the sweeper will retry");
        }
        let organization_id = match organization_id {
            Some(id) => Some(id),
            None => email_delivery_organization(&self.db, delivery_id).await,
        };
        if let Some(organization_id) = organization_id {
            self.events.publish(Event::EmailDeliveryUpdated {
                organization_id,
                delivery_id,
            });
        }
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

/// The organization of delivery `id`, for an event (`None`: not found or
/// the database failed, which is logged).
async fn email_delivery_organization(db: &DatabaseConnection, id: Uuid) -> Option<Uuid> {
    use sea_orm::{EntityTrait as _, QuerySelect as _};
    let found: Result<Option<Uuid>, sea_orm::DbErr> = entity::email_delivery::Entity::find_by_id(id)
        .select_only()
        .column(entity::email_delivery::Column::OrganizationId)
        .into_tuple()
        .one(db)
        .await;
    found.unwrap_or_else(|err| {
        tracing::warn!(delivery_id = %id, error = %err, "could not read a delivery's organization for its event");
        None
    })
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
    /// [`AppData::dispatch`] with the viewer's organization.
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

    fn app(&self) -> &AppData {
        self.data_unchecked::<AppData>()
    }

    fn dispatch(&self, delivery_id: Option<Uuid>) -> impl Future<Output = ()> + Send {
        let app = self.data_unchecked::<AppData>();
        let organization_id = self.viewer().organization_id().ok();
        app.dispatch(organization_id, delivery_id)
    }
}
