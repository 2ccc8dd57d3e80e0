//! The `Subscription` root: live updates, served over websockets at
//! `/graphql/ws` (the transport is [`crate::http::ws`]).
//!
//! Every subscription listens to the process's [`common::events`] and, for
//! each event of the viewer's organization, checks the connection's session
//! again (a signed-out or expired session ends the subscription with
//! `UNAUTHENTICATED`; a disconnect narrows the grants at once) and reads the
//! row through the viewer's current `Scope`: an event about something the
//! viewer's queries could not read is skipped, so a subscription never shows
//! more than a query would. Events carry ids only; the rows are read fresh.
//!
//! A subscriber that falls [`common::events::SUBSCRIBER_BUFFER`] events
//! behind is ended with `SUBSCRIPTION_LAGGED` rather than buffered without
//! limit; a connection may have [`MAX_SUBSCRIPTIONS_PER_CONNECTION`] open.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_graphql::{
    Context, ID, Object, Subscription as SubscriptionRoot,
    futures_util::{Stream, StreamExt as _, stream},
};
use chrono::{DateTime, Utc};
use common::events::{Event, Events};
use sea_orm::DatabaseConnection;
use service::{Scope, accounts, asset_requests, deliveries};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{
    context::ContextExt as _,
    loaders::ScopeHandle,
    types::{
        account::{Account, PortalStatus},
        asset_request::AssetRequest,
        invitation::EmailDelivery,
        parse_id,
    },
};
use crate::error::ApiError;

/// Subscriptions one websocket connection may have open at once.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 20;

/// One websocket connection's session, from its `connection_init`: the
/// token (to check the session again before each event), the loaders its
/// subscriptions resolve through, and how many subscriptions are open.
pub struct LiveSession {
    db: DatabaseConnection,
    events: Events,
    token: String,
    open: Arc<AtomicUsize>,
}

impl LiveSession {
    /// A connection signed in with `token` (empty: anonymous).
    #[must_use]
    pub fn new(db: DatabaseConnection, events: Events, token: String) -> Self {
        Self {
            db,
            events,
            token,
            open: Arc::default(),
        }
    }
}

/// An account's new portal status.
pub struct PortalStatusChange {
    account: Account,
    portal_status: entity::PortalStatus,
    occurred_at: DateTime<Utc>,
}

#[Object]
impl PortalStatusChange {
    /// The account, as the viewer may see it.
    async fn account(&self) -> &Account {
        &self.account
    }

    /// Its portal status after the change.
    async fn portal_status(&self) -> PortalStatus {
        self.portal_status.into()
    }

    /// When the change was committed.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.occurred_at
    }
}

/// The root subscription type (graphql-transport-ws and the older graphql-ws
/// protocol at `/graphql/ws`; sign in with `{"authorization": "Bearer
/// <token>"}` as the `connection_init` payload).
#[derive(Default)]
pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// An account's portal status changed. Staff: any account of the
    /// organization, or only `accountId`; portal users: their own accounts.
    async fn portal_status_changed(
        &self,
        ctx: &Context<'_>,
        account_id: Option<ID>,
    ) -> Result<impl Stream<Item = async_graphql::Result<PortalStatusChange>> + use<>, ApiError> {
        // An id that names nothing visible: nothing ever arrives.
        let only = account_id.as_ref().map(|id| parse_id(id).unwrap_or_default());
        // The status this subscription last told of, per account: an event
        // that leaves it where it was (a resend) is not a change.
        let told: Arc<Mutex<HashMap<Uuid, entity::PortalStatus>>> = Arc::default();
        watch(ctx, move |db, scope, event| {
            let told = told.clone();
            async move {
                let Event::PortalStatusChanged {
                    account_id,
                    occurred_at,
                    ..
                } = event
                else {
                    return Ok(None);
                };
                if only.is_some_and(|only| only != account_id) {
                    return Ok(None);
                }
                let Some(account) = accounts::find(&db, &scope, account_id).await? else {
                    return Ok(None);
                };
                let Some(portal_status) = accounts::portal_statuses(&db, &scope, [account_id])
                    .await?
                    .remove(&account_id)
                else {
                    return Ok(None);
                };
                let unchanged = told
                    .lock()
                    .map(|mut told| told.insert(account_id, portal_status) == Some(portal_status))
                    .unwrap_or(false);
                Ok((!unchanged).then_some(PortalStatusChange {
                    account: Account(account),
                    portal_status,
                    occurred_at,
                }))
            }
        })
    }

    /// Staff only: an email of the organization changed delivery state.
    async fn email_delivery_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = async_graphql::Result<EmailDelivery>> + use<>, ApiError> {
        ctx.viewer().require_staff()?;
        watch(ctx, |db, scope, event| async move {
            let Event::EmailDeliveryUpdated { delivery_id, .. } = event else {
                return Ok(None);
            };
            if scope.grants().is_some() {
                return Ok(None);
            }
            Ok(deliveries::find(&db, scope.organization_id(), delivery_id)
                .await?
                .map(EmailDelivery))
        })
    }

    /// An asset request was created or changed status. Staff: the
    /// organization's; portal users: those they can see.
    async fn asset_request_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = async_graphql::Result<AssetRequest>> + use<>, ApiError> {
        watch(ctx, |db, scope, event| async move {
            let Event::AssetRequestUpdated { asset_request_id, .. } = event else {
                return Ok(None);
            };
            match asset_requests::get(&db, &scope, asset_request_id).await {
                Ok(request) => Ok(Some(AssetRequest(request))),
                Err(ApiError::NotFound(_)) => Ok(None),
                Err(err) => Err(err),
            }
        })
    }
}

