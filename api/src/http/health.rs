//! `/healthz` (the process is up) and `/readyz` (the warehouse answers).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::AppState;
use crate::warehouse::Caller;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let bounds = state.warehouse.bounds(&Caller::default(), &CancellationToken::new()).await?;
    Ok(Json(json!({ "status": "ready", "warehouse": state.warehouse.kind(), "rows": bounds.rows })))
}
