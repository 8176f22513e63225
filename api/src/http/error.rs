//! The one error type of the HTTP API. Every failure becomes a status code
//! and a stable JSON body, `{"error":{"status","code","message"}}`; internal
//! details (engine messages, SQL) go to the log, never to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The body of every error response: a wire type, so the app reads what
/// the server writes.
pub use servicewatch_shared::wire::{ErrorBody, ErrorDetail};

use crate::warehouse::WarehouseError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// No such API route or file.
    #[error("{0}")]
    NotFound(String),
    /// The request took longer than the server allows.
    #[error("the request took longer than {0:?}; try a shorter range or again later")]
    Timeout(std::time::Duration),
    /// The request body is over the limit (in bytes).
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The table is still being read for this caller; the load goes on
    /// without the request, and a later one gets its result.
    #[error("the warehouse is still reading the table; try again shortly (progress: /api/progress)")]
    Loading,
    /// A state-changing POST without the proof that the app itself sent
    /// it (a custom header or a JSON body), so another site cannot.
    #[error("{0}")]
    CrossSite(String),
    /// Asked again too soon: at most one per `every`; the next in
    /// `retry_after` whole seconds (also the Retry-After header).
    #[error("refreshed less than {every:?} ago; try again in {retry_after} s")]
    RateLimited { every: std::time::Duration, retry_after: u64 },
    /// A body that is not JSON where JSON is required.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A route this build has no backing for (the audit trail in the
    /// Databricks App build).
    #[error("{0}")]
    NotAvailable(String),
    /// The audit trail failed: never a client's mistake, never silent.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    /// One failure shared by every request that waited for the same load.
    #[error(transparent)]
    Shared(#[from] std::sync::Arc<ApiError>),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> ApiError {
        ApiError::BadRequest(msg.into())
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout", self.to_string()),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", self.to_string()),
            ApiError::Loading => (StatusCode::SERVICE_UNAVAILABLE, "loading", self.to_string()),
            ApiError::CrossSite(m) => (StatusCode::FORBIDDEN, "cross_site", m.clone()),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", self.to_string()),
            ApiError::UnsupportedMediaType(m) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", m.clone())
            }
            ApiError::NotAvailable(m) => (StatusCode::NOT_IMPLEMENTED, "not_available", m.clone()),
            ApiError::Store(e) => {
                let what = match e {
                    crate::store::StoreError::Write(_) => {
                        "the store (audit trail, marks) could not be written; nothing was saved"
                    }
                    crate::store::StoreError::Invalid(_) => "a stored row is invalid",
                    _ => "the store (audit trail, marks) could not be read",
                };
                (StatusCode::INTERNAL_SERVER_ERROR, "audit_failed", format!("{what}; the server log has details"))
            }
            ApiError::Warehouse(WarehouseError::Cancelled) => {
                (StatusCode::SERVICE_UNAVAILABLE, "cancelled", "the query was cancelled".into())
            }
            ApiError::Warehouse(e @ WarehouseError::NotAuthorised(_)) => {
                (StatusCode::FORBIDDEN, "not_authorised", e.to_string())
            }
            ApiError::Warehouse(e @ WarehouseError::TableUnavailable(_)) => {
                (StatusCode::FORBIDDEN, "table_unavailable", e.to_string())
            }
            ApiError::Warehouse(e @ WarehouseError::Unavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string())
            }
            // The settings and the table disagree: said as it is (a setting
            // and column names, nothing of the engine's), for whoever
            // configures the server.
            ApiError::Warehouse(e @ WarehouseError::MissingColumn { .. }) => {
                (StatusCode::BAD_GATEWAY, "missing_column", e.to_string())
            }
            ApiError::Shared(inner) => inner.parts(),
            ApiError::Warehouse(WarehouseError::Data(_)) => (
                StatusCode::BAD_GATEWAY,
                "bad_data",
                "the table could not be read as configured; the server log has details".into(),
            ),
            ApiError::Warehouse(WarehouseError::Query(_)) => (
                StatusCode::BAD_GATEWAY,
                "warehouse_error",
                "the warehouse query failed; the server log has details".into(),
            ),
            ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; the server log has details".into())
            }
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    /// A load or a computation that panicked (a bug, reported as such).
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::Internal(anyhow::Error::from(e))
    }
}

/// An error and its causes, for the log: each source's text after the
/// last, unless the text above already says it.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let retry_after = match &self {
            ApiError::RateLimited { retry_after, .. } => retry_after.to_string(),
            _ => "2".into(),
        };
        if status.is_server_error() {
            tracing::error!(error = %chain(&self), code, "request failed");
        }
        let body = ErrorBody { error: ErrorDetail { status: status.as_u16(), code: code.into(), message } };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after) {
                resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// An unknown service is a 404 (the request was well-formed), a malformed
/// list a 400.
impl From<crate::services::ServicesError> for ApiError {
    fn from(e: crate::services::ServicesError) -> Self {
        match e {
            crate::services::ServicesError::Unknown(_) => ApiError::NotFound(e.to_string()),
            crate::services::ServicesError::Bad(m) => ApiError::bad(m),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn warehouse_errors_keep_their_causes_for_the_log_only() {
        use crate::warehouse::Failure;
        let io = std::io::Error::other("disk on fire");
        let e = ApiError::from(WarehouseError::query(Failure::with("reading part-0001.parquet", io)));
        // The cause is a source, not text pasted into the message...
        // (ApiError::Warehouse is transparent: its source is the failure.)
        let source = std::error::Error::source(&e).and_then(|failure| failure.source());
        assert_eq!(source.map(|s| s.to_string()).as_deref(), Some("disk on fire"));
        // ...the log line has the whole chain, the client none of it.
        assert_eq!(chain(&e), "warehouse query failed: reading part-0001.parquet: disk on fire");
        assert!(!e.parts().2.contains("disk"));
    }

    use super::*;

    #[test]
    fn internals_never_reach_the_client() {
        let e = ApiError::Warehouse(WarehouseError::query("SELECT secret FROM x: boom"));
        let (status, code, message) = e.parts();
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(code, "warehouse_error");
        assert!(!message.contains("SELECT") && !message.contains("boom"));
    }
}
