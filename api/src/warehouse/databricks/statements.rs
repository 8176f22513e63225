//! The SQL Statement Execution API 2.0: submit a statement, poll it to a
//! terminal state, fetch its result, cancel it when nobody wants it.
//!
//! - Submit `POST /api/2.0/sql/statements` with the statement's named
//!   parameters as `{name, value, type}` (values are strings; the SQL text
//!   never holds a value) and `wait_timeout` 5s, then poll
//!   `GET /api/2.0/sql/statements/{id}` with a capped backoff. `PENDING`
//!   means the warehouse is starting, which can take minutes: reported to
//!   the [`Progress`] as such.
//! - Small results (bounds, drill-down) come `INLINE` as `JSON_ARRAY`
//!   (limited to 25 MiB by the service). The daily aggregate can have
//!   millions of rows: it comes as `EXTERNAL_LINKS` in `ARROW_STREAM`, one
//!   presigned link per chunk, downloaded a few at a time **without** the
//!   Authorization header (the link carries its own credential and object
//!   stores refuse a second one). An expired link (past its `expiration`,
//!   or refused with 403) is exchanged for a fresh one at the chunk
//!   endpoint.
//! - 429 and 503 are retried per [`RetryPolicy`]; 401/403 become
//!   [`WarehouseError::NotAuthorised`]; `FAILED` is mapped by its SQL state.
//! - A statement whose caller goes away, or whose token is cancelled, is
//!   cancelled on the warehouse too (`POST .../cancel`): it bills by time.
//!
//! URLs are never logged: presigned links carry credentials.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::auth::{without_url, Auth, Secret};
use super::json_array::{self, Column};
use super::retry::{retry_after, Backoff, RetryPolicy};
use crate::warehouse::sql::{Param, Placeholder, Statement};
use crate::warehouse::{Caller, Failure, Progress, Stage, WarehouseError};

/// How a result is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `INLINE` + `JSON_ARRAY`: small results.
    Inline,
    /// `EXTERNAL_LINKS` + `ARROW_STREAM`: results of any size.
    Arrow,
}

/// More chunks than this is a server that does not stop.
const MAX_CHUNKS: u32 = 1_000_000;
/// Where statements are submitted.
const SUBMIT: &str = "/api/2.0/sql/statements";
/// Chunks downloaded at once.
const PARALLEL_DOWNLOADS: usize = 4;
/// Fresh links asked for one chunk before giving up.
const LINK_REFRESHES: u32 = 3;
/// Polling: first delay, growth and cap.
const POLL_FIRST: Duration = Duration::from_millis(100);
/// At most this late in noticing a finished statement (statements that end
/// within the submit's `wait_timeout` are answered at once).
const POLL_CAP: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Deserialize)]
struct StatementResponse {
    #[serde(default)]
    statement_id: Option<String>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    manifest: Option<Manifest>,
    #[serde(default)]
    result: Option<Chunk>,
}

#[derive(Debug, Default, Deserialize)]
struct Status {
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<ServiceError>,
    #[serde(default)]
    sql_state: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ServiceError {
    /// A name (`NOT_FOUND`), or a number in some answers (`403`).
    #[serde(default, deserialize_with = "code_text")]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Manifest {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    schema: Option<ManifestSchema>,
    #[serde(default)]
    total_chunk_count: Option<u32>,
    #[serde(default)]
    total_row_count: Option<u64>,
    #[serde(default)]
    truncated: Option<bool>,
}

impl Manifest {
    /// Whether the result has rows to fetch (when the manifest says).
    fn has_rows(&self) -> bool {
        self.total_chunk_count.map_or(self.total_row_count.unwrap_or(0) > 0, |n| n > 0)
    }

