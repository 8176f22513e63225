//! `servicewatch scan --alert URL`, run as a process against a real webhook
//! receiver on 127.0.0.1: every flagged day arrives exactly once through
//! failures, timeouts and a receiver that is down, marked days are not
//! alerted, and the payload carries its idempotency key in the header too.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use servicewatch::store::{sqlite::Sqlite, Store};
use servicewatch_shared::wire::{Alert, Anomalies, Mark, MarkKind};
use servicewatch_shared::Anomaly;
use sha2::{Digest, Sha256};

/// One request the receiver saw.
#[derive(Clone, Debug)]
struct Received {
    header_key: Option<String>,
    content_type: Option<String>,
    body: Alert,
    accepted: bool,
}

#[derive(Default)]
struct Log {
    seen: AtomicUsize,
    requests: Mutex<Vec<Received>>,
}

impl Log {
    fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// How many times each key was accepted.
    fn accepted(&self) -> HashMap<String, usize> {
        let mut by_key = HashMap::new();
        for r in self.requests().into_iter().filter(|r| r.accepted) {
            *by_key.entry(r.body.idempotency_key).or_default() += 1;
        }
        by_key
    }
}

/// A webhook on 127.0.0.1 that answers 503 to its first `failing`
/// requests, then (when `slow`) holds one past the client's timeout, then
/// accepts everything.
struct Receiver {
    url: String,
    log: Arc<Log>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn receiver(failing: usize, slow: bool) -> Receiver {
    let log = Arc::new(Log::default());
    let hook = move |State(log): State<Arc<Log>>, headers: HeaderMap, body: String| async move {
        let n = log.seen.fetch_add(1, Ordering::SeqCst);
        let status =
            if n < failing || (slow && n == failing) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        log.requests.lock().unwrap().push(Received {
            header_key: header("idempotency-key"),
            content_type: header("content-type"),
            body: serde_json::from_str(&body).unwrap_or_else(|e| panic!("not an Alert ({e}): {body}")),
            accepted: status.is_success(),
        });
        if slow && n == failing {
            // Well past `--alert-timeout-secs 1`: the client gives up first.
            tokio::time::sleep(Duration::from_secs(4)).await;
        }
        status
    };
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    Receiver { url: format!("http://{addr}/hook"), log, _stop: stop }
}

/// A URL where nothing listens: connections are refused.
async fn nobody() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/hook")
}

/// `servicewatch scan ARGS` as a scheduler runs it, off the test's async
/// threads (the receiver runs on them): success, stdout, stderr.
async fn scan(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_servicewatch")).arg("scan").args(&args).output().unwrap();
        (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    })
    .await
    .unwrap()
}

/// A scan of `data` with the store `db` alerting `url`, with short waits.
async fn alert_scan(data: &Path, db: &Path, url: &str, attempts: u32) -> (bool, String) {
    let args = [
        "--data",
        data.to_str().unwrap(),
        "--audit-db",
        db.to_str().unwrap(),
        "--alert",
        url,
        "--alert-timeout-secs",
        "1",
        "--alert-attempts",
        &attempts.to_string(),
        "--alert-backoff-ms",
        "10",
        "--limit",
        "2",
        "--z",
        "2.5",
    ];
    let (ok, out, err) = scan(args.iter().map(|s| s.to_string()).collect()).await;
    assert_eq!(out.lines().count(), 1 + 2, "printing is limited: {out}");
    (ok, err)
}

/// Every day `scan` flags in `data` (z 2.5).
async fn flagged(data: &Path) -> Vec<Anomaly> {
    let args = ["--data", data.to_str().unwrap(), "--z", "2.5", "--format", "json"];
    let (ok, out, err) = scan(args.iter().map(|s| s.to_string()).collect()).await;
    assert!(ok, "{err}");
    let all: Anomalies = serde_json::from_str(&out).unwrap();
    assert!(all.anomalies.len() >= 8, "enough to alert: {}", all.anomalies.len());
    all.anomalies
}

