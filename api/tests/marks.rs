//! `/api/marks` on a real server with a real SQLite store: a mark takes its
//! day out of the series' baseline in `/api/anomalies` (the scores equal the
//! engine's with that day excluded), clearing it brings the old scores
//! back, the history is kept, and bad input is a 4xx.

mod common;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use servicewatch::config::Layer;
use servicewatch_shared::wire::{Anomalies, Mark, MarkKind, Marks};
use servicewatch_shared::{BaselineParams, Day, FlagParams, Scores};

async fn post(base: &str, body: Value, email: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(format!("{base}/api/marks")).json(&body);
    if let Some(e) = email {
        req = req.header("x-forwarded-email", e);
    }
    req.send().await.unwrap()
}

async fn marked(base: &str, body: Value) -> Mark {
    let resp = post(base, body.clone(), None).await;
    assert_eq!(resp.status(), 200, "{body}");
    resp.json().await.unwrap()
}

async fn get<T: serde::de::DeserializeOwned>(base: &str, path: &str) -> T {
    let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_mark_leaves_the_baseline_and_clearing_it_brings_it_back() {
    let file = common::sample_file("marks-baseline", 5, 8, 200);
    let db = common::fresh_audit_db("marks-baseline");
    let srv = common::start_audited(&file, &db, Layer::default()).await;
    let base = &srv.base;
    // Every scored day (z 0), so a change to any baseline shows.
    const ALL: &str = "/api/anomalies?z=0&min_days=0&limit=100000";
    let before: Anomalies = get(base, ALL).await;
    let top = get::<Anomalies>(base, "/api/anomalies").await.anomalies[0].clone();

    let m =
        marked(base, json!({"series": top.key, "date": top.date, "kind": "expected", "note": "  spring promotion "}))
            .await;
    assert_eq!(
        (m.kind, m.note.as_str(), m.marked_by.as_str()),
        (MarkKind::Expected, "spring promotion", "servicewatch")
    );
    let current: Marks = get(base, "/api/marks").await;
    assert_eq!(current.marks, vec![m.clone()]);

    // The server's scores are the engine's with that day out of the baseline.
    let after: Anomalies = get(base, ALL).await;
    assert_ne!(after, before, "a mark changes the scores");
    let daily: servicewatch_shared::wire::Daily = get(base, "/api/daily").await;
    let meta: servicewatch_shared::wire::Meta = get(base, "/api/meta").await;
    let panel = daily.to_panel().unwrap();
    let expected = |exclude: BTreeMap<String, Vec<Day>>| {
        let params = BaselineParams {
            from: meta.first,
            to: meta.last,
            partial: meta.partial_days.clone(),
            exclude,
            ..Default::default()
        };
        let s = Scores::compute(&panel, &params);
        s.anomalies(&FlagParams { z: 0.0, min_days: 0, ..Default::default() }, 100_000)
    };
    assert_eq!(after, expected(BTreeMap::from([(top.key.clone(), vec![top.date])])));
    assert_eq!(before, expected(BTreeMap::new()));

    // Cleared: the old scores, and two events in the day's history.
    let cleared = marked(base, json!({"series": top.key, "date": top.date, "kind": "cleared"})).await;
    assert_eq!(cleared.kind, MarkKind::Cleared);
    assert!(get::<Marks>(base, "/api/marks").await.marks.is_empty());
    assert_eq!(get::<Anomalies>(base, ALL).await, before);
    let path = format!("/api/marks?history=true&series={}&date={}", top.key, top.date);
    let history: Marks = get(base, &path).await;
    assert_eq!(history.marks.iter().map(|m| m.kind).collect::<Vec<_>>(), [MarkKind::Expected, MarkKind::Cleared]);

    // A confirmed mark excludes too, and it survives a restart of the server.
    let c = marked(base, json!({"series": top.key, "date": top.date, "kind": "confirmed"})).await;
    drop(srv);
    let srv = common::start_audited(&file, &db, Layer::default()).await;
    assert_eq!(get::<Marks>(&srv.base, "/api/marks").await.marks, vec![c]);
    let again: Anomalies = get(&srv.base, ALL).await;
    assert_eq!(again, after, "confirmed leaves the baseline as expected does");
}

#[tokio::test]
async fn bad_marks_are_refused_and_nothing_is_stored() {
    let file = common::sample_file("marks-bad", 6, 4, 60);
    let srv = common::start_audited(&file, &common::fresh_audit_db("marks-bad"), Layer::default()).await;
    let base = &srv.base;
    let meta: servicewatch_shared::wire::Meta = get(base, "/api/meta").await;
    let series = meta.services[0].clone();
    for (body, status) in [
        (json!({"series": "no such service", "date": "2024-01-05", "kind": "expected"}), 404),
        (json!({"series": series, "date": "2024-13-05", "kind": "expected"}), 400),
        (json!({"series": series, "date": "2024-01-05", "kind": "fraud"}), 400),
        (json!({"series": series, "date": "2024-01-05"}), 400),
        (json!({"series": series, "date": "2024-01-05", "kind": "expected", "note": "x".repeat(2001)}), 400),
        (json!({"series": series, "date": "2024-01-05", "kind": "expected", "note": "a\u{0}b"}), 400),
        (json!({"series": series, "date": "2024-01-05", "kind": "expected", "extra": 1}), 400),
    ] {
        let resp = post(base, body.clone(), None).await;
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["status"], status, "{err}");
    }
    // A form post (the cross-site kind) is refused before anything happens.
    let form = reqwest::Client::new()
        .post(format!("{base}/api/marks"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("series=a&date=2024-01-05&kind=expected")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    assert_eq!(reqwest::get(format!("{base}/api/marks?date=someday")).await.unwrap().status(), 400);
    assert_eq!(reqwest::get(format!("{base}/api/marks?history=maybe")).await.unwrap().status(), 400);
    assert!(get::<Marks>(base, "/api/marks?history=true").await.marks.is_empty(), "nothing stored");
    // A split series of a known service can be marked; of an unknown one not.
    let split = format!("{series} · card");
    let m = marked(base, json!({"series": split, "date": "2024-01-05", "kind": "confirmed"})).await;
    assert_eq!(m.series, split);
    let unknown = json!({"series": "no such service · card", "date": "2024-01-05", "kind": "confirmed"});
    assert_eq!(post(base, unknown, None).await.status(), 404);
    assert_eq!(
        post(base, json!({"series": format!("{series} · "), "date": "2024-01-05", "kind": "confirmed"}), None)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn behind_the_apps_proxy_the_mark_is_by_the_signed_in_user() {
    let file = common::sample_file("marks-proxy", 7, 4, 60);
    let layer = Layer {
        warehouse: servicewatch::config::WarehouseLayer { behind_apps_proxy: Some(true), ..Default::default() },
        ..Default::default()
    };
    let srv = common::start_audited(&file, &common::fresh_audit_db("marks-proxy"), layer).await;
    let meta: servicewatch_shared::wire::Meta = get(&srv.base, "/api/meta").await;
    let body = json!({"series": meta.services[0], "date": meta.last, "kind": "confirmed", "note": "card testing"});
    let resp = post(&srv.base, body, Some("ana@example.com")).await;
    assert_eq!(resp.status(), 200);
    let m: Mark = resp.json().await.unwrap();
    assert_eq!(m.marked_by, "ana@example.com");
}
