//! The Databricks warehouse against a local server that follows the SQL
//! Statement Execution API 2.0 and runs the statements on real Apache Spark
//! (`tests/databricks/statement_server.py`, pyspark in local mode, started
//! once for this test binary). Its fault knobs stand in for a workspace we
//! cannot reach here: a warehouse that starts slowly, throttling, small
//! chunks, expiring links, failing statements, expiring OAuth tokens.
//!
//! The answers through `databricks` must equal the embedded engine's on the
//! same Parquet file, exactly: Spark runs the same SQL text DataFusion does.
#![cfg(feature = "embedded")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{messy_parquet, sample_file, serve_app, serve_state, start, Dropped, Server};
use common::{MESSY_PARQUET_DROPPED, MESSY_TEXT_DROPPED};
use serde_json::{json, Value};
use servicewatch::config::{Config, DatabricksSecrets, Layer, WarehouseConfig, WarehouseLayer};
use servicewatch::warehouse::databricks::retry::RetryPolicy;
use servicewatch::warehouse::databricks::{Databricks, Secret};

/// The statement server, started once; it exits when this process does
/// (its stdin closes).
struct Spark {
    base: String,
    _child: Child,
}

fn spark() -> &'static str {
    static SPARK: OnceLock<Spark> = OnceLock::new();
    &SPARK
        .get_or_init(|| {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/databricks/statement_server.py");
            let started = Instant::now();
            let mut child = Command::new("python3")
                .args([script, "--port", "0"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("python3 runs tests/databricks/statement_server.py (scripts/setup.sh installs pyspark)");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            let base = line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("statement server: {line:?}"));
            eprintln!("statement server on Spark ready in {:.1} s", started.elapsed().as_secs_f64());
            Spark { base: base.to_string(), _child: child }
        })
        .base
}

