//! How a [`ApiError`] reaches clients: the mapping of every error of a
//! GraphQL response to its contract code.
//!
//! The error type itself, with its codes, is the service crate's
//! ([`service::error`]). Resolvers use `?` freely: async-graphql keeps the
//! original error as the `source` of its `Error`, and [`finish_response`]
//! maps each error of a response to its code in one place, so no error
//! escapes unmapped. Internal errors are logged with their cause and reach
//! the client as `INTERNAL` with no details.

use async_graphql::{ErrorExtensionValues, Response, ServerError, Value};
pub use service::error::{ApiError, UniqueRule, on_unique};

/// Gives every error of a GraphQL response its contract code, logs internal
/// ones with their cause and strips their details.
pub fn finish_response(mut response: Response) -> Response {
    for error in &mut response.errors {
        classify(error);
    }
    response
}

/// A response of the single error `error`, mapped like any other.
pub fn error_response(error: ApiError) -> Response {
    let mut server_error = ServerError::new(error.to_string(), None);
    server_error.source = Some(std::sync::Arc::new(error));
    finish_response(Response::from_errors(vec![server_error]))
}

fn classify(error: &mut ServerError) {
    let api_error = error.source::<ApiError>();
    let (code, message) = match api_error {
        Some(ApiError::Internal(cause)) => {
            tracing::error!(error = ?cause, path = ?error.path, "internal error while resolving");
            ("INTERNAL", Some("internal error".to_owned()))
        }
        Some(other) => (other.code(), None),
        None if error.source.is_some() => {
            // A foreign error type (e.g. a database error returned with `?`).
            tracing::error!(message = %error.message, path = ?error.path, "unmapped error while resolving");
            ("INTERNAL", Some("internal error".to_owned()))
        }
        None => {
            // Parse, validation and argument-coercion errors of async-graphql.
            let too_complex = error.message.contains("nested too deep") || error.message.contains("too complex");
            (
                if too_complex {
                    "QUERY_TOO_COMPLEX"
                } else {
                    "BAD_USER_INPUT"
                },
                None,
            )
        }
    };
    let extra = match api_error {
        Some(ApiError::BadInput { field, .. }) => Some(("field", Value::from(field.clone()))),
        Some(
            ApiError::RateLimited { retry_after_seconds }
            | ApiError::QuotaExceeded {
                retry_after_seconds, ..
            },
        ) => Some(("retryAfterSeconds", Value::from(*retry_after_seconds))),
        _ => None,
    };
    let extensions = error.extensions.get_or_insert_with(ErrorExtensionValues::default);
    extensions.set("code", Value::from(code));
    if let Some((name, value)) = extra {
        extensions.set(name, value);
    }
    if let Some(message) = message {
        error.message = message;
        error.source = None;
    }
}
