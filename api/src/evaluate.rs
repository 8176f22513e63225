//! `servicewatch evaluate`: how well each method finds labelled anomalies.
//!
//! Generates labelled data sets (see `servicewatch_shared::synth`), scores
//! them with every method, and prints precision, recall and F1 at the
//! threshold plus average precision. `--out` also writes the data and labels
//! as CSV, so other tools can be measured on the same days.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{ensure, Context};
use servicewatch_shared::eval::{evaluate, Quality};
use servicewatch_shared::synth::{generate, Config, Labelled};
use servicewatch_shared::{BaselineParams, FlagParams, Method};

#[derive(clap::Args)]
pub struct Args {
    /// First seed; data sets use seeds seed, seed+1, ...
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many data sets to average over.
    #[arg(long, default_value_t = 5)]
    sets: u64,
    #[arg(long, default_value_t = 80)]
    services: usize,
    #[arg(long, default_value_t = 730)]
    days: u32,
    /// The z threshold for precision, recall and F1.
    #[arg(long, default_value_t = 3.0)]
    z: f64,
    #[arg(long, default_value_t = 7)]
    min_days: u32,
    /// Write the first data set here as daily.csv and labels.csv.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The configurations compared: name, method, weekly, and whether the
/// extract's partial first and last days are named (as the server does
/// from the data's first and last timestamps).
pub const METHODS: [(&str, Method, bool, bool); 4] = [
    ("classic", Method::Classic, false, false),
    ("robust", Method::Robust, false, false),
    ("robust+weekly", Method::Robust, true, false),
    ("+ edge days", Method::Robust, true, true),
];

pub fn run(args: &Args) -> anyhow::Result<()> {
    ensure!(args.sets >= 1, "--sets must be at least 1");
    ensure!(args.z.is_finite() && args.z >= 0.0, "--z must be a number >= 0");
    ensure!(args.days >= 1 && args.services >= 1, "--days and --services must be at least 1");
    let data: Vec<Labelled> = (0..args.sets)
        .map(|i| {
            generate(&Config { seed: args.seed + i, services: args.services, days: args.days, ..Config::default() })
        })
        .collect();
    if let Some(dir) = &args.out {
        write_csv(dir, &data[0])?;
    }
    let flag = FlagParams { z: args.z, min_days: args.min_days, ..Default::default() };
    println!(
        "{} data sets x {} services x {} days; threshold |z| >= {}, min history {} days\n",
        args.sets, args.services, args.days, args.z, args.min_days
    );
    println!("{:<15} {:>9} {:>9} {:>9} {:>9} {:>9}", "method", "precision", "recall", "F1", "AP", "flagged");
    for (name, method, weekly, edges) in METHODS {
        let q: Vec<Quality> = data
            .iter()
            .map(|d| {
                let partial = match (edges, d.panel.bounds()) {
                    (true, Some((first, last))) => vec![first, last],
                    _ => Vec::new(),
                };
                evaluate(d, &BaselineParams { method, weekly, partial, ..Default::default() }, &flag)
            })
            .collect();
        let mean = |f: fn(&Quality) -> f64| q.iter().map(f).sum::<f64>() / q.len() as f64;
        println!(
            "{:<15} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.0}",
            name,
            mean(|q| q.precision),
            mean(|q| q.recall),
            mean(|q| q.f1),
            mean(|q| q.average_precision),
            mean(|q| q.flagged as f64),
        );
    }
    println!(
        "\nlabelled anomalous days per set: {:.0}",
        data.iter().map(|d| d.labels.len()).sum::<usize>() as f64 / data.len() as f64
    );
    Ok(())
}

fn write_csv(dir: &std::path::Path, data: &Labelled) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut daily = String::from("orderservice,date,count\n");
    for s in 0..data.panel.len() {
        for (d, c) in data.panel.days(s).iter().zip(data.panel.counts(s)) {
            writeln!(daily, "{},{},{}", data.panel.key(s), d, c)?;
        }
    }
    let mut labels = String::from("orderservice,date,kind\n");
    for l in &data.labels {
        writeln!(labels, "{},{},{}", data.panel.key(l.service), l.day, l.kind.name())?;
    }
    for (name, body) in [("daily.csv", daily), ("labels.csv", labels)] {
        let path = dir.join(name);
        std::fs::write(&path, body).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