    /// Every row the manifest announced arrived: none lost to a chunk that
    /// was skipped or a link that replaced another.
    fn check_rows(&self, batches: &[RecordBatch]) -> Result<(), WarehouseError> {
        let got: usize = batches.iter().map(RecordBatch::num_rows).sum();
        match self.total_row_count {
            Some(want) if want != got as u64 => {
                Err(WarehouseError::data(format!("the result announced {want} rows and {got} arrived")))
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ManifestSchema {
    #[serde(default)]
    columns: Vec<Column>,
}

/// A result chunk: inline rows, or links to download.
#[derive(Debug, Default, Deserialize)]
struct Chunk {
    #[serde(default)]
    chunk_index: Option<u32>,
    /// Every value a string or null; anything else fails to parse.
    #[serde(default)]
    data_array: Option<Vec<Vec<Option<String>>>>,
    #[serde(default)]
    external_links: Option<Vec<ExternalLink>>,
    #[serde(default)]
    next_chunk_index: Option<u32>,
    #[serde(default)]
    next_chunk_internal_link: Option<String>,
}

/// The next chunk's index: `next_chunk_index`, or the last segment of
/// `next_chunk_internal_link` (`/api/2.0/sql/statements/{id}/result/chunks/{i}`)
/// when only the link is given. The link itself is never followed: the
/// token goes only to URLs built here, on the configured host.
fn next_index(index: Option<u32>, link: Option<&str>) -> Option<u32> {
    index.or_else(|| link?.rsplit('/').next()?.parse().ok())
}

#[derive(Clone, Deserialize)]
struct ExternalLink {
    chunk_index: u32,
    external_link: String,
    #[serde(default)]
    expiration: Option<String>,
    #[serde(default)]
    next_chunk_index: Option<u32>,
    #[serde(default)]
    next_chunk_internal_link: Option<String>,
    /// Headers the store wants with the download (some clouds).
    #[serde(default)]
    http_headers: Option<HashMap<String, String>>,
}

impl std::fmt::Debug for ExternalLink {
    // The link is a credential: show only which chunk it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalLink").field("chunk_index", &self.chunk_index).finish_non_exhaustive()
    }
}

impl ExternalLink {
    /// Past its `expiration` (a store that disagrees answers 403, which
    /// renews the link too).
    fn expired(&self) -> bool {
        self.expiration
            .as_deref()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|t| t.with_timezone(&chrono::Utc) <= chrono::Utc::now())
    }

    fn next(&self) -> Option<u32> {
        next_index(self.next_chunk_index, self.next_chunk_internal_link.as_deref())
    }
}

/// A client for one workspace and SQL warehouse.
pub struct Client {
    /// API calls (with the bearer token).
    http: reqwest::Client,
    /// Presigned downloads: a client of its own, so no default header or
    /// cookie of the API client can ever reach an object store.
    download: reqwest::Client,
    host: String,
    warehouse_id: String,
    pub auth: Auth,
    pub retry: RetryPolicy,
}

/// An error code as text, whether it came as a string or a number.
fn code_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    })
}

/// The parameters as the API takes them: `{name, value, type}`, values as
/// strings.
fn parameters(st: &Statement) -> Vec<Value> {
    st.params
        .iter()
        .map(|(name, p)| match p {
            Param::Text(s) => json!({ "name": name, "value": s, "type": "STRING" }),
            Param::Timestamp(t) => {
                json!({ "name": name, "value": t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(), "type": "TIMESTAMP" })
            }
            Param::Date(d) => json!({ "name": name, "value": d.to_string(), "type": "DATE" }),
        })
        .collect()
}

/// A statement id as the API gives them (letters, digits, `-`, `_`): safe
/// in the URLs built from it.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The message of an error body `{"error_code", "message"}`, if any.
fn body_message(body: &str) -> String {
    let parsed: Option<ServiceError> = serde_json::from_str(body).ok();
    match parsed {
        Some(ServiceError { error_code, message: Some(m) }) => match error_code {
            Some(code) => format!("{code}: {m}"),
            None => m,
        },
        _ => body.chars().take(200).collect(),
    }
}