async fn post(path: &str, body: Value) -> Value {
    let r = reqwest::Client::new().post(format!("{}{path}", spark())).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

async fn stats(warehouse: &str) -> Value {
    reqwest::get(format!("{}/_test/warehouses/{warehouse}", spark())).await.unwrap().json().await.unwrap()
}

/// A warehouse with these fault knobs, and a user token for it.
async fn warehouse(id: &str, knobs: Value) {
    let mut body = knobs;
    body["id"] = json!(id);
    post("/_test/warehouses", body).await;
}

async fn user(token: &str, name: &str) {
    post("/_test/users", json!({ "token": token, "user": name })).await;
}

/// The sample file, registered on Spark as `table`.
async fn table(name: &str, seed: u64, services: usize, days: u32) -> std::path::PathBuf {
    let file = sample_file(name.split('.').next().unwrap(), seed, services, days);
    post("/_test/tables", json!({ "name": name, "path": file.to_str().unwrap() })).await;
    file
}

fn layer(table: &str, zone: Option<&str>) -> Layer {
    Layer { table: Some(table.into()), time_zone: zone.map(str::to_string), ..Layer::default() }
}

fn databricks_config(table: &str, zone: Option<&str>, wh: &str, secrets: DatabricksSecrets, proxy: bool) -> Config {
    let w = WarehouseLayer {
        kind: Some("databricks".into()),
        host: Some(spark().to_string()),
        warehouse_id: Some(wh.into()),
        behind_apps_proxy: Some(proxy),
        secrets,
        ..Default::default()
    };
    Config::from_layers(&[Layer { warehouse: w, ..layer(table, zone) }]).unwrap()
}

fn pat(token: &str) -> DatabricksSecrets {
    DatabricksSecrets { token: Some(Secret::new(token)), ..Default::default() }
}

async fn databricks(table: &str, zone: Option<&str>, wh: &str, token: &str) -> Server {
    let config = databricks_config(table, zone, wh, pat(token), false);
    serve_state(servicewatch::open_warehouse(&config).await.unwrap(), config, "").await
}

async fn get(url: &str) -> (u16, Value) {
    get_as(url, &[]).await
}

async fn get_as(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `/api/meta` without what differs by design (warehouse kind, read time).
fn meta_essentials(mut m: Value) -> Value {
    let o = m.as_object_mut().unwrap();
    o.remove("fetched_at");
    o.remove("warehouse");
    m
}

#[tokio::test]
async fn answers_equal_the_embedded_engine_in_utc_and_in_a_dst_zone() {
    let name = "sw_parity.maintenanceservices";
    let file = table(name, 11, 40, 120).await;
    user("tok-parity", "analyst@example.com").await;
    // Small chunks: the daily aggregate arrives in many Arrow chunks.
    warehouse("wh-parity", json!({ "chunk_rows": 700 })).await;
    for zone in [None, Some("Europe/Paris")] {
        let local = start(&file, "", layer(name, zone)).await;
        let remote = databricks(name, zone, "wh-parity", "tok-parity").await;
        let before = stats("wh-parity").await["statements"].as_u64().unwrap();
        let (s1, m1) = get(&format!("{}/api/meta", local.base)).await;
        let (s2, m2) = get(&format!("{}/api/meta", remote.base)).await;
        assert_eq!((s1, s2), (200, 200), "{m2}");
        assert_eq!(m2["warehouse"], "databricks");
        assert_eq!(meta_essentials(m1.clone()), meta_essentials(m2), "{zone:?}");
        let service = m1["services"][3].as_str().unwrap().to_string();
        let last = m1["last"].as_str().unwrap().to_string();
        let mut paths = vec![
            "/api/daily".to_string(),
            format!("/api/daily?from=2024-03-25&to=2024-04-02&services={service}"),
            "/api/anomalies?limit=0".to_string(),
            "/api/anomalies?z=2&method=classic&direction=drops&limit=0".to_string(),
            format!("/api/transactions?orderservice={service}&date=2024-03-31&limit=1000"),
            format!("/api/transactions?orderservice={service}&date={last}&limit=5"),
        ];
        paths.push("/api/anomalies?z=2.5&min_days=14&weekly=false&limit=0".into());
        for path in &paths {
            let (a, b) = (get(&format!("{}{path}", local.base)).await, get(&format!("{}{path}", remote.base)).await);
            assert_eq!(a.0, 200, "{path}: {}", a.1);
            assert_eq!(a, b, "{path} in {zone:?}");
        }
        let daily = get(&format!("{}/api/daily", remote.base)).await.1;
        assert!(daily["series"].as_array().unwrap().len() >= 40);
        // Warm cache: one bounds, one columns and one daily statement for
        // every range, filter and score, plus one per drill-down.
        let after = stats("wh-parity").await;
        assert_eq!(after["statements"].as_u64().unwrap() - before, 3 + 2, "{after}");
        assert_eq!(after["link_downloads_with_authorization"], 0, "presigned links never get the token");
        // Readiness probes within a few seconds share one statement.
        for _ in 0..3 {
            let (status, ready) = get(&format!("{}/readyz", remote.base)).await;
            assert_eq!((status, ready["rows"].clone()), (200, m1["rows"].clone()), "{ready}");
        }
        assert_eq!(stats("wh-parity").await["statements"].as_u64().unwrap() - before, 3 + 2 + 1);
    }
    assert!(stats("wh-parity").await["chunk_calls"].as_u64().unwrap() > 0, "several chunks were followed");
}

#[tokio::test]
async fn dropped_rows_are_counted_alike_on_spark() {
    user("tok-dropped", "analyst@example.com").await;
    warehouse("wh-dropped", json!({})).await;
    let cases = [
        ("sw_dropped.typed", messy_parquet("dropped-typed", false), MESSY_PARQUET_DROPPED),
        ("sw_dropped.text", messy_parquet("dropped-text", true), MESSY_TEXT_DROPPED),
    ];
    for (name, file, want) in cases {
        post("/_test/tables", json!({ "name": name, "path": file.to_str().unwrap() })).await;
        let local = start(&file, "", layer(name, None)).await;
        let remote = databricks(name, None, "wh-dropped", "tok-dropped").await;
        let (s1, m1) = get(&format!("{}/api/meta", local.base)).await;
        let (s2, m2) = get(&format!("{}/api/meta", remote.base)).await;
        assert_eq!((s1, s2), (200, 200), "{name}: {m2}");
        let Dropped { null_service, null_timestamp, out_of_range } = want;
        let dropped =
            json!({ "null_service": null_service, "null_timestamp": null_timestamp, "out_of_range": out_of_range });
        assert_eq!(m2["dropped_rows"], dropped, "{name}");
        assert_eq!(meta_essentials(m1), meta_essentials(m2), "{name}");
        for path in [
            "/api/daily",
            "/api/daily?from=9999-12-01&to=9999-12-31",
            "/api/transactions?orderservice=brakes&date=2024-03-05",
            "/api/transactions?orderservice=brakes&date=9999-12-31",
        ] {
            let (a, b) = (get(&format!("{}{path}", local.base)).await, get(&format!("{}{path}", remote.base)).await);
            assert_eq!(a.0, 200, "{name}: {path}: {}", a.1);
            assert_eq!(a, b, "{name}: {path}");
        }
    }
}

#[tokio::test]
async fn a_slow_starting_throttled_warehouse_with_expiring_links_still_answers_exactly() {
    let name = "sw_faults.maintenanceservices";
    let file = table(name, 12, 25, 90).await;
    user("tok-faults", "analyst@example.com").await;
    warehouse(
        "wh-faults",
        json!({
            "starting_polls": 6, "throttle_429": 2, "unavailable_503": 1, "chunk_503": 1,
            "retry_after": 1, "chunk_rows": 300, "link_403_first": 2,
        }),
    )
    .await;
    let local = start(&file, "", layer(name, None)).await;
    let remote = databricks(name, None, "wh-faults", "tok-faults").await;
    // While the warehouse starts, /api/progress says so.
    let base = remote.base.clone();
    let watcher = tokio::spawn(async move {
        let mut stages = Vec::new();
        for _ in 0..400 {
            let p = get(&format!("{base}/api/progress")).await.1;
            if let Some(s) = p["stage"].as_str() {
                if stages.last().map(String::as_str) != Some(s) {
                    stages.push(s.to_string());
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        stages
    });
    let (status, body) = get(&format!("{}/api/daily", remote.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, get(&format!("{}/api/daily", local.base)).await.1);
    watcher.abort();
    let s = stats("wh-faults").await;
    assert!(s["throttled"].as_u64().unwrap() >= 3, "{s}");
    assert_eq!(s["link_downloads_with_authorization"], 0);
    assert!(s["link_downloads"].as_u64().unwrap() > 2, "refused links were renewed: {s}");
    assert_eq!(s["statements"], 3, "retries of polls and chunks are not new statements: {s}");
}

#[tokio::test]
async fn the_load_shows_the_warehouse_starting() {
    let name = "sw_starting.maintenanceservices";
    table(name, 13, 5, 30).await;
    user("tok-starting", "analyst@example.com").await;
    // As a real warehouse: only the load's first statement (the bounds)
    // waits for it to start.
    warehouse("wh-starting", json!({ "starting_polls": 8, "starting_statements": 1 })).await;
    let remote = databricks(name, None, "wh-starting", "tok-starting").await;
    let url = format!("{}/api/meta", remote.base);
    let load = tokio::spawn(async move { get(&url).await });
    let mut seen = Vec::new();
    while !load.is_finished() {
        let p = get(&format!("{}/api/progress", remote.base)).await.1;
        seen.push(p["stage"].as_str().unwrap_or("").to_string());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(load.await.unwrap().0, 200);
    assert!(seen.iter().any(|s| s == "warehouse_starting"), "{seen:?}");
}

#[tokio::test]
async fn failures_are_clear_and_never_leak_the_token() {
    let name = "sw_errors.maintenanceservices";
    table(name, 14, 5, 30).await;
    user("tok-errors", "analyst@example.com").await;
    warehouse("wh-errors", json!({})).await;
    warehouse("wh-failing", json!({ "fail": "the warehouse ran out of memory" })).await;
    // No such table.
    let s = databricks("sw_nowhere.maintenanceservices", None, "wh-errors", "tok-errors").await;
    let (status, body) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "table_unavailable");
    assert_eq!(body["error"]["message"], "table sw_nowhere.maintenanceservices not found or no SELECT permission");
    // A token the workspace does not know.
    let s = databricks(name, None, "wh-errors", "dapi-wrong-secret").await;
    let (status, body) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "not_authorised");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("not authorised: "), "{body}");
    assert!(!body.to_string().contains("dapi-wrong-secret"));
    // A statement that fails: a 502 whose message hides the warehouse's.
    let s = databricks(name, None, "wh-failing", "tok-errors").await;
    let (status, body) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("warehouse_error")), "{body}");
    assert!(!body.to_string().contains("out of memory"));
    // A warehouse that does not exist.
    let s = databricks(name, None, "wh-unknown", "tok-errors").await;
    let (status, body) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("wh-unknown"), "{body}");
}

#[tokio::test]
async fn throttling_past_the_retry_budget_is_a_clear_503() {
    let name = "sw_throttle.maintenanceservices";
    table(name, 15, 5, 30).await;
    user("tok-throttle", "analyst@example.com").await;
    warehouse("wh-throttle", json!({ "throttle_429": 1000, "retry_after": 1 })).await;
    let config = databricks_config(name, None, "wh-throttle", pat("tok-throttle"), false);
    let WarehouseConfig::Databricks(settings) = &config.warehouse else { unreachable!() };
    let policy = RetryPolicy {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(500),
        budget: Duration::from_secs(3),
    };
    let wh = Databricks::new(settings, config.source()).unwrap().with_retry(policy);
    let s = serve_state(Arc::new(wh), config, "").await;
    let started = Instant::now();
    let (status, body) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("unavailable")), "{body}");
    assert!(started.elapsed() < Duration::from_secs(10), "bounded: {:?}", started.elapsed());
    let throttled = stats("wh-throttle").await["throttled"].as_u64().unwrap();
    assert!((2..=6).contains(&throttled), "retried within the budget, honouring Retry-After: {throttled}");
}

