//! `POST /graphql`: resolves the viewer from the bearer token, builds the
//! request's DataLoaders, executes, maps errors to contract codes and records
//! metrics. At most `GRAPHQL_MAX_CONCURRENCY` requests execute at once; the
//! others wait for a permit (which bounds the api's memory and keeps a
//! CPU-bound burst from slowing every request down at once).

use std::{net::SocketAddr, time::Instant};

use async_graphql::http::{MultipartOptions, receive_body};
use async_graphql_axum::{GraphQLResponse, rejection::GraphQLRejection};
use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{
        HeaderMap, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
};
use common::Introspection;

use crate::{
    AppState, auth,
    error::finish_response,
    graphql::{
        context::ClientAddr,
        loaders::Loaders,
        schema::{IntrospectionUse, introspection_use, label_after, operation_label, strip_suggestions},
    },
};

/// The answer to an introspection document from a caller who may not
/// introspect: `FORBIDDEN`, saying where the schema is published instead.
fn introspection_refused() -> async_graphql::Response {
    let mut error = async_graphql::ServerError::new(
        "introspection is only available to signed-in staff (GRAPHQL_INTROSPECTION); \
         the schema is published as schema.graphql",
        None,
    );
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "FORBIDDEN");
    error.extensions = Some(extensions);
    async_graphql::Response::from_errors(vec![error])
}

/// Executes one GraphQL request.
///
/// The body is buffered by axum's `Bytes` extractor, which honours the
/// router's body limit and answers 413 when it is exceeded, however the body
/// is sent. (async-graphql-axum's `GraphQLRequest` extractor reads the stream
/// itself and reports a chunked body over the limit as a 400.) A body that is
/// not a GraphQL request answers 400.
pub async fn graphql_handler(
    State(state): State<AppState>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let mut request = match receive_body(content_type, body.as_ref(), MultipartOptions::default()).await {
        Ok(request) => request,
        Err(err) => return GraphQLRejection(err).into_response(),
    };
    let started = Instant::now();
    // Held from the viewer's lookup to the serialized response: a request
    // waiting here holds no more than its parsed body.
    let waiting = state.metrics.waiting();
    let Ok(_permit) = state.graphql_permits.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the api is shutting down").into_response();
    };
    drop(waiting);
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let viewer = match auth::viewer_from_header(&state.data.db, authorization).await {
        Ok(viewer) => viewer,
        Err(err) => {
            let mut error = async_graphql::ServerError::new(err.to_string(), None);
            error.source = Some(std::sync::Arc::new(err));
            let response = finish_response(async_graphql::Response::from_errors(vec![error]));
            state.metrics.observe_graphql("auth", started.elapsed(), false);
            return GraphQLResponse::from(response).into_response();
        }
    };
    // Parsed once here; execution reuses the parsed document.
    let label = operation_label(&mut request);
    let may_introspect = match state.data.settings.graphql_introspection {
        Introspection::All => true,
        Introspection::Off => false,
        Introspection::Staff => viewer.require_staff().is_ok(),
    };
    let introspection = request.parsed_query().map_or(IntrospectionUse::None, introspection_use);
    if introspection != IntrospectionUse::None && !may_introspect {
        state.metrics.observe_graphql("introspection", started.elapsed(), false);
        return GraphQLResponse::from(introspection_refused()).into_response();
    }
    let schema = if introspection == IntrospectionUse::Only {
        request = request.only_introspection();
        &state.introspection_schema
    } else {
        if !may_introspect {
            request = request.disable_introspection();
        }
        &state.schema
    };
    let loaders = Loaders::new(state.data.db.clone(), viewer.scope().ok());
    let batches = loaders.batches();
    let client = ClientAddr(connection.map(|Extension(ConnectInfo(addr))| addr.ip()));
    let request = request.data(viewer).data(loaders).data(client);
    let mut response = finish_response(batches.run(schema.execute(request)).await);
    if !may_introspect {
        strip_suggestions(&mut response);
    }
    let label = label_after(label, &response);
    state
        .metrics
        .observe_graphql(&label, started.elapsed(), response.errors.is_empty());
    GraphQLResponse::from(response).into_response()
}
