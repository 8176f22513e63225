//! What every store must do, run against each of them (the SQLite file and
//! the Databricks tables): idempotent audit rows, mark history with the
//! newest event current, and an outbox that keeps alerts until delivered.

use chrono::{DateTime, TimeZone, Utc};
use servicewatch::store::{AuditQuery, MarkQuery, Store};
use servicewatch_shared::wire::{Alert, AuditRecord, Mark, MarkKind};
use servicewatch_shared::{Anomaly, Day};

fn at(second: u32, micros: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, second).unwrap() + chrono::Duration::microseconds(micros.into())
}

fn audit_row(series: &str, day: i32, z: f64, when: DateTime<Utc>) -> AuditRecord {
    AuditRecord {
        series: series.into(),
        date: Day(day),
        method: "robust+weekly".into(),
        params: "z=3;min_days=7;min_count=0;direction=both".into(),
        value: 9_007_199_254_740_000 + day as u64, // counts near 2^53 stay exact
        center: 41.25,
        z,
        day_factor: 0.7,
        recorded_at: when,
        recorded_by: "nightly scan".into(),
    }
}

fn mark(series: &str, day: i32, kind: MarkKind, note: &str, when: DateTime<Utc>) -> Mark {
    Mark {
        series: series.into(),
        date: Day(day),
        kind,
        note: note.into(),
        marked_by: "ana@example.com".into(),
        marked_at: when,
    }
}

fn alert(key: &str) -> Alert {
    Alert {
        idempotency_key: key.into(),
        text: format!("servicewatch: {key} it's \"odd\""),
        anomaly: Anomaly {
            key: "brakes · web".into(),
            date: Day(19_800),
            value: 120,
            center: 52.0,
            spread: 9.5,
            z: 5.25,
            day_factor: 1.0,
        },
        method: "robust+weekly".into(),
        params: "z=3".into(),
    }
}

/// Runs every check against `store`, which must be empty.
pub fn conformance(store: &dyn Store) {
    // Audit: idempotent on (series, day, method, params), read back exactly.
    let rows = vec![
        audit_row("brakes", 19_800, 5.123456789012345, at(1, 123_456)),
        audit_row("brakes · web", 19_801, -4.5, at(2, 0)),
        audit_row("tyres, front", 19_801, 3.25, at(3, 999_999)),
    ];
    assert_eq!(store.record(&rows).unwrap(), 3);
    assert_eq!(store.record(&rows).unwrap(), 0, "the same rows again add nothing");
    let moved = AuditRecord { recorded_at: at(9, 0), ..rows[0].clone() };
    assert_eq!(store.record(&[moved]).unwrap(), 0, "a later scan of the same day adds nothing");
    let all = store.audit(&AuditQuery { limit: 100, ..Default::default() }).unwrap();
    assert_eq!(all, rows, "read back as written, oldest first");
    let since = store.audit(&AuditQuery { since: Some(at(2, 0)), limit: 100, ..Default::default() }).unwrap();
    assert_eq!(since, rows[1..]);
    let until = store.audit(&AuditQuery { until: Some(at(2, 0)), limit: 100, ..Default::default() }).unwrap();
    assert_eq!(until, rows[..1]);
    let one = store.audit(&AuditQuery { series: Some("tyres, front".into()), limit: 100, ..Default::default() });
    assert_eq!(one.unwrap(), rows[2..]);

    // Marks: events kept; the newest per day is current; cleared is none.
    let events = [
        mark("brakes", 19_800, MarkKind::Expected, "spring promotion", at(10, 1)),
        mark("brakes", 19_800, MarkKind::Cleared, "", at(11, 2)),
        mark("brakes", 19_800, MarkKind::Confirmed, "card testing; it's fraud", at(12, 3)),
        mark("tyres, front", 19_801, MarkKind::Expected, "", at(13, 4)),
        mark("tyres, front", 19_802, MarkKind::Expected, "", at(14, 5)),
        mark("tyres, front", 19_802, MarkKind::Cleared, "", at(15, 6)),
    ];
    for m in &events {
        store.add_mark(m).unwrap();
    }
    let current = store.marks(&MarkQuery::default()).unwrap();
    assert_eq!(current, vec![events[2].clone(), events[3].clone()]);
    let history = store.marks(&MarkQuery { series: Some("brakes".into()), date: Some(Day(19_800)), history: true });
    assert_eq!(history.unwrap(), events[..3]);
    let tyres = store.marks(&MarkQuery { series: Some("tyres, front".into()), ..Default::default() }).unwrap();
    assert_eq!(tyres, vec![events[3].clone()]);

    // Outbox: queued once per key, pending until delivered.
    let (a, b) = (alert("sw-a"), alert("sw-b"));
    assert_eq!(store.enqueue_alerts(&[a.clone(), b.clone()], at(20, 0)).unwrap(), 2);
    assert_eq!(store.enqueue_alerts(&[a.clone(), b.clone()], at(21, 0)).unwrap(), 0);
    assert_eq!(store.pending_alerts().unwrap(), vec![a.clone(), b.clone()]);
    store.alert_failed("sw-a", at(22, 0), "503 Service Unavailable").unwrap();
    store.alert_delivered("sw-b", at(23, 0)).unwrap();
    assert_eq!(store.pending_alerts().unwrap(), vec![a.clone()], "a failure keeps it pending");
    store.alert_delivered("sw-a", at(24, 0)).unwrap();
    assert!(store.pending_alerts().unwrap().is_empty());
    assert_eq!(store.enqueue_alerts(&[a], at(25, 0)).unwrap(), 0, "a delivered alert is never queued again");
}
