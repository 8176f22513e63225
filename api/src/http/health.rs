//! `/healthz` (the process is up) and `/readyz` (the warehouse answers).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::warehouse::{Caller, Progress};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "The warehouse answers"), (status = 503, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let bounds = state.warehouse.bounds(&Caller::default(), &CancellationToken::new(), &Progress::default()).await?;
    Ok(Json(json!({ "status": "ready", "warehouse": state.warehouse.kind(), "rows": bounds.rows })))
}
