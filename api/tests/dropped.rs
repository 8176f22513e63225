//! Rows the daily counts leave out (a NULL service, a NULL or unreadable
//! time, a 9999-12-31 placeholder) are counted by reason in `/api/meta`,
//! the bounds come from the counted rows only, and no route fails on them.

mod common;

use std::collections::BTreeMap;

use common::{messy_csv, messy_parquet, start, Dropped, MESSY_COUNTED, MESSY_DAYS};
use common::{MESSY_PARQUET_DROPPED, MESSY_TEXT_DROPPED};
use serde_json::{json, Value};
use servicewatch::config::Layer;

async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn dropped_rows_are_counted_by_reason_and_never_fail_a_route() {
    let cases = [
        ("parquet with a timestamp column", messy_parquet("dropped-typed", false), MESSY_PARQUET_DROPPED),
        ("parquet with times as text", messy_parquet("dropped-text", true), MESSY_TEXT_DROPPED),
        ("csv", messy_csv("dropped-csv"), MESSY_TEXT_DROPPED),
    ];
    for (what, file, Dropped { null_service, null_timestamp, out_of_range }) in cases {
        for zone in [None, Some("Europe/Paris")] {
            let layer = Layer { time_zone: zone.map(str::to_string), ..Layer::default() };
            let srv = start(&file, "", layer).await;
            let (status, meta) = get(&format!("{}/api/meta", srv.base)).await;
            assert_eq!(status, 200, "{what}: {meta}");
            assert_eq!(
                meta["dropped_rows"],
                json!({ "null_service": null_service, "null_timestamp": null_timestamp, "out_of_range": out_of_range }),
                "{what}"
            );
            // Bounds from the counted rows only: the sentinel moves neither end.
            assert_eq!(meta["rows"], MESSY_COUNTED, "{what}");
            assert_eq!((meta["first"].as_str(), meta["last"].as_str()), (Some(MESSY_DAYS.0), Some(MESSY_DAYS.1)));
            assert!(meta["latest_transaction"].as_str().unwrap().starts_with("2024-03-10T18:00:00"), "{meta}");
            assert_eq!(meta["source"], "table");

            let (status, daily) = get(&format!("{}/api/daily", srv.base)).await;
            assert_eq!(status, 200, "{what}: {daily}");
            let mut per_service = BTreeMap::new();
            for s in daily["series"].as_array().unwrap() {
                let values = s["values"].as_array().unwrap();
                assert!(values.iter().all(|v| v == 4), "{what}: {s}");
                per_service.insert(s["key"].as_str().unwrap().to_string(), values.len());
            }
            assert_eq!(per_service, BTreeMap::from([("brakes".into(), 10), ("tyres".into(), 10)]), "{what}");

            let (status, body) = get(&format!("{}/api/anomalies?z=0&min_days=0&method=classic", srv.base)).await;
            assert_eq!(status, 200, "{what}: {body}");
            assert_eq!(body["metrics"]["total"], MESSY_COUNTED, "{what}");
            let (status, body) = get(&format!("{}/api/anomalies", srv.base)).await;
            assert_eq!(status, 200, "{what}: {body}");

            let (status, body) =
                get(&format!("{}/api/transactions?orderservice=brakes&date=2024-03-05", srv.base)).await;
            assert_eq!(status, 200, "{what}: {body}");
            assert_eq!(body["rows"].as_array().unwrap().len(), 4, "{what}");

            // Asking for the sentinel's days reads nothing, without overflowing.
            for path in [
                "/api/daily?from=9999-12-01&to=9999-12-31",
                "/api/anomalies?from=9999-12-01&to=9999-12-31",
                "/api/transactions?orderservice=brakes&date=9999-12-31",
                "/api/transactions?orderservice=tyres&date=1900-01-01",
            ] {
                let (status, body) = get(&format!("{}{path}", srv.base)).await;
                assert_eq!(status, 200, "{what}: {path}: {body}");
                let empty = |k: &str| body[k].as_array().is_none_or(|a| a.is_empty());
                assert!(empty("series") && empty("rows") && empty("anomalies"), "{what}: {path}: {body}");
            }
            let (status, ready) = get(&format!("{}/readyz", srv.base)).await;
            assert_eq!((status, &ready["rows"]), (200, &json!(MESSY_COUNTED)), "{what}");
        }
    }
}
