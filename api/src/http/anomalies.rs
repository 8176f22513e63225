//! `/api/anomalies`: the same engine as the browser, run on the server (for
//! alerting, and to check the browser against).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use servicewatch_shared::params::DEFAULT_LIMIT;
use servicewatch_shared::wire::Anomalies;
use servicewatch_shared::{BaselineParams, Direction, FlagParams, Method, Scores};

use super::data::{range, services, view, ViewQuery, VIEW_PARAMS};
use super::error::{ApiError, ErrorBody};
use super::params::Query;
use super::{blocking, caller, AppState};

/// Most rows one response may list.
pub const MAX_LIMIT: usize = 100_000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/anomalies", get(anomalies))
}

const PARAMS: &[&str] =
    &["from", "to", "z", "min_days", "min_count", "direction", "method", "weekly", "services", "limit"];

#[utoipa::path(get, path = "/api/anomalies", tag = "scoring",
    params(
        ("from" = Option<String>, Query, format = Date, description = "First day"),
        ("to" = Option<String>, Query, format = Date, description = "Last day"),
        ("z" = Option<f64>, Query, minimum = 0, maximum = 1000, description = "Threshold, 0 to 1000 (default 3)"),
        ("min_days" = Option<u32>, Query, maximum = 1000000, description = "Minimum days of history (default 7)"),
        ("min_count" = Option<u64>, Query, maximum = 1000000000000000_u64, description = "Minimum daily count, 0 to 10^15 (default 0)"),
        ("direction" = inline(Option<Direction>), Query, description = "Which side of the baseline counts (default both)"),
        ("method" = inline(Option<Method>), Query, description = "How baselines are estimated (default robust)"),
        ("weekly" = Option<bool>, Query, description = "Divide out the day-of-week pattern (robust; default true)"),
        ("services" = Option<Vec<String>>, Query, style = Form, explode, description = "Service names, exactly as stored (padding included). Repeat the parameter for several: each value is one name (`services=a&services=b,c` is `a` and `b,c`). A single value is split at commas and must split into known names in exactly one way (a name holding commas is matched whole); otherwise it is a 400. Duplicates count once"),
        ("limit" = Option<usize>, Query, maximum = 100000, description = "Rows to return, 0 to 100000 (default 100)"),
        ViewQuery,
    ),
    responses(
        (status = 200, body = Anomalies),
        (status = 400, body = ErrorBody),
        (status = 404, description = "A named service is not in the data", body = ErrorBody),
    ))]
pub async fn anomalies(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Anomalies>, ApiError> {
    let q = Query::new(raw.as_deref(), &[PARAMS, &VIEW_PARAMS].concat())?;
    let who = caller(&headers);
    let view = view(&q)?;
    let snap = state.view_snapshot(&who, &view).await?;
    let span = range(&q, &snap, &state.config)?;
    let (from, to) = (span.from, span.to);
    let (b, f) = (BaselineParams::default(), FlagParams::default());
    let baseline = BaselineParams {
        from: Some(from),
        to: Some(to),
        method: q.choice("method", b.method)?,
        weekly: q.flag("weekly", b.weekly)?,
        metric: view.metric,
        units: snap.units.clone(),
        partial: snap.partial_days(&state.config),
        holidays: snap.holidays(&state.config),
        // Marked days leave their baselines here as in the app.
        exclude: super::marks::exclusions(&state).await?,
    };
    let flag = FlagParams {
        z: q.number("z", f.z, 0.0, 1000.0)?,
        min_days: q.number("min_days", f.min_days, 0, 1_000_000)?,
        // Counts stay far below 2^53 (the engine's exact f64 range); a
        // round bound a JSON number can state exactly.
        min_count: q.number("min_count", f.min_count, 0, 1_000_000_000_000_000)?,
        direction: q.choice("direction", f.direction)?,
        services: services(&q, &snap)?,
    };
    let limit = q.number("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)?;
    if span.empty {
        // No day of the data in range: nothing to score, nothing to keep.
        return Ok(Json(Scores::default().anomalies(&flag, limit)));
    }
    // Baselines are the expensive part (tens of milliseconds for a million
    // days): computed once per snapshot and setting, then only re-flagged,
    // as the browser does. Both steps run off the async threads.
    let scope = state.warehouse.cache_scope(&who);
    let key_bytes = scope.capacity()
        + view.heap_bytes()
        + baseline.exclude.iter().map(|(k, d)| k.capacity() + d.capacity() * 4).sum::<usize>();
    let key = ScoresKey {
        scope,
        view,
        fetched_at: snap.fetched_at,
        from,
        to,
        method: baseline.method,
        weekly: baseline.weekly,
        exclude: baseline.exclude.clone(),
    };
    let (scores, _) = state
        .scores
        .get_or_fetch(
            key,
            move |s| key_bytes + s.heap_bytes(),
            |_| blocking(move || Scores::compute(&snap.panel, &baseline)),
        )
        .await?;
    Ok(Json(blocking(move || scores.anomalies(&flag, limit)).await?))
}

/// What identifies one set of baselines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScoresKey {
    scope: String,
    view: crate::view::View,
    fetched_at: chrono::DateTime<chrono::Utc>,
    from: servicewatch_shared::Day,
    to: servicewatch_shared::Day,
    method: Method,
    weekly: bool,
    /// The marked days left out (a new mark is a new set of baselines).
    exclude: std::collections::BTreeMap<String, Vec<servicewatch_shared::Day>>,
}
