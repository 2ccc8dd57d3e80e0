//! `POST /graphql` and `GET /graphql?query=…`, per the GraphQL-over-HTTP
//! spec: content negotiation by `Accept` (`application/graphql-response+json`
//! or `application/json`), JSON bodies only (415 otherwise), GraphQL-shaped
//! 400s for bodies that are not a request (batches included), 405 for a
//! mutation over GET. Each request resolves the viewer from the bearer token,
//! builds the request's DataLoaders, executes, maps errors to contract codes
//! and records metrics. At most `GRAPHQL_MAX_CONCURRENCY` requests execute at once; the
//! others wait for a permit (which bounds the api's memory and keeps a
//! CPU-bound burst from slowing every request down at once).

use std::time::Instant;

use std::{collections::HashMap, sync::Arc};

use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::{
    Extension,
    body::Bytes,
    extract::{Query, State},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{ACCEPT, ALLOW, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER},
    },
    response::{IntoResponse, Response},
};

use crate::{
    AppState, auth,
    error::{error_response, finish_response},
    graphql::{
        context::ClientAddr,
        loaders::Loaders,
        schema::{
            IntrospectionUse, MAX_ANONYMOUS_ROOT_FIELDS, introspection_use, is_request_error, label_after,
            max_root_fields, may_introspect, operation_label, strip_suggestions,
        },
    },
    http::{
        client_ip::ClientIp,
        permits::{RETRY_AFTER_SECONDS, Refused},
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

/// The answer to an anonymous document with more root fields than
/// [`MAX_ANONYMOUS_ROOT_FIELDS`].
fn too_many_root_fields() -> async_graphql::Response {
    let mut error = async_graphql::ServerError::new(
        format!(
            "an operation without a session may select at most {MAX_ANONYMOUS_ROOT_FIELDS} root fields \
             (aliases count); send several requests"
        ),
        None,
    );
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "QUERY_TOO_COMPLEX");
    error.extensions = Some(extensions);
    async_graphql::Response::from_errors(vec![error])
}

/// The media types a GraphQL answer can take (GraphQL over HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: request errors (a document that
    /// does not parse or validate) answer 4xx, without `data`.
    GraphqlResponseJson,
    /// `application/json`, the legacy type: every GraphQL result is a 200.
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the answer's media type from `Accept`: the client's first
/// acceptable choice of the two, `application/json` for a missing header,
/// `*/*` or `application/*`, and `None` (406) when neither is acceptable.
#[must_use]
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    if accept.trim().is_empty() {
        return Some(MediaType::Json);
    }
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"));
        if refused {
            continue;
        }
        match media.as_str() {
            "application/graphql-response+json" => return Some(MediaType::GraphqlResponseJson),
            "application/json" | "application/*" | "*/*" => return Some(MediaType::Json),
            _ => {}
        }
    }
    None
}

/// A GraphQL-shaped error answer (`{"errors": [{message, extensions.code}]}`)
/// for a request that never reached execution.
fn refusal(status: StatusCode, media: MediaType, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    let mut response = (status, body.to_string()).into_response();
    if let Ok(value) = HeaderValue::from_str(media.content_type()) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

/// What a request refused for want of a permit is told.
const BUSY: &str = "the api is busy: every GRAPHQL_MAX_CONCURRENCY permit is taken and GRAPHQL_MAX_WAITING requests already wait; try again shortly";

/// 503 for a request that found the permits and their queue full, with
/// `Retry-After` and a GraphQL-shaped `RATE_LIMITED` error.
fn busy(media: MediaType) -> Response {
    let body = serde_json::json!({"errors": [{
        "message": BUSY,
        "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": RETRY_AFTER_SECONDS}
    }]});
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    if let Ok(value) = HeaderValue::from_str(media.content_type()) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

fn not_acceptable() -> Response {
    refusal(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        "BAD_USER_INPUT",
        "the API answers application/graphql-response+json or application/json: accept one of them",
    )
}

/// Reads a GraphQL request's parameters from a JSON object (the POST body,
/// or the GET query string's decoded values).
///
/// # Errors
/// A message naming the parameter that is missing or of the wrong type.
fn parameters(body: serde_json::Value) -> Result<async_graphql::Request, String> {
    use serde_json::Value;
    let mut body = match body {
        Value::Object(body) => body,
        Value::Array(_) => {
            return Err("batched requests are not supported: send one GraphQL request per HTTP request".to_owned());
        }
        _ => return Err("the body must be a JSON object with a `query`".to_owned()),
    };
    let query = match body.remove("query") {
        Some(Value::String(query)) => query,
        Some(_) => return Err("`query` must be a string".to_owned()),
        None => return Err("`query` is missing: send the GraphQL document as `query`".to_owned()),
    };
    let mut request = async_graphql::Request::new(query);
    match body.remove("variables") {
        None | Some(Value::Null) => {}
        Some(variables @ Value::Object(_)) => {
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        Some(_) => return Err("`variables` must be an object (or null)".to_owned()),
    }
    match body.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err("`operationName` must be a string (or null)".to_owned()),
    }
    match body.get("extensions") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(_) => return Err("`extensions` must be an object (or null)".to_owned()),
    }
    Ok(request)
}

