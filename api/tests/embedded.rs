//! The embedded warehouse on its own: progress reporting, cancellation,
//! and the views' aggregates (amounts, splits, filters) against sums
//! computed independently from the file.

mod common;

use std::collections::BTreeMap;

use servicewatch::config::{Config, Layer, WarehouseLayer};
use servicewatch::view::View;
use servicewatch::warehouse::{Caller, DailyQuery, Progress, WarehouseError};
use servicewatch_shared::{Dimension, Metric};
use tokio_util::sync::CancellationToken;

async fn open(name: &str) -> std::sync::Arc<dyn servicewatch::warehouse::Warehouse> {
    open_file(&common::sample_file(name, 5, 8, 90)).await
}

async fn open_file(file: &std::path::Path) -> std::sync::Arc<dyn servicewatch::warehouse::Warehouse> {
    let data = Some(file.to_path_buf());
    let layer = Layer { warehouse: WarehouseLayer { data, ..Default::default() }, ..Layer::default() };
    servicewatch::open_warehouse(&Config::from_layers(&[layer]).unwrap()).await.unwrap()
}

#[tokio::test]
async fn progress_ends_at_every_row_of_the_table() {
    let wh = open("progress").await;
    let (caller, cancel) = (Caller::default(), CancellationToken::new());
    let bounds = wh.bounds(&caller, &cancel, &Default::default()).await.unwrap();
    let (from, to) = bounds.days(Default::default()).unwrap();
    let progress = Progress::default();
    assert_eq!(progress.get(), (0, 0));
    let q = DailyQuery { from, to, services: None, view: Default::default() };
    let panel = wh.daily(&q, &caller, &cancel, &progress).await.unwrap().panel;
    assert!(bounds.rows > 1000);
    assert_eq!(progress.get(), (bounds.rows, bounds.rows));
    let total: u64 = (0..panel.len()).flat_map(|s| panel.counts(s).iter().copied()).sum();
    assert_eq!(total, bounds.rows);
}

#[tokio::test]
async fn a_cancelled_query_says_so() {
    let wh = open("cancel").await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let (from, to) = (servicewatch_shared::Day(19723), servicewatch_shared::Day(19800));
    let q = DailyQuery { from, to, services: None, view: Default::default() };
    let err = wh.daily(&q, &Caller::default(), &cancel, &Progress::default()).await.unwrap_err();
    assert!(matches!(err, WarehouseError::Cancelled), "{err}");
}

#[tokio::test]
async fn a_corrupt_file_is_named_in_the_error() {
    let good = common::sample_file("corrupt", 5, 2, 10);
    let bad = good.with_file_name("cut.parquet");
    std::fs::write(&bad, &std::fs::read(&good).unwrap()[..4000]).unwrap();
    let layer =
        Layer { warehouse: WarehouseLayer { data: Some(bad.clone()), ..Default::default() }, ..Layer::default() };
    let err = servicewatch::open_warehouse(&Config::from_layers(&[layer]).unwrap()).await.err().unwrap();
    let text = format!("{err:#}");
    assert!(text.contains("cut.parquet: cannot read it as Parquet"), "{text}");
}

/// A sample row as the tests below need it.
struct Row {
    service: String,
    /// The UTC day.
    day: i32,
    amount: f64,
    channel: String,
    payment: String,
}

/// Every row of a sample file, read with the `parquet` crate, no SQL.
fn sample_rows(path: &std::path::Path) -> Vec<Row> {
    use datafusion::arrow::array::{Array, Float64Array, StringArray, TimestampMicrosecondArray};
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = |name: &str| batch.column_by_name(name).unwrap().clone();
        let text = |name: &str| col(name).as_any().downcast_ref::<StringArray>().unwrap().clone();
        let ts = col("transaction_timestamp");
        let ts = ts.as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
        let amount = col("amount");
        let amount = amount.as_any().downcast_ref::<Float64Array>().unwrap();
        let (svc, channel, payment) = (text("orderservice"), text("channel"), text("payment_method"));
        for i in 0..batch.num_rows() {
            assert!(!amount.is_null(i));
            rows.push(Row {
                service: svc.value(i).into(),
                day: ts.value(i).div_euclid(86_400_000_000) as i32,
                amount: amount.value(i),
                channel: channel.value(i).into(),
                payment: payment.value(i).into(),
            });
        }
    }
    rows
}

/// The panel as (series, day) → value.
fn flat(panel: &servicewatch_shared::Panel) -> BTreeMap<(String, i32), u64> {
    let mut out = BTreeMap::new();
    for s in 0..panel.len() {
        for (d, v) in panel.days(s).iter().zip(panel.counts(s)) {
            out.insert((panel.key(s).to_string(), d.0), *v);
        }
    }
    out
}

async fn aggregate(wh: &dyn servicewatch::warehouse::Warehouse, view: View) -> servicewatch::warehouse::Aggregates {
    let (caller, cancel) = (Caller::default(), CancellationToken::new());
    let bounds = wh.bounds(&caller, &cancel, &Progress::default()).await.unwrap();
    let (from, to) = bounds.days(Default::default()).unwrap();
    let q = DailyQuery { from, to, services: None, view };
    wh.daily(&q, &caller, &cancel, &Progress::default()).await.unwrap()
}

