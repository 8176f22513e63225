//! The HTTP server: routes, shared state, and the layers every request
//! passes (request ids, tracing, security headers, timeouts, size limits,
//! compression).

mod anomalies;
mod app;
mod audit;
pub mod data;
pub mod error;
mod health;
pub mod marks;
pub mod openapi;
mod params;
mod security;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use servicewatch_shared::{Metric, Panel};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::cache::{Budget, Cache, Keep};
use crate::config::Config;
use crate::view::{Available, View};
use crate::warehouse::{Aggregates, Bounds, Caller, DailyQuery, Progress, Warehouse};
use error::ApiError;

/// Longest query string accepted, in bytes.
const MAX_QUERY: usize = 8 * 1024;
/// Largest request body accepted, in bytes.
const MAX_BODY: usize = 64 * 1024;
/// Longest time one request may take (then 504 `timeout`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest a request waits for the table to be read; the read goes on
/// after it (a cold Databricks warehouse takes minutes) and the request is
/// answered 503 `loading`, which the app retries while it shows progress.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(90);
/// How long a load runs on after its last waiter left before it is
/// cancelled (the warehouse bills for it).
const ABANDON_AFTER: Duration = Duration::from_secs(60);
/// Least time between two refreshes of one cache scope: each one makes
/// the next request re-read the whole table (billed).
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// The whole table's daily aggregates as of one warehouse query: every
/// range, service filter and score is cut from this in memory. One per
/// cache scope and [`View`]: the default view's is read with the bounds and
/// the table's columns; another view's is one more aggregation over the
/// same days, sharing those.
pub struct Snapshot {
    pub panel: Panel,
    pub bounds: Bounds,
    pub fetched_at: DateTime<Utc>,
    /// When the table's bounds were read (the default view's load): the
    /// partial-day rule judges the last day by it
    /// ([`crate::warehouse::Bounds::partial_edges`]).
    pub bounds_at: DateTime<Utc>,
    /// The metrics and dimensions the table has columns for.
    pub available: Available,
    /// An amount view's rows left out of its sums (refunds, NULL or
    /// unreadable amounts); None for counts.
    pub not_summed: Option<u64>,
    /// An amount view's mean ticket per series (`BaselineParams::units`).
    pub units: std::collections::BTreeMap<String, f64>,
}

impl Snapshot {
    /// The edge days the robust method leaves unscored, under `config`'s
    /// zone and gap, as of when the bounds were read.
    pub fn partial_days(&self, config: &Config) -> Vec<servicewatch_shared::Day> {
        self.bounds.partial_days(config.time_zone, config.partial_day_gap, self.bounds_at)
    }

    /// The days of `config`'s holiday calendars within the data.
    pub fn holidays(&self, config: &Config) -> Vec<servicewatch_shared::Day> {
        self.panel.bounds().map(|(first, last)| config.holidays.days(first, last)).unwrap_or_default()
    }
}

/// What identifies one cached snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SnapshotKey {
    scope: String,
    view: View,
}

