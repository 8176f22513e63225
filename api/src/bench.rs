//! `servicewatch bench`: times the cold daily aggregation of a file on the
//! embedded warehouse (a fresh engine each run, as after a restart) and
//! reports the process's peak memory. `scripts/bench-server.sh` runs it
//! beside DuckDB on the same file.

use std::path::PathBuf;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, Layer, WarehouseLayer};
use crate::warehouse::embedded::Embedded;
use crate::warehouse::{Caller, DailyQuery, Progress, Warehouse};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Parquet or CSV file (or folder) to aggregate.
    #[arg(long)]
    pub data: PathBuf,
    /// Number of timed runs.
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Count days in this time zone (UTC by default, the fast path).
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Run the bounds and daily statements as another engine would, without
    /// the shortcuts for a clean Parquet file (the footer's bounds, the
    /// dense count): the same work as DuckDB in `scripts/bench_race.sh`.
    #[arg(long)]
    pub statements: bool,
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let layer = Layer {
        warehouse: WarehouseLayer { data: Some(args.data.clone()), ..Default::default() },
        time_zone: args.time_zone.clone(),
        ..Layer::default()
    };
    let config = Config::from_layers(&[layer])?;
    let source = config.source();
    let (caller, cancel) = (Caller::default(), CancellationToken::new());
    let mut times = Vec::new();
    for run in 1..=args.runs.max(1) {
        let start = Instant::now();
        let wh = Embedded::open(&args.data, source.clone()).await?;
        let wh = if args.statements { wh.statements_only() } else { wh };
        let opened = start.elapsed();
        let b = wh.bounds(&caller, &cancel, &Progress::default()).await?;
        let bounded = start.elapsed();
        let Some((from, to)) = b.days(config.time_zone) else { anyhow::bail!("the file has no rows") };
        let q = DailyQuery { from, to, services: None, view: Default::default() };
        let panel = wh.daily(&q, &caller, &cancel, &Progress::default()).await?.panel;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let part = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        println!(
            "run {run}: {} rows -> {} service-days, {} services in {ms:.0} ms \
             (open {:.0}, bounds {:.0}, daily {:.0})",
            b.rows,
            panel.service_days(),
            panel.len(),
            part(opened),
            part(bounded - opened),
            ms - part(bounded),
        );
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    println!("cold aggregation (bounds + daily), median of {}: {:.0} ms", times.len(), times[times.len() / 2]);
    if let Some(kb) = peak_rss_kb() {
        println!("peak RSS: {:.0} MB", kb as f64 / 1024.0);
    }
    Ok(())
}

/// Peak resident memory of this process (Linux), in KiB.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}