#[tokio::test]
async fn amounts_are_the_exact_sum_of_cents_per_service_day_also_split_and_filtered() {
    let file = common::sample_file("amounts", 21, 10, 120);
    let wh = open_file(&file).await;
    let rows = sample_rows(&file);
    // Cents, computed independently: each amount rounded to a whole cent,
    // summed in i64; a refund (negative) is left out and counted.
    let cents = |a: f64| (a * 100.0).round() as i64;
    let truth = |key: &dyn Fn(&Row) -> Option<String>| {
        let (mut sums, mut left_out) = (BTreeMap::<(String, i32), i64>::new(), 0u64);
        for r in &rows {
            let Some(k) = key(r) else { continue };
            let sum = sums.entry((k, r.day)).or_insert(0);
            match cents(r.amount) {
                c if c >= 0 => *sum += c,
                _ => left_out += 1,
            }
        }
        let sums: BTreeMap<(String, i32), u64> = sums.into_iter().map(|(k, v)| (k, v as u64)).collect();
        (sums, left_out)
    };

    let got = aggregate(wh.as_ref(), View { metric: Metric::Amount, ..View::default() }).await;
    let (want, left_out) = truth(&|r| Some(r.service.clone()));
    assert_eq!(flat(&got.panel), want);
    assert!(left_out > 0, "the sample has refunds");
    assert_eq!(got.not_summed, left_out);

    // Split by payment method, only the web and app channels.
    let view = View::new(
        Metric::Amount,
        Some(Dimension::PaymentMethod),
        [(Dimension::Channel, vec!["web".to_string(), "app".to_string()])],
    )
    .unwrap();
    let got = aggregate(wh.as_ref(), view).await;
    let (want, left_out) =
        truth(&|r| ["web", "app"].contains(&r.channel.as_str()).then(|| format!("{} · {}", r.service, r.payment)));
    assert_eq!(flat(&got.panel), want);
    assert_eq!(got.not_summed, left_out);
    assert!(got.panel.keys().iter().any(|k| k.ends_with(" · card_not_present")), "{:?}", got.panel.keys());

    // Counts split the same way add up to the service's counts.
    let split = aggregate(wh.as_ref(), View { split: Some(Dimension::Channel), ..View::default() }).await;
    let whole = aggregate(wh.as_ref(), View::default()).await;
    let mut summed: BTreeMap<(String, i32), u64> = BTreeMap::new();
    for ((key, day), n) in flat(&split.panel) {
        let service = key.split(" · ").next().unwrap().to_string();
        *summed.entry((service, day)).or_insert(0) += n;
    }
    assert_eq!(summed, flat(&whole.panel));
    assert_eq!((split.not_summed, whole.not_summed), (0, 0), "counts leave nothing out");
}

#[tokio::test]
async fn null_negative_and_unreadable_amounts_are_counted_not_summed() {
    let dir = common::temp_dir("amount-text");
    let file = dir.join("tx.csv");
    // Amounts as text, as some extracts have them; a NULL channel too.
    std::fs::write(
        &file,
        "transaction_timestamp,orderservice,amount,channel\n\
         2024-03-01T10:00:00Z,oil,12.345,web\n\
         2024-03-01T11:00:00Z,oil,0.005,\n\
         2024-03-01T12:00:00Z,oil,,web\n\
         2024-03-01T13:00:00Z,oil,abc,web\n\
         2024-03-01T14:00:00Z,oil,-5,app\n\
         2024-03-01T15:00:00Z,oil,1e300,app\n\
         2024-03-02T10:00:00Z,oil,-1,web\n",
    )
    .unwrap();
    let wh = open_file(&file).await;
    let got = aggregate(wh.as_ref(), View { metric: Metric::Amount, ..View::default() }).await;
    // Half a cent rounds up: 12.345 is 1235 cents, 0.005 is 1.
    // The NULL, `abc`, the refunds and the amount no BIGINT holds are not summed;
    // a day with nothing summed is a day of 0.
    assert_eq!(flat(&got.panel), BTreeMap::from([(("oil".into(), 19783), 1236), (("oil".into(), 19784), 0)]));
    assert_eq!(got.not_summed, 5);
    let split = aggregate(wh.as_ref(), View { split: Some(Dimension::Channel), ..View::default() }).await;
    let keys: Vec<&str> = split.panel.keys().iter().map(String::as_str).collect();
    assert_eq!(keys, ["oil · (none)", "oil · app", "oil · web"]);
}

#[tokio::test]
async fn a_column_a_setting_names_must_be_in_the_table() {
    let file = common::sample_file("columns", 5, 2, 10);
    let open = |columns: &str| {
        let mut layer: Layer = toml::from_str(columns).unwrap();
        layer.warehouse = WarehouseLayer { data: Some(file.clone()), ..Default::default() };
        async move { servicewatch::open_warehouse(&Config::from_layers(&[layer]).unwrap()).await }
    };
    let err = open("[columns]\nchannel = \"chan\"").await.err().unwrap();
    let text = format!("{err:#}");
    assert!(text.contains("the table has no column `chan` (setting `columns.channel`)"), "{text}");
    assert!(text.contains("tx.parquet"), "names the file: {text}");
    let err = open("[columns]\namount = \"total\"").await.err().unwrap();
    assert!(format!("{err:#}").contains("no column `total` (setting `columns.amount`)"), "{err:#}");
    // Under their default names, missing columns are simply not offered.
    let bare = common::messy_csv("columns-bare");
    let layer = Layer { warehouse: WarehouseLayer { data: Some(bare), ..Default::default() }, ..Layer::default() };
    let config = Config::from_layers(&[layer]).unwrap();
    let wh = servicewatch::open_warehouse(&config).await.unwrap();
    let have = wh.columns(&Caller::default(), &CancellationToken::new()).await.unwrap();
    let available = servicewatch::view::Available::resolve(&config.columns, &have).unwrap();
    assert_eq!(available, Default::default());
    assert!(open("[columns]\nsegment = \"customer_segment\"").await.is_ok(), "the sample has it");
}