pub struct AppState {
    pub warehouse: Arc<dyn Warehouse>,
    pub config: Config,
    pub cache: Cache<SnapshotKey, Snapshot, ApiError>,
    /// Rendered `/api/daily` bodies (bytes), so repeats cost a copy.
    pub rendered: Cache<data::RenderKey, data::Rendered, ApiError>,
    /// Baselines `/api/anomalies` has computed.
    pub scores: Cache<anomalies::ScoresKey, servicewatch_shared::Scores, ApiError>,
    /// `/api/transactions` answers per snapshot: each miss is a warehouse
    /// statement.
    pub drill: Cache<data::DrillKey, crate::warehouse::Rows, ApiError>,
    /// The bytes all four caches above hold together (`cache_max_bytes`).
    pub budget: Arc<Budget>,
    /// When each cache scope last refreshed.
    pub refreshed: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Least time between refreshes of one scope ([`REFRESH_EVERY`];
    /// tests shorten it).
    pub refresh_every: Duration,
    /// Where the built browser app is (trunk's dist).
    pub dist: std::path::PathBuf,
    /// Snapshots being read from the warehouse now, by cache scope, so the
    /// app can show how far its first load has got.
    pub loading: std::sync::Mutex<std::collections::HashMap<String, Progress>>,
    /// The last successful readiness check (the rows it saw), kept for
    /// [`health::READY_FOR`].
    pub ready: Cache<(), u64, ApiError>,
    /// How long a request waits for the table to be read before it is
    /// answered 503 `loading` ([`SNAPSHOT_WAIT`]; tests shorten it).
    pub snapshot_wait: Duration,
    /// Longest time one request may take ([`REQUEST_TIMEOUT`]; tests
    /// shorten it).
    pub request_timeout: Duration,
    /// The audit trail ([`crate::open_store`]); None where the build has
    /// none, and `/api/audit` says so.
    pub store: Option<Arc<dyn crate::store::Store>>,
    /// The current marks' exclusions, read from the store at most every
    /// [`marks::MARKS_FOR`] (a Databricks store answers in a statement,
    /// not a file read) and forgotten when this server writes a mark.
    pub exclusions: std::sync::Mutex<Option<(std::time::Instant, Arc<marks::Exclusions>)>>,
    /// Marks written by this server: a read that began before a write is
    /// not cached after it.
    pub marks_written: std::sync::atomic::AtomicU64,
}

impl AppState {
    pub fn new(warehouse: Arc<dyn Warehouse>, config: Config, dist: std::path::PathBuf) -> AppState {
        // One limit for every cache: derived entries go before warehouse results.
        let budget = Budget::new(config.cache_max_bytes);
        let ttl = config.cache_ttl;
        let cache = Cache::with_budget(ttl, &budget, Keep::Source, ABANDON_AFTER);
        let rendered = Cache::with_budget(ttl, &budget, Keep::Derived, ABANDON_AFTER);
        let scores = Cache::with_budget(ttl, &budget, Keep::Derived, ABANDON_AFTER);
        // A drill-down is one click's statement: when its client leaves,
        // cancel it at once rather than bill a minute for nobody.
        let drill = Cache::with_budget(ttl, &budget, Keep::Source, Duration::ZERO);
        AppState {
            warehouse,
            config,
            cache,
            rendered,
            scores,
            drill,
            budget,
            refreshed: Default::default(),
            refresh_every: REFRESH_EVERY,
            dist,
            loading: Default::default(),
            ready: Cache::new(health::READY_FOR, 1, ABANDON_AFTER),
            snapshot_wait: SNAPSHOT_WAIT,
            request_timeout: REQUEST_TIMEOUT,
            store: None,
            exclusions: Default::default(),
            marks_written: Default::default(),
        }
    }

    /// The caller's snapshot: from the cache, or one bounds query, one
    /// look at the table's columns and one aggregation shared by every
    /// concurrent request. The load runs as a task of its own (see
    /// [`crate::cache`]); this waits for it at most `snapshot_wait`.
    pub async fn snapshot(self: &Arc<Self>, caller: &Caller) -> Result<Arc<Snapshot>, ApiError> {
        let deadline = tokio::time::Instant::now() + self.snapshot_wait;
        self.base_snapshot(caller, deadline).await
    }

    /// The caller's snapshot of `view`: the default view's
    /// ([`AppState::snapshot`]), or one more aggregation over its days,
    /// cached per view as the default is. A view the table has no columns
    /// for is the client's mistake: 400, naming what is missing.
    pub async fn view_snapshot(self: &Arc<Self>, caller: &Caller, view: &View) -> Result<Arc<Snapshot>, ApiError> {
        let deadline = tokio::time::Instant::now() + self.snapshot_wait;
        let base = self.base_snapshot(caller, deadline).await?;
        if view.is_default() {
            return Ok(base);
        }
        base.available.check(view, &self.config.columns).map_err(ApiError::BadRequest)?;
        let scope = self.warehouse.cache_scope(caller);
        let (state, who, v) = (self.clone(), caller.clone(), view.clone());
        let key_bytes = scope.capacity() + view.heap_bytes();
        let key = SnapshotKey { scope: scope.clone(), view: view.clone() };
        let load = self.cache.get_or_fetch(
            key,
            move |s| key_bytes + s.panel.heap_bytes(),
            move |cancel| async move {
                let progress = Progress::default();
                let _loading = state.track_loading(&scope, &progress);
                // The same days as the default view's, read at the same time.
                let aggregates = match base.bounds.days(state.config.time_zone) {
                    Some((from, to)) => {
                        let q = DailyQuery { from, to, services: None, view: v.clone() };
                        state.warehouse.daily(&q, &who, &cancel, &progress).await?
                    }
                    None => Aggregates::default(),
                };
                let panel = aggregates.panel;
                tracing::info!(service_days = panel.service_days(), series = panel.len(), ?v, "loaded a view");
                Ok::<_, ApiError>(Snapshot {
                    panel,
                    bounds: base.bounds.clone(),
                    fetched_at: Utc::now(),
                    bounds_at: base.bounds_at,
                    available: base.available.clone(),
                    not_summed: (v.metric == Metric::Amount).then_some(aggregates.not_summed),
                    units: aggregates.units,
                })
            },
        );
        match tokio::time::timeout_at(deadline, load).await {
            Ok(loaded) => Ok(loaded?.0),
            Err(_) => Err(ApiError::Loading),
        }
    }

