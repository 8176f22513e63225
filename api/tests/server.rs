//! The real server on 127.0.0.1 over real files, checked against counts and
//! scores computed independently in the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
mod common;

use common::{start, temp_dir};
use servicewatch::config::Layer;
use servicewatch::http::anomalies_score;
use servicewatch_shared::codec;
use servicewatch_shared::wire::{Anomalies, Daily};
use servicewatch_shared::{BaselineParams, Day, Direction, FlagParams, Method};

async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Every row of the Parquet file as (service, UTC microseconds), without SQL.
fn read_parquet(path: &Path) -> Vec<(String, i64)> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let ts = batch.column_by_name("transaction_timestamp").unwrap();
        let ts = ts.as_any().downcast_ref::<datafusion::arrow::array::TimestampMicrosecondArray>().unwrap();
        let svc = batch.column_by_name("orderservice").unwrap();
        let svc = svc.as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap();
        rows.extend((0..batch.num_rows()).map(|i| (svc.value(i).to_string(), ts.value(i))));
    }
    rows
}

const DAY_US: i64 = 86_400_000_000;

/// The days the file covers only in part: first and last days whose data
/// starts or ends more than an hour inside them (UTC).
fn partial_days(path: &Path) -> Vec<Day> {
    let ts: Vec<i64> = read_parquet(path).into_iter().map(|r| r.1).collect();
    let (lo, hi) = (*ts.iter().min().unwrap(), *ts.iter().max().unwrap());
    let hour_us = 3_600_000_000i64;
    let mut out = Vec::new();
    if lo.rem_euclid(DAY_US) > hour_us {
        out.push(Day(lo.div_euclid(DAY_US) as i32));
    }
    if DAY_US - hi.rem_euclid(DAY_US) > hour_us {
        out.push(Day(hi.div_euclid(DAY_US) as i32));
    }
    out
}

/// Counts per (service, UTC day) straight from the Parquet file, without SQL.
fn count_parquet(path: &Path) -> BTreeMap<(String, i32), u64> {
    let mut counts = BTreeMap::new();
    for (svc, ts) in read_parquet(path) {
        *counts.entry((svc, ts.div_euclid(DAY_US) as i32)).or_insert(0) += 1;
    }
    counts
}

fn flatten(daily: &Daily) -> BTreeMap<(String, i32), u64> {
    let mut m = BTreeMap::new();
    for s in &daily.series {
        for (d, v) in s.dates.iter().zip(&s.values) {
            m.insert((s.key.clone(), d.0), *v);
        }
    }
    m
}

fn sample_file_in(name: &str) -> PathBuf {
    common::sample_file(name, 7, 12, 120)
}

