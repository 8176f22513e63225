//! `/api/audit` on a real server with a real SQLite trail: recording is
//! idempotent and shared with `scan --record`, reading filters, bad input
//! is a 400, cross-site posts and failed writes are refused loudly.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use servicewatch::config::{Config, Layer, WarehouseLayer};
use servicewatch_shared::wire::{Audit, AuditRecorded};

async fn post(base: &str, body: Value, email: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(format!("{base}/api/audit")).json(&body);
    if let Some(e) = email {
        req = req.header("x-forwarded-email", e);
    }
    req.send().await.unwrap()
}

async fn recorded(base: &str, body: Value, email: Option<&str>) -> AuditRecorded {
    let resp = post(base, body, email).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn audit(base: &str, query: &str) -> Audit {
    let resp = reqwest::get(format!("{base}/api/audit?{query}")).await.unwrap();
    assert_eq!(resp.status(), 200, "{query}");
    resp.json().await.unwrap()
}

/// The status and error code of a failed call, checking the error body.
async fn error(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"].as_u64(), Some(status as u64), "{body}");
    (status, body["error"]["code"].as_str().unwrap().into(), body["error"]["message"].as_str().unwrap().into())
}

fn proxy(user: Option<&str>, behind: bool) -> Layer {
    Layer {
        user: user.map(str::to_string),
        warehouse: WarehouseLayer { behind_apps_proxy: Some(behind), ..Default::default() },
        ..Default::default()
    }
}

#[tokio::test]
async fn posting_twice_records_one_set_that_get_filters() {
    let file = common::sample_file("audit-twice", 9, 10, 150);
    let srv = common::start_audited(&file, &common::fresh_audit_db("audit-twice"), Layer::default()).await;
    let base = &srv.base;
    let first = recorded(base, json!({"z": 2.5}), None).await;
    assert!(first.flagged > 3 && first.recorded == first.flagged, "{first:?}");
    // The same again: nothing new, and what it flags is the same.
    assert_eq!(recorded(base, json!({"z": 2.5}), None).await, AuditRecorded { recorded: 0, ..first });
    let all = audit(base, "limit=10000").await.records;
    assert_eq!(all.len() as u64, first.flagged, "one set");
    // It is what /api/anomalies flags with those parameters.
    let api: Value =
        reqwest::get(format!("{base}/api/anomalies?z=2.5&limit=100000")).await.unwrap().json().await.unwrap();
    let api = api["anomalies"].as_array().unwrap();
    assert_eq!(api.len(), all.len());
    let top = &api[0];
    let row = all.iter().find(|r| r.series == top["key"] && r.date.to_string() == top["date"]).unwrap();
    assert_eq!((row.z, row.value), (top["z"].as_f64().unwrap(), top["value"].as_u64().unwrap()));
    assert_eq!(
        (row.method.as_str(), row.params.as_str()),
        ("robust+weekly", "z=2.5;min_days=7;min_count=0;direction=both")
    );
    assert!(all.iter().all(|r| r.recorded_by == "servicewatch"), "the default user");

    // By series, exactly.
    let series = &all[0].series;
    let one = audit(base, &format!("series={series}")).await.records;
    assert_eq!(one.len(), all.iter().filter(|r| &r.series == series).count());
    assert!(one.iter().all(|r| &r.series == series));
    assert!(audit(base, "series=NOPE").await.records.is_empty());
    // By time: RFC 3339 (an unencoded `+` offset too) or dates, `until` a
    // date including that day.
    let now = chrono::Utc::now();
    let (today, yesterday) = (now.date_naive(), now.date_naive().pred_opt().unwrap());
    let count = |q: String| async move { audit(base, &q).await.records.len() };
    assert_eq!(count(format!("since={today}&until={today}&limit=10000")).await, all.len());
    assert_eq!(count(format!("until={yesterday}")).await, 0);
    let later = (now + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    assert_eq!(count(format!("since={later}")).await, 0);
    assert_eq!(count(format!("until={later}&limit=10000")).await, all.len());
    assert_eq!(count("until=2999-01-01T00:00:00+01:00&limit=10000".into()).await, all.len());
    assert_eq!(count("since=2999-01-01T00:00:00%2B01:00".into()).await, 0);
    // At most `limit`, the oldest first; 1000 by default.
    assert_eq!(audit(base, "limit=2").await.records, all[..2]);
    assert_eq!(count(String::new()).await, all.len().min(1000));
    // Another threshold is another set.
    let other = recorded(base, json!({"z": 3, "method": "classic", "services": [series]}), None).await;
    assert!(other.recorded == other.flagged, "{other:?}");
    assert_eq!(audit(base, "limit=10000").await.records.len() as u64, first.flagged + other.flagged);
}

#[tokio::test]
async fn the_recorder_is_the_forwarded_email_only_behind_the_proxy() {
    let file = common::sample_file("audit-who", 9, 10, 150);
    // Not behind the proxy: anyone can send the header, so it is ignored.
    let db = common::fresh_audit_db("audit-who");
    let srv = common::start_audited(&file, &db, proxy(Some("nightly"), false)).await;
    recorded(&srv.base, json!({"z": 2.5}), Some("mallory@example.com")).await;
    let by: Vec<String> = audit(&srv.base, "limit=10000").await.records.into_iter().map(|r| r.recorded_by).collect();
    assert!(!by.is_empty() && by.iter().all(|b| b == "nightly"), "{by:?}");
    drop(srv);

    let db = common::fresh_audit_db("audit-who-proxy");
    let srv = common::start_audited(&file, &db, proxy(Some("nightly"), true)).await;
    recorded(&srv.base, json!({"z": 2.5}), Some("ann@example.com")).await;
    // Without the header, the `user` setting.
    recorded(&srv.base, json!({"z": 3}), None).await;
    let rows = audit(&srv.base, "limit=10000").await.records;
    let by = |params: &str| {
        let mut by: Vec<&str> =
            rows.iter().filter(|r| r.params.starts_with(params)).map(|r| r.recorded_by.as_str()).collect();
        by.dedup();
        by
    };
    assert_eq!(by("z=2.5;"), ["ann@example.com"]);
    assert_eq!(by("z=3;"), ["nightly"]);
}

#[tokio::test]
async fn bad_input_is_a_400_and_cross_site_posts_are_refused() {
    let file = common::sample_file("audit-bad", 9, 4, 60);
    let srv = common::start_audited(&file, &common::fresh_audit_db("audit-bad"), Layer::default()).await;
    let base = &srv.base;
    for (query, says) in [
        ("since=nope", "`since`: `nope` is not a time"),
        ("until=2024-13-01", "`until`"),
        ("since=2024-03-02T25:00:00Z", "`since`"),
        ("since=2024-03-03&until=2024-03-01", "is after `until`"),
        ("since=2024-03-03T00:00:00Z&until=2024-03-02T00:00:00Z", "is after `until`"),
        ("limit=0", "`limit`"),
        ("limit=10001", "`limit`"),
        ("series=", "`series` is empty"),
        ("from=2024-01-01", "unknown parameter `from`"),
    ] {
        let (status, code, message) = error(reqwest::get(format!("{base}/api/audit?{query}")).await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "bad_request"), "{query}: {message}");
        assert!(message.contains(says), "{query}: {message}");
    }
    for (body, says) in [
        (json!({"z": -1}), "`z`"),
        (json!({"z": "3"}), "not valid"),
        (json!({"min_days": 2000000}), "`min_days`"),
        (json!({"method": "median"}), "not valid"),
        (json!({"limit": 5}), "unknown field `limit`"),
        (json!({"services": []}), "`services` is empty"),
        (json!({"from": "2024-02-30"}), "not valid"),
        (json!({"from": "2024-02-01", "to": "2024-01-01"}), "is after `to`"),
    ] {
        let (status, code, message) = error(post(base, body.clone(), None).await).await;
        assert_eq!((status, code.as_str()), (400, "bad_request"), "{body}: {message}");
        assert!(message.contains(says), "{body}: {message}");
    }
    // A service the data does not have: well-formed, not found.
    let (status, code, message) = error(post(base, json!({"services": ["NOPE"]}), None).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"), "{message}");
    assert!(message.contains("unknown service `NOPE`"), "{message}");
    let client = reqwest::Client::new();
    let raw = |t: &str, body: &'static str| {
        client.post(format!("{base}/api/audit")).header("content-type", t).body(body).send()
    };
    let (status, _, message) = error(raw("application/json", "{\"z\":").await.unwrap()).await;
    assert!(status == 400 && message.contains("not valid"), "{message}");
    // What another site can send without a preflight: a form post (either
    // encoding), a text/plain fetch, a bare POST, even with the app's header.
    for content_type in ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"] {
        let (status, code, _) = error(raw(content_type, "{\"z\":2}").await.unwrap()).await;
        assert_eq!((status, code.as_str()), (415, "unsupported_media_type"), "{content_type}");
    }
    let bare = client.post(format!("{base}/api/audit")).header("x-requested-with", "servicewatch").send();
    assert_eq!(error(bare.await.unwrap()).await.0, 415);
    assert!(audit(base, "").await.records.is_empty(), "nothing was recorded");
    // An empty JSON body is the defaults.
    let empty = raw("application/json; charset=utf-8", "").await.unwrap();
    assert_eq!(empty.status(), 200);
}