#[tokio::test]
async fn oauth_tokens_are_renewed_before_they_expire() {
    let name = "sw_oauth.maintenanceservices";
    table(name, 16, 5, 30).await;
    post(
        "/_test/oauth_clients",
        json!({ "client_id": "sp-app", "client_secret": "s3cret", "user": "sp-app", "expires_in": 2 }),
    )
    .await;
    warehouse("wh-oauth", json!({})).await;
    let secrets = DatabricksSecrets {
        client_id: Some("sp-app".into()),
        client_secret: Some(Secret::new("s3cret")),
        ..Default::default()
    };
    let config = databricks_config(name, None, "wh-oauth", secrets, false);
    let s = serve_state(servicewatch::open_warehouse(&config).await.unwrap(), config, "").await;
    assert_eq!(get(&format!("{}/api/meta", s.base)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(2500)).await; // the first token has expired
    let refresh = reqwest::Client::new().post(format!("{}/api/refresh", s.base));
    let refreshed = refresh.header("x-requested-with", "servicewatch").send().await.unwrap();
    assert!(refreshed.status().is_success());
    let (status, body) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stats("wh-oauth").await["statements_by_user"]["sp-app"], 6);
    // Wrong client secret: a clear error naming the settings.
    let bad = DatabricksSecrets {
        client_id: Some("sp-app".into()),
        client_secret: Some(Secret::new("wrong")),
        ..Default::default()
    };
    let config = databricks_config(name, None, "wh-oauth", bad, false);
    let s = serve_state(servicewatch::open_warehouse(&config).await.unwrap(), config, "").await;
    let (status, body) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("DATABRICKS_CLIENT_SECRET"), "{body}");
    assert!(!body.to_string().contains("wrong"));
}