impl Client {
    pub fn new(host: String, warehouse_id: String, auth: Auth, http: reqwest::Client) -> anyhow::Result<Client> {
        let download = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Client { http, download, host, warehouse_id, auth, retry: RetryPolicy::default() })
    }

    /// One API call with the caller's token: retried on 429/503 (and on
    /// connection errors for reads), a refused OAuth token renewed once.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        caller: &Caller,
    ) -> Result<T, WarehouseError> {
        let url = format!("{}{path}", self.host);
        let mut backoff = Backoff::new(self.retry);
        let mut renewed = false;
        loop {
            let token: Secret = self.auth.bearer(caller).await?;
            let mut req = self.http.request(method.clone(), &url).bearer_auth(token.expose());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if method == Method::GET && (e.is_connect() || e.is_timeout()) => match backoff.next(None) {
                    Some(d) => {
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    None => return Err(WarehouseError::Unavailable(format!("{path}: {}", without_url(&e)))),
                },
                Err(e) => return Err(WarehouseError::Unavailable(format!("{path}: {}", without_url(&e)))),
            };
            let status = resp.status();
            if status.is_success() {
                return resp
                    .json::<T>()
                    .await
                    .map_err(|e| WarehouseError::query(format!("{path}: unexpected answer: {}", without_url(&e))));
            }
            let wait = retry_after(resp.headers());
            let text = resp.text().await.unwrap_or_default();
            match status {
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => match backoff.next(wait) {
                    Some(d) => {
                        tracing::warn!(%status, path, wait_ms = d.as_millis() as u64, "warehouse API busy; retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        return Err(WarehouseError::Unavailable(format!(
                            "{status} after retries: {}",
                            body_message(&text)
                        )))
                    }
                },
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    if !renewed && self.auth.refused(caller).await {
                        renewed = true;
                        continue;
                    }
                    return Err(WarehouseError::NotAuthorised(format!("{status}: {}", body_message(&text))));
                }
                StatusCode::NOT_FOUND if path == SUBMIT => {
                    return Err(WarehouseError::NotAuthorised(format!(
                        "SQL warehouse `{}` does not exist or this identity may not use it (it needs CAN USE): {}",
                        self.warehouse_id,
                        body_message(&text)
                    )));
                }
                StatusCode::NOT_FOUND => {
                    return Err(WarehouseError::query(format!("{path}: the statement no longer exists")));
                }
                // A statement refused outright (its SQL, a missing table):
                // the same mapping as a statement that FAILED.
                StatusCode::BAD_REQUEST if path == SUBMIT => {
                    let error: Option<ServiceError> = serde_json::from_str(&text).ok();
                    return Err(failure(Status { state: "FAILED".into(), error, sql_state: None }));
                }
                _ => return Err(WarehouseError::query(format!("{path}: {status}: {}", body_message(&text)))),
            }
        }
    }

    /// Runs `st` and returns its result as record batches.
    pub async fn run(
        self: &Arc<Self>,
        st: &Statement,
        shape: Shape,
        caller: &Caller,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Vec<RecordBatch>, WarehouseError> {
        let (disposition, format) = match shape {
            Shape::Inline => ("INLINE", "JSON_ARRAY"),
            Shape::Arrow => ("EXTERNAL_LINKS", "ARROW_STREAM"),
        };
        let body = json!({
            "statement": st.render(Placeholder::Colon),
            "warehouse_id": self.warehouse_id,
            "parameters": parameters(st),
            "disposition": disposition,
            "format": format,
            // The shortest synchronous wait the API allows: quick statements
            // answer in one round trip, and a warehouse that is starting is
            // known (and shown) after 5 s rather than 10.
            "wait_timeout": "5s",
            "on_wait_timeout": "CONTINUE",
        });
        progress.set_stage(Stage::Querying);
        let started = std::time::Instant::now();
        // The submit waits up to `wait_timeout` on the warehouse, and until
        // it answers there is no statement id to cancel. So it runs as a
        // task of its own: if this call is dropped or cancelled meanwhile,
        // the statement is cancelled as soon as its id is known.
        // The task's answer carries the statement's cancel guard, so even an
        // answer nobody reads (the caller left just as it came) cancels.
        let submit = tokio::spawn({
            let (this, who) = (self.clone(), caller.clone());
            async move {
                let resp = this.call::<StatementResponse>(Method::POST, SUBMIT, Some(&body), &who).await?;
                let state = resp.status.as_ref().map(|s| s.state.as_str()).unwrap_or("");
                // A terminal answer needs no id (a FAILED one may have none).
                if matches!(state, "SUCCEEDED" | "FAILED" | "CANCELED" | "CLOSED") {
                    return Ok((resp, None));
                }
                let id =
                    resp.statement_id.as_deref().filter(|id| valid_id(id)).ok_or_else(|| {
                        WarehouseError::query("the statement API answered without a valid statement_id")
                    })?;
                let running = Running::new(&this, id, this.auth.bearer(&who).await?);
                Ok::<_, WarehouseError>((resp, Some(running)))
            }
        });
        let (mut resp, running) = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(WarehouseError::Cancelled),
            r = submit => r.map_err(|e| WarehouseError::query(Failure::with("the submit task failed", e)))??,
        };
        // From here on, leaving early (an error, a cancel, the caller gone)
        // cancels the statement on the warehouse.
        let mut running = running.unwrap_or_else(Running::done);
        let id = resp.statement_id.clone().filter(|id| valid_id(id)).unwrap_or_default();
        let mut delay = POLL_FIRST;
        loop {
            let state = resp.status.as_ref().map(|s| s.state.as_str()).unwrap_or("");
            match state {
                "SUCCEEDED" => break,
                "PENDING" => progress.set_stage(Stage::WarehouseStarting),
                "RUNNING" => progress.set_stage(Stage::Querying),
                "FAILED" => {
                    running.finished();
                    return Err(failure(resp.status.unwrap_or_default()));
                }
                "CANCELED" => {
                    running.finished();
                    // Not ours (we would have stopped waiting): the warehouse's
                    // statement timeout, or an admin.
                    return Err(WarehouseError::query("the warehouse cancelled the statement"));
                }
                "CLOSED" => {
                    running.finished();
                    return Err(WarehouseError::query("the statement was closed before its result was read"));
                }
                other => return Err(WarehouseError::query(format!("unknown statement state `{other}`"))),
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(WarehouseError::Cancelled),
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 3 / 2).min(POLL_CAP);
            let path = format!("/api/2.0/sql/statements/{id}");
            let poll = self.call::<StatementResponse>(Method::GET, &path, None, caller);
            resp = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(WarehouseError::Cancelled),
                r = poll => r?,
            };
        }
        running.finished();
        let query_ms = started.elapsed().as_millis() as u64;
        let manifest = resp.manifest.take().unwrap_or_default();
        if manifest.truncated == Some(true) {
            return Err(WarehouseError::data("the warehouse truncated the result"));
        }
        if manifest.format.as_deref().is_some_and(|f| f != format) {
            return Err(WarehouseError::data(format!("asked for {format}, got {:?}", manifest.format)));
        }
        let first = resp.result.take();
        progress.set_stage(Stage::Downloading);
        let fetch = async {
            match shape {
                Shape::Inline => self.inline(&id, &manifest, first, caller).await,
                Shape::Arrow => self.arrow(&id, &manifest, first, caller, progress).await,
            }
        };
        let batches = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(WarehouseError::Cancelled),
            r = fetch => r?,
        };
        // How long the warehouse took and what the transfer added: the
        // figures docs/benchmarks.md records for the protocol's overhead.
        tracing::info!(
            query_ms,
            fetch_ms = started.elapsed().as_millis() as u64 - query_ms,
            rows = batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            chunks = manifest.total_chunk_count.unwrap_or(1),
            ?shape,
            "statement done"
        );
        Ok(batches)
    }

    async fn chunk(&self, id: &str, index: u32, caller: &Caller) -> Result<Chunk, WarehouseError> {
        if id.is_empty() {
            return Err(WarehouseError::data(format!("chunk {index} is needed but the answer had no statement_id")));
        }
        self.call(Method::GET, &format!("/api/2.0/sql/statements/{id}/result/chunks/{index}"), None, caller).await
    }

    /// Every inline chunk's rows, parsed by the manifest's column types.
    async fn inline(
        &self,
        id: &str,
        manifest: &Manifest,
        first: Option<Chunk>,
        caller: &Caller,
    ) -> Result<Vec<RecordBatch>, WarehouseError> {
        let columns = manifest.schema.as_ref().map(|s| s.columns.as_slice()).unwrap_or_default();
        let mut batches = Vec::new();
        let mut chunk = match first {
            Some(c) => c,
            None if manifest.has_rows() => self.chunk(id, 0, caller).await?,
            None => Chunk::default(),
        };
        // The index asked for, not the one the answer claims: a server that
        // repeats itself cannot keep us looping.
        let (mut at, mut seen) = (chunk.chunk_index.unwrap_or(0), 0u32);
        loop {
            let rows = chunk.data_array.take().unwrap_or_default();
            batches.push(json_array::to_batch(columns, &rows)?);
            seen += 1;
            let Some(next) = next_index(chunk.next_chunk_index, chunk.next_chunk_internal_link.as_deref()) else {
                break;
            };
            if next <= at || manifest.total_chunk_count.is_some_and(|n| seen >= n) || seen > MAX_CHUNKS {
                return Err(WarehouseError::data(format!("chunk {next} does not follow the chunks read")));
            }
            at = next;
            chunk = self.chunk(id, next, caller).await?;
        }
        manifest.check_rows(&batches)?;
        Ok(batches)
    }

    /// Every Arrow chunk, a few downloads at a time, in order.
    async fn arrow(
        &self,
        id: &str,
        manifest: &Manifest,
        first: Option<Chunk>,
        caller: &Caller,
        progress: &Progress,
    ) -> Result<Vec<RecordBatch>, WarehouseError> {
        let total_rows = manifest.total_row_count.unwrap_or(0);
        let mut known: HashMap<u32, ExternalLink> = HashMap::new();
        for l in first.and_then(|c| c.external_links).unwrap_or_default() {
            if known.insert(l.chunk_index, l).is_some() {
                return Err(WarehouseError::data("two links for one chunk"));
            }
        }
        if known.is_empty() && manifest.has_rows() {
            known.insert(0, self.link(id, 0, caller).await?);
        }
        let count = match manifest.total_chunk_count {
            Some(n) => n,
            // No count: follow the chain from the first link.
            None => {
                let mut n = 0;
                let mut next = known.get(&0).map(ExternalLink::next);
                while let Some(Some(i)) = next {
                    if i <= n || i > MAX_CHUNKS {
                        return Err(WarehouseError::data("chunk indices do not increase"));
                    }
                    n = i;
                    let link = self.link(id, i, caller).await?;
                    next = Some(link.next());
                    known.insert(i, link);
                }
                if known.is_empty() {
                    0
                } else {
                    n + 1
                }
            }
        };
        let done = std::sync::atomic::AtomicU64::new(0);
        let done = &done;
        let parts: Vec<Vec<RecordBatch>> = futures::stream::iter(0..count)
            .map(|i| {
                let link = known.remove(&i);
                async move {
                    let batches = self.download(id, i, link, caller).await?;
                    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                    let now = done.fetch_add(rows as u64, std::sync::atomic::Ordering::Relaxed) + rows as u64;
                    progress.set(now, total_rows.max(now));
                    Ok::<_, WarehouseError>(batches)
                }
            })
            .buffered(PARALLEL_DOWNLOADS)
            .try_collect()
            .await?;
        let batches: Vec<RecordBatch> = parts.into_iter().flatten().collect();
        manifest.check_rows(&batches)?;
        Ok(batches)
    }

    /// A fresh link for chunk `index`.
    async fn link(&self, id: &str, index: u32, caller: &Caller) -> Result<ExternalLink, WarehouseError> {
        let chunk = self.chunk(id, index, caller).await?;
        chunk
            .external_links
            .unwrap_or_default()
            .into_iter()
            .find(|l| l.chunk_index == index)
            .ok_or_else(|| WarehouseError::data(format!("chunk {index} came without a link")))
    }

    /// Downloads one chunk (no Authorization header), renewing its link
    /// when it has expired, and reads it as an Arrow IPC stream.
    async fn download(
        &self,
        id: &str,
        index: u32,
        link: Option<ExternalLink>,
        caller: &Caller,
    ) -> Result<Vec<RecordBatch>, WarehouseError> {
        let mut link = match link {
            Some(l) => l,
            None => self.link(id, index, caller).await?,
        };
        let mut refreshes = 0;
        let mut backoff = Backoff::new(self.retry);
        loop {
            if link.expired() && refreshes < LINK_REFRESHES {
                refreshes += 1;
                link = self.link(id, index, caller).await?;
                continue;
            }
            let mut req = self.download.get(&link.external_link);
            for (k, v) in link.http_headers.iter().flatten() {
                if !k.eq_ignore_ascii_case("authorization") {
                    req = req.header(k, v);
                }
            }
            let failed = |e: &reqwest::Error| {
                WarehouseError::Unavailable(format!("downloading result chunk {index}: {}", without_url(e)))
            };
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() || e.is_timeout() => match backoff.next(None) {
                    Some(d) => {
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    None => return Err(failed(&e)),
                },
                Err(e) => return Err(failed(&e)),
            };
            let status = resp.status();
            if status.is_success() {
                let bytes = resp.bytes().await.map_err(|e| failed(&e))?;
                return read_ipc(&bytes)
                    .map_err(|e| WarehouseError::data(Failure::with(format!("result chunk {index}"), e)));
            }
            match status {
                // Expired or otherwise refused: a new link, a few times.
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND
                    if refreshes < LINK_REFRESHES =>
                {
                    refreshes += 1;
                    tracing::info!(chunk = index, %status, "result link refused; asking for a fresh one");
                    link = self.link(id, index, caller).await?;
                }
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE | StatusCode::INTERNAL_SERVER_ERROR => {
                    match backoff.next(retry_after(resp.headers())) {
                        Some(d) => tokio::time::sleep(d).await,
                        None => {
                            return Err(WarehouseError::Unavailable(format!(
                                "the result store answered {status} for chunk {index} after retries"
                            )))
                        }
                    }
                }
                _ => {
                    return Err(WarehouseError::query(format!("the result store answered {status} for chunk {index}")))
                }
            }
        }
    }
}

