//! Sample data only when asked for: without a data setting the embedded
//! warehouse does not start, and sample data says it is sample data.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use servicewatch::config::{Config, Layer, WarehouseLayer};
use servicewatch::warehouse::embedded::Embedded;

/// `servicewatch ARGS` with none of the settings the test environment
/// might carry; returns (success, stderr). A server that starts anyway is
/// stopped after a while and fails the test (rather than hanging it).
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_servicewatch"));
    for var in ["SERVICEWATCH_DATA", "SERVICEWATCH_SAMPLE", "SERVICEWATCH_CONFIG", "SERVICEWATCH_WAREHOUSE"] {
        cmd.env_remove(var);
    }
    let mut child =
        cmd.args(args).envs(env.iter().copied()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.success(), err)
}

#[test]
fn no_data_setting_stops_serve_and_scan_naming_the_setting_and_sample() {
    for args in [&["serve", "--bind", "127.0.0.1:0", "--dist", "no-dist-here"][..], &["scan"]] {
        let (ok, err) = run(args, &[]);
        assert!(!ok, "{args:?} started without data");
        for says in ["`warehouse.data`", "--data", "SERVICEWATCH_DATA", "--sample"] {
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
    // SERVICEWATCH_SAMPLE=1 is read, and cannot be combined with data.
    let file = common::sample_file("sample-both", 3, 2, 10);
    let (ok, err) = run(&["scan", "--data", file.to_str().unwrap()], &[("SERVICEWATCH_SAMPLE", "1")]);
    assert!(!ok && err.contains("choose one"), "{err}");
    let (ok, err) = run(&["scan", "--data", file.to_str().unwrap()], &[("SERVICEWATCH_SAMPLE", "0")]);
    assert!(ok, "{err}");
}

#[tokio::test]
async fn meta_says_sample_data_when_it_is() {
    let file = common::sample_file("sample-meta", 3, 4, 30);
    let layer = Layer { warehouse: WarehouseLayer { sample: Some(true), ..Default::default() }, ..Layer::default() };
    let config = Config::from_layers(&[layer]).unwrap();
    // A small file stands in for the generated sample (~/.cache/servicewatch).
    let warehouse = Embedded::open(&file, config.source()).await.unwrap();
    let srv = common::serve_state(std::sync::Arc::new(warehouse), config, "").await;
    let meta: serde_json::Value = reqwest::get(format!("{}/api/meta", srv.base)).await.unwrap().json().await.unwrap();
    assert_eq!(meta["source"], "sample", "{meta}");
    assert_eq!(meta["table"], "gold.fact.maintenanceservices", "the other fields stay");

    let srv = common::start(&file, "", Layer::default()).await;
    let meta: serde_json::Value = reqwest::get(format!("{}/api/meta", srv.base)).await.unwrap().json().await.unwrap();
    assert_eq!(meta["source"], "table", "{meta}");
}
