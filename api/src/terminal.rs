//! Progress on a terminal for long work (`sample`, a cold aggregation in
//! `scan`); silent when stderr is piped, so scheduled jobs log cleanly.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::warehouse::Progress;

pub struct Bar {
    what: &'static str,
    on: bool,
    started: Instant,
}

impl Bar {
    pub fn new(what: &'static str) -> Bar {
        Bar { what, on: std::io::stderr().is_terminal(), started: Instant::now() }
    }

    /// Redraws the line: a bar when `total` is known, a count otherwise.
    pub fn draw(&self, done: u64, total: u64) {
        if !self.on {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        match (done.min(total) * 100).checked_div(total) {
            None => eprint!("\r{}: {done} rows ({secs:.1} s)", self.what),
            Some(pct) => {
                let bar: String = (0..30).map(|i| if i * 100 < pct * 30 { '#' } else { '.' }).collect();
                eprint!("\r{} [{bar}] {done}/{total} ({pct}%, {secs:.1} s)", self.what);
            }
        }
        let _ = std::io::stderr().flush();
    }

    /// Ends the line with a summary.
    pub fn finish(&self, summary: &str) {
        if self.on {
            eprintln!("\r{}: {summary} in {:.1} s\x1b[K", self.what, self.started.elapsed().as_secs_f64());
        }
    }
}

/// Redraws `bar` from `progress` five times a second until the returned
/// task is aborted.
pub fn follow(bar: std::sync::Arc<Bar>, progress: Progress) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (done, total) = progress.get();
            bar.draw(done, total);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}