/// The key the brief specifies, computed here independently.
fn key(a: &Anomaly) -> String {
    let digest = Sha256::digest(format!("{}\u{1f}{}", a.key, a.date));
    format!("sw-{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
}

fn fresh(name: &str) -> (PathBuf, PathBuf) {
    (common::sample_file(name, 9, 10, 150), common::fresh_audit_db(name))
}

fn pending(db: &Path) -> Vec<Alert> {
    Sqlite::open(db).unwrap().pending_alerts().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flagged_day_arrives_once_through_failures_and_a_timeout() {
    let (data, db) = fresh("alerts-flaky");
    let days = flagged(&data).await;
    let hook = receiver(3, true).await;
    // 503, 503, 503, a timeout, then accepted: five attempts get the first
    // alert through in this run.
    let (ok, err) = alert_scan(&data, &db, &hook.url, 5).await;
    assert!(ok, "{err}");
    let n = days.len();
    assert!(err.contains(&format!("queued {n} new, delivered {n}, pending 0")), "{err}");
    let seen = hook.log.requests().len();
    assert_eq!(seen, n + 4, "four failed attempts, then one request per alert");

    // Every flagged day's alert arrived, each accepted once.
    let want: HashSet<String> = days.iter().map(key).collect();
    let accepted = hook.log.accepted();
    assert_eq!(accepted.keys().cloned().collect::<HashSet<_>>(), want);
    assert!(accepted.values().all(|&times| times == 1), "{accepted:?}");
    // The retried alert was the same request each time.
    let first = &hook.log.requests()[0];
    assert!(hook.log.requests()[..5].iter().all(|r| r.body == first.body));
    assert!(pending(&db).is_empty());

    // The payload: the key in the header and the body, Slack's `text`, the
    // row as scanned, the method and parameters as in the audit trail.
    let by_key: HashMap<String, &Anomaly> = days.iter().map(|a| (key(a), a)).collect();
    for r in hook.log.requests() {
        assert_eq!(r.header_key.as_deref(), Some(r.body.idempotency_key.as_str()));
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        let a = by_key[&r.body.idempotency_key];
        assert_eq!(&r.body.anomaly, a);
        assert!(r.body.text.starts_with(&format!("servicewatch: {} on {}: ", a.key, a.date)), "{}", r.body.text);
        assert!(!r.body.text.contains('\n'));
        assert_eq!(
            (r.body.method.as_str(), r.body.params.as_str()),
            ("robust+weekly", "z=2.5;min_days=7;min_count=0;direction=both")
        );
    }
    let raw: serde_json::Value = serde_json::to_value(&first.body).unwrap();
    assert!(raw["text"].is_string() && raw["idempotency_key"].is_string(), "{raw}");

    // The same scan again: nothing new, nothing sent.
    let (ok, err) = alert_scan(&data, &db, &hook.url, 5).await;
    assert!(ok, "{err}");
    assert!(err.contains("queued 0 new, delivered 0, pending 0"), "{err}");
    assert_eq!(hook.log.requests().len(), seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_wait_in_the_outbox_while_the_webhook_is_down() {
    let (data, db) = fresh("alerts-down");
    let days = flagged(&data).await;
    let n = days.len();
    let (ok, err) = alert_scan(&data, &db, &nobody().await, 2).await;
    assert!(!ok, "a scheduler must see it: {err}");
    assert!(err.contains(&format!("queued {n} new, delivered 0, pending {n}")), "{err}");
    assert!(err.contains(&format!("{n} alert(s) not delivered")) && err.contains("retried next run"), "{err}");
    assert!(err.contains("not delivered after 2 attempt(s)"), "{err}");
    assert!(!err.contains("/hook"), "the webhook's URL is a secret: {err}");
    assert_eq!(pending(&db).len(), n);

    // Always 503: still pending, still failing the run.
    let broken = receiver(usize::MAX, false).await;
    let (ok, err) = alert_scan(&data, &db, &broken.url, 1).await;
    assert!(!ok && err.contains(&format!("queued 0 new, delivered 0, pending {n}")), "{err}");
    assert!(err.contains("HTTP 503"), "{err}");
    assert_eq!(broken.log.requests().len(), n, "each pending alert tried once");

    // Back up: everything left is delivered, exactly once.
    let hook = receiver(0, false).await;
    let (ok, err) = alert_scan(&data, &db, &hook.url, 2).await;
    assert!(ok, "{err}");
    assert!(err.contains(&format!("queued 0 new, delivered {n}, pending 0")), "{err}");
    let accepted = hook.log.accepted();
    assert_eq!(accepted.keys().cloned().collect::<HashSet<_>>(), days.iter().map(key).collect());
    assert!(accepted.values().all(|&times| times == 1), "{accepted:?}");
    assert!(pending(&db).is_empty());
    let (ok, err) = alert_scan(&data, &db, &hook.url, 2).await;
    assert!(ok && err.contains("delivered 0, pending 0"), "{err}");
    assert_eq!(hook.log.requests().len(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_marked_expected_or_confirmed_are_not_alerted() {
    let (data, db) = fresh("alerts-marked");
    let days = flagged(&data).await;
    let mark = |a: &Anomaly, kind: MarkKind, minutes: i64| Mark {
        series: a.key.clone(),
        date: a.date,
        kind,
        note: "known".into(),
        marked_by: "ann@example.com".into(),
        marked_at: chrono::Utc::now() + chrono::Duration::minutes(minutes),
    };
    {
        let store = Sqlite::open(&db).unwrap();
        store.add_mark(&mark(&days[0], MarkKind::Expected, 0)).unwrap();
        store.add_mark(&mark(&days[1], MarkKind::Confirmed, 0)).unwrap();
        // Marked, then the mark taken back: an ordinary flagged day again.
        store.add_mark(&mark(&days[2], MarkKind::Expected, 0)).unwrap();
        store.add_mark(&mark(&days[2], MarkKind::Cleared, 1)).unwrap();
    }
    let hook = receiver(0, false).await;
    let (ok, err) = alert_scan(&data, &db, &hook.url, 2).await;
    assert!(ok, "{err}");
    let n = days.len() - 2;
    assert!(err.contains(&format!("queued {n} new, delivered {n}, pending 0")), "{err}");
    let accepted = hook.log.accepted();
    assert!(!accepted.contains_key(&key(&days[0])) && !accepted.contains_key(&key(&days[1])));
    assert_eq!(accepted.keys().cloned().collect::<HashSet<_>>(), days[2..].iter().map(key).collect());
}

#[tokio::test]
async fn bad_alert_flags_are_refused_before_scanning() {
    let (data, db) = fresh("alerts-bad");
    let base = ["--data", data.to_str().unwrap(), "--audit-db", db.to_str().unwrap()];
    for (flags, says) in [
        (&["--alert", "ftp://example.com/hook"][..], "http or https"),
        (&["--alert", "http://127.0.0.1:9/hook", "--alert-attempts", "0"][..], "--alert-attempts"),
        (&["--alert", "http://127.0.0.1:9/hook", "--alert-timeout-secs", "0"][..], "--alert-timeout-secs"),
    ] {
        let (ok, out, err) = scan([&base[..], flags].concat().iter().map(|s| s.to_string()).collect()).await;
        assert!(!ok && out.is_empty() && err.contains(says), "{flags:?}: {err}");
    }
}
