//! The data routes: `/api/meta`, `/api/daily`, `/api/transactions` and
//! `/api/refresh`. All of them read the cached [`Snapshot`]; only the
//! drill-down and a cold cache reach the warehouse.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use servicewatch_shared::codec;
use servicewatch_shared::wire::{Daily, DataSource, Meta};
use servicewatch_shared::Day;
use tokio_util::sync::CancellationToken;

use super::error::{ApiError, ErrorBody};
use super::params::Query;
use super::{blocking, caller, AppState, Snapshot};
use crate::config::{Config, WarehouseConfig};
use crate::warehouse::Progress;

/// Most services one request may name.
pub const MAX_SERVICES: usize = 5000;
/// Most raw rows one drill-down may return.
pub const MAX_TRANSACTIONS: u32 = 1000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/meta", get(meta))
        .route("/api/daily", get(daily))
        .route("/api/transactions", get(transactions))
        .route("/api/refresh", post(refresh))
        .route("/api/progress", get(progress))
}

/// `from`/`to` from the query, defaulting to the data's bounds, checked.
pub fn range(q: &Query, snap: &Snapshot, config: &Config) -> Result<(Day, Day), ApiError> {
    let max_span = config.max_span_days;
    let bounds = snap.bounds.days(config.time_zone);
    let to = q.day("to")?.or(bounds.map(|b| b.1));
    // Without `from`: the data's first day, or the longest range allowed.
    let earliest = to.map(|t| Day(t.0 - max_span as i32 + 1));
    let from = q.day("from")?.or(bounds.map(|b| b.0).max(earliest));
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::bad("the table has no data yet: give `from` and `to`"));
    };
    if from > to {
        return Err(ApiError::bad(format!("`from` ({from}) is after `to` ({to})")));
    }
    if (to.0 - from.0) as i64 + 1 > max_span as i64 {
        return Err(ApiError::bad(format!("the range {from} to {to} is longer than {max_span} days")));
    }
    Ok((from, to))
}

/// The `services` filter as panel indices; unknown names are an error.
///
/// Commas separate names, and some service names hold commas themselves
/// ("Brakes, front"): at each item the longest run of items that joins back
/// into a known name wins, so both kinds can be listed as usual.
pub fn services(q: &Query, snap: &Snapshot) -> Result<Option<Vec<usize>>, ApiError> {
    /// Most commas one service name may hold.
    const MAX_COMMAS: usize = 8;
    let Some(items) = q.list("services", MAX_SERVICES)? else { return Ok(None) };
    let index: HashMap<&str, usize> = snap.panel.keys().iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let mut chosen = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let last = (i + MAX_COMMAS).min(items.len() - 1);
        let found = (i..=last).rev().find_map(|j| index.get(items[i..=j].join(",").trim()).map(|&s| (j, s)));
        let Some((j, s)) = found else {
            return Err(ApiError::bad(format!("unknown service `{}`", items[i].trim())));
        };
        chosen.push(s);
        i = j + 1;
    }
    Ok(Some(chosen))
}

#[utoipa::path(get, path = "/api/meta", tag = "data",
    responses((status = 200, body = Meta), (status = 502, body = ErrorBody)))]
pub async fn meta(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Meta>, ApiError> {
    let snap = state.snapshot(&caller(&headers)).await?;
    let bounds = snap.bounds.days(state.config.time_zone);
    let source = match state.config.warehouse {
        WarehouseConfig::Sample => DataSource::Sample,
        _ => DataSource::Table,
    };
    Ok(Json(Meta {
        table: state.config.table.plain(),
        source,
        warehouse: state.warehouse.kind().into(),
        timezone: state.config.time_zone.name().into(),
        first: bounds.map(|b| b.0),
        last: bounds.map(|b| b.1),
        partial_days: snap.bounds.partial_days(state.config.time_zone),
        rows: snap.bounds.rows,
        dropped_rows: snap.bounds.dropped,
        service_days: snap.panel.service_days(),
        services: snap.panel.keys().to_vec(),
        latest_transaction: snap.bounds.last.map(|t| t.and_utc().to_rfc3339()),
        fetched_at: snap.fetched_at.to_rfc3339(),
        max_span_days: state.config.max_span_days,
    }))
}

#[utoipa::path(get, path = "/api/daily", tag = "data",
    params(
        ("from" = Option<String>, Query, format = Date, description = "First day (default: the data's first, within max_span_days of `to`)"),
        ("to" = Option<String>, Query, format = Date, description = "Last day (default: the data's last)"),
        ("services" = Option<String>, Query, description = "Comma-separated service names"),
    ),
    responses(
        (status = 200, description = "Daily counts; `Accept: application/vnd.servicewatch.daily` gives the binary encoding", body = Daily),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, body = ErrorBody),
    ))]
