//! Live events behind the GraphQL subscriptions: what changed, published
//! after the change's transaction has committed by whichever process made it
//! (an api or a worker), and fanned out to every api process.
//!
//! An event carries ids and the organization only — never a row's contents,
//! an email address or a token — so what travels through Redis is not
//! secret, and each subscriber reads the row again through its own viewer's
//! scope: what a subscription shows is what a query would.
//!
//! Two transports, chosen like the email queue's:
//! - with `REDIS_URL`, [`Events::redis`] publishes to one Redis pub/sub
//!   channel per queue namespace ([`channel`]); every api process runs a
//!   [`Events::relay`] that subscribes to it and hands each event to the
//!   process's subscribers, its own events included;
//! - without it (the embedded defaults, one process), [`Events::in_process`]
//!   is a broadcast within the process.
//!
//! Publishing never waits: it hands the event to a bounded buffer that one
//! task drains to Redis (the events of each 10 ms as one message, a JSON
//! array), so a slow or stalled Redis delays live updates, not the request
//! that made the change. Live updates are best effort: an event
//! published while Redis is away, or one a slow subscriber fell behind on,
//! is not replayed (a subscriber that fell behind is told so and ended).
//!
//! This module owns the event type and the transports; who may see an event
//! is the subscriber's business (the api's subscription resolvers).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// Events a process keeps for its subscribers before a slow one falls
/// behind (and is told so) — the bound on what a subscriber can hold up.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// Events waiting to be published to Redis; more are dropped (and logged)
/// while Redis does not take them.
const PUBLISH_BUFFER: usize = 4096;

/// Longest wait between two attempts to subscribe to Redis again.
const RELAY_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Something a subscription may be told about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Something that decides an account's portal status changed (an
    /// invitation sent, accepted, revoked or expired; access removed). The
    /// status itself is read by the subscribers, so that the change costs the
    /// writer nothing when nobody listens.
    PortalStatusChanged {
        /// The account's organization.
        organization_id: Uuid,
        /// The account.
        account_id: Uuid,
        /// When the change was committed.
        occurred_at: DateTime<Utc>,
    },
    /// An email delivery changed state (queued, sent, retrying, failed).
    EmailDeliveryUpdated {
        /// The delivery's organization.
        organization_id: Uuid,
        /// The delivery.
        delivery_id: Uuid,
    },
    /// An asset request was made or changed status.
    AssetRequestUpdated {
        /// The request's organization.
        organization_id: Uuid,
        /// The request.
        asset_request_id: Uuid,
    },
}

impl Event {
    /// The organization the event belongs to: subscribers of any other
    /// organization never see it.
    #[must_use]
    pub fn organization_id(&self) -> Uuid {
        match self {
            Self::PortalStatusChanged { organization_id, .. }
            | Self::EmailDeliveryUpdated { organization_id, .. }
            | Self::AssetRequestUpdated { organization_id, .. } => *organization_id,
        }
    }
}

/// The Redis pub/sub channel of a queue namespace.
#[must_use]
pub fn channel(namespace: &str) -> String {
    format!("{namespace}:events")
}

/// Where a process publishes events and its subscribers receive them.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("channel", &self.inner.channel)
            .field("subscribers", &self.subscribers())
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// This process's subscribers.
    local: broadcast::Sender<Event>,
    /// To the task that publishes to Redis; `None`: in-process only.
    outgoing: Option<mpsc::Sender<Event>>,
    /// The Redis channel (for the relay), when there is one.
    channel: Option<String>,
}

impl Events {
    /// Events within this process only (the embedded defaults).
    #[must_use]
    pub fn in_process() -> Self {
        Self {
            inner: Arc::new(Inner {
                local: broadcast::channel(SUBSCRIBER_BUFFER).0,
                outgoing: None,
                channel: None,
            }),
        }
    }

    /// Events published through Redis on `conn`, on the channel of
    /// `namespace`; spawns the publishing task (a Tokio runtime must be
    /// running). This process's subscribers receive them only once
    /// [`Events::relay`] runs.
    #[must_use]
    pub fn redis(conn: ConnectionManager, namespace: &str) -> Self {
        let channel = channel(namespace);
        let (outgoing, incoming) = mpsc::channel(PUBLISH_BUFFER);
        tokio::spawn(publish_all(conn, channel.clone(), incoming));
        Self {
            inner: Arc::new(Inner {
                local: broadcast::channel(SUBSCRIBER_BUFFER).0,
                outgoing: Some(outgoing),
                channel: Some(channel),
            }),
        }
    }

