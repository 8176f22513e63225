//! The real server on 127.0.0.1 over real files, checked against counts and
//! scores computed independently in the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
mod common;

use common::{start, temp_dir};
use servicewatch::config::Layer;
use servicewatch_shared::codec;
use servicewatch_shared::wire::{Anomalies, Daily};
use servicewatch_shared::{BaselineParams, Day, Direction, FlagParams, Method, Scores};

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

/// The days the file covers only in part (UTC): the first day when its
/// data starts more than an hour into it, the last when it is today, or
/// when the file's newest row is over a week old (an extract) and it
/// stops more than an hour before midnight.
fn partial_days(path: &Path) -> Vec<Day> {
    let ts: Vec<i64> = read_parquet(path).into_iter().map(|r| r.1).collect();
    let (lo, hi) = (*ts.iter().min().unwrap(), *ts.iter().max().unwrap());
    let hour_us = 3_600_000_000i64;
    let now = chrono::Utc::now().timestamp_micros();
    let today = now.div_euclid(DAY_US);
    let mut out = Vec::new();
    if lo.rem_euclid(DAY_US) > hour_us {
        out.push(Day(lo.div_euclid(DAY_US) as i32));
    }
    let extract = now - hi > 7 * DAY_US;
    if hi.div_euclid(DAY_US) >= today || (extract && DAY_US - hi.rem_euclid(DAY_US) > hour_us) {
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
    // The sample starts at 11:00 on its first day and stops at 13:00 on
    // its last, two years before the read: an extract, both ends partial.
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
            ..Default::default()
        };
        let f = FlagParams { z, min_days, min_count, direction, services: None };
        let want = Scores::compute(&panel, &b).anomalies(&f, usize::MAX);
        // Bit-equal: serde_json parses floats exactly (float_roundtrip).
        assert_eq!(got, want, "{query}");
        // Asked again, the cached baselines give the same answer.
        let again: Anomalies = serde_json::from_value(get(&url).await.1).unwrap();
        assert_eq!(again, want, "{query}, cached");
        // The sample has injected anomalies the defaults find, and every
        // flagged day is listed (the limit is above them all).
        if query.is_empty() {
            assert!(!got.anomalies.is_empty(), "the defaults flag nothing on data with anomalies");
        }
        assert_eq!(got.anomalies.len() as u64, got.metrics.anomalous.min(100_000), "{query}");
        // A small limit cuts the same ranking and keeps the metrics whole.
        let url = format!("{}/api/anomalies?limit=3&{query}", srv.base);
        let top: Anomalies = serde_json::from_value(get(&url).await.1).unwrap();
        assert_eq!(top.anomalies.len() as u64, got.metrics.anomalous.min(3), "{query}");
        assert_eq!(top.anomalies[..], got.anomalies[..top.anomalies.len()], "{query}");
        assert_eq!(top.metrics, got.metrics, "{query}");
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
    // A default never contradicts a given day: an empty range, not a 400.
    for path in ["/api/daily?to=2000-01-01", "/api/anomalies?to=2000-01-01", "/api/daily?from=2099-01-01"] {
        let (status, body) = get(&format!("{}{path}", srv.base)).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // A well-formed list naming a service the data does not have: 404.
    let unknown = [
        ("/api/daily?services=nope", "unknown service `nope`"),
        ("/api/daily?services=SVC-0001'%3B%20DROP%20TABLE%20x%3B--", "unknown service"),
        ("/api/daily?services=SVC-0001,SVC-9999", "unknown service `SVC-9999`"),
        ("/api/anomalies?services=SVC-0001&services=SVC-9999", "unknown service `SVC-9999`"),
    ];
    for (path, message) in unknown {
        let (status, body) = get(&format!("{}{path}", srv.base)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{path}: {body}");
    }
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
    ) -> Result<servicewatch::warehouse::Aggregates, servicewatch::warehouse::WarehouseError> {
        std::future::pending().await
    }
    async fn columns(
        &self,
        _: &servicewatch::warehouse::Caller,
        _: &tokio_util::sync::CancellationToken,
    ) -> Result<Vec<String>, servicewatch::warehouse::WarehouseError> {
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

/// `/api/daily` gives its gzip body an ETag of its own: a cache holding
/// one encoding must not revalidate the other.
#[tokio::test]
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
    assert!(r.headers()["vary"].to_str().unwrap().contains("accept-encoding"));
    let r = client.get(&url).header("if-none-match", &gz).send().await.unwrap();
    assert_eq!(r.status(), 200, "the gzip ETag does not revalidate the plain body");
    // Codings are case-insensitive: an upper-case GZIP gets the gzip body
    // under its own tag, not the plain tag on a body compressed later.
    let r = client.get(&url).header("accept-encoding", "GZIP").send().await.unwrap();
    assert_eq!((r.headers()["content-encoding"].clone(), r.headers()["etag"].clone()), ("gzip".parse().unwrap(), gz));
}

/// What the server asked of the warehouse [`Counting`] wraps.
#[derive(Default)]
struct Calls {
    daily: std::sync::Mutex<Vec<servicewatch::view::View>>,
    columns: std::sync::atomic::AtomicUsize,
    transactions: std::sync::atomic::AtomicUsize,
}

/// The embedded warehouse, counting the server's calls.
struct Counting {
    inner: std::sync::Arc<dyn servicewatch::warehouse::Warehouse>,
    calls: std::sync::Arc<Calls>,
}

/// A server over a sample file whose warehouse counts its calls.
async fn counting_server(name: &str) -> (common::Server, std::sync::Arc<Calls>) {
    let layer = Layer {
        warehouse: servicewatch::config::WarehouseLayer { data: Some(sample_file_in(name)), ..Default::default() },
        ..Layer::default()
    };
    let config = servicewatch::config::Config::from_layers(&[layer]).unwrap();
    let calls = std::sync::Arc::new(Calls::default());
    let inner = servicewatch::open_warehouse(&config).await.unwrap();
    let wh = Counting { inner, calls: std::sync::Arc::clone(&calls) };
    (common::serve_state(std::sync::Arc::new(wh), config, "").await, calls)
}

#[async_trait::async_trait]
impl servicewatch::warehouse::Warehouse for Counting {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn daily(
        &self,
        q: &servicewatch::warehouse::DailyQuery,
        who: &servicewatch::warehouse::Caller,
        cancel: &tokio_util::sync::CancellationToken,
        progress: &servicewatch::warehouse::Progress,
    ) -> Result<servicewatch::warehouse::Aggregates, servicewatch::warehouse::WarehouseError> {
        self.calls.daily.lock().unwrap().push(q.view.clone());
        self.inner.daily(q, who, cancel, progress).await
    }
    async fn columns(
        &self,
        who: &servicewatch::warehouse::Caller,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Vec<String>, servicewatch::warehouse::WarehouseError> {
        self.calls.columns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.columns(who, cancel).await
    }
    async fn bounds(
        &self,
        who: &servicewatch::warehouse::Caller,
        cancel: &tokio_util::sync::CancellationToken,
        progress: &servicewatch::warehouse::Progress,
    ) -> Result<servicewatch::warehouse::Bounds, servicewatch::warehouse::WarehouseError> {
        self.inner.bounds(who, cancel, progress).await
    }
    async fn transactions(
        &self,
        service: &str,
        day: Day,
        limit: u32,
        who: &servicewatch::warehouse::Caller,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<servicewatch::warehouse::Rows, servicewatch::warehouse::WarehouseError> {
        self.calls.transactions.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.transactions(service, day, limit, who, cancel).await
    }
}

async fn refresh(client: &reqwest::Client, base: &str) -> reqwest::Response {
    client.post(format!("{base}/api/refresh")).header("x-requested-with", "servicewatch").send().await.unwrap()
}

#[tokio::test]
async fn a_repeated_drill_down_costs_one_statement_until_a_refresh() {
    use std::sync::atomic::Ordering::SeqCst;
    let (srv, calls) = counting_server("drill").await;
    let statements = &calls.transactions;
    let client = reqwest::Client::new();
    let url = format!("{}/api/transactions?orderservice=SVC-0001&date=2024-02-10&limit=5", srv.base);
    let (status, first) = get(&url).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["rows"].as_array().unwrap().len(), 5);
    assert_eq!(get(&url).await.1, first);
    assert_eq!(statements.load(SeqCst), 1, "the repeat came from the cache");
    assert_eq!(get(&url.replace("limit=5", "limit=6")).await.0, 200);
    assert_eq!(statements.load(SeqCst), 2, "another question is another statement");
    assert_eq!(refresh(&client, &srv.base).await.status(), 200);
    assert_eq!(get(&url).await.1, first);
    assert_eq!(statements.load(SeqCst), 3, "a refresh forgets cached drill-downs");
}

#[tokio::test]
async fn refresh_is_only_for_the_app_and_rate_limited() {
    let file = sample_file_in("refresh");
    let layer = Layer {
        warehouse: servicewatch::config::WarehouseLayer { data: Some(file), ..Default::default() },
        ..Layer::default()
    };
    let config = servicewatch::config::Config::from_layers(&[layer]).unwrap();
    let warehouse = servicewatch::open_warehouse(&config).await.unwrap();
    let mut state = servicewatch::http::AppState::new(warehouse, config, PathBuf::from("no-dist"));
    state.refresh_every = std::time::Duration::from_millis(800);
    let srv = common::serve_app(state, "").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/refresh", srv.base);
    let error = |r: reqwest::Response| async move {
        let (status, retry) = (r.status().as_u16(), r.headers().get("retry-after").cloned());
        assert_eq!(r.headers()["content-type"], "application/json");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["status"].as_u64(), Some(status as u64), "{body}");
        (status, body["error"]["code"].as_str().unwrap().to_string(), retry)
    };
    // What another site can send without a preflight: a form post (either
    // encoding), a text/plain fetch, a bare POST, or the header's wrong value.
    for (content_type, header) in [
        (Some("application/x-www-form-urlencoded"), None),
        (Some("multipart/form-data; boundary=x"), None),
        (Some("text/plain"), None),
        (None, None),
        (None, Some("XMLHttpRequest")),
    ] {
        let mut req = client.post(&url).body("a=b");
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        if let Some(h) = header {
            req = req.header("x-requested-with", h);
        }
        let (status, code, _) = error(req.send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (403, "cross_site"), "{content_type:?} {header:?}");
    }
    // The app's call clears; another within the interval is refused.
    let r = refresh(&client, &srv.base).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "cleared");
    let (status, code, retry) = error(refresh(&client, &srv.base).await).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert_eq!(retry.unwrap().to_str().unwrap(), "1", "whole seconds, rounded up");
    // After the interval a JSON post (which needs CORS) is let through.
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let json = client.post(&url).header("content-type", "application/json; charset=utf-8").body("{}");
    assert_eq!(json.send().await.unwrap().status(), 200);
    assert_eq!(error(refresh(&client, &srv.base).await).await.1, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_distinct_scorings_stays_within_the_workers() {
    let file = sample_file_in("burst");
    let srv = start(&file, "", Layer::default()).await;
    assert_eq!(get(&format!("{}/api/meta", srv.base)).await.0, 200);
    // 100 distinct ranges: 100 baselines to compute, none cached.
    let first = Day::parse("2024-01-01").unwrap().0;
    let burst = (0..100).map(|i| {
        let from = Day(first + i % 50);
        let method = if i < 50 { "robust" } else { "classic" };
        reqwest::get(format!("{}/api/anomalies?from={from}&method={method}&limit=5", srv.base))
    });
    for r in futures::future::join_all(burst).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let (peak, bound) = (servicewatch::http::blocking_peak(), servicewatch::http::blocking_workers());
    assert!(peak >= 1 && peak <= bound, "{peak} scoring jobs at once, bound {bound}");
}

/// `/api/anomalies`' total for a query (z=0, min_days=0: every day counts).
async fn total(base: &str, query: &str) -> u64 {
    let (status, body) = get(&format!("{base}/api/anomalies?z=0&min_days=0&{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["metrics"]["total"].as_u64().unwrap()
}

/// A 400 whose message says `says`.
async fn refused(url: &str, says: &str) {
    let (status, body) = get(url).await;
    assert_eq!(status, 400, "{url}: {body}");
    let text = body["error"]["message"].as_str().unwrap();
    assert!(text.contains(says), "{url}: {text}");
}

#[tokio::test]
async fn service_names_are_taken_exactly_as_stored() {
    let srv = start(&common::names_csv("names", false), "", Layer::default()).await;
    let base = srv.base.as_str();
    let (_, meta) = get(&format!("{base}/api/meta")).await;
    assert_eq!(meta["services"], serde_json::json!(["BRAKES", "BRAKES  ", "a", "a,b", "b,c"]));
    // A padded name is its own: filtered and drilled into as stored.
    assert_eq!(total(base, "services=BRAKES%20%20").await, 1);
    assert_eq!(total(base, "services=BRAKES").await, 2);
    let (status, body) = get(&format!("{base}/api/transactions?orderservice=BRAKES%20%20&date=2024-03-01")).await;
    assert_eq!(status, 200, "{body}");
    let rows = body["rows"].as_array().unwrap();
    assert_eq!((rows.len(), &rows[0]["orderservice"]), (1, &Value::from("BRAKES  ")));
    // A drill-down into a service the data does not have: not found.
    let (status, body) = get(&format!("{base}/api/transactions?orderservice=%20BRAKES&date=2024-03-01")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown service ` BRAKES`"), "{body}");
    // Repeated, each value is one name, commas and all (28 = 4 + 8 + 16).
    assert_eq!(total(base, "services=a%2Cb&services=a&services=b%2Cc").await, 28);
    assert_eq!(total(base, "services=a,b&services=a&services=b,c").await, 28);
    // One value splits into known names the one way it can, not greedily.
    assert_eq!(total(base, "services=a,b,a,b,c").await, 28);
    assert_eq!(total(base, "services=b,c,a").await, 24);
    // A name asked for twice counts once.
    assert_eq!(total(base, "services=a&services=a").await, 8);
    assert_eq!(total(base, "services=a,a,b,c,b,c").await, 24);
    let (_, daily) = get(&format!("{base}/api/daily?services=a,a")).await;
    assert_eq!(daily["series"].as_array().unwrap().len(), 1, "{daily}");
    // An empty name is an error however it is written.
    for q in ["services=", "services=,", "services=a,", "services=,a", "services=a&services="] {
        let (status, body) = get(&format!("{base}/api/daily?{q}")).await;
        assert_eq!(status, 400, "{q}: {body}");
    }

    // With `b` known too, `a,b` is `a,b` or `a` and `b`: refused, not guessed.
    let srv = start(&common::names_csv("names-ambiguous", true), "", Layer::default()).await;
    let base = srv.base.as_str();
    refused(&format!("{base}/api/daily?services=a,b"), "more than one way").await;
    assert_eq!(total(base, "services=a&services=b").await, 40);
    assert_eq!(total(base, "services=a,b&services=b").await, 36);
}

#[tokio::test]
async fn a_numeric_service_column_is_drilled_into_by_its_text() {
    let dir = temp_dir("numeric");
    let csv = dir.join("tx.csv");
    std::fs::write(
        &csv,
        "transaction_id,transaction_timestamp,orderservice\n\
         1,2024-03-01T10:00:00Z,7\n2,2024-03-01T11:00:00Z,7\n3,2024-03-01T12:00:00Z,42\n",
    )
    .unwrap();
    let srv = start(&csv, "", Layer::default()).await;
    let (_, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(meta["services"], serde_json::json!(["42", "7"]));
    assert_eq!(total(&srv.base, "services=7").await, 2);
    let (status, body) = get(&format!("{}/api/transactions?orderservice=7&date=2024-03-01", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"].as_array().unwrap().len(), 2, "{body}");
}

#[tokio::test]
async fn a_quiet_night_does_not_hide_the_newest_day() {
    let yesterday = Day(Day::from_date(chrono::Utc::now().date_naive()).0 - 1);
    // Nothing from 21:00 on: every day ends three hours early, the last
    // one included, yet it is past, so complete and scored.
    let srv = start(&common::quiet_table("quiet-evening", yesterday, 60, 0, 21, false), "", Layer::default()).await;
    let (_, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(meta["partial_days"], serde_json::json!([]), "{meta}");
    let (status, body) = get(&format!("{}/api/anomalies?limit=100000", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    let got: Anomalies = serde_json::from_value(body).unwrap();
    assert!(got.anomalies.iter().any(|a| a.key == "brakes" && a.date == yesterday), "{:?}", got.anomalies);

    // The same table ending years ago is an extract: its last day stops
    // where the export did, three hours early, and goes unscored.
    let last = Day::parse("2024-03-31").unwrap();
    let srv = start(&common::quiet_table("quiet-export", last, 60, 0, 21, false), "", Layer::default()).await;
    let (_, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(meta["partial_days"], serde_json::json!([last]), "{meta}");
    let (_, body) = get(&format!("{}/api/anomalies?limit=100000", srv.base)).await;
    let got: Anomalies = serde_json::from_value(body).unwrap();
    assert!(!got.anomalies.iter().any(|a| a.date == last), "{:?}", got.anomalies);

    // Nothing before 03:00: the first day starts late, partial unless the
    // gap setting allows three hours.
    let file = common::quiet_table("quiet-morning", last, 60, 3, 24, false);
    let srv = start(&file, "", Layer::default()).await;
    let (_, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(meta["partial_days"], serde_json::json!(["2024-02-01"]), "{meta}");
    let srv = start(&file, "", Layer { partial_day_gap_minutes: Some(240), ..Layer::default() }).await;
    let (_, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(meta["partial_days"], serde_json::json!([]), "{meta}");
}

#[tokio::test]
async fn the_day_the_table_is_read_on_is_partial() {
    let today = Day::from_date(chrono::Utc::now().date_naive());
    // Its rows come at 23:59, so only the load time says it is still running.
    let srv = start(&common::quiet_table("load-day", today, 60, 0, 21, true), "", Layer::default()).await;
    let (_, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(meta["partial_days"], serde_json::json!([today]), "{meta}");
    let (status, body) = get(&format!("{}/api/anomalies?limit=100000", srv.base)).await;
    assert_eq!(status, 200, "{body}");
    let got: Anomalies = serde_json::from_value(body).unwrap();
    assert!(got.anomalies.iter().all(|a| a.date != today), "{:?}", got.anomalies);
}

/// Ranges are clamped to the data's days: one far outside costs the data's
/// days at most, one without data costs nothing and is not cached; a
/// cached body's weight counts the service list in its key.
#[tokio::test]
async fn ranges_are_clamped_to_the_data_and_keys_are_weighed() {
    use tower::ServiceExt;
    let dir = temp_dir("clamp");
    let csv = dir.join("tx.csv");
    let mut text = String::from("transaction_id,transaction_timestamp,orderservice\n");
    for s in 0..1000 {
        for d in 1..=3 {
            text.push_str(&format!("{s}-{d},2024-03-0{d}T12:00:00Z,s{s}\n"));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let layer = Layer {
        warehouse: servicewatch::config::WarehouseLayer { data: Some(csv), ..Default::default() },
        ..Layer::default()
    };
    let config = servicewatch::config::Config::from_layers(&[layer]).unwrap();
    let warehouse = servicewatch::open_warehouse(&config).await.unwrap();
    let state = std::sync::Arc::new(servicewatch::http::AppState::new(warehouse, config, PathBuf::from("no-dist")));
    let app = servicewatch::http::router(state.clone(), "").unwrap();
    let get = |path: String| {
        let app = app.clone();
        async move {
            let req = axum::http::Request::get(&path).body(axum::body::Body::empty()).unwrap();
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&bytes));
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    // All of time is the data's three days, the same body and scores as
    // asking for nothing (it was a 400: longer than max_span_days).
    let whole = get("/api/daily".into()).await;
    assert_eq!(get("/api/daily?from=1900-01-01&to=9999-12-31".into()).await, whole);
    assert_eq!((whole["from"].as_str(), whole["to"].as_str()), (Some("2024-03-01"), Some("2024-03-03")));
    let scored = get("/api/anomalies?z=0&min_days=0".into()).await;
    assert_eq!(get("/api/anomalies?z=0&min_days=0&from=1900-01-01&to=9999-12-31".into()).await, scored);
    assert_eq!(scored["metrics"]["total"], 3000);

    // Ranges without data: answered, empty, and nothing kept.
    let used = state.budget.used();
    for i in 0..100 {
        let (from, to) = if i % 2 == 0 { (1900 + i, 1901 + i) } else { (2100 + i, 2101 + i) };
        let range = format!("from={from}-01-01&to={to}-01-01");
        let daily = get(format!("/api/daily?{range}")).await;
        assert_eq!(daily["series"], Value::Array(vec![]), "{range}");
        let anomalies = get(format!("/api/anomalies?{range}&z=0")).await;
        assert_eq!(anomalies["metrics"]["total"], 0, "{range}");
    }
    assert_eq!(state.budget.used(), used, "empty ranges are not cached");

    // A list of 1,000 services weighs its 1,000 indices with the body.
    let names: Vec<String> = (0..1000).rev().map(|s| format!("s{s}")).collect();
    let url = format!("/api/daily?from=2024-03-02&to=2024-03-02&services={}", names.join(","));
    let body = serde_json::to_vec(&get(url).await).unwrap();
    let grew = state.budget.used() - used;
    assert!(grew >= 1000 * 8 + body.len(), "an entry of {grew} bytes for a body of {}", body.len());
}

/// A snapshot larger than `cache_max_bytes` is kept and served (with a
/// warning), not read from the warehouse again on every request.
#[tokio::test]
async fn a_snapshot_larger_than_the_cache_limit_is_read_once() {
    let dir = temp_dir("oversized");
    let csv = dir.join("tx.csv");
    let mut text = String::from("transaction_id,transaction_timestamp,orderservice\n");
    for s in 0..2000 {
        for d in 0..60 {
            let day = Day::parse("2024-01-01").unwrap().0 + d;
            text.push_str(&format!("{s}-{d},{}T12:00:00Z,service-{s:05}\n", Day(day)));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let layer = Layer {
        warehouse: servicewatch::config::WarehouseLayer { data: Some(csv), ..Default::default() },
        cache_max_bytes: Some(1 << 20),
        ..Layer::default()
    };
    let config = servicewatch::config::Config::from_layers(&[layer]).unwrap();
    let warehouse = servicewatch::open_warehouse(&config).await.unwrap();
    let state = std::sync::Arc::new(servicewatch::http::AppState::new(warehouse, config, PathBuf::from("no-dist")));
    let who = servicewatch::warehouse::Caller::default();
    let first = state.snapshot(&who).await.unwrap();
    assert!(state.budget.used() > 1 << 20, "the snapshot alone is over the limit: {}", state.budget.used());
    for _ in 0..3 {
        let again = state.snapshot(&who).await.unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again), "read again");
    }
}

/// The (series, date) pairs `/api/anomalies` flags with `query`.
async fn flagged(base: &str, query: &str) -> std::collections::HashSet<(String, String)> {
    let (status, body) = get(&format!("{base}/api/anomalies?limit=100000&{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let got: Anomalies = serde_json::from_value(body).unwrap();
    got.anomalies.into_iter().map(|a| (a.key, a.date.to_string())).collect()
}

#[tokio::test]
async fn amount_and_payment_anomalies_show_in_their_views_and_not_in_the_counts() {
    let (file, labels) = common::labelled_sample("views", 4, 20, 240);
    let kind = |k: &str| labels.iter().filter(|l| l[2] == k).cloned().collect::<Vec<_>>();
    let (jumps, bursts) = (kind("amount_jump"), kind("card_not_present_burst"));
    assert_eq!((jumps.len(), bursts.len()), (2, 3), "{labels:?}");
    assert!(jumps.iter().all(|l| l[3..] == ["amount", "", ""]), "{jumps:?}");
    assert!(bursts.iter().all(|l| l[3..] == ["count", "payment_method", "card_not_present"]), "{bursts:?}");
    assert!(labels.iter().filter(|l| l[2] == "spike").all(|l| l[3..] == ["count", "", ""]));
    let srv = start(&file, "", Layer::default()).await;

    let counts = flagged(&srv.base, "").await;
    let amounts = flagged(&srv.base, "metric=amount").await;
    let by_payment = flagged(&srv.base, "split=payment_method").await;
    for l in &jumps {
        let day = (l[0].clone(), l[1].clone());
        assert!(amounts.contains(&day), "amounts ×3 on {day:?} are flagged under metric=amount");
        assert!(!counts.contains(&day), "its count is ordinary: {day:?}");
    }
    for l in &bursts {
        let series = (format!("{} · card_not_present", l[0]), l[1].clone());
        assert!(by_payment.contains(&series), "{series:?} is flagged under split=payment_method");
        assert!(!counts.contains(&(l[0].clone(), l[1].clone())), "the service's count barely moves: {l:?}");
    }
    // The card-not-present burst came in on the web: the filtered view shows it too.
    let web_cnp = flagged(&srv.base, "split=payment_method&channel=web&payment_method=card_not_present").await;
    assert!(bursts.iter().all(|l| web_cnp.contains(&(format!("{} · card_not_present", l[0]), l[1].clone()))));
    assert!(web_cnp.iter().all(|(k, _)| k.ends_with(" · card_not_present")), "{web_cnp:?}");

    // /api/meta says what the table offers, and per view its series and
    // the rows left out of the amounts.
    let (_, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(meta["metrics"], serde_json::json!(["count", "amount"]));
    assert_eq!(meta["dimensions"], serde_json::json!(["segment", "channel", "payment_method"]));
    assert_eq!(meta["amount_decimals"], 2);
    assert!(meta.get("not_summed").is_none(), "counts leave nothing out: {meta}");
    let (_, amount_meta) = get(&format!("{}/api/meta?metric=amount", srv.base)).await;
    assert!(amount_meta["not_summed"].as_u64().unwrap() > 0, "the sample has refunds: {amount_meta}");
    assert_eq!(amount_meta["services"], meta["services"]);
    let (_, split_meta) = get(&format!("{}/api/meta?split=payment_method", srv.base)).await;
    let series: Vec<&str> = split_meta["services"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(series.contains(&format!("{} · card_not_present", bursts[0][0]).as_str()), "{series:?}");
    assert_eq!(split_meta["rows"], meta["rows"], "the table's rows, whatever the view");

    // /api/daily of a view: a split's series add up to the service's day,
    // and `services` names series keys.
    let day = &bursts[0][1];
    let cnp = format!("{} · card_not_present", bursts[0][0]);
    let url = format!("{}/api/daily?split=payment_method&from={day}&to={day}", srv.base);
    let split: Daily = serde_json::from_value(get(&url).await.1).unwrap();
    let url = format!("{}/api/daily?from={day}&to={day}&services={}", srv.base, bursts[0][0]);
    let whole: Daily = serde_json::from_value(get(&url).await.1).unwrap();
    let of_service: u64 =
        split.series.iter().filter(|s| s.key.starts_with(&format!("{} · ", bursts[0][0]))).map(|s| s.values[0]).sum();
    assert_eq!(of_service, whole.series[0].values[0]);
    let url = format!("{}/api/daily?split=payment_method&services={}", srv.base, cnp.replace(' ', "%20"));
    let (status, one) = get(&url).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["series"].as_array().unwrap().len(), 1, "{one}");
}

#[tokio::test]
async fn a_view_the_table_has_no_columns_for_is_a_400_naming_it() {
    let srv = start(&common::messy_csv("no-views"), "", Layer::default()).await;
    let (_, meta) = get(&format!("{}/api/meta", srv.base)).await;
    assert_eq!(
        (meta["metrics"].clone(), meta["dimensions"].clone()),
        (serde_json::json!(["count"]), serde_json::json!([]))
    );
    let cases = [
        ("/api/daily?metric=amount", "`metric=amount`: the table has no column `amount` (setting `columns.amount`)"),
        (
            "/api/anomalies?split=channel",
            "`split=channel`: the table has no column `channel` (setting `columns.channel`)",
        ),
        ("/api/meta?payment_method=card", "`payment_method`: the table has no column `payment_method`"),
        ("/api/daily?split=colour", "unknown dimension `colour`"),
        ("/api/anomalies?metric=sum", "unknown metric `sum`"),
        ("/api/daily?split=channel&split=segment", "`split` is given more than once"),
        ("/api/meta?segment=", "`segment` is empty"),
    ];
    for (path, says) in cases {
        let (status, body) = get(&format!("{}{path}", srv.base)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{path}: {message}");
    }
}

#[tokio::test]
async fn each_view_is_read_once_per_snapshot_and_a_refresh_forgets_them_all() {
    use servicewatch::view::View;
    use servicewatch_shared::{Dimension, Metric};
    let (srv, calls) = counting_server("view-cache").await;
    let (daily, columns) = (&calls.daily, &calls.columns);
    let read = || daily.lock().unwrap().clone();
    let amount = View { metric: Metric::Amount, ..View::default() };
    let split = View { split: Some(Dimension::Channel), ..View::default() };
    for path in [
        "/api/meta",
        "/api/daily",
        "/api/anomalies",
        "/api/anomalies?metric=amount",
        "/api/daily?metric=amount&from=2024-02-01",
        "/api/meta?metric=amount",
        "/api/daily?split=channel",
        "/api/anomalies?split=channel&z=2",
    ] {
        assert_eq!(get(&format!("{}{path}", srv.base)).await.0, 200, "{path}");
    }
    assert_eq!(read(), [View::default(), amount.clone(), split.clone()], "one aggregation per view");
    assert_eq!(columns.load(std::sync::atomic::Ordering::SeqCst), 1, "the columns once per snapshot load");
    let client = reqwest::Client::new();
    assert_eq!(refresh(&client, &srv.base).await.status(), 200);
    assert_eq!(get(&format!("{}/api/anomalies?metric=amount", srv.base)).await.0, 200);
    assert_eq!(read()[3..], [View::default(), amount], "a refresh forgets every view");
    assert_eq!(columns.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_holiday_calendar_keeps_a_small_tables_holiday_drops_off_the_list() {
    let (file, thanksgiving, christmas) = common::holiday_table("holidays");
    let on = |got: &Anomalies, day: Day| -> Vec<String> {
        let mut keys: Vec<String> = got.anomalies.iter().filter(|a| a.date == day).map(|a| a.key.clone()).collect();
        keys.sort();
        keys
    };

    let plain = start(&file, "", Layer::default()).await;
    let (_, meta) = get(&format!("{}/api/meta", plain.base)).await;
    assert!(meta.get("holidays").is_none(), "none unless set: {meta}");
    let got: Anomalies =
        serde_json::from_value(get(&format!("{}/api/anomalies?limit=1000", plain.base)).await.1).unwrap();
    assert_eq!(on(&got, thanksgiving), ["brakes", "oil", "tyres"], "without a calendar, three drops");

    let us = start(&file, "", Layer { holidays: Some("us".into()), ..Layer::default() }).await;
    let (_, meta) = get(&format!("{}/api/meta", us.base)).await;
    assert_eq!(
        meta["holidays"],
        serde_json::json!(["2024-10-14", "2024-11-11", "2024-11-28", "2024-12-25"]),
        "the calendar's days within the data: {meta}"
    );
    let got: Anomalies = serde_json::from_value(get(&format!("{}/api/anomalies?limit=1000", us.base)).await.1).unwrap();
    assert!(on(&got, thanksgiving).is_empty(), "{:?}", got.anomalies);
    assert_eq!(on(&got, christmas), ["brakes"], "a spike on a holiday is still one");
    // The server's answer is the engine's with the days meta names, as the
    // app scores it.
    let daily: Daily = serde_json::from_value(get(&format!("{}/api/daily", us.base)).await.1).unwrap();
    let partial: Vec<Day> = serde_json::from_value(meta["partial_days"].clone()).unwrap();
    let holidays: Vec<Day> = serde_json::from_value(meta["holidays"].clone()).unwrap();
    let s = Scores::compute(&daily.to_panel().unwrap(), &BaselineParams { partial, holidays, ..Default::default() });
    assert_eq!(got, s.anomalies(&FlagParams::default(), 1000));
}
