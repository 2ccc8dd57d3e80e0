//! Subscriptions at `/graphql/ws` with a real websocket client: events
//! published by one api process (or a worker) reach subscribers on another
//! through Redis, and on the embedded defaults within one process; each
//! viewer gets only what its queries could read.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use testkit::smtp_sink::SmtpSink;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest as _, http::HeaderValue},
};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, mint_link},
    worker_helpers::{RedisNamespace, WorkerProcess, redis_url},
};

/// How long to wait for an event that should come.
const ARRIVES_WITHIN: Duration = Duration::from_secs(15);
/// How long to listen for an event that must not come (after one that did).
const QUIET_FOR: Duration = Duration::from_millis(1500);

const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";

/// A websocket GraphQL client speaking `protocol`.
struct Live {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: &'static str,
}

impl Live {
    /// Connects to `app` and signs in with `token` (none: anonymous).
    async fn connect(app: &TestApp, token: Option<&str>, protocol: &'static str) -> Self {
        let url = format!("{}/graphql/ws", app.address.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
        let (ws, response) = tokio_tungstenite::connect_async(request).await.expect("websocket");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        let mut live = Self { ws, protocol };
        let payload = token.map_or_else(|| json!({}), |t| json!({"authorization": format!("Bearer {t}")}));
        live.send(json!({"type": "connection_init", "payload": payload})).await;
        let ack = live.message(ARRIVES_WITHIN).await.expect("connection_ack");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        live
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// Starts subscription `id`.
    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.protocol == TRANSPORT_WS {
            "subscribe"
        } else {
            "start"
        };
        self.send(json!({"type": kind, "id": id, "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next protocol message (keep-alives skipped), or `None` when none
    /// comes within `wait`.
    async fn message(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??;
            match next.expect("websocket message") {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    if value["type"] == "ka" || value["type"] == "ping" || value["type"] == "pong" {
                        continue;
                    }
                    return Some(value);
                }
                Message::Close(frame) => return Some(json!({"type": "close", "frame": format!("{frame:?}")})),
                _ => {}
            }
        }
    }

    /// The payload of the next result of subscription `id`.
    async fn next_result(&mut self, id: &str) -> Value {
        let message = self
            .message(ARRIVES_WITHIN)
            .await
            .unwrap_or_else(|| panic!("no event for subscription {id} within {ARRIVES_WITHIN:?}"));
        let result = if self.protocol == TRANSPORT_WS { "next" } else { "data" };
        assert_eq!(message["type"], result, "{message}");
        assert_eq!(message["id"], id, "{message}");
        message["payload"].clone()
    }

    /// Results until one satisfies `wanted` (others are earlier events, e.g.
    /// QUEUED before SENT); panics at the deadline.
    async fn result_where(&mut self, id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + ARRIVES_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self
                .message(left)
                .await
                .unwrap_or_else(|| panic!("the awaited event for {id} did not come"));
            if message["id"] == id && wanted(&message["payload"]) {
                return message["payload"].clone();
            }
        }
    }

    /// The first answer to subscription `id` other than `complete`.
    async fn answer(&mut self, id: &str) -> Value {
        loop {
            let message = self
                .message(ARRIVES_WITHIN)
                .await
                .unwrap_or_else(|| panic!("no answer for {id}"));
            if message["id"] == id && message["type"] != "complete" {
                return message;
            }
        }
    }

    /// Asserts that nothing arrives for [`QUIET_FOR`].
    async fn silent(&mut self, why: &str) {
        if let Some(message) = self.message(QUIET_FOR).await {
            panic!("{why}: got {message}");
        }
    }
}

const STATUS_SUBSCRIPTION: &str =
    "subscription($a: ID) { portalStatusChanged(accountId: $a) { account { id name } portalStatus occurredAt } }";

/// An account with a contact, and its invitation's link (minted directly).
async fn invited(app: &TestApp, staff: &crate::helpers::Staff, number: &str, email: &str) -> (String, String) {
    let account = app
        .create_account(staff, number, &format!("Account {number}"), Some(email))
        .await;
    let invitation = app
        .gql_string(
            staff.auth(),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
            json!({"a": account}),
            &["inviteToPortal", "id"],
        )
        .await;
    let link = mint_link(app, Uuid::parse_str(&invitation).expect("uuid")).await;
    (account, link)
}

#[tokio::test]
async fn staff_on_one_api_process_see_a_customer_connect_through_another_and_other_customers_see_nothing() {
    let redis = redis_url();
    let a = TestApp::spawn_with(&[("REDIS_URL", &redis)]).await;
    let _namespace = RedisNamespace::new(&a.settings.queue_namespace).await;
    let b = TestApp::spawn_beside(&a).await;
    let staff = a.staff("acme").await;
    let (first, first_link) = invited(&a, &staff, "C-1", "maria@riverside.example").await;
    let (_second, second_link) = invited(&a, &staff, "C-2", "lee@harbor.example").await;
    let other_customer = b.accept(&second_link, "Lee").await;
    // Events are published some milliseconds after their change: let this
    // sign-up's pass before subscribing.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut staff_live = Live::connect(&a, Some(&staff.token), TRANSPORT_WS).await;
    staff_live.subscribe("all", STATUS_SUBSCRIPTION, json!({})).await;
    staff_live
        .subscribe("one", STATUS_SUBSCRIPTION, json!({"a": first}))
        .await;
    let mut other_live = Live::connect(&a, Some(&other_customer), TRANSPORT_WS).await;
    other_live.subscribe("mine", STATUS_SUBSCRIPTION, json!({})).await;
    // Subscriptions are registered by the time the server answers on the
    // same connection; give the relay's SUBSCRIBE its moment too.
    tokio::time::sleep(Duration::from_millis(300)).await;

    b.accept(&first_link, "Maria").await;

    let mut seen = Vec::new();
    for _ in 0..2 {
        let payload = staff_live.message(ARRIVES_WITHIN).await.expect("an event for staff");
        assert_eq!(payload["type"], "next", "{payload}");
        seen.push(payload["id"].as_str().expect("id").to_owned());
        let change = &payload["payload"]["data"]["portalStatusChanged"];
        assert_eq!(change["account"]["id"], first.as_str(), "{payload}");
        assert_eq!(change["account"]["name"], "Account C-1");
        assert_eq!(change["portalStatus"], "CONNECTED");
        assert!(change["occurredAt"].as_str().is_some_and(|t| t.len() >= 20), "{change}");
    }
    seen.sort();
    assert_eq!(seen, ["all", "one"]);
    other_live.silent("a customer of another account heard about it").await;
}

#[tokio::test]
async fn a_worker_marking_an_email_sent_reaches_the_staff_subscriber() {
    let sink = SmtpSink::start().await;
    let redis = redis_url();
    let smtp = sink.url();
    let app = TestApp::spawn_with(&[("REDIS_URL", &redis), ("SMTP_URL", &smtp)]).await;
    let _namespace = RedisNamespace::new(&app.settings.queue_namespace).await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "C-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let mut live = Live::connect(&app, Some(&staff.token), TRANSPORT_WS).await;
    live.subscribe(
        "deliveries",
        "subscription { emailDeliveryUpdated { id kind recipient status attempts } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _worker = WorkerProcess::spawn(&app, &[]).await;
    app.gql_ok(
        staff.auth(),
        "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
        json!({"a": account}),
    )
    .await;
    let queued = live
        .result_where("deliveries", |p| {
            p["data"]["emailDeliveryUpdated"]["status"] == "QUEUED"
        })
        .await;
    let sent = live
        .result_where("deliveries", |p| p["data"]["emailDeliveryUpdated"]["status"] == "SENT")
        .await;
    let sent = &sent["data"]["emailDeliveryUpdated"];
    assert_eq!(sent["id"], queued["data"]["emailDeliveryUpdated"]["id"]);
    assert_eq!(sent["kind"], "INVITATION");
    assert_eq!(sent["recipient"], "maria@riverside.example");
    assert_eq!(sent["attempts"], 1);
}

#[tokio::test]
async fn on_the_embedded_defaults_asset_requests_reach_staff_and_only_customers_who_see_the_location() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "C-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let north = app.create_location(&staff, &account, "North yard").await;
    let south = app.create_location(&staff, &account, "South yard").await;
    let asset_type = app.asset_type_id(&staff).await;
    let north_user = app
        .invite_and_accept(&staff, &account, Some(vec![&north]), "Nora")
        .await;
    // A second customer of the account: with the same contact email the
    // sign-up would add South to Nora's own access.
    app.gql_ok(
        staff.auth(),
        "mutation($a: ID!) { updateAccountContact(accountId: $a, input: {email: \"sam@riverside.example\"}) { id } }",
        json!({"a": account}),
    )
    .await;
    let south_user = app.invite_and_accept(&staff, &account, Some(vec![&south]), "Sam").await;

    let query = "subscription { assetRequestUpdated { id status location { name } } }";
    let mut staff_live = Live::connect(&app, Some(&staff.token), LEGACY_WS).await;
    staff_live.subscribe("s", query, json!({})).await;
    let mut south_live = Live::connect(&app, Some(&south_user), TRANSPORT_WS).await;
    south_live.subscribe("s", query, json!({})).await;
    let mut north_live = Live::connect(&app, Some(&north_user), TRANSPORT_WS).await;
    north_live.subscribe("n", query, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let request = app.request_asset(&north_user, &north, &asset_type).await;
    for (live, id) in [(&mut staff_live, "s"), (&mut north_live, "n")] {
        let payload = live.next_result(id).await;
        let update = &payload["data"]["assetRequestUpdated"];
        assert_eq!(update["id"], request.as_str(), "{payload}");
        assert_eq!(update["status"], "SUBMITTED");
        assert_eq!(update["location"]["name"], "North yard");
    }
    south_live
        .silent("a customer granted only South heard about North's request")
        .await;

    // Signing out ends the subscription at the next event.
    app.gql_ok(Some(&north_user), "mutation { logout }", json!({})).await;
    app.gql_ok(
        staff.auth(),
        "mutation($id: ID!) { updateAssetRequestStatus(id: $id, status: APPROVED) { status } }",
        json!({"id": request}),
    )
    .await;
    let approved = staff_live.next_result("s").await;
    assert_eq!(approved["data"]["assetRequestUpdated"]["status"], "APPROVED");
    let ended = north_live
        .message(ARRIVES_WITHIN)
        .await
        .expect("an answer after signing out");
    assert!(
        ended.to_string().contains("UNAUTHENTICATED"),
        "a signed-out session went on receiving: {ended}"
    );
    let complete = north_live.message(ARRIVES_WITHIN).await.expect("complete");
    assert_eq!(complete["type"], "complete", "{complete}");
}

#[tokio::test]
async fn websocket_rules_anonymous_callers_queries_roles_and_the_subscription_cap() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "C-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let customer = app.invite_and_accept(&staff, &account, None, "Maria").await;

    let mut anonymous = Live::connect(&app, None, TRANSPORT_WS).await;
    anonymous.subscribe("1", STATUS_SUBSCRIPTION, json!({})).await;
    let refused = anonymous.answer("1").await;
    assert!(refused.to_string().contains("UNAUTHENTICATED"), "{refused}");

    let mut portal = Live::connect(&app, Some(&customer), TRANSPORT_WS).await;
    portal
        .subscribe("1", "subscription { emailDeliveryUpdated { id } }", json!({}))
        .await;
    let forbidden = portal.answer("1").await;
    assert!(forbidden.to_string().contains("FORBIDDEN"), "{forbidden}");
    portal.subscribe("2", "{ viewer { __typename } }", json!({})).await;
    let query = portal.answer("2").await;
    assert!(query.to_string().contains("only subscriptions"), "{query}");
    assert!(query.to_string().contains("BAD_USER_INPUT"), "{query}");

    let mut live = Live::connect(&app, Some(&staff.token), TRANSPORT_WS).await;
    for n in 0..api::graphql::subscription::MAX_SUBSCRIPTIONS_PER_CONNECTION {
        live.subscribe(&n.to_string(), STATUS_SUBSCRIPTION, json!({})).await;
    }
    // The server starts the subscriptions it has received in no set order:
    // let these twenty take their slots before the one over the cap.
    tokio::time::sleep(Duration::from_millis(300)).await;
    live.subscribe("over", STATUS_SUBSCRIPTION, json!({})).await;
    let over = live.answer("over").await;
    assert!(over.to_string().contains("TOO_MANY_SUBSCRIPTIONS"), "{over}");
    let done = live.message(ARRIVES_WITHIN).await.expect("complete");
    assert_eq!(
        (&done["type"], &done["id"]),
        (&json!("complete"), &json!("over")),
        "{done}"
    );
    // Completing one frees its slot.
    live.send(json!({"type": "complete", "id": "0"})).await;
    let done = live.message(ARRIVES_WITHIN).await.expect("complete");
    assert_eq!(
        (&done["type"], &done["id"]),
        (&json!("complete"), &json!("0")),
        "{done}"
    );
    live.subscribe("again", STATUS_SUBSCRIPTION, json!({})).await;
    live.silent("a subscription within the cap was refused").await;
}
