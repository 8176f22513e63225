//! The requests the app makes: the three it needs before it scores
//! anything (meta, daily counts, marks), and the ones a person asks for
//! (a day's transactions, a mark). URLs are relative, so the app works
//! under any base path its page is served from.

use std::sync::Arc;

use gloo_net::http::Request;
use servicewatch_shared::codec::{decode_panel, MEDIA_TYPE};
use servicewatch_shared::wire::{DataSource, ErrorBody, ErrorDetail};
pub use servicewatch_shared::wire::{LoadProgress, Mark, MarkKind, MarkRequest, Marks, Meta, Transactions};
use servicewatch_shared::{Day, Panel};

/// One line on where the numbers come from and how fresh they are: sample
/// data said first when it is that, rows left out when there are any.
pub fn provenance(m: &Meta) -> String {
    let minute = |t: &str| t.get(..16).unwrap_or(t).replacen('T', " ", 1);
    let origin = match m.source {
        DataSource::Sample => "sample data (generated, not a real table)".to_string(),
        DataSource::Table => m.table.clone(),
    };
    let mut parts = vec![origin, format!("days in {}", m.timezone)];
    if let Some(t) = &m.latest_transaction {
        parts.push(format!("newest transaction {} UTC", minute(t)));
    }
    parts.push(format!("read {} UTC", minute(&m.fetched_at)));
    match m.dropped_rows.total() {
        0 => {}
        1 => parts.push("1 row without a service or a valid time left out".into()),
        n => parts.push(format!("{n} rows without a service or a valid time left out")),
    }
    if !m.partial_days.is_empty() {
        let days: Vec<String> = m.partial_days.iter().map(|d| d.to_string()).collect();
        parts.push(format!("partial days not flagged: {}", days.join(", ")));
    }
    match m.holidays.len() {
        0 => {}
        1 => parts.push("1 holiday named (setting `holidays`)".into()),
        n => parts.push(format!("{n} holidays named (setting `holidays`)")),
    }
    parts.join(" · ")
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

/// A request that failed: the server's error when it sent one.
struct Failure {
    detail: Option<ErrorDetail>,
    text: String,
}

/// A successful response to the request `make` builds, or the server's
/// error. While the server says it is still loading, asks again every
/// second (the loading bar shows why).
async fn send(make: impl Fn() -> Result<gloo_net::http::Request, String>) -> Result<gloo_net::http::Response, Failure> {
    loop {
        let request = make().map_err(|text| Failure { detail: None, text })?;
        let resp = request
            .send()
            .await
            .map_err(|e| Failure { detail: None, text: format!("cannot reach the server: {e}") })?;
        if resp.ok() {
            return Ok(resp);
        }
        let status = resp.status();
        let detail = resp.json::<ErrorBody>().await.ok().map(|b| b.error);
        if status == 503 && detail.as_ref().is_some_and(|e| e.code == NOT_YET) {
            sleep(1000).await;
            continue;
        }
        let message = detail.as_ref().map(|e| e.message.clone());
        let text = format!("{status}: {}", message.unwrap_or_else(|| resp.status_text()));
        return Err(Failure { detail, text });
    }
}

/// [`send`] for a GET built by `make`, its failure as text.
async fn fetch(make: impl Fn() -> gloo_net::http::RequestBuilder) -> Result<gloo_net::http::Response, String> {
    send(|| make().build().map_err(|e| format!("cannot build the request: {e}"))).await.map_err(|f| f.text)
}

/// A JSON route's answer.
async fn json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    let route = url.split('?').next().unwrap_or(url);
    fetch(|| Request::get(url)).await?.json().await.map_err(|e| format!("unexpected answer from /{route}: {e}"))
}

/// The table and the series of a view (`view`: its query parameters,
/// [`crate::state::Controls::view_query`]; empty for the default view).
pub async fn meta(view: String) -> Result<Meta, String> {
    let url = if view.is_empty() { "api/meta".to_string() } else { format!("api/meta?{view}") };
    json(&url).await
}

/// The daily values of a view for a range, in the binary encoding, as a
/// panel (the scoring worker gets a copy of the bytes: `crate::worker`).
pub async fn daily(from: Option<Day>, to: Option<Day>, view: &str) -> Result<Arc<Panel>, String> {
    let mut url = String::from("api/daily");
    let mut params: Vec<String> =
        [("from", from), ("to", to)].iter().filter_map(|(k, v)| v.map(|d| format!("{k}={d}"))).collect();
    if !view.is_empty() {
        params.push(view.to_string());
    }
    if !params.is_empty() {
        url = format!("{url}?{}", params.join("&"));
    }
    let shared = crate::worker::next_id();
    let resp = fetch(|| Request::get(&url).header("Accept", MEDIA_TYPE)).await?;
    let reading = |e: wasm_bindgen::JsValue| format!("reading /api/daily: {}", e.as_string().unwrap_or_default());
    let body = web_sys::Response::from(resp).array_buffer().map_err(reading)?;
    let buffer: js_sys::ArrayBuffer = wasm_bindgen_futures::JsFuture::from(body).await.map_err(reading)?.into();
    // The scoring worker decodes its copy while this thread decodes its own.
    crate::worker::share(shared, &buffer);
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    let (_, panel) = decode_panel(&bytes).map_err(|e| format!("bad /api/daily body: {e}"))?;
    let panel = Arc::new(panel);
    crate::worker::holds(shared, &panel);
    Ok(panel)
}