/// Holds one of the connection's subscription slots while its stream lives.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Result<Self, ApiError> {
        open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_SUBSCRIPTIONS_PER_CONNECTION).then_some(n + 1)
        })
        .map_err(|_| ApiError::TooManySubscriptions {
            limit: MAX_SUBSCRIPTIONS_PER_CONNECTION,
        })?;
        Ok(Self(open.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A subscription's stream: for each event of the viewer's organization,
/// the viewer checked again, then `pick` reads what the event is about
/// through the viewer's scope (`None`: not for this viewer, skipped).
fn watch<T, F, Fut>(
    ctx: &Context<'_>,
    pick: F,
) -> Result<impl Stream<Item = async_graphql::Result<T>> + use<T, F, Fut>, ApiError>
where
    T: Send + 'static,
    F: Fn(DatabaseConnection, Scope, Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<T>, ApiError>> + Send,
{
    let session = ctx
        .data_opt::<LiveSession>()
        .ok_or_else(|| ApiError::bad_input("operation", "subscriptions are served over websockets at /graphql/ws"))?;
    let organization_id = ctx.viewer().organization_id()?;
    let slot = Slot::take(&session.open)?;
    let loaders = ctx.loaders().scope_handle();
    let db = session.db.clone();
    let token = session.token.clone();
    let receiver = session.events.subscribe();
    struct State<F> {
        receiver: tokio::sync::broadcast::Receiver<Event>,
        db: DatabaseConnection,
        token: String,
        loaders: ScopeHandle,
        pick: F,
        organization_id: Uuid,
        ended: bool,
        _slot: Slot,
    }
    let state = State {
        receiver,
        db,
        token,
        loaders,
        pick,
        organization_id,
        ended: false,
        _slot: slot,
    };
    Ok(stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        loop {
            let event = match state.receiver.recv().await {
                Ok(event) => event,
                Err(RecvError::Closed) => return None,
                Err(RecvError::Lagged(missed)) => {
                    state.ended = true;
                    return Some((Err(ApiError::SubscriptionLagged { missed }), state));
                }
            };
            if event.organization_id() != state.organization_id {
                continue;
            }
            let viewer = match service::auth::viewer_for_token(&state.db, &state.token).await {
                Ok(viewer) => viewer,
                Err(err) => return Some((Err(err), state)),
            };
            let Ok(scope) = viewer.scope() else {
                // Signed out, expired or disconnected: nothing more.
                state.ended = true;
                return Some((Err(ApiError::Unauthenticated), state));
            };
            state.loaders.set(Some(scope.clone()));
            match (state.pick)(state.db.clone(), scope, event).await {
                Ok(Some(item)) => return Some((Ok(item), state)),
                Ok(None) => {}
                Err(err) => return Some((Err(err), state)),
            }
        }
    })
    .map(|item: Result<T, ApiError>| item.map_err(async_graphql::Error::from)))
}
