//! `/healthz` (the process is up) and `/readyz` (its dependencies answer).

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use crate::AppState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 when the database (and Redis, when configured) answer; else 503 with
/// which one does not.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.data.db.ping().await.is_ok();
    let redis = match &state.redis {
        None => None,
        Some(conn) => Some(common::redis_conn::ping(&mut conn.clone()).await),
    };
    let ready = database && redis.unwrap_or(true);
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": word(database),
        "redis": redis.map_or("not configured", word),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