/// An Arrow IPC stream (an empty body is an empty chunk).
fn read_ipc(bytes: &[u8]) -> Result<Vec<RecordBatch>, arrow::error::ArrowError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)?.collect()
}

/// A failed statement as an error: a missing table and missing rights look
/// the same in Unity Catalog, and both are the caller's to fix.
fn failure(status: Status) -> WarehouseError {
    let err = status.error.unwrap_or_default();
    let message = err.message.unwrap_or_else(|| "the statement failed".into());
    let sql_state = status.sql_state.unwrap_or_default();
    let code = err.error_code.unwrap_or_default();
    let has = |s: &str| message.contains(s);
    if sql_state == "42P01"
        || has("TABLE_OR_VIEW_NOT_FOUND")
        || has("SCHEMA_NOT_FOUND")
        || has("CATALOG_NOT_FOUND")
        || has("INSUFFICIENT_PERMISSIONS")
        || has("PERMISSION_DENIED")
        || code == "PERMISSION_DENIED"
    {
        // The name is filled in by the warehouse, which knows it.
        return WarehouseError::TableUnavailable(String::new());
    }
    if sql_state == "42703" || has("UNRESOLVED_COLUMN") {
        return WarehouseError::data(message);
    }
    WarehouseError::query(format!("statement failed ({code}, SQLSTATE {sql_state}): {message}"))
}