pub async fn daily(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::new(raw.as_deref(), &["from", "to", "services"])?;
    let who = caller(&headers);
    let snap = state.snapshot(&who).await?;
    let (from, to) = range(&q, &snap, &state.config)?;
    let selected = services(&q, &snap)?;
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).unwrap_or("");
    let binary = text(header::ACCEPT).split(',').any(|t| t.trim().starts_with(codec::MEDIA_TYPE));
    let gzip = text(header::ACCEPT_ENCODING).split(',').any(|t| t.trim().starts_with("gzip"));
    // The same question about the same snapshot has the same bytes: render
    // (and compress) once, then every repeat is a copy of a shared buffer.
    let key = RenderKey {
        scope: state.warehouse.cache_scope(&who),
        fetched_at: snap.fetched_at,
        from,
        to,
        selected: selected.clone(),
        binary,
    };
    let snap2 = snap.clone();
    let (body, _) = state
        .rendered
        .get_or_fetch(
            key,
            |r| r.raw.len() + r.gzip.len(),
            |_| async move { blocking(move || render(&snap2, from, to, selected, binary)).await? },
        )
        .await?;
    if text(header::IF_NONE_MATCH) == body.etag {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, body.etag.clone())]).into_response());
    }
    let content_type = if binary { codec::MEDIA_TYPE } else { "application/json" };
    let mut resp = if gzip {
        ([(header::CONTENT_ENCODING, "gzip")], body.gzip.clone()).into_response()
    } else {
        body.raw.clone().into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::VARY, HeaderValue::from_static("accept, accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Ok(v) = HeaderValue::from_str(&body.etag) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

/// What identifies one rendered `/api/daily` body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RenderKey {
    scope: String,
    fetched_at: chrono::DateTime<chrono::Utc>,
    from: Day,
    to: Day,
    selected: Option<Vec<usize>>,
    binary: bool,
}

/// A rendered `/api/daily` body, plain and gzipped, with its ETag.
pub struct Rendered {
    etag: String,
    raw: axum::body::Bytes,
    gzip: axum::body::Bytes,
}

fn render(
    snap: &Snapshot,
    from: Day,
    to: Day,
    selected: Option<Vec<usize>>,
    binary: bool,
) -> Result<Rendered, ApiError> {
    let body = Daily::from_panel(&snap.panel, from, to, selected.as_deref());
    let raw = if binary { codec::encode(&body) } else { serde_json::to_vec(&body).map_err(anyhow::Error::from)? };
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 4), flate2::Compression::new(6));
    std::io::Write::write_all(&mut gz, &raw).map_err(anyhow::Error::from)?;
    let gzip = gz.finish().map_err(anyhow::Error::from)?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    raw.hash(&mut h);
    Ok(Rendered { etag: format!("\"{:016x}\"", h.finish()), raw: raw.into(), gzip: gzip.into() })
}

/// `/api/transactions`: the raw rows of one service-day.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Transactions {
    pub orderservice: String,
    pub date: Day,
    pub limit: u32,
    /// True when there may be more rows than `limit`.
    pub truncated: bool,
    pub columns: Vec<String>,
    /// One object per transaction, keyed by column name.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Map<String, Value>>,
}

#[utoipa::path(get, path = "/api/transactions", tag = "data",
    params(
        ("orderservice" = String, Query, description = "The service"),
        ("date" = String, Query, format = Date, description = "The day (in the configured time zone)"),
        ("limit" = Option<u32>, Query, description = "Rows to return, 1 to 1000 (default 100)"),
    ),
    responses((status = 200, body = Transactions), (status = 400, body = ErrorBody)))]
pub async fn transactions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Transactions>, ApiError> {
    let q = Query::new(raw.as_deref(), &["orderservice", "date", "limit"])?;
    let who = caller(&headers);
    let snap = state.snapshot(&who).await?;
    let service = q.text("orderservice").ok_or_else(|| ApiError::bad("`orderservice` is required"))?;
    if snap.panel.find(service).is_none() {
        return Err(ApiError::bad(format!("unknown service `{service}`")));
    }
    let date = q.day("date")?.ok_or_else(|| ApiError::bad("`date` is required (YYYY-MM-DD)"))?;
    let limit = q.number("limit", 100u32, 1, MAX_TRANSACTIONS)?;
    let cancel = CancellationToken::new();
    let _guard = cancel.clone().drop_guard();
    let rows = state.warehouse.transactions(service, date, limit, &who, &cancel).await?;
    Ok(Json(Transactions {
        orderservice: service.to_string(),
        date,
        limit,
        truncated: rows.rows.len() as u32 >= limit,
        columns: rows.columns,
        rows: rows.rows,
    }))
}

/// Forget the cached aggregates: the next request reads the warehouse.
#[utoipa::path(post, path = "/api/refresh", tag = "data", responses((status = 200, description = "Cache cleared")))]
pub async fn refresh(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.cache.clear();
    state.rendered.clear();
    state.scores.clear();
    Json(json!({ "status": "cleared" }))
}

/// `/api/progress`: how far the caller's first read of the table has got.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LoadProgress {
    /// Whether the warehouse is reading the table for this caller now.
    pub loading: bool,
    /// What the load waits for: `reading` (rows counted below),
    /// `warehouse_starting` (a Databricks SQL warehouse is booting, which
    /// takes minutes), `querying` (the warehouse runs the query) or
    /// `downloading` (the result is coming).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Raw rows read so far.
    pub rows_read: u64,
    /// Raw rows to read; 0 when the warehouse cannot tell.
    pub rows_total: u64,
}

#[utoipa::path(get, path = "/api/progress", tag = "data", responses((status = 200, body = LoadProgress)))]
pub async fn progress(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Json<LoadProgress> {
    let now = state.load_progress(&caller(&headers));
    let (rows_read, rows_total) = now.as_ref().map_or((0, 0), Progress::get);
    let stage = now.as_ref().map(|p| p.stage().as_str().to_string());
    Json(LoadProgress { loading: now.is_some(), stage, rows_read, rows_total })
}