/// The raw rows of one service-day (at most `limit`).
pub async fn transactions(service: String, date: Day, limit: u32) -> Result<Transactions, String> {
    let service = String::from(js_sys::encode_uri_component(&service));
    let url = format!("api/transactions?orderservice={service}&date={date}&limit={limit}");
    json(&url).await
}

/// The error code of a server that keeps no marks (`servicewatch serve`
/// built without a store): the app hides its mark controls.
const NOT_AVAILABLE: &str = "not_available";

/// The current marks (cleared ones left out); `None` when this server
/// keeps none.
pub async fn marks() -> Result<Option<Vec<Mark>>, String> {
    match send(|| Request::get("api/marks").build().map_err(|e| format!("cannot build the request: {e}"))).await {
        Ok(resp) => {
            let body: Marks = resp.json().await.map_err(|e| format!("unexpected answer from /api/marks: {e}"))?;
            Ok(Some(body.marks))
        }
        Err(f) if f.detail.as_ref().is_some_and(|d| d.code == NOT_AVAILABLE) => Ok(None),
        Err(f) => Err(format!("cannot read the marks: {}", f.text)),
    }
}

/// Marks a series-day (`MarkKind::Cleared` takes its mark back): the
/// stored mark, or why nothing was saved.
pub async fn post_mark(request: MarkRequest) -> Result<Mark, String> {
    let what = format!("{} on {}", request.series, request.date);
    let resp = send(|| Request::post("api/marks").json(&request).map_err(|e| format!("cannot encode the mark: {e}")))
        .await
        .map_err(|f| format!("the mark of {what} was not saved: {}", f.text))?;
    resp.json().await.map_err(|e| format!("unexpected answer from /api/marks: {e}"))
}

/// `/api/progress`: how far the server's read of the table has got.
pub async fn progress() -> Option<LoadProgress> {
    json("api/progress").await.ok()
}

#[cfg(test)]
mod tests {
    use super::{provenance, Meta};
    use servicewatch_shared::wire::{DataSource, DroppedRows};

    fn meta() -> Meta {
        Meta {
            table: "gold.fact.x".into(),
            source: DataSource::Table,
            warehouse: "embedded".into(),
            timezone: "Europe/Paris".into(),
            first: None,
            last: None,
            partial_days: vec![],
            holidays: vec![],
            rows: 10,
            dropped_rows: DroppedRows::default(),
            service_days: 0,
            services: vec![],
            latest_transaction: Some("2025-02-03T23:59:58.1+00:00".into()),
            fetched_at: "2026-11-24T23:56:43.52+00:00".into(),
            max_span_days: 3660,
            metrics: vec![],
            dimensions: vec![],
            amount_decimals: 2,
            not_summed: None,
            units: Default::default(),
        }
    }

    #[test]
    fn provenance_names_table_zone_and_freshness_to_the_minute() {
        let mut m = meta();
        assert_eq!(
            provenance(&m),
            "gold.fact.x · days in Europe/Paris · newest transaction 2025-02-03 23:59 UTC · read 2026-11-24 23:56 UTC"
        );
        m.latest_transaction = None;
        assert_eq!(provenance(&m), "gold.fact.x · days in Europe/Paris · read 2026-11-24 23:56 UTC");
        m.partial_days = vec![servicewatch_shared::Day::parse("2025-02-03").unwrap()];
        assert!(provenance(&m).ends_with(" · partial days not flagged: 2025-02-03"), "{}", provenance(&m));
        m.holidays = vec![servicewatch_shared::Day::parse("2024-12-25").unwrap(); 2];
        assert!(provenance(&m).ends_with(" · 2 holidays named (setting `holidays`)"), "{}", provenance(&m));
    }

    #[test]
    fn provenance_says_sample_data_and_rows_left_out() {
        let mut m = meta();
        m.source = DataSource::Sample;
        let line = provenance(&m);
        assert!(line.starts_with("sample data (generated, not a real table) · "), "{line}");
        assert!(!line.contains("gold.fact.x"), "{line}");
        m.dropped_rows = DroppedRows { null_service: 5, null_timestamp: 6, out_of_range: 1 };
        assert!(provenance(&m).contains(" · 12 rows without a service or a valid time left out"), "{}", provenance(&m));
        m.dropped_rows = DroppedRows { null_service: 0, null_timestamp: 1, out_of_range: 0 };
        assert!(provenance(&m).contains(" · 1 row without a service or a valid time left out"), "{}", provenance(&m));
        // A server without the new fields still reads as a table with nothing left out.
        let old = r#"{"table":"t","warehouse":"embedded","timezone":"UTC","first":null,"last":null,"rows":1,
            "service_days":0,"services":[],"latest_transaction":null,"fetched_at":"x","max_span_days":1}"#;
        let old: Meta = serde_json::from_str(old).unwrap();
        assert_eq!((old.source, old.dropped_rows.total()), (DataSource::Table, 0));
    }
}
