//! Helpers the integration tests share: generated data and a real server
//! on 127.0.0.1. Each test crate uses some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use servicewatch::config::{Config, Layer, WarehouseLayer};
use servicewatch::http::{serve_on, AppState};
use servicewatch::sample;
use servicewatch_shared::Day;

pub struct Server {
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("servicewatch-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn start(data: &Path, base_path: &str, extra: Layer) -> Server {
    let layer = Layer {
        warehouse: WarehouseLayer { data: Some(data.to_path_buf()), ..Default::default() },
        ..Layer::default()
    };
    let config = Config::from_layers(&[extra, layer]).unwrap();
    let warehouse = servicewatch::open_warehouse(&config).await.unwrap();
    serve_state(warehouse, config, base_path).await
}

/// A real server on 127.0.0.1 for a warehouse and config made by the test.
pub async fn serve_state(
    warehouse: Arc<dyn servicewatch::warehouse::Warehouse>,
    config: Config,
    base_path: &str,
) -> Server {
    serve_app(AppState::new(warehouse, config, PathBuf::from("no-dist-here")), base_path).await
}

/// A real server on 127.0.0.1 for an app state the test has adjusted.
pub async fn serve_app(state: AppState, base_path: &str) -> Server {
    let state = Arc::new(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let base = base_path.to_string();
    tokio::spawn(async move {
        serve_on(listener, state, &base, async {
            let _ = stopped.await;
        })
        .await
        .unwrap()
    });
    Server { base: format!("http://{addr}{base_path}"), _stop: stop }
}

/// Sample transactions (Parquet) in a folder of their own.
pub fn sample_file(name: &str, seed: u64, services: usize, days: u32) -> PathBuf {
    let out = temp_dir(name).join("tx.parquet");
    let args = sample::Args {
        out: out.clone(),
        seed,
        services,
        days,
        start: Day::parse("2024-01-01").unwrap(),
        scale: 1.0,
        labels: None,
    };
    sample::write(&args, |_, _| {}).unwrap();
    out
}
