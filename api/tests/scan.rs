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
    let cases: [(&[&str], &str); 4] = [
        (&["--z", "2.5"], "z=2.5"),
        // A service list chooses what is flagged; baselines (and the common
        // day factor) still come from every service, as in the API.
        (&["--z", "2", "--services", "SVC-0002,SVC-0007"], "z=2&services=SVC-0002,SVC-0007"),
        (
            &["--method", "classic", "--min-days", "30", "--direction", "spikes"],
            "method=classic&min_days=30&direction=spikes",
        ),
        (
            &["--weekly", "false", "--min-count", "20", "--from", "2024-02-01", "--to", "2024-04-30"],
            "weekly=false&min_count=20&from=2024-02-01&to=2024-04-30",
        ),
    ];
    for (flags, query) in cases {
        let url = format!("{}/api/anomalies?limit=100000&{query}", srv.base);
        let api: Anomalies = reqwest::get(url).await.unwrap().json().await.unwrap();
        assert!(!api.anomalies.is_empty(), "{query}");

        let (ok, out, err) = scan(&[&["--data", data, "--format", "json"], flags].concat());
        assert!(ok, "{err}");
        assert_eq!(serde_json::from_str::<Anomalies>(&out).unwrap(), api, "{query}");
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
    let cases: [(&[&str], &str); 5] = [
        (&["--z=-1"], "--z must be a number >= 0"),
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
