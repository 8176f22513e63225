//! The data routes: `/api/meta`, `/api/daily`, `/api/transactions` and
//! `/api/refresh`. All of them read the cached [`Snapshot`]; only the
//! drill-down and a cold cache reach the warehouse.
//!
//! `/api/meta`, `/api/daily` (and `/api/anomalies`) take a view
//! ([`ViewQuery`]): the metric, a split and dimension filters. `/api/meta`
//! of a view lists its series keys and, for amounts, the rows left out of
//! the sums (`not_summed`), which the day-by-day bodies do not repeat.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use servicewatch_shared::codec;
use servicewatch_shared::wire::{Daily, DataSource, LoadProgress, Meta, Transactions};
use servicewatch_shared::{Day, Dimension, Metric};
use tokio_util::sync::CancellationToken;

use super::error::{ApiError, ErrorBody};
use super::params::Query;
use super::{blocking, caller, AppState, Snapshot};
use crate::config::{Config, WarehouseConfig};
use crate::services::service_indices;
use crate::view::View;
use crate::warehouse::Progress;

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

/// The query parameters that choose a view ([`view`]).
pub const VIEW_PARAMS: [&str; 5] = ["metric", "split", "segment", "channel", "payment_method"];

/// The view parameters, for the OpenAPI description ([`view`] reads them).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a description only: `params::Query` parses the query string
pub struct ViewQuery {
    /// What a series-day's value is: `count` (transactions, the default),
    /// or `amount`: the sum of the amount column (`columns.amount`) in whole
    /// minor units (amount × 10^`amount_decimals`, rounded per row) over the
    /// rows with an amount of 0 or more; refunds, NULL and unreadable
    /// amounts are left out and counted (`not_summed` of `/api/meta` with
    /// the same view). `amount` without an amount column is a 400
    #[param(inline)]
    metric: Option<Metric>,
    /// One series per service and value of this dimension, keyed
    /// `{service} · {value}` (`(none)` for NULL); a dimension the table has
    /// no column for is a 400 (`/api/meta` lists those it has)
    #[param(inline)]
    split: Option<Dimension>,
    /// Only rows of these customer segments, exactly as stored; repeat the
    /// parameter for several (each value one segment)
    #[param(style = Form, explode)]
    segment: Option<Vec<String>>,
    /// Only rows of these channels, exactly as stored; repeatable
    #[param(style = Form, explode)]
    channel: Option<Vec<String>>,
    /// Only rows of these payment methods, exactly as stored; repeatable
    #[param(style = Form, explode)]
    payment_method: Option<Vec<String>>,
}

/// The view a query asks for; the table's columns are checked when its
/// snapshot is asked for ([`AppState::view_snapshot`]).
pub fn view(q: &Query) -> Result<View, ApiError> {
    let metric = q.choice("metric", Metric::default())?;
    let split = q.optional("split")?;
    let filters = Dimension::ALL.into_iter().filter_map(|d| {
        let values = q.all(&d.to_string());
        (!values.is_empty()).then(|| (d, values.to_vec()))
    });
    View::new(metric, split, filters).map_err(ApiError::BadRequest)
}

/// A request's date range, checked and clamped to the data's days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The data's days in range, or (when `empty`) the range asked for.
    pub from: Day,
    pub to: Day,
    /// No day of the data is in range: nothing to compute or cache.
    pub empty: bool,
}

/// `from`/`to` from the query, defaulting to the data's bounds, checked,
/// then clamped to the data's days: a range far outside the data costs no
/// more than the data (1900-01-01 to 9999-12-31 is all of it).
pub fn range(q: &Query, snap: &Snapshot, config: &Config) -> Result<Span, ApiError> {
    span(q.day("from")?, q.day("to")?, snap, config)
}

