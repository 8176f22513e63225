//! The embedded warehouse on its own: progress reporting and cancellation.

mod common;

use servicewatch::config::{Config, Layer, WarehouseLayer};
use servicewatch::warehouse::{Caller, DailyQuery, Progress, WarehouseError};
use tokio_util::sync::CancellationToken;

async fn open(name: &str) -> std::sync::Arc<dyn servicewatch::warehouse::Warehouse> {
    let file = common::sample_file(name, 5, 8, 90);
    let layer = Layer { warehouse: WarehouseLayer { data: Some(file), ..Default::default() }, ..Layer::default() };
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
    let panel = wh.daily(&DailyQuery { from, to, services: None }, &caller, &cancel, &progress).await.unwrap();
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
    let q = DailyQuery { from: servicewatch_shared::Day(19723), to: servicewatch_shared::Day(19800), services: None };
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