/// A submitted statement; dropped before [`Running::finished`], it asks the
/// warehouse to cancel it, in the background since the caller may be gone.
/// It keeps the token that submitted the statement: only its owner may
/// cancel it.
struct Running {
    cancel: Option<(reqwest::Client, String, Secret)>,
}

impl Running {
    fn new(client: &Client, id: &str, token: Secret) -> Running {
        let url = format!("{}/api/2.0/sql/statements/{id}/cancel", client.host);
        Running { cancel: Some((client.http.clone(), url, token)) }
    }

    /// A statement that needs no cancelling (it had ended).
    fn done() -> Running {
        Running { cancel: None }
    }

    fn finished(&mut self) {
        self.cancel = None;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some((http, url, token)) = self.cancel.take() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        rt.spawn(async move {
            let sent = http.post(&url).bearer_auth(token.expose()).json(&json!({})).timeout(Duration::from_secs(10));
            match sent.send().await {
                Ok(r) => tracing::info!(status = %r.status(), "cancelled a statement on the warehouse"),
                Err(e) => tracing::warn!(error = %without_url(&e), "could not cancel a statement"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_with_text_or_numeric_codes() {
        assert_eq!(
            body_message(r#"{"error_code":403,"message":"Invalid access token."}"#),
            "403: Invalid access token."
        );
        assert_eq!(body_message(r#"{"error_code":"NOT_FOUND","message":"No warehouse"}"#), "NOT_FOUND: No warehouse");
        assert_eq!(body_message("<html>bad gateway</html>"), "<html>bad gateway</html>");
    }

    #[test]
    fn the_next_chunk_comes_from_its_index_or_its_internal_link() {
        assert_eq!(next_index(Some(3), Some("/api/2.0/sql/statements/s/result/chunks/9")), Some(3));
        assert_eq!(next_index(None, Some("/api/2.0/sql/statements/s/result/chunks/9")), Some(9));
        assert_eq!(next_index(None, Some("/elsewhere/x")), None);
        assert_eq!(next_index(None, None), None);
    }

    #[test]
    fn failures_map_to_what_the_caller_can_fix() {
        let failed = |msg: &str, sql_state: &str| Status {
            state: "FAILED".into(),
            error: Some(ServiceError { error_code: Some("BAD_REQUEST".into()), message: Some(msg.into()) }),
            sql_state: Some(sql_state.into()),
        };
        let missing = failure(failed("[TABLE_OR_VIEW_NOT_FOUND] The table or view `a`.`b` cannot be found.", "42P01"));
        assert!(matches!(missing, WarehouseError::TableUnavailable(_)));
        let denied = failure(failed("[INSUFFICIENT_PERMISSIONS] User does not have SELECT on Table", ""));
        assert!(matches!(denied, WarehouseError::TableUnavailable(_)));
        let column = failure(failed("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `x` cannot be resolved", "42703"));
        assert!(matches!(column, WarehouseError::Data(_)));
        assert!(matches!(failure(failed("boom", "XX000")), WarehouseError::Query(_)));
    }

    #[test]
    fn parameters_are_typed_strings() {
        let st = crate::config::Config::from_layers(&[]).unwrap().source().transactions(
            "Brakes'; DROP TABLE x",
            servicewatch_shared::Day(19813),
            10,
        );
        let p = parameters(&st);
        assert_eq!(p[0], json!({ "name": "service", "value": "Brakes'; DROP TABLE x", "type": "STRING" }));
        assert_eq!(p[1], json!({ "name": "from_ts", "value": "2024-03-31T00:00:00.000000", "type": "TIMESTAMP" }));
        assert!(!st.render(Placeholder::Colon).contains("Brakes"));
    }
}
