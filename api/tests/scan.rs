//! `servicewatch scan`, the alerting job, run as a process: what it prints
//! equals `/api/anomalies` for the same settings, and bad flags say why.

mod common;

use std::process::Command;

use servicewatch::config::Layer;
use servicewatch_shared::wire::Anomalies;

/// Runs `servicewatch scan ARGS` with stderr piped, as a scheduler would.
fn scan(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_servicewatch")).arg("scan").args(args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[tokio::test]
async fn scan_prints_what_the_api_returns() {
    let file = common::sample_file("scan", 9, 10, 150);
    let data = file.to_str().unwrap();
    let srv = common::start(&file, "", Layer::default()).await;
    let cases: [(&[&str], &str); 6] = [
        (&["--z", "2.5"], "z=2.5"),
        // A service list chooses what is flagged; baselines (and the common
        // day factor) still come from every service, as in the API.
        (&["--z", "2", "--services", "SVC-0002", "--services", "SVC-0007"], "z=2&services=SVC-0002&services=SVC-0007"),
        (
            &["--method", "classic", "--min-days", "30", "--direction", "spikes"],
            "method=classic&min_days=30&direction=spikes",
        ),
        (
            &["--weekly", "false", "--min-count", "20", "--from", "2024-02-01", "--to", "2024-04-30"],
            "weekly=false&min_count=20&from=2024-02-01&to=2024-04-30",
        ),
        // Views, as the API's parameters.
        (&["--metric", "amount", "--z", "2.5"], "metric=amount&z=2.5"),
        (
            &["--split", "channel", "--payment-method", "card", "--payment-method", "wallet", "--z", "2"],
            "split=channel&payment_method=wallet&payment_method=card&z=2",
        ),
    ];
    for (flags, query) in cases {
        let url = format!("{}/api/anomalies?limit=100000&{query}", srv.base);
        let api: Anomalies = reqwest::get(url).await.unwrap().json().await.unwrap();
        assert!(!api.anomalies.is_empty(), "{query}");

        let (ok, out, err) = scan(&[&["--data", data, "--format", "json"], flags].concat());
        assert!(ok, "{err}");
        assert_eq!(serde_json::from_str::<Anomalies>(&out).unwrap(), api, "{query}");
        // Amounts say what they left out, as /api/meta of the view does.
        let view = ["metric=", "split=", "segment=", "channel=", "payment_method="];
        let view: Vec<&str> = query.split('&').filter(|p| view.iter().any(|v| p.starts_with(v))).collect();
        let meta = reqwest::get(format!("{}/api/meta?{}", srv.base, view.join("&"))).await.unwrap();
        assert_eq!(meta.status(), 200, "{query}");
        let meta: serde_json::Value = meta.json().await.unwrap();
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json.get("not_summed"), meta.get("not_summed"), "{query}");
        assert!(!err.contains('\r'), "no progress bar when piped: {err:?}");

        let (ok, out, err) = scan(&[&["--data", data], flags].concat());
        assert!(ok, "{err}");
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("key,date,value,center,spread,z,day_factor"));
        let want: Vec<String> = api
            .anomalies
            .iter()
            .map(|a| format!("{},{},{},{},{},{},{}", a.key, a.date, a.value, a.center, a.spread, a.z, a.day_factor))
            .collect();
        assert_eq!(lines.collect::<Vec<_>>(), want, "{query}");
    }
}

#[test]
fn bad_flags_get_clear_messages() {
    let file = common::sample_file("scan-bad", 9, 3, 30);
    let data = file.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--z=-1"], "--z must be a number >= 0"),
        (&["--holidays", "us,mars"], "setting `holidays`: unknown holiday `mars`"),
        (&["--from", "2024-13-01"], "2024-13-01"),
        (&["--services", "NOPE"], "unknown service `NOPE`"),
        (&["--from", "2024-03-01", "--to", "2024-02-01"], "is after --to"),
        (&["--format", "xml"], "invalid value 'xml'"),
    ];
    for (flags, says) in cases {
        let (ok, out, err) = scan(&[&["--data", data], flags].concat());
        assert!(!ok, "{flags:?} should fail");
        assert!(out.is_empty(), "{flags:?} printed {out}");
        assert!(err.contains(says), "{flags:?}: {err}");
    }
}

