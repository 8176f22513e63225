//! Helpers the integration tests share: generated data and a real server
//! on 127.0.0.1. Each test crate uses some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use servicewatch::config::{Config, Layer, WarehouseLayer};
use servicewatch::http::{serve_on, AppState};
use servicewatch::sample;
use servicewatch_shared::Day;

pub struct Server {
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("servicewatch-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn start(data: &Path, base_path: &str, extra: Layer) -> Server {
    let layer = Layer {
        warehouse: WarehouseLayer { data: Some(data.to_path_buf()), ..Default::default() },
        ..Layer::default()
    };
    let config = Config::from_layers(&[extra, layer]).unwrap();
    let warehouse = servicewatch::open_warehouse(&config).await.unwrap();
    serve_state(warehouse, config, base_path).await
}

/// A path for an audit trail that does not exist yet.
pub fn fresh_audit_db(name: &str) -> PathBuf {
    let db = temp_dir(name).join("audit.sqlite3");
    let _ = std::fs::remove_file(&db);
    db
}

/// [`start`] with the audit trail in the SQLite file `db`.
pub async fn start_audited(data: &Path, db: &Path, mut extra: Layer) -> Server {
    extra.audit_db = Some(db.to_path_buf());
    let layer = Layer {
        warehouse: WarehouseLayer { data: Some(data.to_path_buf()), ..Default::default() },
        ..Layer::default()
    };
    let config = Config::from_layers(&[extra, layer]).unwrap();
    let warehouse = servicewatch::open_warehouse(&config).await.unwrap();
    let store = servicewatch::open_store(&config).unwrap();
    assert!(store.is_some(), "built with the sqlite feature");
    let mut state = AppState::new(warehouse, config, PathBuf::from("no-dist-here"));
    state.store = store;
    serve_app(state, "").await
}

/// A real server on 127.0.0.1 for a warehouse and config made by the test.
pub async fn serve_state(
    warehouse: Arc<dyn servicewatch::warehouse::Warehouse>,
    config: Config,
    base_path: &str,
) -> Server {
    serve_app(AppState::new(warehouse, config, PathBuf::from("no-dist-here")), base_path).await
}

/// A real server on 127.0.0.1 for an app state the test has adjusted.
pub async fn serve_app(state: AppState, base_path: &str) -> Server {
    let state = Arc::new(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let base = base_path.to_string();
    tokio::spawn(async move {
        serve_on(listener, state, &base, async {
            let _ = stopped.await;
        })
        .await
        .unwrap()
    });
    Server { base: format!("http://{addr}{base_path}"), _stop: stop }
}

/// Sample transactions (Parquet) in a folder of their own.
pub fn sample_file(name: &str, seed: u64, services: usize, days: u32) -> PathBuf {
    write_sample(temp_dir(name).join("tx.parquet"), seed, services, days, None)
}

/// `servicewatch sample` into `out` from 2024-01-01, with its labels file
/// where asked.
fn write_sample(out: PathBuf, seed: u64, services: usize, days: u32, labels: Option<PathBuf>) -> PathBuf {
    let start = Day::parse("2024-01-01").unwrap();
    let args = sample::Args { out: out.clone(), seed, services, days, start, scale: 1.0, labels };
    sample::write(&args, |_, _| {}).unwrap();
    out
}

/// [`sample_file`] with its labels file (`orderservice,date,kind,metric,
/// split,value`), read back as rows of those six fields.
pub fn labelled_sample(name: &str, seed: u64, services: usize, days: u32) -> (PathBuf, Vec<Vec<String>>) {
    let dir = temp_dir(name);
    let labels = dir.join("labels.csv");
    let out = write_sample(dir.join("tx.parquet"), seed, services, days, Some(labels.clone()));
    let text = std::fs::read_to_string(labels).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("orderservice,date,kind,metric,split,value"));
    (out, lines.map(|l| l.split(',').map(str::to_string).collect()).collect())
}

/// Rows a query must leave out, and the reason it must give for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub null_service: u64,
    pub null_timestamp: u64,
    pub out_of_range: u64,
}