#[tokio::test]
async fn a_failed_write_or_read_is_a_5xx_in_the_error_body() {
    let file = common::sample_file("audit-fail", 9, 10, 150);
    let db = common::fresh_audit_db("audit-fail");
    let srv = common::start_audited(&file, &db, Layer::default()).await;
    // The file breaks under the running server (the tests run as root, so
    // file modes would not stop a write).
    rusqlite::Connection::open(&db).unwrap().execute_batch("DROP TABLE audit").unwrap();
    let (status, code, message) = error(post(&srv.base, json!({"z": 2.5}), None).await).await;
    assert_eq!((status, code.as_str()), (500, "audit_failed"), "{message}");
    assert!(message.contains("could not be written") && !message.contains("no such table"), "{message}");
    let (status, code, _) = error(reqwest::get(format!("{}/api/audit", srv.base)).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (500, "audit_failed"));
}

#[tokio::test]
async fn a_trail_that_cannot_be_opened_stops_the_start() {
    let layer = |db: &Path| Layer { audit_db: Some(db.to_path_buf()), ..Default::default() };
    // A folder is refused when the settings are read.
    let e = format!("{:#}", Config::from_layers(&[layer(&common::temp_dir("audit-dir"))]).unwrap_err());
    assert!(e.contains("setting `audit_db`"), "{e}");
    // A file that cannot be created stops `serve` before it listens.
    let file = common::sample_file("audit-start", 9, 3, 30);
    let mut child = Command::new(env!("CARGO_BIN_EXE_servicewatch"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data", file.to_str().unwrap()])
        .args(["--audit-db", "/proc/servicewatch/audit.sqlite3"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve started with an audit trail it cannot open");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success() && err.contains("setting `audit_db`"), "{err}");
}

#[tokio::test]
async fn without_a_store_the_audit_routes_say_so() {
    let file = common::sample_file("audit-none", 9, 3, 30);
    let srv = common::start(&file, "", Layer::default()).await;
    for resp in [reqwest::get(format!("{}/api/audit", srv.base)).await.unwrap(), post(&srv.base, json!({}), None).await]
    {
        let (status, code, message) = error(resp).await;
        assert_eq!((status, code.as_str()), (501, "not_available"));
        assert!(message.contains("not available in this build"), "{message}");
    }
}

#[tokio::test]
async fn scan_record_and_post_share_rows() {
    let file = common::sample_file("audit-scan", 9, 10, 150);
    let db = common::fresh_audit_db("audit-scan");
    let out = Command::new(env!("CARGO_BIN_EXE_servicewatch"))
        .args(["scan", "--data", file.to_str().unwrap(), "--z", "2.5", "--min-count", "1", "--record"])
        .args(["--audit-db", db.to_str().unwrap(), "--recorded-by", "nightly"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let srv = common::start_audited(&file, &db, Layer::default()).await;
    let body = json!({"z": 2.5, "min_count": 1, "direction": "both", "method": "robust", "weekly": true});
    let r = recorded(&srv.base, body, None).await;
    assert!(r.flagged > 0 && r.recorded == 0, "{r:?}");
    assert!(err.contains(&format!("recorded {0} new of {0} flagged", r.flagged)), "{err}");
    let rows = audit(&srv.base, "limit=10000").await.records;
    assert_eq!(rows.len() as u64, r.flagged);
    assert!(rows.iter().all(|r| r.recorded_by == "nightly"), "the scan's rows, kept");
}

#[test]
fn scan_takes_the_trail_and_its_user_from_the_settings() {
    let file = common::sample_file("audit-settings", 9, 10, 150);
    let db = common::fresh_audit_db("audit-settings");
    let toml = common::temp_dir("audit-settings").join("servicewatch.toml");
    std::fs::write(&toml, "user = \"from-toml\"\naudit_db = \"/proc/not/here.sqlite3\"\n").unwrap();
    // The environment over the file, as for every setting.
    let out = Command::new(env!("CARGO_BIN_EXE_servicewatch"))
        .args(["scan", "--data", file.to_str().unwrap(), "--z", "2.5", "--record"])
        .arg("--config")
        .arg(&toml)
        .env("SERVICEWATCH_AUDIT_DB", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    use servicewatch::store::{sqlite::Sqlite, AuditQuery, Store};
    let rows = Sqlite::open(&db).unwrap().audit(&AuditQuery { limit: 10, ..Default::default() }).unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| r.recorded_by == "from-toml"), "{rows:?}");
}
