//! `/healthz` (the process is up) and `/readyz` (the warehouse answers).
//!
//! A readiness answer is kept for [`READY_FOR`]: platforms probe every few
//! seconds, and each probe of a Databricks warehouse is a statement that
//! keeps it from auto-stopping (and bills).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

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
    let wh = state.warehouse.clone();
    let (rows, _) = state
        .ready
        .get_or_fetch(
            (),
            |_| 1,
            move |cancel| async move { Ok(wh.bounds(&Caller::default(), &cancel, &Progress::default()).await?.rows) },
        )
        .await?;
    Ok(Json(json!({ "status": "ready", "warehouse": state.warehouse.kind(), "rows": *rows })))
}

/// How long one readiness answer stands.
pub const READY_FOR: Duration = Duration::from_secs(10);