/// `POST /graphql`: one GraphQL request as an `application/json` body.
///
/// The body is buffered by axum's `Bytes` extractor, which honours the
/// router's body limit and answers 413 when it is exceeded, however the body
/// is sent. Other content types (`text/plain`, forms, multipart, which a
/// browser can send cross-site without a preflight) answer 415; a body that
/// is not a GraphQL request (malformed JSON, a batch, a `query` that is not a
/// string) answers 400 with a GraphQL-shaped error.
pub async fn graphql_handler(
    State(state): State<AppState>,
    client: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json = content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "BAD_USER_INPUT",
            "send the GraphQL request as a JSON body with `Content-Type: application/json`",
        );
    }
    let parsed = serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|e| format!("the body is not valid JSON: {e}"))
        .and_then(parameters);
    match parsed {
        Ok(request) => execute(&state, client, &headers, request, media, false).await,
        Err(message) => refusal(StatusCode::BAD_REQUEST, media, "BAD_USER_INPUT", &message),
    }
}

/// `GET /graphql`: GraphiQL for a browser (no `query` parameter), else a
/// query from the URL's parameters (`query`, `variables` and `extensions`
/// as JSON text, `operationName`). Mutations are refused with 405: a GET
/// must not change anything.
pub async fn graphql_get(
    State(state): State<AppState>,
    client: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if !params.contains_key("query") {
        return crate::http::graphiql::graphiql_page().await;
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let mut body = serde_json::Map::new();
    for (name, value) in &params {
        let value = match name.as_str() {
            "variables" | "extensions" => match serde_json::from_str(value) {
                Ok(value) => value,
                Err(e) => {
                    let message = format!("`{name}` is not valid JSON: {e}");
                    return refusal(StatusCode::BAD_REQUEST, media, "BAD_USER_INPUT", &message);
                }
            },
            _ => serde_json::Value::String(value.clone()),
        };
        body.insert(name.clone(), value);
    }
    match parameters(serde_json::Value::Object(body)) {
        Ok(request) => execute(&state, client, &headers, request, media, true).await,
        Err(message) => refusal(StatusCode::BAD_REQUEST, media, "BAD_USER_INPUT", &message),
    }
}

/// What [`crate::graphql::order::document_order`] needs of a request, kept
/// before the request moves into execution.
struct Ordering {
    document: Option<Arc<async_graphql::parser::types::ExecutableDocument>>,
    operation_name: Option<String>,
    variables: async_graphql::Variables,
}

impl Ordering {
    /// `request`'s, whose document came from
    /// [`crate::http::documents::Documents::prepare`].
    fn of(
        request: &async_graphql::Request,
        document: Option<Arc<async_graphql::parser::types::ExecutableDocument>>,
    ) -> Self {
        Self {
            document,
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
        }
    }

    /// Puts the answer into the document's order.
    fn apply(&self, response: &mut async_graphql::Response) {
        if let Some(document) = &self.document {
            crate::graphql::order::document_order(
                document,
                self.operation_name.as_deref(),
                &self.variables,
                &mut response.data,
                &mut response.errors,
            );
        }
    }
}

/// Whether the operation a GET would run is a mutation (or a subscription).
fn changes_state(request: &mut async_graphql::Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false;
    };
    let operation = match (&doc.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name.as_str()).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    operation.is_some_and(|operation| operation.ty != OperationType::Query)
}

