//! `/api/audit`: the audit trail over HTTP. GET reads the recorded rows;
//! POST records every day some flag parameters flag now, keyed as
//! `scan --record` keys them, so the two share rows.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use servicewatch_shared::wire::{Audit, AuditRecorded};
use servicewatch_shared::{BaselineParams, Day, Dimension, Direction, FlagParams, Method, Metric, Scores};

use super::data::span;
use super::error::{ApiError, ErrorBody};
use super::params::Query;
use super::{blocking, caller, AppState};
use crate::store::{AuditQuery, Store};
use crate::view::View;
use crate::warehouse::zone::Zone;

/// Most rows one `GET /api/audit` may return.
pub const MAX_LIMIT: usize = 10_000;
const DEFAULT_LIMIT: usize = 1000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/audit", get(audit).post(record))
}

const PARAMS: &[&str] = &["since", "until", "series", "limit"];

/// The store, or why there is none.
pub(super) fn store(state: &AppState) -> Result<Arc<dyn Store>, ApiError> {
    state.store.clone().ok_or_else(|| {
        ApiError::NotAvailable("the audit trail and marks are not available in this build (it has no store)".into())
    })
}

/// Writes take JSON only, which a cross-site form cannot send without a
/// preflight this server never grants: that is the CSRF defence.
pub(super) fn json_only(headers: &HeaderMap, what: &str, hint: &str) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "{what} takes a JSON body: send `Content-Type: application/json`{hint}"
        )))
    }
}

/// A JSON body read as `T`; one that does not fit is a 400.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("the body is not valid: {e}")))
}

/// A time parameter: RFC 3339, or a day in the configured zone (its
/// start; for `until` the next day's, so that day is included).
fn time(q: &Query, name: &str, zone: Zone, until: bool) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(s) = q.exact(name).map(str::trim) else { return Ok(None) };
    let rfc3339 = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc));
    // An unencoded `+01:00` arrives as ` 01:00` (a query string's `+` is a space).
    let exact = rfc3339(s).or_else(|| s.rsplit_once(' ').and_then(|(a, b)| rfc3339(&format!("{a}+{b}"))));
    if exact.is_some() {
        return Ok(exact);
    }
    match Day::parse(s) {
        Ok(d) => Ok(Some(zone.start_of(if until { d.next() } else { d }).and_utc())),
        Err(_) => Err(ApiError::bad(format!(
            "`{name}`: `{s}` is not a time; use RFC 3339 (2024-03-02T06:00:00Z, `+` sent as %2B) or a date \
             (YYYY-MM-DD, in the configured time zone)"
        ))),
    }
}

/// The recorded rows, oldest first.
#[utoipa::path(get, path = "/api/audit", tag = "audit",
    params(
        ("since" = Option<String>, Query, format = DateTime, description = "Recorded at or after: an RFC 3339 time; a date (YYYY-MM-DD, from its start in the configured time zone) is accepted too"),
        ("until" = Option<String>, Query, format = DateTime, description = "Recorded before: an RFC 3339 time; a date (YYYY-MM-DD, that day included) is accepted too"),
        ("series" = Option<String>, Query, description = "One service, exactly as stored"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 10000, description = "Rows to return, 1 to 10000 (default 1000), the oldest first"),
    ),
    responses(
        (status = 200, body = Audit),
        (status = 400, body = ErrorBody),
        (status = 500, description = "The audit trail could not be read", body = ErrorBody),
        (status = 501, description = "This build has no audit trail", body = ErrorBody),
    ))]
pub async fn audit(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Result<Json<Audit>, ApiError> {
    let q = Query::new(raw.as_deref(), PARAMS)?;
    let zone = state.config.time_zone;
    let (since, until) = (time(&q, "since", zone, false)?, time(&q, "until", zone, true)?);
    if let (Some(s), Some(u)) = (since, until) {
        // Equal is an empty interval (answered empty); reversed is a mistake.
        if s > u {
            return Err(ApiError::bad(format!("`since` ({s}) is after `until` ({u})")));
        }
    }
    let series = q.exact("series").map(str::to_string);
    let limit = q.number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let store = store(&state)?;
    let query = AuditQuery { since, until, series, limit };
    // SQLite blocks (and may wait on another writer's lock).
    let records = tokio::task::spawn_blocking(move || store.audit(&query)).await??;
    Ok(Json(Audit { records }))
}

/// `POST /api/audit`: the flag parameters and the view of
/// `/api/anomalies`, all optional (the same defaults).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    /// First day (default: the data's first).
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<Day>,
    /// Last day (default: the data's last).
    #[schema(value_type = Option<String>, format = Date)]
    pub to: Option<Day>,
    /// Threshold, 0 to 1000 (default 3).
    #[schema(minimum = 0, maximum = 1000)]
    pub z: Option<f64>,
    /// Minimum days of history (default 7).
    #[schema(maximum = 1000000)]
    pub min_days: Option<u32>,
    /// Minimum daily count (default 0).
    pub min_count: Option<u64>,
    #[schema(inline)]
    pub direction: Option<Direction>,
    #[schema(inline)]
    pub method: Option<Method>,
    /// Divide out the day-of-week pattern (robust; default true).
    pub weekly: Option<bool>,
    /// Service names, exactly as stored (default: every service); one
    /// name per item, or one item split at commas as `/api/anomalies` does.
    #[schema(min_items = 1)]
    pub services: Option<Vec<String>>,
    /// `count` (default) or `amount`, as `/api/anomalies`' `metric`.
    #[schema(inline)]
    pub metric: Option<Metric>,
    /// One series per service and value of this dimension, as
    /// `/api/anomalies`' `split`.
    #[schema(inline)]
    pub split: Option<Dimension>,
    /// Only rows of these customer segments, exactly as stored.
    #[schema(min_items = 1)]
    pub segment: Option<Vec<String>>,
    /// Only rows of these channels, exactly as stored.
    #[schema(min_items = 1)]
    pub channel: Option<Vec<String>>,
    /// Only rows of these payment methods, exactly as stored.
    #[schema(min_items = 1)]
    pub payment_method: Option<Vec<String>>,
}