/// [`range`] for days given otherwise (a JSON body).
pub fn span(from: Option<Day>, to: Option<Day>, snap: &Snapshot, config: &Config) -> Result<Span, ApiError> {
    let max_span = config.max_span_days;
    let bounds = snap.bounds.days(config.time_zone);
    // A default never contradicts a given day: `to=` before the data
    // starts (or `from=` after it ends) is an empty range, not a 400.
    let given_from = from;
    let to = to.or(bounds.map(|b| b.1).map(|last| given_from.map_or(last, |f| last.max(f))));
    // Without `from`: the data's first day, or the longest range allowed.
    let earliest = to.map(|t| Day(t.0 - max_span as i32 + 1));
    let from = from.or(bounds.map(|b| b.0).max(earliest).map(|first| to.map_or(first, |t| first.min(t))));
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::bad("the table has no data yet: give `from` and `to`"));
    };
    if from > to {
        return Err(ApiError::bad(format!("`from` ({from}) is after `to` ({to})")));
    }
    let (cfrom, cto) = match bounds {
        Some((first, last)) if from <= last && to >= first => (from.max(first), to.min(last)),
        _ => return Ok(Span { from, to, empty: true }),
    };
    if (cto.0 - cfrom.0) as i64 + 1 > max_span as i64 {
        return Err(ApiError::bad(format!(
            "the range {from} to {to} is longer than {max_span} days (the data's days in it: {cfrom} to {cto})"
        )));
    }
    Ok(Span { from: cfrom, to: cto, empty: false })
}

/// The `services` filter as panel indices (see [`service_indices`]).
pub fn services(q: &Query, snap: &Snapshot) -> Result<Option<Vec<usize>>, ApiError> {
    let values = q.all("services");
    if values.is_empty() {
        return Ok(None);
    }
    Ok(Some(service_indices(values, snap.panel.keys(), "services")?))
}

/// The table and, for the view asked for (the default: transactions per
/// service), its series.
#[utoipa::path(get, path = "/api/meta", tag = "data",
    params(ViewQuery),
    responses(
        (status = 200, body = Meta),
        (status = 400, body = ErrorBody),
        (status = 502, description = "The warehouse failed, or a setting names a column the table does not have (`missing_column`)", body = ErrorBody),
    ))]
pub async fn meta(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Meta>, ApiError> {
    let q = Query::new(raw.as_deref(), &VIEW_PARAMS)?;
    let snap = state.view_snapshot(&caller(&headers), &view(&q)?).await?;
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
        partial_days: snap.partial_days(&state.config),
        holidays: snap.holidays(&state.config),
        rows: snap.bounds.rows,
        dropped_rows: snap.bounds.dropped,
        service_days: snap.panel.service_days(),
        services: snap.panel.keys().to_vec(),
        latest_transaction: snap.bounds.last.map(|t| t.and_utc().to_rfc3339()),
        fetched_at: snap.fetched_at.to_rfc3339(),
        max_span_days: state.config.max_span_days,
        metrics: snap.available.metrics(),
        dimensions: snap.available.dimensions.clone(),
        amount_decimals: state.config.amount_decimals,
        not_summed: snap.not_summed,
        units: snap.units.clone(),
    }))
}

#[utoipa::path(get, path = "/api/daily", tag = "data",
    params(
        ("from" = Option<String>, Query, format = Date, description = "First day (default: the data's first, within max_span_days of `to`)"),
        ("to" = Option<String>, Query, format = Date, description = "Last day (default: the data's last)"),
        ("services" = Option<Vec<String>>, Query, style = Form, explode, description = "Service names (with `split`, series keys), exactly as stored (padding included). Repeat the parameter for several: each value is one name (`services=a&services=b,c` is `a` and `b,c`). A single value is split at commas and must split into known names in exactly one way (a name holding commas is matched whole); otherwise it is a 400. Duplicates count once"),
        ViewQuery,
    ),
    responses(
        (status = 200, description = "Daily values of the view (transactions by default); `Accept: application/vnd.servicewatch.daily` gives the binary encoding", body = Daily),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, body = ErrorBody),
        (status = 404, description = "A named service is not in the data", body = ErrorBody),
    ))]