#[tokio::test]
async fn each_user_has_their_own_cache_and_the_header_counts_only_behind_the_proxy() {
    let name = "sw_users.maintenanceservices";
    table(name, 17, 5, 30).await;
    user("tok-alice", "alice@example.com").await;
    user("tok-bob", "bob@example.com").await;
    user("tok-app", "app-principal").await;
    warehouse("wh-users", json!({})).await;
    let alice = [("x-forwarded-access-token", "tok-alice"), ("x-forwarded-email", "alice@example.com")];
    let bob = [("x-forwarded-access-token", "tok-bob"), ("x-forwarded-email", "bob@example.com")];
    let config = databricks_config(name, None, "wh-users", pat("tok-app"), true);
    let s = serve_state(servicewatch::open_warehouse(&config).await.unwrap(), config, "").await;
    for who in [&alice, &alice, &bob] {
        assert_eq!(get_as(&format!("{}/api/daily", s.base), who).await.0, 200);
    }
    let by_user = stats("wh-users").await["statements_by_user"].clone();
    assert_eq!(by_user, json!({ "alice@example.com": 3, "bob@example.com": 3 }), "one cache entry per user");
    // Without the proxy setting, the header is anyone's: ignored.
    let config = databricks_config(name, None, "wh-users", pat("tok-app"), false);
    let s = serve_state(servicewatch::open_warehouse(&config).await.unwrap(), config, "").await;
    assert_eq!(get_as(&format!("{}/api/daily", s.base), &alice).await.0, 200);
    let by_user = stats("wh-users").await["statements_by_user"].clone();
    assert_eq!(by_user["app-principal"], 3, "{by_user}");
    assert_eq!(by_user["alice@example.com"], 3, "{by_user}");
}