impl RecordRequest {
    /// The view the body asks for (an empty filter list is a 400).
    fn view(&self) -> Result<View, ApiError> {
        let filters = [
            (Dimension::Segment, &self.segment),
            (Dimension::Channel, &self.channel),
            (Dimension::PaymentMethod, &self.payment_method),
        ];
        let given = filters.into_iter().filter_map(|(d, values)| Some((d, values.clone()?)));
        View::new(self.metric.unwrap_or_default(), self.split, given).map_err(ApiError::BadRequest)
    }
}

/// Records every day the parameters flag now, once per series, day,
/// method and parameters: posting the same again (or `scan --record` with
/// the same flags) records nothing new.
///
/// Only with a JSON body (`Content-Type: application/json`, `{}` for the
/// defaults), which a cross-site form cannot send without a preflight this
/// server never grants. Behind the Databricks Apps proxy
/// (`behind_apps_proxy`) the rows are by the signed-in user's
/// X-Forwarded-Email, else by the `user` setting.
#[utoipa::path(post, path = "/api/audit", tag = "audit",
    request_body(content = RecordRequest, content_type = "application/json"),
    responses(
        (status = 200, body = AuditRecorded),
        (status = 400, body = ErrorBody),
        (status = 404, description = "A named service is not in the data", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 500, description = "The audit trail could not be written; nothing was recorded", body = ErrorBody),
        (status = 501, description = "This build has no audit trail", body = ErrorBody),
    ))]
pub async fn record(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AuditRecorded>, ApiError> {
    json_only(&headers, "POST /api/audit", " (`{}` for the defaults)")?;
    let req: RecordRequest =
        if body.iter().all(u8::is_ascii_whitespace) { RecordRequest::default() } else { parse_json(&body)? };
    let (b, f) = (BaselineParams::default(), FlagParams::default());
    let z = req.z.unwrap_or(f.z);
    if !(0.0..=1000.0).contains(&z) {
        return Err(ApiError::bad(format!("`z`: {z} is not a number from 0 to 1000")));
    }
    let min_days = req.min_days.unwrap_or(f.min_days);
    if min_days > 1_000_000 {
        return Err(ApiError::bad(format!("`min_days`: {min_days} is not a number from 0 to 1000000")));
    }
    if req.services.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::bad("`services` is empty: give names or leave it out"));
    }
    let (method, weekly) = (req.method.unwrap_or(b.method), req.weekly.unwrap_or(b.weekly));
    let (min_count, direction) = (req.min_count.unwrap_or(f.min_count), req.direction.unwrap_or(f.direction));
    let view = req.view()?;
    // Refused before the table is read for it.
    let store = store(&state)?;
    let snap = state.view_snapshot(&caller(&headers), &view).await?;
    let span = span(req.from, req.to, &snap, &state.config)?;
    let services = match &req.services {
        None => None,
        Some(names) => Some(crate::services::service_indices(names, snap.panel.keys(), "services")?),
    };
    let baseline = BaselineParams {
        from: Some(span.from),
        to: Some(span.to),
        method,
        weekly,
        metric: view.metric,
        units: snap.units.clone(),
        partial: snap.partial_days(&state.config),
        holidays: snap.holidays(&state.config),
        exclude: super::marks::exclusions(&state).await?,
    };
    let flag = FlagParams { z, min_days, min_count, direction, services };
    // Every flagged day, not a page of them; rare enough not to cache.
    let flagged = if span.empty {
        Vec::new()
    } else {
        blocking(move || Scores::compute(&snap.panel, &baseline).anomalies(&flag, usize::MAX).anomalies).await?
    };
    let forwarded = headers.get("x-forwarded-email").and_then(|v| v.to_str().ok());
    let by = state.config.recorder(forwarded);
    let params = crate::store::params_text(z, min_days, min_count, direction) + &view.params_suffix();
    let rows = crate::store::records(&flagged, method, weekly, &params, Utc::now(), &by);
    let flagged = rows.len() as u64;
    let recorded = tokio::task::spawn_blocking(move || store.record(&rows)).await?? as u64;
    tracing::info!(recorded, flagged, "audit trail: recorded flagged days");
    Ok(Json(AuditRecorded { recorded, flagged }))
}
