//! The two requests the app makes before it scores anything. URLs are
//! relative, so the app works under any base path its page is served from.

use std::sync::Arc;

use gloo_net::http::Request;
use serde::Deserialize;
use servicewatch_shared::codec::{decode_panel, MEDIA_TYPE};
use servicewatch_shared::{Day, Panel};

/// What the app uses of `/api/meta`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Meta {
    pub table: String,
    pub first: Option<Day>,
    pub last: Option<Day>,
    pub services: Vec<String>,
    /// Edge days the data covers only in part (not flagged by robust).
    #[serde(default)]
    pub partial_days: Vec<Day>,
    /// The time zone whose calendar days are counted.
    pub timezone: String,
    /// The newest transaction's time, RFC 3339 in UTC.
    pub latest_transaction: Option<String>,
    /// When the server read the aggregates, RFC 3339.
    pub fetched_at: String,
}

impl Meta {
    /// One line on where the numbers come from and how fresh they are.
    pub fn provenance(&self) -> String {
        let minute = |t: &str| t.get(..16).unwrap_or(t).replacen('T', " ", 1);
        let mut parts = vec![self.table.clone(), format!("days in {}", self.timezone)];
        if let Some(t) = &self.latest_transaction {
            parts.push(format!("newest transaction {} UTC", minute(t)));
        }
        parts.push(format!("read {} UTC", minute(&self.fetched_at)));
        if !self.partial_days.is_empty() {
            let days: Vec<String> = self.partial_days.iter().map(|d| d.to_string()).collect();
            parts.push(format!("partial days not flagged: {}", days.join(", ")));
        }
        parts.join(" · ")
    }
}

/// Waits `ms` milliseconds (the browser's timer).
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// The error code that means "not yet": the server goes on reading the
/// table (a cold Databricks warehouse takes minutes) whether or not we wait.
const NOT_YET: &str = "loading";

/// A successful response to the request `make` builds, or the server's
/// error as text. While the server says it is still loading, asks again
/// every second (the loading bar shows why).
async fn fetch(make: impl Fn() -> gloo_net::http::RequestBuilder) -> Result<gloo_net::http::Response, String> {
    loop {
        let resp = make().send().await.map_err(|e| format!("cannot reach the server: {e}"))?;
        if resp.ok() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.json::<serde_json::Value>().await.ok();
        let error = body.as_ref().map(|v| &v["error"]);
        let code = error.and_then(|e| e["code"].as_str()).unwrap_or("");
        if status == 503 && code == NOT_YET {
            sleep(1000).await;
            continue;
        }
        let message = error.and_then(|e| e["message"].as_str()).map(str::to_string);
        return Err(format!("{status}: {}", message.unwrap_or_else(|| resp.status_text())));
    }
}

/// A JSON route's answer.
async fn json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    let route = url.split('?').next().unwrap_or(url);
    fetch(|| Request::get(url)).await?.json().await.map_err(|e| format!("unexpected answer from /{route}: {e}"))
}

pub async fn meta() -> Result<Meta, String> {
    json("api/meta").await
}

/// The daily counts for a range, in the binary encoding, as a panel.
pub async fn daily(from: Option<Day>, to: Option<Day>) -> Result<Arc<Panel>, String> {
    let mut url = String::from("api/daily");
    let params: Vec<String> =
        [("from", from), ("to", to)].iter().filter_map(|(k, v)| v.map(|d| format!("{k}={d}"))).collect();
    if !params.is_empty() {
        url = format!("{url}?{}", params.join("&"));
    }
    let resp = fetch(|| Request::get(&url).header("Accept", MEDIA_TYPE)).await?;
    let bytes = resp.binary().await.map_err(|e| format!("reading /api/daily: {e}"))?;
    let (_, panel) = decode_panel(&bytes).map_err(|e| format!("bad /api/daily body: {e}"))?;
    Ok(Arc::new(panel))
}

/// What the drill-down shows of `/api/transactions`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Transactions {
    pub columns: Vec<String>,
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    pub truncated: bool,
}

/// The raw rows of one service-day (at most `limit`).
pub async fn transactions(service: String, date: Day, limit: u32) -> Result<Transactions, String> {
    let service = String::from(js_sys::encode_uri_component(&service));
    let url = format!("api/transactions?orderservice={service}&date={date}&limit={limit}");
    json(&url).await
}

/// `/api/progress`: how far the server's read of the table has got.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct LoadProgress {
    pub loading: bool,
    /// `reading`, `warehouse_starting`, `querying` or `downloading`.
    #[serde(default)]
    pub stage: Option<String>,
    pub rows_read: u64,
    pub rows_total: u64,
}

pub async fn progress() -> Option<LoadProgress> {
    json("api/progress").await.ok()
}

#[cfg(test)]
mod tests {
    use super::Meta;

    #[test]
    fn provenance_names_table_zone_and_freshness_to_the_minute() {
        let mut m = Meta {
            table: "gold.fact.x".into(),
            first: None,
            last: None,
            services: vec![],
            partial_days: vec![],
            timezone: "Europe/Paris".into(),
            latest_transaction: Some("2025-02-03T23:59:58.1+00:00".into()),
            fetched_at: "2026-11-24T23:56:43.52+00:00".into(),
        };
        assert_eq!(
            m.provenance(),
            "gold.fact.x · days in Europe/Paris · newest transaction 2025-02-03 23:59 UTC · read 2026-11-24 23:56 UTC"
        );
        m.latest_transaction = None;
        assert_eq!(m.provenance(), "gold.fact.x · days in Europe/Paris · read 2026-11-24 23:56 UTC");
        m.partial_days = vec![servicewatch_shared::Day::parse("2025-02-03").unwrap()];
        assert!(m.provenance().ends_with(" · partial days not flagged: 2025-02-03"), "{}", m.provenance());
    }
}