#[tokio::test]
async fn a_client_that_leaves_mid_load_does_not_restart_it_and_a_dropped_drilldown_is_cancelled() {
    let name = "sw_leave.maintenanceservices";
    table(name, 18, 5, 30).await;
    user("tok-leave", "analyst@example.com").await;
    warehouse("wh-leave", json!({ "run_delay_ms": 1500 })).await;
    let s = databricks(name, None, "wh-leave", "tok-leave").await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(400)).build().unwrap();
    assert!(impatient.get(format!("{}/api/meta", s.base)).send().await.is_err(), "the client gave up");
    let (status, meta) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!(status, 200, "{meta}");
    let st = stats("wh-leave").await;
    assert_eq!((st["statements"].as_u64(), st["cancels"].as_u64()), (Some(3), Some(0)), "one load: {st}");
    // A drill-down whose client leaves is cancelled on the warehouse, even
    // while its submit still waits (the warehouse is slower than the submit's
    // wait_timeout here, so the id comes after the client has gone).
    warehouse("wh-leave", json!({ "run_delay_ms": 8_000 })).await;
    let service = meta["services"][0].as_str().unwrap();
    let url = format!("{}/api/transactions?orderservice={service}&date={}", s.base, meta["first"].as_str().unwrap());
    assert!(impatient.get(url).send().await.is_err());
    let deadline = Instant::now() + Duration::from_secs(11);
    let mut st = stats("wh-leave").await;
    while st["canceled_statements"] != 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        st = stats("wh-leave").await;
    }
    assert_eq!((st["statements"].as_u64(), st["cancels"].as_u64()), (Some(1), Some(1)), "{st}");
    assert_eq!(st["canceled_statements"], 1, "{st}");
}

#[tokio::test]
async fn a_load_longer_than_a_request_may_wait_answers_loading_then_the_data() {
    let name = "sw_slow.maintenanceservices";
    table(name, 19, 5, 30).await;
    user("tok-slow", "analyst@example.com").await;
    warehouse("wh-slow", json!({ "run_delay_ms": 1500 })).await;
    let config = databricks_config(name, None, "wh-slow", pat("tok-slow"), false);
    let mut state = servicewatch::http::AppState::new(
        servicewatch::open_warehouse(&config).await.unwrap(),
        config,
        std::path::PathBuf::from("no-dist"),
    );
    state.snapshot_wait = Duration::from_millis(300);
    let s = serve_app(state, "").await;
    let r = reqwest::get(format!("{}/api/meta", s.base)).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "loading", "{body}");
    // The load went on without the request: asking again gets the data.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut status, mut meta) = get(&format!("{}/api/meta", s.base)).await;
    while status == 503 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        (status, meta) = get(&format!("{}/api/meta", s.base)).await;
    }
    assert_eq!(status, 200, "{meta}");
    assert_eq!(stats("wh-slow").await["statements"], 3, "one load, however often it was asked for");
}