/// `scan --format json` with `flags`, parsed.
fn scan_json(data: &str, flags: &[&str]) -> serde_json::Value {
    let (ok, out, err) = scan(&[&["--data", data, "--format", "json"], flags].concat());
    assert!(ok, "{flags:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_holiday_calendar_keeps_holiday_drops_out_of_a_scan() {
    let (file, thanksgiving, christmas) = common::holiday_table("scan-holidays");
    let data = file.to_str().unwrap();
    let days = |flags: &[&str]| -> Vec<(String, String)> {
        let out = scan_json(data, flags);
        let rows = out["anomalies"].as_array().unwrap().iter();
        rows.map(|a| (a["date"].as_str().unwrap().to_string(), a["key"].as_str().unwrap().to_string())).collect()
    };
    let plain = days(&[]);
    assert_eq!(plain.iter().filter(|(d, _)| *d == thanksgiving.to_string()).count(), 3, "{plain:?}");
    let us = days(&["--holidays", "us"]);
    assert!(!us.iter().any(|(d, _)| *d == thanksgiving.to_string()), "{us:?}");
    assert!(us.contains(&(christmas.to_string(), "brakes".into())), "{us:?}");
}

#[test]
fn a_view_the_table_cannot_give_is_refused_naming_the_setting() {
    let file = common::messy_csv("scan-views");
    let data = file.to_str().unwrap();
    for (flags, says) in [
        (&["--metric", "amount"][..], "the table has no column `amount` (setting `columns.amount`)"),
        (&["--split", "payment_method"], "the table has no column `payment_method` (setting `columns.payment_method`)"),
        (&["--channel", "web"], "the table has no column `channel` (setting `columns.channel`)"),
        (&["--split", "colour"], "invalid value 'colour'"),
        (&["--channel-column", "via"], "the table has no column `via` (setting `columns.channel`)"),
    ] {
        let (ok, out, err) = scan(&[&["--data", data], flags].concat());
        assert!(!ok && out.is_empty(), "{flags:?} should fail");
        assert!(err.contains(says), "{flags:?}: {err}");
    }
}

#[test]
fn services_are_names_as_stored_one_per_flag() {
    let file = common::names_csv("scan-names", false);
    let data = file.to_str().unwrap();
    let total = |flags: &[&str]| {
        scan_json(data, &[&["--z", "0", "--min-days", "0"], flags].concat())["metrics"]["total"].as_u64().unwrap()
    };
    assert_eq!(total(&["--services", "BRAKES  "]), 1);
    // Each flag one name, commas and all (28 = 4 + 8 + 16); a single value
    // splits into known names the one way it can; a repeat counts once.
    assert_eq!(total(&["--services", "a,b", "--services", "a", "--services", "b,c"]), 28);
    assert_eq!(total(&["--services", "a,b,a,b,c"]), 28);
    assert_eq!(total(&["--services", "a", "--services", "a"]), 8);
    for (flags, says) in [(["--services", ""], "empty name"), (["--services", " BRAKES"], "unknown service ` BRAKES`")]
    {
        let (ok, _, err) = scan(&[&["--data", data], &flags[..]].concat());
        assert!(!ok && err.contains(says), "{flags:?}: {err}");
    }
}

#[test]
fn the_newest_past_day_is_scored_and_unscored_days_are_named() {
    let today = servicewatch_shared::Day::from_date(chrono::Utc::now().date_naive());
    let yesterday = servicewatch_shared::Day(today.0 - 1);
    // Quiet from 21:00 each night: the last day is past, so scored.
    let quiet = common::quiet_table("scan-quiet", yesterday, 60, 0, 21, false);
    let data = quiet.to_str().unwrap();
    let out = scan_json(data, &[]);
    assert_eq!(out["unscored_days"], serde_json::json!([]));
    let flagged = |out: &serde_json::Value, day: &str| {
        out["anomalies"].as_array().unwrap().iter().any(|a| a["key"] == "brakes" && a["date"] == day)
    };
    assert!(flagged(&out, &yesterday.to_string()), "{out}");
    let (ok, csv, err) = scan(&["--data", data]);
    assert!(ok && csv.lines().any(|l| l.starts_with(&format!("brakes,{yesterday},"))), "{csv}");
    assert!(!err.contains("unscored") && !err.contains("newest row"), "{err}");

    // The same table, its last row years ago: an extract, whose last day
    // stops three hours early (an export taken at 21:00).
    let last = servicewatch_shared::Day::parse("2024-03-31").unwrap();
    let export = common::quiet_table("scan-export", last, 60, 0, 21, false);
    let data = export.to_str().unwrap();
    let out = scan_json(data, &[]);
    assert_eq!(out["unscored_days"], serde_json::json!([{ "date": "2024-03-31", "reason": "partial_last_day" }]));
    assert!(!flagged(&out, "2024-03-31"), "{out}");
    let (ok, _, err) = scan(&["--data", data]);
    assert!(ok && err.contains("2024-03-31 left unscored: partial last day of an extract"), "{err}");
    assert!(err.contains("the table's newest row is") && err.contains("(2024-03-31 20:"), "{err}");

    // Dates alone (every row at midnight): nothing says a day is partial.
    let mut csv = String::from("transaction_timestamp,orderservice\n");
    for d in 0..60 {
        let day = servicewatch_shared::Day(last.0 - 59 + d);
        for svc in ["brakes", "tyres"] {
            csv.extend(std::iter::repeat_n(format!("{day},{svc}\n"), 30 + (d as usize % 7)));
        }
    }
    let dates = common::temp_dir("scan-dates").join("tx.csv");
    std::fs::write(&dates, csv).unwrap();
    assert_eq!(scan_json(dates.to_str().unwrap(), &[])["unscored_days"], serde_json::json!([]));

    // Quiet until 03:00: the first day starts late.
    let morning = common::quiet_table("scan-morning", last, 60, 3, 24, false);
    let data = morning.to_str().unwrap();
    let first = serde_json::json!([{ "date": "2024-02-01", "reason": "partial_first_day" }]);
    assert_eq!(scan_json(data, &[])["unscored_days"], first);
    assert_eq!(scan_json(data, &["--method", "classic"])["unscored_days"], serde_json::json!([]), "classic scores it");
    let (ok, _, err) = scan(&["--data", data]);
    assert!(ok && err.contains("2024-02-01 left unscored: partial first day"), "{err}");

    // Read on its last day: that day is still running.
    let running = common::quiet_table("scan-load-day", today, 60, 0, 21, true);
    let data = running.to_str().unwrap();
    let out = scan_json(data, &[]);
    assert_eq!(out["unscored_days"], serde_json::json!([{ "date": today, "reason": "partial_load_day" }]));
    assert!(!flagged(&out, &today.to_string()), "{out}");
    let (ok, _, err) = scan(&["--data", data]);
    assert!(ok && err.contains(&format!("{today} left unscored: today's partial day")), "{err}");
}

#[test]
fn a_recorded_scan_run_twice_adds_one_set() {
    use servicewatch::store::{sqlite::Sqlite, AuditQuery, Store};
    let file = common::sample_file("scan-record", 9, 10, 150);
    let data = file.to_str().unwrap();
    let db = std::env::temp_dir().join(format!("servicewatch-audit-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let audit = db.to_str().unwrap();
    let run = |extra: &[&str]| {
        let (ok, out, err) = scan(
            &[&["--data", data, "--z", "2.5", "--record", "--audit-db", audit, "--recorded-by", "nightly"], extra]
                .concat(),
        );
        assert!(ok, "{err}");
        (out, err)
    };
    // Printing is limited; recording is not.
    let (out, err) = run(&["--limit", "3"]);
    assert_eq!(out.lines().count(), 1 + 3);
    let (_, all, _) = scan(&["--data", data, "--z", "2.5", "--format", "json"]);
    let all: Anomalies = serde_json::from_str(&all).unwrap();
    let flagged = all.anomalies.len();
    assert!(flagged > 3, "{flagged}");
    assert!(err.contains(&format!("recorded {flagged} new of {flagged} flagged days")), "{err}");
    // The same scan again: nothing new.
    let (_, err) = run(&[]);
    assert!(err.contains(&format!("recorded 0 new of {flagged}")), "{err}");
    let rows = Sqlite::open(&db).unwrap().audit(&AuditQuery { limit: 100_000, ..Default::default() }).unwrap();
    assert_eq!(rows.len(), flagged);
    let top = &all.anomalies[0];
    let row = rows.iter().find(|r| r.series == top.key && r.date == top.date).expect("the top anomaly is recorded");
    assert_eq!((row.value, row.z, row.center), (top.value, top.z, top.center));
    assert_eq!((row.method.as_str(), row.recorded_by.as_str()), ("robust+weekly", "nightly"));
    assert_eq!(row.params, "z=2.5;min_days=7;min_count=0;direction=both");
    // Another threshold is another record set, and so is another view.
    let (ok, _, err) = scan(&["--data", data, "--z", "3", "--record", "--audit-db", audit]);
    assert!(ok && !err.contains("recorded 0 new"), "{err}");
    let (_, err) = run(&["--metric", "amount", "--channel", "web"]);
    assert!(!err.contains("recorded 0 new"), "{err}");
    let rows = Sqlite::open(&db).unwrap().audit(&AuditQuery { limit: 100_000, ..Default::default() }).unwrap();
    let amounts =
        rows.iter().filter(|r| r.params == "z=2.5;min_days=7;min_count=0;direction=both;metric=amount;channel=web");
    assert!(amounts.count() > 0, "{:?}", rows.iter().map(|r| &r.params).collect::<std::collections::BTreeSet<_>>());
    // A trail that cannot be written fails the scan.
    let (ok, _, err) = scan(&["--data", data, "--record", "--audit-db", "/proc/servicewatch/audit.sqlite3"]);
    assert!(!ok && err.contains("audit"), "{err}");
    let _ = std::fs::remove_file(&db);
}
