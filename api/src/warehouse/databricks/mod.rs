//! A Databricks SQL warehouse, through the SQL Statement Execution API 2.0,
//! running the same SQL text as every other warehouse
//! ([`crate::warehouse::sql`]).
//!
//! - [`statements`]: the protocol (submit, poll, chunks, links, cancel).
//! - [`auth`]: whose token each call carries.
//! - [`json_array`]: inline results parsed strictly into Arrow.
//! - [`retry`]: 429/503 backoff.

pub mod auth;
pub mod json_array;
pub mod retry;
pub mod statements;

use std::time::Duration;

use async_trait::async_trait;
use servicewatch_shared::Day;
use tokio_util::sync::CancellationToken;

use super::sql::Source;
use super::{batches, Aggregates, Bounds, Caller, DailyQuery, Progress, Rows, Warehouse, WarehouseError};
pub use auth::{Credentials, Secret};
use statements::{Client, Shape};

/// Where the warehouse is and who the server is to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `https://<workspace>` (an `http://` host only for local test servers).
    pub host: String,
    pub warehouse_id: String,
    pub credentials: Credentials,
    /// The server runs behind the Databricks Apps proxy, so
    /// `X-Forwarded-Access-Token` is the signed-in user's own token.
    pub behind_apps_proxy: bool,
}

/// A workspace host as a base URL: `https://` added when no scheme is
/// given, no trailing slash, nothing but a scheme, host and port.
pub fn normalize_host(host: &str) -> Result<String, String> {
    let h = host.trim();
    let (scheme, rest) = h.split_once("://").unwrap_or(("https", h));
    let rest = rest.trim_end_matches('/');
    if !matches!(scheme, "https" | "http") {
        return Err(format!("`{host}`: use https://<workspace host>"));
    }
    let ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if !ok {
        return Err(format!("`{host}`: expected a host name like https://adb-123.4.azuredatabricks.net"));
    }
    Ok(format!("{scheme}://{rest}"))
}

pub struct Databricks {
    client: std::sync::Arc<Client>,
    source: Source,
}

impl Databricks {
    pub fn new(settings: &Settings, source: Source) -> anyhow::Result<Databricks> {
        if settings.host.starts_with("http://") {
            tracing::warn!(host = %settings.host, "Databricks host over plain http: only for a local test server");
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("servicewatch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // Submit waits up to 5 s on the server; polls are quick.
            .timeout(Duration::from_secs(60))
            .build()?;
        let auth = auth::Auth::new(
            settings.host.clone(),
            settings.credentials.clone(),
            settings.behind_apps_proxy,
            http.clone(),
        );
        let client = Client::new(settings.host.clone(), settings.warehouse_id.clone(), auth, http)?;
        Ok(Databricks { client: std::sync::Arc::new(client), source })
    }

    /// The statement client, for the Delta-table store
    /// ([`crate::store::delta`]), which writes through the same warehouse.
    pub fn client(&self) -> std::sync::Arc<Client> {
        self.client.clone()
    }

    /// Test hook: how long 429/503 retries may wait in all.
    pub fn with_retry(mut self, retry: retry::RetryPolicy) -> Databricks {
        if let Some(client) = std::sync::Arc::get_mut(&mut self.client) {
            client.retry = retry;
        }
        self
    }

    /// Names the table in the error Unity Catalog gives for a missing
    /// table or missing rights.
    fn named(&self, e: WarehouseError) -> WarehouseError {
        match e {
            WarehouseError::TableUnavailable(_) => WarehouseError::TableUnavailable(self.source.table.plain()),
            other => other,
        }
    }
}

#[async_trait]
impl Warehouse for Databricks {
    fn kind(&self) -> &'static str {
        "databricks"
    }

    fn cache_scope(&self, caller: &Caller) -> String {
        self.client.auth.scope(caller)
    }

    async fn daily(
        &self,
        q: &DailyQuery,
        caller: &Caller,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Aggregates, WarehouseError> {
        let st = self.source.daily(q.from, q.to, q.services.as_deref(), &q.view);
        let batches = self.client.run(&st, Shape::Arrow, caller, cancel, progress).await.map_err(|e| self.named(e))?;
        batches::to_panel(&batches)
    }

    /// `SELECT * ... LIMIT 0`: the manifest lists the columns, no row is read.
    async fn columns(&self, caller: &Caller, cancel: &CancellationToken) -> Result<Vec<String>, WarehouseError> {
        let progress = Progress::default();
        let st = self.source.columns();
        let batches =
            self.client.run(&st, Shape::Inline, caller, cancel, &progress).await.map_err(|e| self.named(e))?;
        Ok(batches::to_rows(&batches)?.columns)
    }

    async fn bounds(
        &self,
        caller: &Caller,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Bounds, WarehouseError> {
        let st = self.source.bounds();
        let batches = self.client.run(&st, Shape::Inline, caller, cancel, progress).await.map_err(|e| self.named(e))?;
        batches::to_bounds(&batches)
    }

    async fn transactions(
        &self,
        service: &str,
        day: Day,
        limit: u32,
        caller: &Caller,
        cancel: &CancellationToken,
    ) -> Result<Rows, WarehouseError> {
        let st = self.source.transactions(service, day, limit);
        let progress = Progress::default();
        let batches =
            self.client.run(&st, Shape::Inline, caller, cancel, &progress).await.map_err(|e| self.named(e))?;
        batches::to_rows(&batches)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_host;

    #[test]
    fn hosts() {
        assert_eq!(normalize_host("adb-1.2.azuredatabricks.net/").unwrap(), "https://adb-1.2.azuredatabricks.net");
        assert_eq!(normalize_host("http://127.0.0.1:8123").unwrap(), "http://127.0.0.1:8123");
        for bad in ["ftp://x", "https://", "https://x/path?q", "https://user@x"] {
            assert!(normalize_host(bad).is_err(), "{bad}");
        }
    }
}