#[tokio::test]
async fn views_equal_the_embedded_engine_on_spark() {
    let name = "sw_views.maintenanceservices";
    let file = table(name, 22, 12, 90).await;
    user("tok-views", "analyst@example.com").await;
    warehouse("wh-views", json!({ "chunk_rows": 500 })).await;
    for zone in [None, Some("Europe/Paris")] {
        let local = start(&file, "", layer(name, zone)).await;
        let remote = databricks(name, zone, "wh-views", "tok-views").await;
        for path in [
            "/api/meta?metric=amount",
            "/api/daily?metric=amount",
            "/api/daily?split=payment_method",
            "/api/daily?metric=amount&split=channel&segment=fleet&segment=retail",
            "/api/meta?split=segment&payment_method=card_not_present",
            "/api/daily?split=segment&payment_method=card_not_present&channel=web",
            "/api/anomalies?metric=amount&limit=0",
            "/api/anomalies?metric=amount&split=payment_method&z=2&limit=0",
        ] {
            let (a, b) = (get(&format!("{}{path}", local.base)).await, get(&format!("{}{path}", remote.base)).await);
            assert_eq!(a.0, 200, "{path}: {}", a.1);
            let (a, b) = (meta_essentials_if_meta(a.1), meta_essentials_if_meta(b.1));
            assert_eq!(a, b, "{path} in {zone:?}");
        }
        let amounts = get(&format!("{}/api/meta?metric=amount", remote.base)).await.1;
        assert!(amounts["not_summed"].as_u64().unwrap() > 0, "refunds are counted on Spark too: {amounts}");
    }
    // A column a setting names and the table lacks: said, on the first load.
    let mut config = databricks_config(name, None, "wh-views", pat("tok-views"), false);
    config.columns.payment_method.name = servicewatch::warehouse::sql::Ident::parse("payment").unwrap();
    config.columns.payment_method.explicit = true;
    let s = serve_state(servicewatch::open_warehouse(&config).await.unwrap(), config, "").await;
    let (status, body) = get(&format!("{}/api/meta", s.base)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("missing_column")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("the table has no column `payment` (setting `columns.payment_method`)"), "{message}");
}

/// [`meta_essentials`] of a `/api/meta` body; other bodies as they are.
fn meta_essentials_if_meta(v: Value) -> Value {
    if v.get("fetched_at").is_some() {
        meta_essentials(v)
    } else {
        v
    }
}

#[path = "common/store.rs"]
mod store_conformance;

/// Marks, the audit trail and the outbox in Databricks tables, written and
/// read through the statement API on real Spark, keep the guarantees the
/// SQLite file keeps (the same checks run against both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_in_databricks_tables_keeps_what_the_sqlite_file_keeps() {
    user("tok-store", "servicewatch-app").await;
    warehouse("wh-store", json!({})).await;
    // The schema exists (an admin creates it; the app creates its tables).
    let created = reqwest::Client::new()
        .post(format!("{}/api/2.0/sql/statements", spark()))
        .bearer_auth("tok-store")
        .json(&json!({"statement": "CREATE DATABASE IF NOT EXISTS sw_store", "warehouse_id": "wh-store", "wait_timeout": "30s"}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let mut config = databricks_config("sw_store.unused", None, "wh-store", pat("tok-store"), false);
    let missing = Config { store_schema: Some(schema("spark_catalog.sw_absent")), ..config.clone() };
    config.store_schema = Some(schema("spark_catalog.sw_store"));
    tokio::task::spawn_blocking(move || {
        let store = servicewatch::open_store(&config).unwrap().expect("a store");
        store_conformance::conformance(store.as_ref());
        // A schema that does not exist is an error that names the setting.
        let store = servicewatch::open_store(&missing).unwrap().expect("a store");
        let err = store.marks(&Default::default()).unwrap_err().to_string();
        assert!(err.contains("store_schema") && err.contains("sw_absent"), "{err}");
    })
    .await
    .unwrap();
    // The SQLite file passes the same checks.
    let db = common::fresh_audit_db("store-conformance");
    let sqlite = servicewatch::store::sqlite::Sqlite::open(&db).unwrap();
    store_conformance::conformance(&sqlite);
}

fn schema(s: &str) -> servicewatch::warehouse::sql::TableName {
    servicewatch::warehouse::sql::TableName::parse(s).unwrap()
}