/// Executes one GraphQL request: resolves the viewer from the bearer token,
/// builds the request's DataLoaders, executes, maps errors to contract codes,
/// records metrics and answers in `media`.
async fn execute(
    state: &AppState,
    client: Option<Extension<ClientIp>>,
    headers: &HeaderMap,
    mut request: async_graphql::Request,
    media: MediaType,
    read_only: bool,
) -> Response {
    // Parsed (or taken from the kept documents) once, here; everything
    // below and the execution read this one.
    let document = state.documents.prepare(&mut request);
    if read_only && changes_state(&mut request) {
        let mut response = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "BAD_USER_INPUT",
            "mutations are only accepted over POST",
        );
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let started = Instant::now();
    // Held from the viewer's lookup to the serialized response: a request
    // waiting here holds no more than its parsed body.
    let _permit = match state.graphql_permits.acquire(&state.metrics).await {
        Ok(permit) => permit,
        Err(Refused::Busy) => {
            state.metrics.observe_graphql("busy", started.elapsed(), false);
            return busy(media);
        }
        Err(Refused::Closed) => return (StatusCode::SERVICE_UNAVAILABLE, "the api is shutting down").into_response(),
    };
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let viewer = match auth::viewer_from_header(&state.data.db, authorization).await {
        Ok(viewer) => viewer,
        Err(err) => {
            let response = error_response(err);
            state.metrics.observe_graphql("auth", started.elapsed(), false);
            return answer(response, media, StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let label = operation_label(&mut request);
    let may_introspect = may_introspect(state.data.settings.graphql_introspection, &viewer);
    let introspection = request.parsed_query().map_or(IntrospectionUse::None, introspection_use);
    if introspection != IntrospectionUse::None && !may_introspect {
        state.metrics.observe_graphql("introspection", started.elapsed(), false);
        return answer(introspection_refused(), media, StatusCode::FORBIDDEN);
    }
    if matches!(viewer, service::auth::Viewer::Anonymous)
        && request
            .parsed_query()
            .is_ok_and(|doc| max_root_fields(doc) > MAX_ANONYMOUS_ROOT_FIELDS)
    {
        state
            .metrics
            .observe_graphql("too-many-root-fields", started.elapsed(), false);
        return answer(too_many_root_fields(), media, StatusCode::BAD_REQUEST);
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
    let client = ClientAddr(client.map(|Extension(ClientIp(address))| address));
    let ordering = Ordering::of(&request, document);
    let request = request.data(viewer).data(loaders).data(client);
    let mut response = finish_response(batches.run(schema.execute(request)).await);
    ordering.apply(&mut response);
    if !may_introspect {
        strip_suggestions(&mut response);
    }
    let label = label_after(label, &response);
    state
        .metrics
        .observe_graphql(&label, started.elapsed(), response.errors.is_empty());
    answer(response, media, StatusCode::BAD_REQUEST)
}

/// Executes `request` for `viewer` in process, as `POST /graphql` would for
/// the same session: the same schema, permits, DataLoaders, error mapping
/// and metrics, without HTTP. The portal's pages run their documents
/// through this, so they can never show more than the API would.
/// Introspection is off (the pages' documents do not use it).
pub async fn execute_as(
    state: &AppState,
    viewer: service::auth::Viewer,
    client: Option<std::net::IpAddr>,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let started = Instant::now();
    let _permit = match state.graphql_permits.acquire(&state.metrics).await {
        Ok(permit) => permit,
        Err(refused) => {
            let mut error = async_graphql::ServerError::new(
                match refused {
                    Refused::Busy => BUSY,
                    Refused::Closed => "the api is shutting down",
                },
                None,
            );
            if refused == Refused::Busy {
                let mut extensions = async_graphql::ErrorExtensionValues::default();
                extensions.set("code", "RATE_LIMITED");
                extensions.set("retryAfterSeconds", RETRY_AFTER_SECONDS);
                error.extensions = Some(extensions);
            }
            return async_graphql::Response::from_errors(vec![error]);
        }
    };
    let mut request = request.disable_introspection();
    let document = state.documents.prepare(&mut request);
    let label = operation_label(&mut request);
    let loaders = Loaders::new(state.data.db.clone(), viewer.scope().ok());
    let batches = loaders.batches();
    let ordering = Ordering::of(&request, document);
    let request = request.data(viewer).data(loaders).data(ClientAddr(client));
    let mut response = finish_response(batches.run(state.schema.execute(request)).await);
    ordering.apply(&mut response);
    let label = label_after(label, &response);
    state
        .metrics
        .observe_graphql(&label, started.elapsed(), response.errors.is_empty());
    response
}

/// Serializes a response in `media`: under `application/graphql-response+json`
/// a request error answers `request_error_status` without `data`; under
/// `application/json` every result is a 200.
fn answer(response: async_graphql::Response, media: MediaType, request_error_status: StatusCode) -> Response {
    let without_data = media == MediaType::GraphqlResponseJson && is_request_error(&response);
    // Serialized straight to bytes: a staff dashboard is some 6,500 fields,
    // and an intermediate serde_json::Value of them costs a millisecond.
    let (status, body) = if without_data {
        (
            request_error_status,
            serde_json::to_vec(&serde_json::json!({ "errors": response.errors })),
        )
    } else {
        (StatusCode::OK, serde_json::to_vec(&response))
    };
    let Ok(body) = body else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut answer = (status, body).into_response();
    let headers = answer.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    for (name, value) in &response.http_headers {
        headers.append(name, value.clone());
    }
    if let Some(seconds) = retry_after(&response) {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    answer
}

/// The longest `extensions.retryAfterSeconds` of the response's
/// `RATE_LIMITED` errors: sent as `Retry-After` too, for HTTP clients and
/// proxies that honour it.
fn retry_after(response: &async_graphql::Response) -> Option<u64> {
    response
        .errors
        .iter()
        .filter_map(|error| error.extensions.as_ref())
        .filter(|extensions| {
            matches!(extensions.get("code"), Some(async_graphql::Value::String(code)) if code == "RATE_LIMITED")
        })
        .filter_map(|extensions| match extensions.get("retryAfterSeconds") {
            Some(async_graphql::Value::Number(seconds)) => seconds.as_u64(),
            _ => None,
        })
        .max()
}
