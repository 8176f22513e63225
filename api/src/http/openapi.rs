//! `/api/openapi.json`: the API described from the code itself (utoipa), so
//! the description cannot drift from the handlers; tests check real
//! responses against it.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "servicewatch", description = "Unusual daily transaction volumes per maintenance service."),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::data::meta,
        super::data::daily,
        super::data::transactions,
        super::data::refresh,
        super::data::progress,
        super::anomalies::anomalies,
    )
)]
pub struct ApiDoc;

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/api/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