    /// The default view's snapshot, waiting until `deadline` at most.
    async fn base_snapshot(
        self: &Arc<Self>,
        caller: &Caller,
        deadline: tokio::time::Instant,
    ) -> Result<Arc<Snapshot>, ApiError> {
        let scope = self.warehouse.cache_scope(caller);
        let (state, who) = (self.clone(), caller.clone());
        let scope_bytes = scope.capacity();
        let key = SnapshotKey { scope: scope.clone(), view: View::default() };
        let load = self.cache.get_or_fetch(
            key,
            move |s| scope_bytes + s.panel.heap_bytes(),
            move |cancel| async move {
                let (wh, zone) = (&state.warehouse, state.config.time_zone);
                let progress = Progress::default();
                let _loading = state.track_loading(&scope, &progress);
                let bounds = wh.bounds(&who, &cancel, &progress).await?;
                // Once per load: a table can gain or lose columns.
                let available = Available::resolve(&state.config.columns, &wh.columns(&who, &cancel).await?)?;
                let panel = match bounds.days(zone) {
                    Some((from, to)) => {
                        let q = DailyQuery { from, to, services: None, view: View::default() };
                        wh.daily(&q, &who, &cancel, &progress).await?.panel
                    }
                    None => Panel::default(),
                };
                tracing::info!(service_days = panel.service_days(), services = panel.len(), "loaded daily aggregates");
                let fetched_at = Utc::now();
                Ok::<_, ApiError>(Snapshot {
                    panel,
                    bounds,
                    fetched_at,
                    bounds_at: fetched_at,
                    available,
                    not_summed: None,
                    units: Default::default(),
                })
            },
        );
        match tokio::time::timeout_at(deadline, load).await {
            Ok(loaded) => Ok(loaded?.0),
            Err(_) => Err(ApiError::Loading),
        }
    }

    /// Registers a snapshot load under `scope` until the guard drops.
    fn track_loading<'a>(&'a self, scope: &str, progress: &Progress) -> impl Drop + 'a {
        let lock = || self.loading.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        lock().insert(scope.to_string(), progress.clone());
        let (scope, ours) = (scope.to_string(), progress.clone());
        // A refresh during a load starts another under the same scope:
        // leave that one's entry alone.
        DropGuard(move || {
            let mut loading = lock();
            if loading.get(&scope).is_some_and(|p| p.same(&ours)) {
                loading.remove(&scope);
            }
        })
    }

    /// The caller's snapshot load, if one runs.
    pub fn load_progress(&self, caller: &Caller) -> Option<Progress> {
        let scope = self.warehouse.cache_scope(caller);
        let loading = self.loading.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        loading.get(&scope).cloned()
    }
}

/// How many [`blocking`] jobs may run at once: one per core (at least one).
pub fn blocking_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).max(1)
}

/// The most [`blocking`] jobs seen running at once (tests check the bound).
pub fn blocking_peak() -> usize {
    BLOCKING_PEAK.load(std::sync::atomic::Ordering::SeqCst)
}

static BLOCKING: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
static BLOCKING_BUSY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static BLOCKING_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs CPU-bound work (scoring, rendering) off the async threads, at most
/// [`blocking_workers`] jobs at once: a burst of distinct requests queues
/// here instead of starting a hundred scorings that all finish late.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    use std::sync::atomic::Ordering::SeqCst;
    let permits = BLOCKING.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(blocking_workers())));
    let permit = permits.clone().acquire_owned().await.map_err(|e| ApiError::Internal(e.into()))?;
    // The permit goes with the job: a request that times out does not
    // free a worker whose job still runs.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let busy = BLOCKING_BUSY.fetch_add(1, SeqCst) + 1;
        BLOCKING_PEAK.fetch_max(busy, SeqCst);
        // Dropped before the permit (also on a panic): uncounted first.
        let _counted = DropGuard(|| {
            BLOCKING_BUSY.fetch_sub(1, SeqCst);
        });
        work()
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))
}

/// Runs a closure when dropped (also when the load fails or is cancelled).
struct DropGuard<F: FnMut()>(F);