/// Clean rows of the messy fixtures: `brakes` and `tyres`, four a day
/// (06:00, 10:00, 14:00, 18:00 UTC) from 2024-03-01 to 2024-03-10.
pub const MESSY_DAYS: (&str, &str) = ("2024-03-01", "2024-03-10");
pub const MESSY_COUNTED: u64 = 2 * 10 * 4;

/// (service, time as text) of the messy fixtures: the clean rows, then
/// NULL services (one with a NULL time too), NULL times and a 9999-12-31
/// sentinel; `text_only` adds what a timestamp column cannot hold: a time
/// that is no time and a 1900-01-01 placeholder.
fn messy_rows(text_only: bool) -> Vec<(Option<String>, Option<String>)> {
    let mut rows = Vec::new();
    for day in 1..=10 {
        for hour in [6, 10, 14, 18] {
            for svc in ["brakes", "tyres"] {
                rows.push((Some(svc.to_string()), Some(format!("2024-03-{day:02}T{hour:02}:00:00Z"))));
            }
        }
    }
    let s = |v: &str| Some(v.to_string());
    rows.push((None, s("2024-03-05T12:00:00Z")));
    rows.push((None, None));
    rows.extend([(s("brakes"), None), (s("tyres"), None), (s("brakes"), None)]);
    rows.push((s("brakes"), s("9999-12-31T00:00:00Z")));
    if text_only {
        rows.push((s("tyres"), s("not a time")));
        rows.push((s("tyres"), s("1900-01-01T00:00:00Z")));
    }
    rows
}

/// What the typed messy Parquet file must report.
pub const MESSY_PARQUET_DROPPED: Dropped = Dropped { null_service: 2, null_timestamp: 3, out_of_range: 1 };
/// What the messy files with times as text (CSV, Parquet) must report.
pub const MESSY_TEXT_DROPPED: Dropped = Dropped { null_service: 2, null_timestamp: 4, out_of_range: 2 };

/// The messy rows as Parquet: a UTC timestamp column, or (`text`) times as
/// strings, as some extracts have them.
pub fn messy_parquet(name: &str, text: bool) -> PathBuf {
    use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let rows = messy_rows(text);
    let ids: Vec<String> = (1..=rows.len()).map(|i| format!("TX{i}")).collect();
    let svc: Vec<Option<&str>> = rows.iter().map(|r| r.0.as_deref()).collect();
    let (ts_type, ts): (DataType, ArrayRef) = if text {
        (DataType::Utf8, Arc::new(StringArray::from(rows.iter().map(|r| r.1.as_deref()).collect::<Vec<_>>())))
    } else {
        let micros = rows
            .iter()
            .map(|r| r.1.as_deref().map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_micros()));
        let ty = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        (ty, Arc::new(TimestampMicrosecondArray::from(micros.collect::<Vec<_>>()).with_timezone("UTC")))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("transaction_id", DataType::Utf8, false),
        Field::new("transaction_timestamp", ts_type, true),
        Field::new("orderservice", DataType::Utf8, true),
    ]));
    let cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from(ids)), ts, Arc::new(StringArray::from(svc))];
    let out = temp_dir(name).join("tx.parquet");
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&out).unwrap(), schema.clone(), None).unwrap();
    w.write(&RecordBatch::try_new(schema, cols).unwrap()).unwrap();
    w.close().unwrap();
    out
}

/// The messy rows (with the text-only ones) as CSV; NULLs are empty fields.
pub fn messy_csv(name: &str) -> PathBuf {
    let mut csv = String::from("transaction_id,transaction_timestamp,orderservice\n");
    for (i, (svc, ts)) in messy_rows(true).into_iter().enumerate() {
        csv.push_str(&format!("TX{},{},{}\n", i + 1, ts.unwrap_or_default(), svc.unwrap_or_default()));
    }
    let out = temp_dir(name).join("tx.csv");
    std::fs::write(&out, csv).unwrap();
    out
}

