//! `/api/marks`: analysts' marks on series-days. A mark `expected` (with a
//! note) or `confirmed` takes the day out of its series' baseline, for the
//! server's scores ([`exclusions`], used by `/api/anomalies`) and the app's
//! alike; `cleared` takes it back. Marks are events, never overwritten, so
//! the history of a day can be read back.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use servicewatch_shared::params::SPLIT_SEPARATOR;
use servicewatch_shared::wire::{Mark, MarkRequest, Marks};
use servicewatch_shared::Day;

use super::audit::{json_only, parse_json, store};
use super::error::{ApiError, ErrorBody};
use super::params::Query;
use super::{caller, AppState};
use crate::store::MarkQuery;

/// The longest note a mark may carry, in characters.
pub const MAX_NOTE: usize = 2000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/marks", get(marks).post(mark))
}

const PARAMS: &[&str] = &["series", "date", "history"];

/// The current marks, or every event with `history=true`.
#[utoipa::path(get, path = "/api/marks", tag = "marks",
    params(
        ("series" = Option<String>, Query, description = "One service, exactly as stored"),
        ("date" = Option<String>, Query, format = Date, description = "One day (YYYY-MM-DD)"),
        ("history" = Option<bool>, Query, description = "Every mark event, oldest first, instead of each day's current mark (default false)"),
    ),
    responses(
        (status = 200, body = Marks),
        (status = 400, body = ErrorBody),
        (status = 500, description = "The store could not be read", body = ErrorBody),
        (status = 501, description = "This build keeps no marks", body = ErrorBody),
    ))]
pub async fn marks(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Result<Json<Marks>, ApiError> {
    let q = Query::new(raw.as_deref(), PARAMS)?;
    let series = q.exact("series").map(str::to_string);
    let date = match q.exact("date") {
        None => None,
        Some(s) => Some(Day::parse(s.trim()).map_err(|e| ApiError::bad(format!("`date`: {e}")))?),
    };
    let history = q.flag("history", false)?;
    let store = store(&state)?;
    let query = MarkQuery { series, date, history };
    let marks = tokio::task::spawn_blocking(move || store.marks(&query)).await??;
    Ok(Json(Marks { marks }))
}

/// Marks a series-day `expected` or `confirmed`, or clears its mark, and
/// returns the event as stored (with who and when). JSON only (the CSRF
/// defence of every write here). Behind the Databricks Apps proxy
/// (`behind_apps_proxy`) the mark is by the signed-in user's
/// X-Forwarded-Email, else by the `user` setting.
#[utoipa::path(post, path = "/api/marks", tag = "marks",
    request_body(content = MarkRequest, content_type = "application/json"),
    responses(
        (status = 200, body = Mark),
        (status = 400, body = ErrorBody),
        (status = 404, description = "The service is not in the data", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 500, description = "The store could not be written; nothing was saved", body = ErrorBody),
        (status = 501, description = "This build keeps no marks", body = ErrorBody),
    ))]
pub async fn mark(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Json<Mark>, ApiError> {
    json_only(&headers, "POST /api/marks", "")?;
    let req: MarkRequest = parse_json(&body)?;
    let note = req.note.trim();
    if note.chars().count() > MAX_NOTE {
        return Err(ApiError::bad(format!("`note` is longer than {MAX_NOTE} characters")));
    }
    if note.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::bad("`note` holds control characters"));
    }
    let store = store(&state)?;
    // Only the data's series can be marked: a typo is a 404, not a mark
    // that never matches. A split series (`service · value`) needs a known
    // service; its value is the table's (no split is read to check it).
    let snap = state.snapshot(&caller(&headers)).await?;
    let split = |service: &String| {
        let rest = req.series.strip_prefix(service.as_str()).and_then(|r| r.strip_prefix(SPLIT_SEPARATOR));
        rest.is_some_and(|value| !value.is_empty())
    };
    if !snap.panel.keys().iter().any(split) {
        crate::services::service_indices(std::slice::from_ref(&req.series), snap.panel.keys(), "series")?;
    }
    let forwarded = headers.get("x-forwarded-email").and_then(|v| v.to_str().ok());
    let mark = Mark {
        series: req.series,
        date: req.date,
        kind: req.kind,
        note: note.to_string(),
        marked_by: state.config.recorder(forwarded),
        // What the store keeps (microseconds), so the answer is the row.
        marked_at: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
    };
    let stored = mark.clone();
    tokio::task::spawn_blocking(move || store.add_mark(&stored)).await??;
    state.marks_written.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    *state.exclusions.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    tracing::info!(series = %mark.series, date = %mark.date, kind = ?mark.kind, by = %mark.marked_by, "mark");
    Ok(Json(mark))
}

/// Series key → the days its marks take out of its baseline.
pub type Exclusions = BTreeMap<String, Vec<Day>>;

/// How long the server reuses the marks it read: marks written by this
/// server show at once (its cache is dropped), others' (another replica,
/// a script) within this time.
pub const MARKS_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// The days the current marks take out of each series' baseline
/// (`BaselineParams::exclude`); none without a store.
pub async fn exclusions(state: &AppState) -> Result<Exclusions, ApiError> {
    let Some(store) = state.store.clone() else { return Ok(BTreeMap::new()) };
    let lock = || state.exclusions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((at, cached)) = lock().as_ref() {
        if at.elapsed() < MARKS_FOR {
            return Ok(cached.as_ref().clone());
        }
    }
    let written = state.marks_written.load(std::sync::atomic::Ordering::SeqCst);
    let marks = tokio::task::spawn_blocking(move || store.marks(&MarkQuery::default())).await??;
    let current = Arc::new(servicewatch_shared::wire::exclusions(&marks));
    let mut cached = lock();
    if state.marks_written.load(std::sync::atomic::Ordering::SeqCst) == written {
        *cached = Some((std::time::Instant::now(), current.clone()));
    }
    Ok(current.as_ref().clone())
}