impl<F: FnMut()> Drop for DropGuard<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Who is asking, from the headers a Databricks App forwards.
pub fn caller(headers: &HeaderMap) -> Caller {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    Caller {
        user: text("x-forwarded-email").or_else(|| text("x-forwarded-user")),
        token: text("x-forwarded-access-token"),
    }
}

/// The app and the API, under `base_path` ("" or "/sub/path").
pub fn router(state: Arc<AppState>, base_path: &str) -> anyhow::Result<Router> {
    let api = Router::new()
        .merge(health::routes())
        .merge(data::routes())
        .merge(anomalies::routes())
        .merge(audit::routes())
        .merge(marks::routes())
        .merge(openapi::routes())
        // Any other /api path is a JSON 404, not the app's page.
        .route("/api", axum::routing::any(not_found))
        .route("/api/{*rest}", axum::routing::any(not_found))
        .with_state(state.clone());
    let dist = app::App::load(&state.dist);
    let security = security::Headers::new(&state.config.frame_ancestors, &dist.script_hashes())?;
    let app = api.merge(dist.routes());
    let app = if base_path.is_empty() {
        app
    } else {
        // The app's asset URLs are relative: `/base` must become `/base/`.
        let slash = format!("{base_path}/");
        Router::new()
            .route(base_path, axum::routing::get(move || async move { axum::response::Redirect::permanent(&slash) }))
            .nest(&format!("{base_path}/"), app)
            .fallback(not_found)
    };
    let request_id = HeaderName::from_static("x-request-id");
    Ok(app
        .layer(axum::middleware::from_fn(limit_query))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(state.request_timeout, time_limit))
        .layer(axum::middleware::from_fn(refused_codings))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(axum::middleware::from_fn(too_large_as_json))
        .layer(axum::middleware::from_fn_with_state(Arc::new(security), security::add))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            // The path only: query strings may carry service names, never tokens.
            tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid)))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route `{}`; the routes are listed in /api/openapi.json", uri.path()))
}

async fn limit_query(req: Request, next: Next) -> Response {
    if req.uri().query().is_some_and(|q| q.len() > MAX_QUERY) {
        return ApiError::bad(format!("the query string is longer than {MAX_QUERY} bytes")).into_response();
    }
    next.run(req).await
}

async fn time_limit(axum::extract::State(limit): axum::extract::State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout(limit).into_response(),
    }
}

/// The body limit (and body extractors) answer a bare 413; say it in the
/// API's error body like every other failure.
async fn too_large_as_json(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return ApiError::TooLarge(MAX_BODY).into_response();
    }
    resp
}

/// Drops the codings the client refuses (`gzip;q=0`) from Accept-Encoding,
/// so a handler that only looks for a coding's name cannot send it.
async fn refused_codings(mut req: Request, next: Next) -> Response {
    let refused = |coding: &str| {
        coding.split(';').skip(1).any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0)
        })
    };
    let accepted = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).and_then(|v| {
        let kept: Vec<&str> = v.split(',').filter(|c| !refused(c)).collect();
        (kept.len() != v.split(',').count()).then(|| kept.join(","))
    });
    if let Some(kept) = accepted {
        // Nothing left means identity only (an absent header would mean any).
        let kept = if kept.trim().is_empty() { "identity".to_string() } else { kept };
        if let Ok(v) = HeaderValue::from_str(&kept) {
            req.headers_mut().insert(header::ACCEPT_ENCODING, v);
        }
    }
    next.run(req).await
}

/// Serves until Ctrl-C or SIGTERM, then lets running requests finish.
pub async fn serve(state: Arc<AppState>, addr: SocketAddr, base_path: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(%local, base_path, "listening");
    eprintln!("servicewatch listening on http://{local}{base_path}/");
    serve_on(listener, state, base_path, shutdown_signal()).await
}

/// Serves on a bound listener until `shutdown` completes (tests use this).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    base_path: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(state, base_path)?).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn blocking_jobs_never_exceed_the_workers() {
        // Counted inside the jobs themselves, not by the helper's counter.
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..100).map(|i| {
            let (running, peak) = (running.clone(), peak.clone());
            tokio::spawn(blocking(move || {
                peak.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, SeqCst);
                i
            }))
        });
        let done: Vec<usize> = futures::future::join_all(jobs).await.into_iter().map(|j| j.unwrap().unwrap()).collect();
        assert_eq!(done, (0..100).collect::<Vec<_>>(), "every job ran");
        let (peak, bound) = (peak.load(SeqCst), blocking_workers());
        assert!(peak >= 1 && peak <= bound, "{peak} jobs at once, bound {bound}");
        assert!(blocking_peak() <= bound);
    }
}
