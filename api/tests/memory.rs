//! Bounded memory under any request mix: a spawned `servicewatch serve`
//! with a small `cache_max_bytes`, flooded with distinct empty ranges and
//! distinct service lists, stays within the limit (VmRSS from /proc).
//!
//! `scripts/bench-memory.sh` runs this against a release build with the
//! full counts; the counts and the binary can be set from the environment
//! (`SW_MEMORY_EMPTY_RANGES`, `SW_MEMORY_SERVICE_LISTS`, `SW_MEMORY_BIN`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use futures::StreamExt;

mod common;

/// The cache limit the server is given.
const LIMIT: u64 = 16 << 20;
/// What may come on top: bodies the 8 concurrent requests are rendering,
/// freed pages the allocator keeps.
const SLACK: u64 = 8 << 20;
const SERVICES: usize = 1500;
const DAYS: u32 = 40;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// (VmRSS, VmHWM) of a process, in bytes.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One row per service-day, `s0`..`s1499` over 40 days of 2024.
fn data() -> std::path::PathBuf {
    let path = common::temp_dir("memory").join("tx.csv");
    let mut csv = String::from("transaction_id,transaction_timestamp,orderservice\n");
    for s in 0..SERVICES {
        for d in 0..DAYS {
            let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(d as u64);
            csv.push_str(&format!("{s}-{d},{day}T12:00:00Z,s{s}\n"));
        }
    }
    std::fs::write(&path, csv).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_empty_ranges_and_service_lists_stay_within_the_limit() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipped");
        return;
    }
    let empty_ranges = count("SW_MEMORY_EMPTY_RANGES", 10_000);
    let service_lists = count("SW_MEMORY_SERVICE_LISTS", 1_000);
    let bin = std::env::var("SW_MEMORY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_servicewatch").to_string());
    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--dist", "/nonexistent"])
        .arg("--data")
        .arg(data())
        .env("SERVICEWATCH_CACHE_MAX_BYTES", LIMIT.to_string())
        .env("SERVICEWATCH_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let _server = Server(child);
    // The address it listens on, from its first line; then keep draining
    // its log so it never blocks on a full pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("servicewatch listening on ") {
                tx.take().map(|t| t.send(addr.trim_end_matches('/').to_string()));
            } else if line.contains("WARN") || line.contains("ERROR") {
                eprintln!("server: {line}");
            }
        }
    });
    let base = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the server did not start");
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move {
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.bytes().await.unwrap();
        }
    };
    // Warm up: the snapshot, one body and one set of baselines.
    get(format!("{base}/api/meta")).await;
    get(format!("{base}/api/daily")).await;
    get(format!("{base}/api/anomalies")).await;
    let (before, _) = rss(pid);
    let started = std::time::Instant::now();

    // Distinct ranges with no data, 1900 onwards, half of them scored.
    let day = |i: usize| chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(i as u64);
    let empty = (0..empty_ranges).map(|i| {
        let route = if i % 2 == 0 { "daily" } else { "anomalies" };
        format!("{base}/api/{route}?from={}&to={}", day(i), day(i + 365))
    });
    // Distinct lists of 1,000 names each (every list a different rotation).
    let lists = (0..service_lists).map(|i| {
        let names: Vec<String> = (0..1000).map(|k| format!("s{}", (i + k) % SERVICES)).collect();
        format!("{base}/api/daily?from=2024-01-01&to=2024-01-07&services={}", names.join(","))
    });
    let mut peak_seen = 0;
    let mut done = 0;
    let mut requests = futures::stream::iter(empty.chain(lists)).map(get).buffer_unordered(8);
    while requests.next().await.is_some() {
        done += 1;
        if done % 500 == 0 {
            let (now, _) = rss(pid);
            peak_seen = peak_seen.max(now);
            // Fail early rather than fill the machine's memory.
            assert!(now < before + LIMIT + SLACK, "after {done} requests RSS grew {} MB", (now - before) >> 20);
        }
    }
    let (after, hwm) = rss(pid);
    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "{empty_ranges} empty ranges + {service_lists} service lists in {:.1} s: RSS {:.1} MB before, {:.1} MB \
         after (growth {:.1} MB, limit {:.0} MB); peak RSS {:.1} MB",
        started.elapsed().as_secs_f64(),
        mb(before),
        mb(after),
        mb(after.saturating_sub(before)),
        mb(LIMIT),
        mb(hwm.max(peak_seen)),
    );
    assert!(after < before + LIMIT + SLACK, "RSS grew {:.1} MB, limit {:.0} MB", mb(after - before), mb(LIMIT));
    assert!(hwm < before + LIMIT + SLACK, "peak RSS {:.1} MB over {:.1} MB before", mb(hwm), mb(before));
}