#[tokio::test]
async fn daily_is_exact_and_anomalies_equal_the_engine() {
    let file = sample_file_in("exact");
    let truth = count_parquet(&file);
    let srv = start(&file, "", Layer::default()).await;

    let (status, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["rows"].as_u64().unwrap(), truth.values().sum::<u64>());
    assert_eq!(meta["first"], "2024-01-01");
    // The sample starts at 11:00 on its first day and stops at 13:00 on its last.
    let partial = partial_days(&file);
    assert_eq!(partial.len(), 2);
    assert_eq!(serde_json::from_value::<Vec<Day>>(meta["partial_days"].clone()).unwrap(), partial);

    // The whole range, then a sub-range with a service filter.
    let (status, body) = get(&format!("{}/api/daily", srv.base)).await;
    assert_eq!(status, 200);
    let daily: Daily = serde_json::from_value(body).unwrap();
    assert_eq!(flatten(&daily), truth);

    let svc = &daily.series[1].key;
    let url = format!("{}/api/daily?from=2024-02-01&to=2024-02-29&services={svc}", srv.base);
    let part: Daily = serde_json::from_value(get(&url).await.1).unwrap();
    let want: BTreeMap<_, _> = truth
        .iter()
        .filter(|((s, d), _)| {
            s == svc && (Day::parse("2024-02-01").unwrap().0..=Day::parse("2024-02-29").unwrap().0).contains(d)
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(flatten(&part), want);

    // /api/anomalies is the shared engine on exactly those aggregates.
    let panel = daily.to_panel().unwrap();
    for (query, method, weekly, z, min_days, min_count, direction) in [
        ("", Method::Robust, true, 3.0, 7, 0, Direction::Both),
        ("method=classic&z=2.5&min_days=30", Method::Classic, false, 2.5, 30, 0, Direction::Both),
        (
            "method=robust&weekly=false&z=4&direction=spikes&min_count=20",
            Method::Robust,
            false,
            4.0,
            7,
            20,
            Direction::Spikes,
        ),
        (
            "method=classic&weekly=false&from=2024-02-01&to=2024-03-15&direction=drops&z=1.5",
            Method::Classic,
            false,
            1.5,
            7,
            0,
            Direction::Drops,
        ),
    ] {
        let url = format!("{}/api/anomalies?limit=100000&{query}", srv.base);
        let (status, body) = get(&url).await;
        assert_eq!(status, 200, "{query}: {body}");
        let got: Anomalies = serde_json::from_value(body).unwrap();
        let from = query.contains("from=").then(|| Day::parse("2024-02-01").unwrap());
        let to = query.contains("to=").then(|| Day::parse("2024-03-15").unwrap());
        let b = BaselineParams {
            from: from.or(daily.series.iter().flat_map(|s| s.dates.first()).min().copied()),
            to: to.or(Some(daily.to)),
            method,
            weekly,
            partial: partial.clone(),
        };
        let f = FlagParams { z, min_days, min_count, direction, services: None };
        let want = anomalies_score(&panel, &b, &f, usize::MAX);
        // Bit-equal: serde_json parses floats exactly (float_roundtrip).
        assert_eq!(got, want, "{query}");
        // Asked again, the cached baselines give the same answer.
        let again: Anomalies = serde_json::from_value(get(&url).await.1).unwrap();
        assert_eq!(again, want, "{query}, cached");
        assert!(query.is_empty() || !got.anomalies.is_empty() || got.metrics.anomalous == 0);
    }
}

/// The original app's logic, written independently: per service, mean and
/// sample sd of the days in range with transactions; flag |z| >= z.
#[tokio::test]
async fn classic_matches_the_original_logic() {
    let file = sample_file_in("classic");
    let truth = count_parquet(&file);
    let srv = start(&file, "", Layer::default()).await;
    let (z, min_days, min_count) = (2.0, 20u64, 5u64);
    let url = format!(
        "{}/api/anomalies?method=classic&z={z}&min_days={min_days}&min_count={min_count}&limit=100000",
        srv.base
    );
    let got: Anomalies = serde_json::from_value(get(&url).await.1).unwrap();
    let mut by_service: BTreeMap<&str, Vec<(i32, u64)>> = BTreeMap::new();
    for ((s, d), c) in &truth {
        by_service.entry(s).or_default().push((*d, *c));
    }
    let mut want = Vec::new();
    for (s, days) in &by_service {
        let n = days.len() as f64;
        if (days.len() as u64) < min_days || days.len() < 2 {
            continue;
        }
        let mean = days.iter().map(|d| d.1 as f64).sum::<f64>() / n;
        let sd = (days.iter().map(|d| (d.1 as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        for (d, c) in days {
            let zz = (*c as f64 - mean) / sd;
            if sd > 0.0 && zz.abs() >= z && *c >= min_count {
                want.push((s.to_string(), *d));
            }
        }
    }
    let mut have: Vec<(String, i32)> = got.anomalies.iter().map(|a| (a.key.clone(), a.date.0)).collect();
    have.sort();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(have, want);
    assert_eq!(got.metrics.total, truth.values().sum::<u64>());
}

#[tokio::test]
async fn day_boundaries_and_time_zones_in_csv() {
    let dir = temp_dir("csv");
    let csv = dir.join("tx.csv");
    // Days are UTC: an offset moves a row to the UTC day it happened on.
    std::fs::write(
        &csv,
        "transaction_id,transaction_timestamp,orderservice,amount\n\
         1,2024-03-01T00:00:00Z,brakes,10.0\n\
         2,2024-03-01T23:59:59.999Z,brakes,10.0\n\
         3,2024-03-02T00:00:00Z,brakes,10.0\n\
         4,2024-03-01T23:30:00-02:00,brakes,10.0\n\
         5,2024-03-02T00:30:00+01:00,brakes,10.0\n\
         6,2024-03-02T12:00:00Z,tyres,5.0\n",
    )
    .unwrap();
    let srv = start(&csv, "", Layer::default()).await;
    let (status, body) = get(&format!("{}/api/daily", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    let daily: Daily = serde_json::from_value(body).unwrap();
    let got = flatten(&daily);
    let d1 = Day::parse("2024-03-01").unwrap().0;
    assert_eq!(got.get(&("brakes".into(), d1)), Some(&3)); // rows 1, 2, 5
    assert_eq!(got.get(&("brakes".into(), d1 + 1)), Some(&2)); // rows 3, 4
    assert_eq!(got.get(&("tyres".into(), d1 + 1)), Some(&1));
    let (status, body) = get(&format!("{}/api/transactions?orderservice=brakes&date=2024-03-02", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn service_names_may_hold_commas() {
    let dir = temp_dir("comma");
    let csv = dir.join("tx.csv");
    std::fs::write(
        &csv,
        "transaction_id,transaction_timestamp,orderservice\n\
         1,2024-03-01T10:00:00Z,\"Brakes, front\"\n\
         2,2024-03-01T11:00:00Z,\"Brakes, front\"\n\
         3,2024-03-01T12:00:00Z,Brakes\n\
         4,2024-03-01T13:00:00Z,front\n",
    )
    .unwrap();
    let srv = start(&csv, "", Layer::default()).await;
    // Commas separate names, and a name may hold one: the known name wins,
    // however the comma is encoded.
    let (status, body) = get(&format!("{}/api/daily?services=Brakes%2C%20front,front", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    let got = flatten(&serde_json::from_value(body).unwrap());
    let d = Day::parse("2024-03-01").unwrap().0;
    let want = BTreeMap::from([(("Brakes, front".to_string(), d), 2), (("front".to_string(), d), 1)]);
    assert_eq!(got, want);
    let (status, body) = get(&format!("{}/api/anomalies?services=Brakes,+front&z=0&min_days=0", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metrics"]["total"], 2);
    let (status, body) = get(&format!("{}/api/anomalies?services=front,Brakes&z=0&min_days=0", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metrics"]["total"], 2, "two names, not one");
}

#[tokio::test]
async fn days_follow_the_configured_time_zone_across_daylight_saving() {
    use chrono::TimeZone;
    let paris = chrono_tz::Europe::Paris;
    // A row every 7 minutes around both 2024 transitions, as UTC instants.
    let mut csv = String::from("transaction_id,transaction_timestamp,orderservice\n");
    let mut truth: BTreeMap<(String, i32), u64> = BTreeMap::new();
    let mut id = 0;
    for start in ["2024-03-29T00:00:00Z", "2024-10-25T00:00:00Z"] {
        let start = chrono::DateTime::parse_from_rfc3339(start).unwrap().with_timezone(&chrono::Utc);
        for k in 0..(4 * 24 * 60 / 7) {
            let t = start + chrono::Duration::minutes(7 * k);
            let svc = if k % 3 == 0 { "brakes" } else { "tyres" };
            id += 1;
            csv.push_str(&format!("{id},{},{svc}\n", t.format("%Y-%m-%dT%H:%M:%SZ")));
            let day = Day::from_date(paris.from_utc_datetime(&t.naive_utc()).date_naive());
            *truth.entry((svc.to_string(), day.0)).or_default() += 1;
        }
    }
    let dir = temp_dir("tz");
    let path = dir.join("tx.csv");
    std::fs::write(&path, csv).unwrap();
    let srv = start(&path, "", Layer { time_zone: Some("Europe/Paris".into()), ..Layer::default() }).await;

    let (status, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["timezone"], "Europe/Paris");
    assert_eq!(meta["first"], "2024-03-29"); // 00:00 UTC is 01:00 in Paris
    assert_eq!(meta["last"], "2024-10-29"); // 23:53 UTC is 00:53 the next day

    let (status, body) = get(&format!("{}/api/daily?from=2024-03-01&to=2024-11-30", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    let got = flatten(&serde_json::from_value(body).unwrap());
    assert_eq!(got, truth);
    // The 23-hour and 25-hour days hold 23 and 25 hours of rows.
    let both = |d: &str| {
        let d = Day::parse(d).unwrap().0;
        truth.get(&("brakes".into(), d)).unwrap() + truth.get(&("tyres".into(), d)).unwrap()
    };
    let rows_in = |hours: u64| (hours * 60 / 7)..=(hours * 60).div_ceil(7);
    assert!(rows_in(23).contains(&both("2024-03-31")));
    assert!(rows_in(24).contains(&both("2024-03-30")));
    assert!(rows_in(25).contains(&both("2024-10-27")));

    // Drill-down uses the same day: all brakes rows of the short day.
    let (status, body) =
        get(&format!("{}/api/transactions?orderservice=brakes&date=2024-03-31&limit=1000", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    let want = truth[&("brakes".to_string(), Day::parse("2024-03-31").unwrap().0)];
    assert_eq!(body["rows"].as_array().unwrap().len() as u64, want);
}

#[tokio::test]
async fn bad_requests_get_clear_400s() {
    let file = sample_file_in("bad");
    let max_span = Layer { max_span_days: Some(60), ..Layer::default() };
    let srv = start(&file, "", max_span).await;
    let cases = [
        ("/api/daily?from=2024-02-30", "not a date"),
        ("/api/daily?from=24-01-01", "not a date"),
        ("/api/daily?from=2024-03-01&to=2024-02-01", "is after"),
        ("/api/daily?from=2024-01-01&to=2024-12-31", "longer than 60 days"),
        ("/api/daily?services=nope", "unknown service `nope`"),
        ("/api/daily?services=SVC-0001'%3B%20DROP%20TABLE%20x%3B--", "unknown service"),
        ("/api/daily?frm=2024-01-01", "unknown parameter `frm`"),
        ("/api/anomalies?z=NaN", "`z`"),
        ("/api/anomalies?z=-1", "`z`"),
        ("/api/anomalies?limit=1000000000000", "`limit`"),
        ("/api/anomalies?method=magic", "unknown method `magic`"),
        ("/api/anomalies?direction=up", "unknown direction"),
        ("/api/anomalies?weekly=maybe", "`weekly`"),
        ("/api/anomalies?min_days=-3", "`min_days`"),
        ("/api/transactions?date=2024-01-05", "`orderservice` is required"),
        ("/api/transactions?orderservice=SVC-0001", "`date` is required"),
        ("/api/transactions?orderservice=SVC-0001&date=2024-01-05&limit=5000", "`limit`"),
        ("/api/anomalies?z=2&z=3", "`z` is given more than once"),
        ("/api/daily?services=SVC-0001,SVC-9999", "unknown service `SVC-9999`"),
    ];
    for (path, message) in cases {
        let (status, body) = get(&format!("{}{path}", srv.base)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{path}");
        let text = body["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{path}: {text}");
    }
    let long = format!("{}/api/daily?services={}", srv.base, "a".repeat(10_000));
    assert_eq!(get(&long).await.0, 400);
}

#[tokio::test]
async fn base_path_etag_and_health() {
    let file = sample_file_in("base");
    let srv = start(&file, "/tools/servicewatch", Layer::default()).await;
    assert_eq!(get(&format!("{}/healthz", srv.base)).await.0, 200);
    let (status, ready) = get(&format!("{}/readyz", srv.base)).await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));
    let root = srv.base.trim_end_matches("/tools/servicewatch");
    assert_eq!(get(&format!("{root}/api/meta")).await.0, 404);

    let client = reqwest::Client::new();
    let url = format!("{}/api/daily?from=2024-01-01&to=2024-01-31", srv.base);
    let first = client.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 304);
    let gz = client.get(&url).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");

    // The binary encoding carries exactly what the JSON does.
    let json: Daily = client.get(&url).send().await.unwrap().json().await.unwrap();
    let bin = client.get(&url).header("accept", codec::MEDIA_TYPE).send().await.unwrap();
    assert_eq!(bin.headers()["content-type"], codec::MEDIA_TYPE);
    let bytes = bin.bytes().await.unwrap();
    assert_eq!(codec::decode(&bytes).unwrap(), json);
    assert!(bytes.len() * 3 < serde_json::to_vec(&json).unwrap().len());
}

/// A trunk-like dist folder: an index.html with an inline loader and one
/// hashed asset. Returns the folder and the loader's CSP hash, computed here.
fn fake_dist() -> (PathBuf, String, String) {
    use base64::Engine;
    use sha2::Digest;
    let dist = temp_dir("dist");
    let loader = "\nimport init from './app-0123456789abcdef.js';\nawait init();\n";
    let index = format!(
        "<!doctype html><html><head><script src=\"plotly-basic.min.js\"></script>\n\
         <script type=\"module\">{loader}</script></head><body></body></html>"
    );
    std::fs::write(dist.join("index.html"), &index).unwrap();
    std::fs::write(dist.join("app-0123456789abcdef.js"), "export default function init() {}").unwrap();
    std::fs::write(dist.join("app-0123456789abcdef_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dist.join("plotly-basic.min.js"), "window.Plotly = {};").unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(loader));
    (dist, index, format!("'sha256-{hash}'"))
}

async fn serve_dist(data: &Path, dist: PathBuf, extra: Layer) -> common::Server {
    let layer = Layer {
        warehouse: servicewatch::config::WarehouseLayer { data: Some(data.to_path_buf()), ..Default::default() },
        ..Layer::default()
    };
    let config = servicewatch::config::Config::from_layers(&[extra, layer]).unwrap();
    let warehouse = servicewatch::open_warehouse(&config).await.unwrap();
    common::serve_app(servicewatch::http::AppState::new(warehouse, config, dist), "").await
}

#[tokio::test]
async fn missing_files_and_api_paths_are_404s_and_the_app_keeps_its_routes() {
    let file = sample_file_in("spa");
    let (dist, index, _) = fake_dist();
    let srv = serve_dist(&file, dist, Layer::default()).await;
    let client = reqwest::Client::new();
    let fetch = |path: &str| client.get(format!("{}{path}", srv.base)).send();
    let header = |r: &reqwest::Response, name: &str| {
        r.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    };
    // The page, at / and at any extension-less path (the app's own routes).
    for path in ["/", "/index.html", "/some/view", "/some/view?z=2.5"] {
        let r = fetch(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(header(&r, "content-type").starts_with("text/html"), "{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
        assert_eq!(r.text().await.unwrap(), index, "{path}");
    }
    for path in ["/app-0123456789abcdef.js", "/app-0123456789abcdef_bg.wasm"] {
        let r = fetch(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "cache-control"), "public, max-age=31536000, immutable", "{path}");
    }
    let r = fetch("/plotly-basic.min.js").await.unwrap();
    assert_eq!((r.status().as_u16(), header(&r, "cache-control")), (200, "no-cache".into()));
    // A missing hashed asset (an old build's) or any missing file is a 404,
    // never the page cached for a year.
    for path in ["/app-fedcba9876543210.js", "/app-fedcba9876543210_bg.wasm", "/favicon.ico", "/deep/x.css"] {
        let r = fetch(path).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(!header(&r, "cache-control").contains("immutable"), "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // Unknown API paths are JSON 404s in the API's error body.
    for path in ["/api/nope", "/api/meta/more", "/api", "/api/anomalies.csv"] {
        let r = fetch(path).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(header(&r, "content-type"), "application/json", "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!((body["error"]["status"].as_u64(), body["error"]["code"].as_str()), (Some(404), Some("not_found")));
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let file = sample_file_in("csp");
    let (dist, _, loader) = fake_dist();
    let portal = Layer { frame_ancestors: Some("'self' https://portal.example.com".into()), ..Layer::default() };
    let srv = serve_dist(&file, dist, portal).await;
    for path in ["/", "/some/view", "/app-0123456789abcdef.js", "/favicon.ico", "/api/meta", "/api/nope", "/healthz"] {
        let r = reqwest::get(format!("{}{path}", srv.base)).await.unwrap();
        let h = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let csp = h("content-security-policy");
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        for want in [
            "default-src 'self'".to_string(),
            format!("script-src 'self' 'wasm-unsafe-eval' {loader}"),
            "img-src 'self' data: blob:".into(),
            "connect-src 'self'".into(),
            "frame-ancestors 'self' https://portal.example.com".into(),
        ] {
            assert!(directives.contains(&want.as_str()), "{path}: `{want}` not in `{csp}`");
        }
        assert!(directives.iter().any(|d| d.starts_with("style-src 'self'")), "{path}: {csp}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "strict-origin-when-cross-origin", "{path}");
    }
    // Without the setting, only the app itself may frame it.
    let srv = start(&file, "", Layer::default()).await;
    let r = reqwest::get(format!("{}/healthz", srv.base)).await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.ends_with("frame-ancestors 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"), "no app, no hashes: {csp}");
}

/// A warehouse that never answers.
struct Hanging;

#[async_trait::async_trait]
impl servicewatch::warehouse::Warehouse for Hanging {
    fn kind(&self) -> &'static str {
        "hanging"
    }
    async fn daily(
        &self,
        _: &servicewatch::warehouse::DailyQuery,
        _: &servicewatch::warehouse::Caller,
        _: &tokio_util::sync::CancellationToken,
        _: &servicewatch::warehouse::Progress,
    ) -> Result<servicewatch_shared::Panel, servicewatch::warehouse::WarehouseError> {
        std::future::pending().await
    }
    async fn bounds(
        &self,
        _: &servicewatch::warehouse::Caller,
        _: &tokio_util::sync::CancellationToken,
        _: &servicewatch::warehouse::Progress,
    ) -> Result<servicewatch::warehouse::Bounds, servicewatch::warehouse::WarehouseError> {
        std::future::pending().await
    }
    async fn transactions(
        &self,
        _: &str,
        _: Day,
        _: u32,
        _: &servicewatch::warehouse::Caller,
        _: &tokio_util::sync::CancellationToken,
    ) -> Result<servicewatch::warehouse::Rows, servicewatch::warehouse::WarehouseError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn timeouts_and_large_bodies_answer_the_error_body() {
    let config = servicewatch::config::Config::from_layers(&[]).unwrap();
    let mut state = servicewatch::http::AppState::new(std::sync::Arc::new(Hanging), config, PathBuf::from("no-dist"));
    state.request_timeout = std::time::Duration::from_millis(300);
    let srv = common::serve_app(state, "").await;
    let r = reqwest::get(format!("{}/api/meta", srv.base)).await.unwrap();
    assert_eq!(r.status(), 504);
    assert!(r.headers().contains_key("content-security-policy"));
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["error"]["status"].as_u64(), body["error"]["code"].as_str()), (Some(504), Some("timeout")));

    let big = vec![b'x'; 100 * 1024];
    let r = reqwest::Client::new().post(format!("{}/api/refresh", srv.base)).body(big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["error"]["status"].as_u64(), body["error"]["code"].as_str()), (Some(413), Some("too_large")));
    assert!(body["error"]["message"].as_str().unwrap().contains("65536 bytes"), "{body}");
}

#[tokio::test]
async fn a_refused_coding_is_not_sent_and_responses_vary_by_it() {
    let file = sample_file_in("gzip");
    let srv = start(&file, "", Layer::default()).await;
    let client = reqwest::Client::new();
    for path in ["/api/daily", "/api/openapi.json", "/api/anomalies?limit=1000"] {
        let url = format!("{}{path}", srv.base);
        for (accept, gzip) in [("gzip", true), ("gzip;q=0.5", true), ("gzip;q=0", false), ("br, GZIP; Q=0.0", false)] {
            let r = client.get(&url).header("accept-encoding", accept).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let encoding = r.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string());
            assert_eq!(encoding.as_deref() == Some("gzip"), gzip, "{path} with {accept}: {encoding:?}");
            let vary = r.headers().get_all("vary").iter().map(|v| v.to_str().unwrap().to_ascii_lowercase());
            assert!(vary.collect::<Vec<_>>().join(",").contains("accept-encoding"), "{path} with {accept}");
            if !gzip {
                let _: Value = r.json().await.unwrap();
            }
        }
    }
}

/// Fails until `/api/daily` (http/data.rs) gives its gzip body an ETag of
/// its own: a cache holding one encoding must not revalidate the other.
#[tokio::test]
#[ignore = "needs http/data.rs to tag the gzip body apart (see the report of issue 11 item 6)"]
async fn gzip_and_plain_bodies_have_distinct_etags() {
    let file = sample_file_in("etag");
    let srv = start(&file, "", Layer::default()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/daily", srv.base);
    let plain = client.get(&url).send().await.unwrap();
    let gz = client.get(&url).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let (plain, gz) = (plain.headers()["etag"].clone(), gz.headers()["etag"].clone());
    assert_ne!(plain, gz);
    // Each ETag revalidates its own encoding only.
    let r = client.get(&url).header("accept-encoding", "gzip").header("if-none-match", &plain).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client.get(&url).header("accept-encoding", "gzip").header("if-none-match", &gz).send().await.unwrap();
    assert_eq!(r.status(), 304);
}
