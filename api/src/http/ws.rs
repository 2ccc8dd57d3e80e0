//! `GET /graphql/ws`: GraphQL subscriptions over websockets, in the
//! `graphql-transport-ws` protocol and the older `graphql-ws`
//! (subscriptions-transport-ws), chosen by `Sec-WebSocket-Protocol`.
//!
//! The connection signs in with its `connection_init` payload
//! (`{"authorization": "Bearer <token>"}`; without one it is anonymous and
//! every subscription answers `UNAUTHENTICATED`). Only subscription
//! operations are served here (queries and mutations go to `POST /graphql`,
//! with its limits); introspection follows `GRAPHQL_INTROSPECTION` as over
//! HTTP, and every error is mapped to its contract code as over HTTP.
//!
//! Bounds: a message is at most [`MAX_MESSAGE_BYTES`]; a client that sends
//! nothing (no `connection_init`, no ping) for [`IDLE_TIMEOUT`] is closed; the
//! server pings every [`PING_INTERVAL`] (a websocket ping frame, answered by
//! every client) so that proxies keep the connection open; a client that
//! stops reading is dropped once its subscriptions fall behind (see
//! [`crate::graphql::subscription`]).

use std::{str::FromStr as _, sync::Arc, time::Duration};

use async_graphql::{
    Data, Executor, Request, Response,
    futures_util::{SinkExt as _, StreamExt as _, future, stream::BoxStream},
    http::{ALL_WEBSOCKET_PROTOCOLS, WebSocket as GraphqlWebSocket, WebSocketProtocols, WsMessage},
    parser::types::OperationType,
};
use axum::{
    extract::{
        State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse as _, Response as HttpResponse},
};
use common::Introspection;
use service::auth::Viewer;

use crate::{
    AppState,
    error::{ApiError, error_response, finish_response},
    graphql::{
        AppSchema,
        loaders::Loaders,
        schema::{may_introspect, strip_suggestions},
        subscription::LiveSession,
    },
};

/// Largest websocket message accepted from a client.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// A connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How often the server pings a connection.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);

/// `GET /graphql/ws`: upgrades to a websocket speaking the protocol the
/// client offered (`graphql-transport-ws` when it offers both; 400 when it
/// offers neither).
pub async fn graphql_ws(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> HttpResponse {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let Some(name) = ALL_WEBSOCKET_PROTOCOLS.iter().find(|name| offered.contains(name)) else {
        return (
            StatusCode::BAD_REQUEST,
            "GraphQL subscriptions need the websocket subprotocol graphql-transport-ws (or graphql-ws)",
        )
            .into_response();
    };
    let Ok(protocol) = WebSocketProtocols::from_str(name) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    upgrade
        .protocols([*name])
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(state, socket, protocol))
}

/// Runs one connection until either side closes it.
async fn serve(state: AppState, socket: WebSocket, protocol: WebSocketProtocols) {
    let (mut sink, source) = socket.split();
    let input = source
        .take_while(|message| future::ready(message.is_ok()))
        .filter_map(|message| {
            future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let executor = LiveExecutor {
        schema: state.schema.clone(),
        introspection: state.data.settings.graphql_introspection,
    };
    let init_state = state.clone();
    let mut messages = GraphqlWebSocket::new(executor, input, protocol)
        .on_connection_init(move |payload| connection_init(init_state, payload))
        .keepalive_timeout(IDLE_TIMEOUT)
        .map(|message| match message {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        });
    let mut pings = tokio::time::interval(PING_INTERVAL);
    pings.tick().await;
    loop {
        let outgoing = tokio::select! {
            message = messages.next() => match message {
                Some(message) => message,
                None => break,
            },
            _ = pings.tick() => Message::Ping(Vec::new().into()),
        };
        if sink.send(outgoing).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

/// The connection's data from its `connection_init` payload: the viewer, its
/// loaders and its [`LiveSession`].
async fn connection_init(state: AppState, payload: serde_json::Value) -> async_graphql::Result<Data> {
    let header = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(serde_json::Value::as_str);
    let token = header
        .map(|value| value.strip_prefix("Bearer ").unwrap_or(value).trim().to_owned())
        .unwrap_or_default();
    let viewer = service::auth::viewer_for_token(&state.data.db, &token)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "websocket sign-in failed");
            async_graphql::Error::new("internal error")
        })?;
    let mut data = Data::default();
    data.insert(Loaders::spawning(state.data.db.clone(), viewer.scope().ok()));
    data.insert(LiveSession::new(
        state.data.db.clone(),
        state.data.events.clone(),
        token,
    ));
    data.insert(viewer);
    Ok(data)
}

/// The schema, with the HTTP path's rules for what a request may do and how
/// its errors look.
#[derive(Clone)]
struct LiveExecutor {
    schema: AppSchema,
    introspection: Introspection,
}

impl Executor for LiveExecutor {
    async fn execute(&self, request: Request) -> Response {
        finish_response(self.schema.execute(request).await)
    }

    fn execute_stream(&self, mut request: Request, session: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let refuse =
            |error: ApiError| async_graphql::futures_util::stream::once(future::ready(error_response(error))).boxed();
        let Some(session) = session else {
            return refuse(ApiError::Unauthenticated);
        };
        // The connection's viewer, from its connection_init.
        let may_introspect = session
            .get(&std::any::TypeId::of::<Viewer>())
            .and_then(|viewer| viewer.downcast_ref::<Viewer>())
            .is_some_and(|viewer| may_introspect(self.introspection, viewer));
        let wanted = request.operation_name.clone();
        // Parse errors are answered by the execution below.
        if let Ok(document) = request.parsed_query() {
            let wanted = wanted.as_deref();
            let operation = document
                .operations
                .iter()
                .find(|(name, _)| wanted.is_none() || name.map(async_graphql::Name::as_str) == wanted)
                .map(|(_, operation)| operation);
            if operation.is_some_and(|operation| operation.node.ty != OperationType::Subscription) {
                return refuse(ApiError::bad_input(
                    "query",
                    "only subscriptions are served over websockets; send queries and mutations to POST /graphql",
                ));
            }
        }
        if !may_introspect {
            request = request.disable_introspection();
        }
        self.schema
            .execute_stream_with_session_data(request, session)
            .map(move |response| {
                let mut response = finish_response(response);
                if !may_introspect {
                    strip_suggestions(&mut response);
                }
                response
            })
            .boxed()
    }
}