pub async fn daily(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::new(raw.as_deref(), &[&["from", "to", "services"][..], &VIEW_PARAMS].concat())?;
    let who = caller(&headers);
    let view = view(&q)?;
    let snap = state.view_snapshot(&who, &view).await?;
    let Span { from, to, empty } = range(&q, &snap, &state.config)?;
    let selected = services(&q, &snap)?;
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).unwrap_or("");
    let binary = text(header::ACCEPT).split(',').any(|t| t.trim().starts_with(codec::MEDIA_TYPE));
    let gzip = accepts_gzip(&headers);
    let scope = state.warehouse.cache_scope(&who);
    // The same question about the same snapshot has the same bytes: render
    // (and compress) once, then every repeat is a copy of a shared buffer.
    let body = if empty {
        // No series: cheaper to render than to keep.
        Arc::new(render(&snap, from, to, None, binary)?)
    } else {
        let key_bytes =
            scope.capacity() + view.heap_bytes() + selected.as_ref().map_or(0, |s| s.capacity() * size_of::<usize>());
        let key = RenderKey { scope, view, fetched_at: snap.fetched_at, from, to, selected: selected.clone(), binary };
        let snap2 = snap.clone();
        let weigh = move |r: &Rendered| key_bytes + r.raw.len() + r.gzip.len() + r.etag.len() + r.etag_gz.len();
        let render = |_| async move { blocking(move || render(&snap2, from, to, selected, binary)).await? };
        state.rendered.get_or_fetch(key, weigh, render).await?.0
    };
    // Each encoding has its own ETag: a cache holding one must not
    // revalidate the other.
    let etag = if gzip { &body.etag_gz } else { &body.etag };
    let vary = (header::VARY, HeaderValue::from_static("accept, accept-encoding"));
    if none_match(&headers, etag) {
        let etag = (header::ETAG, HeaderValue::from_str(etag).map_err(anyhow::Error::from)?);
        return Ok((StatusCode::NOT_MODIFIED, [etag, vary]).into_response());
    }
    let content_type = if binary { codec::MEDIA_TYPE } else { "application/json" };
    let mut resp = if gzip {
        ([(header::CONTENT_ENCODING, "gzip")], body.gzip.clone()).into_response()
    } else {
        body.raw.clone().into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(vary.0, vary.1);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

/// Whether the client takes gzip, read as the compression layer reads it
/// (any case, `x-gzip`; `refused_codings` has dropped `q=0`): a plain body
/// it would compress on the way out would keep the plain body's ETag.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let codings = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
    codings.flat_map(|v| v.split(',')).any(|c| {
        let name = c.split(';').next().unwrap_or("").trim();
        name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")
    })
}

/// Whether If-None-Match names `etag` (or is `*`), compared weakly as
/// RFC 9110 says for this header.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let tags = headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok());
    tags.flat_map(|v| v.split(',')).map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// What identifies one rendered `/api/daily` body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RenderKey {
    scope: String,
    view: View,
    fetched_at: chrono::DateTime<chrono::Utc>,
    from: Day,
    to: Day,
    selected: Option<Vec<usize>>,
    binary: bool,
}

/// A rendered `/api/daily` body, plain and gzipped, with their ETags.
pub struct Rendered {
    etag: String,
    etag_gz: String,
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
    let mut raw = if binary { codec::encode(&body) } else { serde_json::to_vec(&body).map_err(anyhow::Error::from)? };
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 4), flate2::Compression::new(6));
    std::io::Write::write_all(&mut gz, &raw).map_err(anyhow::Error::from)?;
    let mut gzip = gz.finish().map_err(anyhow::Error::from)?;
    // The cache weighs lengths: hold no more than that.
    raw.shrink_to_fit();
    gzip.shrink_to_fit();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    raw.hash(&mut h);
    let hash = h.finish();
    let (etag, etag_gz) = (format!("\"{hash:016x}\""), format!("\"{hash:016x}-gz\""));
    Ok(Rendered { etag, etag_gz, raw: raw.into(), gzip: gzip.into() })
}

#[utoipa::path(get, path = "/api/transactions", tag = "data",
    params(
        ("orderservice" = String, Query, description = "The service"),
        ("date" = String, Query, format = Date, description = "The day (in the configured time zone)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Rows to return, 1 to 1000 (default 100)"),
    ),
    responses((status = 200, body = Transactions), (status = 400, body = ErrorBody), (status = 404, description = "no such service in the data", body = ErrorBody)))]
pub async fn transactions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Transactions>, ApiError> {
    let q = Query::new(raw.as_deref(), &["orderservice", "date", "limit"])?;
    let who = caller(&headers);
    let snap = state.snapshot(&who).await?;
    // Exactly as stored: a padded name is its own (see `service_indices`).
    let service = q.exact("orderservice").ok_or_else(|| ApiError::bad("`orderservice` is required"))?;
    if snap.panel.find(service).is_none() {
        // Well-formed, but no such service in the data: not found.
        return Err(ApiError::NotFound(format!("unknown service `{service}`")));
    }
    let date = q.day("date")?.ok_or_else(|| ApiError::bad("`date` is required (YYYY-MM-DD)"))?;
    let limit = q.number("limit", 100u32, 1, MAX_TRANSACTIONS)?;
    // Each miss is a warehouse statement: the same drill-down of the same
    // snapshot is answered from the cache (a refresh forgets it).
    let scope = state.warehouse.cache_scope(&who);
    let key_bytes = scope.capacity() + service.len();
    let key = DrillKey { scope, fetched_at: snap.fetched_at, service: service.to_string(), date, limit };
    let (wh, svc) = (state.warehouse.clone(), service.to_string());
    let (rows, _) = state
        .drill
        .get_or_fetch(
            key,
            move |r| key_bytes + rows_bytes(r),
            move |cancel: CancellationToken| async move {
                Ok::<_, ApiError>(wh.transactions(&svc, date, limit, &who, &cancel).await?)
            },
        )
        .await?;
    Ok(Json(Transactions {
        orderservice: service.to_string(),
        date,
        limit,
        truncated: rows.rows.len() as u32 >= limit,
        columns: rows.columns.clone(),
        rows: rows.rows.clone(),
    }))
}