/// Service names only exact matching tells apart, all on 2024-03-01: a
/// CHAR-padded `BRAKES  ` beside `BRAKES`, and names holding commas (`a,b`,
/// `a`, `b,c`, and `b` when `ambiguous`). Their counts are 1, 2, 4, 8, 16
/// and 32, so a total says which services it sums.
pub fn names_csv(name: &str, ambiguous: bool) -> PathBuf {
    let names = ["BRAKES  ", "BRAKES", "a,b", "a", "b,c", "b"];
    let mut csv = String::from("transaction_id,transaction_timestamp,orderservice\n");
    let mut id = 0;
    for (i, svc) in names.iter().enumerate().take(if ambiguous { 6 } else { 5 }) {
        for k in 0..1 << i {
            id += 1;
            csv.push_str(&format!("{id},2024-03-01T10:{:02}:00Z,\"{svc}\"\n", k % 60));
        }
    }
    let out = temp_dir(name).join("tx.csv");
    std::fs::write(&out, csv).unwrap();
    out
}

/// Six services over `days` days up to `last` (UTC), their rows spread
/// from `open` to `close` o'clock, the rest of each day quiet; on the last
/// day `brakes` has five times its usual rows (the five others are steady,
/// so the day is no common move), and when `late` that day's rows all
/// come at 23:59.
pub fn quiet_table(name: &str, last: Day, days: i32, open: u32, close: u32, late: bool) -> PathBuf {
    let mut csv = String::from("transaction_id,transaction_timestamp,orderservice\n");
    let mut id = 0;
    for d in last.0 - days + 1..=last.0 {
        let midnight = Day(d).date().and_hms_opt(0, 0, 0).unwrap();
        for (s, svc) in ["brakes", "s1", "s2", "s3", "s4", "s5"].into_iter().enumerate() {
            let usual = 40 + (d + s as i32).rem_euclid(5) as u32;
            let n = if d == last.0 && svc == "brakes" { usual * 5 } else { usual };
            for k in 0..n {
                let secs =
                    if late && d == last.0 { 23 * 3600 + 59 * 60 } else { open * 3600 + k * (close - open) * 3600 / n };
                let t = midnight + chrono::Duration::seconds(secs.into());
                id += 1;
                csv.push_str(&format!("{id},{},{svc}\n", t.format("%Y-%m-%dT%H:%M:%SZ")));
            }
        }
    }
    let out = temp_dir(name).join("tx.csv");
    std::fs::write(&out, csv).unwrap();
    out
}

/// Three services, October to December 2024, each around 40 a day; on
/// Thanksgiving (28 November, returned first) all three sell 5, and on
/// Christmas Day (returned second) brakes sells five times its usual.
/// Three services are too few to measure a common factor.
pub fn holiday_table(name: &str) -> (PathBuf, Day, Day) {
    let mut csv = String::from("transaction_timestamp,orderservice\n");
    let (first, last) = (Day::parse("2024-10-01").unwrap(), Day::parse("2024-12-31").unwrap());
    let (thanksgiving, christmas) = (Day::parse("2024-11-28").unwrap(), Day::parse("2024-12-25").unwrap());
    for d in first.0..=last.0 {
        for (s, svc) in ["brakes", "tyres", "oil"].into_iter().enumerate() {
            let usual = 40 + (d * 7 + s as i32 * 3).rem_euclid(9) as u32;
            let n = match (Day(d), svc) {
                (day, _) if day == thanksgiving => 5,
                (day, "brakes") if day == christmas => usual * 5,
                _ => usual,
            };
            for k in 0..n {
                let t =
                    Day(d).date().and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::seconds((k * 86_399 / n).into());
                csv.push_str(&format!("{},{svc}\n", t.format("%Y-%m-%dT%H:%M:%SZ")));
            }
        }
    }
    let out = temp_dir(name).join("tx.csv");
    std::fs::write(&out, csv).unwrap();
    (out, thanksgiving, christmas)
}