    /// Publishes `event`; never waits. Call it after the change committed.
    pub fn publish(&self, event: Event) {
        match &self.inner.outgoing {
            // No subscriber is no error.
            None => drop(self.inner.local.send(event)),
            Some(outgoing) => {
                if let Err(err) = outgoing.try_send(event) {
                    tracing::warn!(error = %err, "live event dropped: Redis is not taking events fast enough");
                }
            }
        }
    }

    /// A new subscriber: every event published from now on (on Redis: that
    /// the relay receives).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.local.subscribe()
    }

    /// Subscribers in this process right now.
    #[must_use]
    pub fn subscribers(&self) -> usize {
        self.inner.local.receiver_count()
    }

    /// Forwards the Redis channel's events to this process's subscribers
    /// until `stop` completes, subscribing again (with backoff) whenever the
    /// connection drops. Returns at once for in-process events.
    pub async fn relay(&self, url: &SecretString, stop: impl Future<Output = ()> + Send) {
        let Some(channel) = self.inner.channel.clone() else {
            return;
        };
        let local = self.inner.local.clone();
        let url = url.clone();
        let forward = async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match relay_once(&url, &channel, &local).await {
                    Ok(()) => {
                        tracing::warn!(%channel, "the live events subscription to Redis ended; subscribing again");
                        backoff = Duration::from_millis(100);
                    }
                    Err(err) => {
                        tracing::warn!(%channel, error = %err, retry_in_ms = backoff.as_millis(), "cannot subscribe to live events in Redis");
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RELAY_MAX_BACKOFF);
            }
        };
        tokio::select! {
            () = forward => {}
            () = stop => {}
        }
    }
}

/// One subscription to the channel, until the connection drops.
async fn relay_once(url: &SecretString, channel: &str, local: &broadcast::Sender<Event>) -> redis::RedisResult<()> {
    let client = redis::Client::open(url.expose_secret())?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    tracing::info!(%channel, "receiving live events from Redis");
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        match serde_json::from_slice::<Vec<Event>>(message.get_payload_bytes()) {
            Ok(events) => {
                for event in events {
                    drop(local.send(event));
                }
            }
            Err(err) => tracing::warn!(%channel, error = %err, "ignoring live events that do not parse"),
        }
    }
    Ok(())
}

/// Events sent to Redis in one message at most.
const PUBLISH_BATCH: usize = 256;

/// How long the publishing task lets events gather before it sends what
/// it has: live updates arrive this much later, and a worker draining a
/// backlog (or an api under load) sends one message per this period
/// instead of one per event.
const PUBLISH_GATHER: Duration = Duration::from_millis(10);

/// The publishing task: PUBLISH the events, in order, until every
/// [`Events`] handle is gone. Events that gathered within
/// [`PUBLISH_GATHER`] go as one message (a JSON array), so Redis and
/// every relay handle one message per batch.
async fn publish_all(mut conn: ConnectionManager, channel: String, mut incoming: mpsc::Receiver<Event>) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while incoming.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        tokio::time::sleep(PUBLISH_GATHER).await;
        while batch.len() < PUBLISH_BATCH {
            match incoming.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        let payload = match serde_json::to_string(&batch) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::warn!(error = %err, "cannot encode live events");
                batch.clear();
                continue;
            }
        };
        batch.clear();
        let published: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(&mut conn)
            .await;
        if let Err(err) = published {
            tracing::warn!(%channel, error = %err, "live events could not be published to Redis");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_travel_as_tagged_json_with_ids_only() {
        let event = Event::PortalStatusChanged {
            organization_id: Uuid::nil(),
            account_id: Uuid::max(),
            occurred_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
        };
        let json = serde_json::to_value(&event).expect("json");
        assert_eq!(json["event"], "portal_status_changed");
        assert_eq!(json["account_id"], Uuid::max().to_string());
        assert_eq!(serde_json::from_value::<Event>(json).expect("parse"), event);
    }

    #[tokio::test]
    async fn in_process_events_reach_every_subscriber_of_the_process() {
        let events = Events::in_process();
        let mut first = events.subscribe();
        let mut second = events.subscribe();
        let event = Event::AssetRequestUpdated {
            organization_id: Uuid::nil(),
            asset_request_id: Uuid::max(),
        };
        events.publish(event.clone());
        assert_eq!(first.recv().await.expect("first"), event);
        assert_eq!(second.recv().await.expect("second"), event);
    }
}