/// About what drill-down rows hold on the heap: per field its name, its
/// value and its share of the map (a cache's weight, not an exact count).
fn rows_bytes(r: &crate::warehouse::Rows) -> usize {
    let value = |v: &Value| match v {
        Value::String(s) => s.capacity(),
        other => other.to_string().len(),
    };
    let field = |(k, v): (&String, &Value)| 2 * size_of::<String>() + size_of::<Value>() + k.capacity() + value(v);
    let row = |m: &serde_json::Map<String, Value>| {
        size_of::<serde_json::Map<String, Value>>() + m.iter().map(field).sum::<usize>()
    };
    r.rows.iter().map(row).sum::<usize>() + r.columns.iter().map(|c| size_of::<String>() + c.capacity()).sum::<usize>()
}

/// What identifies one cached drill-down.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DrillKey {
    scope: String,
    fetched_at: chrono::DateTime<chrono::Utc>,
    service: String,
    date: Day,
    limit: u32,
}

/// The header the app sends with `POST /api/refresh`.
pub const REFRESH_HEADER: (&str, &str) = ("x-requested-with", "servicewatch");

/// Forget the cached aggregates: the next request reads the warehouse.
///
/// Only the app's own calls: they carry [`REFRESH_HEADER`] or a JSON
/// content type, which a cross-site form or no-CORS fetch cannot send
/// without a preflight this server never grants. At most one per
/// `refresh_every` ([`super::REFRESH_EVERY`]) per cache scope.
#[utoipa::path(post, path = "/api/refresh", tag = "data",
    params(("X-Requested-With" = Option<String>, Header, description = "`servicewatch` (or send `Content-Type: application/json`)")),
    responses(
        (status = 200, description = "Cache cleared"),
        (status = 403, description = "Neither the header nor a JSON content type", body = ErrorBody),
        (status = 429, description = "Refreshed too recently; see Retry-After", body = ErrorBody),
    ))]
pub async fn refresh(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let has = |name, want: &str| {
        let v = headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(want)
    };
    if !has(REFRESH_HEADER.0, REFRESH_HEADER.1) && !has(header::CONTENT_TYPE.as_str(), "application/json") {
        return Err(ApiError::CrossSite(format!(
            "POST /api/refresh needs the header `X-Requested-With: {}` or `Content-Type: application/json`",
            REFRESH_HEADER.1
        )));
    }
    let scope = state.warehouse.cache_scope(&caller(&headers));
    {
        let every = state.refresh_every;
        let mut last = state.refreshed.lock().unwrap_or_else(|p| p.into_inner());
        last.retain(|_, t| t.elapsed() < every);
        if let Some(t) = last.get(&scope) {
            let wait = every.saturating_sub(t.elapsed());
            return Err(ApiError::RateLimited { every, retry_after: wait.as_secs_f64().ceil().max(1.0) as u64 });
        }
        last.insert(scope, std::time::Instant::now());
    }
    state.cache.clear();
    state.rendered.clear();
    state.scores.clear();
    state.drill.clear();
    Ok(Json(json!({ "status": "cleared" })))
}

#[utoipa::path(get, path = "/api/progress", tag = "data", responses((status = 200, body = LoadProgress)))]
pub async fn progress(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Json<LoadProgress> {
    let now = state.load_progress(&caller(&headers));
    let (rows_read, rows_total) = now.as_ref().map_or((0, 0), Progress::get);
    let stage = now.as_ref().map(|p| p.stage().as_str().to_string());
    Json(LoadProgress { loading: now.is_some(), stage, rows_read, rows_total })
}
