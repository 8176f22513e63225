//! `/healthz` (the process is up) and `/readyz` (the warehouse answers).
//!
//! A readiness answer is kept for [`READY_FOR`]: platforms probe every few
//! seconds, and each probe of a Databricks warehouse is a statement that
//! keeps it from auto-stopping (and bills).

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let recent = *state.ready.lock().unwrap_or_else(|p| p.into_inner());
    let rows = match recent {
        Some((at, rows)) if at.elapsed() < READY_FOR => rows,
        _ => {
            let cancel = CancellationToken::new();
            let bounds = state.warehouse.bounds(&Caller::default(), &cancel, &Progress::default()).await?;
            *state.ready.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), bounds.rows));
            bounds.rows
        }
    };
    Ok(Json(json!({ "status": "ready", "warehouse": state.warehouse.kind(), "rows": rows })))
}

/// How long one readiness answer stands.
pub const READY_FOR: Duration = Duration::from_secs(10);
