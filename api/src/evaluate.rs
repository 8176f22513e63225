//! `servicewatch evaluate`: how well each method finds labelled anomalies.
//!
//! Generates labelled data sets (see `servicewatch_shared::synth`), scores
//! them with every method, and prints precision, recall and F1 at the
//! threshold plus average precision. `--out` also writes the data and labels
//! as CSV, so other tools can be measured on the same days.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{ensure, Context};
use servicewatch_shared::eval::{calibration, ceiling, ceiling_calibration, evaluate, Calibration, Quality};
use servicewatch_shared::synth::{amounts, generate_with_truth, Config, Kind, Labelled, Truth};
use servicewatch_shared::{BaselineParams, FlagParams, Method, Metric};

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
    #[arg(long, default_value_t = FlagParams::DEFAULT_Z)]
    z: f64,
    #[arg(long, default_value_t = FlagParams::DEFAULT_MIN_DAYS)]
    min_days: u32,
    /// Write the first data set here as daily.csv and labels.csv.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also score the labelled real public sets (data/real/, built in).
    #[arg(long)]
    real: bool,
    /// Instead: generate data with no anomalies (long, short and sparse
    /// series) and compare the days flagged at |z| >= 3, 4, 5 with the
    /// "expected by chance" metric.
    #[arg(long, conflicts_with_all = ["real", "out"])]
    calibration: bool,
    /// Instead: the same data sets as daily amounts (cents; tickets per
    /// service, amount jumps with flat counts labelled too), scored in
    /// transactions (each series' mean ticket as its unit, as the server
    /// does) and, for comparison, with one cent taken for one order.
    #[arg(long, conflicts_with_all = ["real", "out", "calibration"])]
    amounts: bool,
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
    if args.calibration {
        return run_calibration(args);
    }
    let (data, truth): (Vec<Labelled>, Vec<Truth>) = (0..args.sets)
        .map(|i| {
            generate_with_truth(&Config {
                seed: args.seed + i,
                services: args.services,
                days: args.days,
                ..Config::default()
            })
        })
        .unzip();
    if let Some(dir) = &args.out {
        write_csv(dir, &data[0])?;
    }
    if args.amounts {
        return run_amounts(args, &data);
    }
    let flag = FlagParams { z: args.z, min_days: args.min_days, ..Default::default() };
    println!(
        "{} data sets x {} services x {} days; threshold |z| >= {}, min history {} days\n",
        args.sets, args.services, args.days, args.z, args.min_days
    );
    let default = print_table(&data, &flag);
    let best: Vec<Quality> = data.iter().zip(&truth).map(|(d, t)| ceiling(d, t, &flag)).collect();
    print_row(CEILING, 15, &best);
    println!("\nlabelled days flagged, by kind: default / ceiling");
    println!("{}", by_kind(&default, &best));
    println!(
        "\nlabelled anomalous days per set: {:.0}",
        data.iter().map(|d| d.labels.len()).sum::<usize>() as f64 / data.len() as f64
    );
    if args.real {
        for (name, d) in crate::real_data::load()? {
            println!("\n{name} (real, data/real/): {} series, {} labelled days", d.panel.len(), d.labels.len());
            print_table(std::slice::from_ref(&d), &flag);
            // The setting an analyst of that country would give.
            if let Some((calendar, holidays)) = crate::real_data::calendar(&name, &d) {
                let baseline = BaselineParams { partial: edges(&d, true), holidays, ..Default::default() };
                print_row(&format!("+ holidays {calendar}"), 15, &[evaluate(&d, &baseline, &flag)]);
            }
        }
    }
    Ok(())
}

/// The partial first and last day of an extract, named as the server does.
fn edges(d: &Labelled, named: bool) -> Vec<servicewatch_shared::Day> {
    match (named, d.panel.bounds()) {
        (true, Some((first, last))) => vec![first, last],
        _ => Vec::new(),
    }
}

/// The last row of a generated set's table: the generator's own model
/// scoring every day ([`ceiling`]), a reference for how much of the
/// labelled days a count can show at all.
const CEILING: &str = "ceiling (truth)";

/// One row per configuration, averaged over `data`; the last
/// configuration's (the default's) figures per set.
fn print_table(data: &[Labelled], flag: &FlagParams) -> Vec<Quality> {
    print_header(15);
    let mut last = Vec::new();
    for (name, method, weekly, named) in METHODS {
        last = data
            .iter()
            .map(|d| {
                evaluate(d, &BaselineParams { method, weekly, partial: edges(d, named), ..Default::default() }, flag)
            })
            .collect();
        print_row(name, 15, &last);
    }
    last
}

/// The share of each kind of labelled day flagged, summed over the sets,
/// for two configurations side by side: `spike 0.71 / 0.79, burst ...`.
fn by_kind(a: &[Quality], b: &[Quality]) -> String {
    let share = |q: &[Quality], kind: Kind| {
        let (found, all) = q
            .iter()
            .flat_map(|q| &q.found_by_kind)
            .filter(|f| f.0 == kind)
            .fold((0, 0), |(x, y), f| (x + f.1, y + f.2));
        (all > 0).then(|| found as f64 / all as f64)
    };
    let mut kinds: Vec<Kind> = a.iter().flat_map(|q| q.found_by_kind.iter().map(|f| f.0)).collect();
    kinds.sort_by_key(|k| *k as u8);
    kinds.dedup();
    kinds
        .into_iter()
        .filter_map(|k| Some(format!("{} {:.2} / {:.2}", k.name(), share(a, k)?, share(b, k)?)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_header(width: usize) {
    println!("{:<width$} {:>9} {:>9} {:>9} {:>9} {:>9}", "method", "precision", "recall", "F1", "AP", "flagged");
}

/// One configuration's figures, averaged over the data sets it scored.
fn print_row(name: &str, width: usize, q: &[Quality]) {
    let mean = |f: fn(&Quality) -> f64| q.iter().map(f).sum::<f64>() / q.len() as f64;
    println!(
        "{:<width$} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.0}",
        name,
        mean(|q| q.precision),
        mean(|q| q.recall),
        mean(|q| q.f1),
        mean(|q| q.average_precision),
        mean(|q| q.flagged as f64),
    );
}

/// `--amounts`: the data sets as amounts, every method scored in
/// transactions (each series' mean ticket as its unit, as the server's
/// amount view does), and the default with one cent taken for one order.
fn run_amounts(args: &Args, counts: &[Labelled]) -> anyhow::Result<()> {
    let flag = FlagParams { z: args.z, min_days: args.min_days, ..Default::default() };
    let data: Vec<Labelled> = counts.iter().enumerate().map(|(i, d)| amounts(d, 1000 + i as u64, 0.004)).collect();
    println!(
        "{} data sets as daily amounts (cents) x {} services x {} days; threshold |z| >= {}\n",
        args.sets, args.services, args.days, args.z
    );
    print_header(27);
    // Each series' mean ticket, as the server's amount view gives it.
    let units: Vec<std::collections::BTreeMap<String, f64>> = data
        .iter()
        .zip(counts)
        .map(|(d, c)| {
            (0..d.panel.len())
                .map(|s| {
                    let orders = c.panel.counts(s).iter().sum::<u64>().max(1) as f64;
                    (d.panel.key(s).to_string(), d.panel.counts(s).iter().sum::<u64>() as f64 / orders)
                })
                .collect()
        })
        .collect();
    let rows = METHODS.iter().map(|&(name, method, weekly, named)| (name.to_string(), method, weekly, named, true));
    let cents = ("+ edge days, cents as orders".to_string(), Method::Robust, true, true, false);
    for (name, method, weekly, named, in_orders) in rows.chain([cents]) {
        let q: Vec<Quality> = data
            .iter()
            .zip(&units)
            .map(|(d, units)| {
                let units = if in_orders { units.clone() } else { Default::default() };
                let b = BaselineParams {
                    method,
                    weekly,
                    metric: Metric::Amount,
                    units,
                    partial: edges(d, named),
                    ..Default::default()
                };
                evaluate(d, &b, &flag)
            })
            .collect();
        print_row(&name, 27, &q);
    }

    let jumps =
        |d: &Labelled| d.labels.iter().filter(|l| l.kind == servicewatch_shared::synth::Kind::AmountJump).count();
    println!(
        "\nlabelled days per set: {:.0}, of which amount jumps with flat counts: {:.0}",
        data.iter().map(|d| d.labels.len()).sum::<usize>() as f64 / data.len() as f64,
        data.iter().map(jumps).sum::<usize>() as f64 / data.len() as f64
    );
    Ok(())
}

/// `--calibration`: days flagged by chance on data with no anomalies, by
/// the default configuration (edge days named), next to the metric; under
/// each kind, the generator's own model on the same days ([`CEILING`]).
fn run_calibration(args: &Args) -> anyhow::Result<()> {
    let flag = FlagParams { min_days: args.min_days, ..Default::default() };
    let kinds: [(&str, usize, u32, f64); 3] = [
        ("long", args.services, args.days, 1.0),
        ("short (60 days)", 5 * args.services, 60, 1.0),
        ("sparse", args.services, args.days, 0.03),
    ];
    println!("no anomalies injected; {} data sets of each kind; flagged / expected by chance\n", args.sets);
    println!("{:<16} {:>10} {:>40} {:>40} {:>40}", "series", "days", "|z| >= 3", "|z| >= 4", "|z| >= 5");
    for (name, services, days, scale) in kinds {
        let (mut engine, mut truth) = (Tally::default(), Tally::default());
        for i in 0..args.sets {
            let cfg = Config { seed: args.seed + i, services, days, anomaly_rate: 0.0, scale, ..Config::default() };
            let (d, t) = generate_with_truth(&cfg);
            let baseline = BaselineParams { partial: edges(&d, true), ..Default::default() };
            engine.add(&calibration(&d, &baseline, &flag, &[3.0, 4.0, 5.0]));
            truth.add(&ceiling_calibration(&d, &t, &[3.0, 4.0, 5.0]));
        }
        engine.print(name);
        truth.print(&format!("  {CEILING}"));
    }
    Ok(())
}

/// Days flagged at |z| >= 3, 4 and 5, summed over data sets.
#[derive(Default)]
struct Tally {
    flagged: [u64; 3],
    spikes: [u64; 3],
    expected: [f64; 3],
    eligible: u64,
}

impl Tally {
    fn add(&mut self, c: &[Calibration]) {
        for (k, c) in c.iter().enumerate() {
            self.flagged[k] += c.flagged;
            self.spikes[k] += c.spikes;
            self.expected[k] += c.expected;
        }
        self.eligible += c[0].eligible;
    }

    fn print(&self, name: &str) {
        // Each side's share of the expected figure is half of it.
        let cell = |k: usize| {
            let side = |n: u64| n as f64 / (self.expected[k] / 2.0);
            format!(
                "{} / {:.1} ({:.2}x: up {:.2}x, down {:.2}x)",
                self.flagged[k],
                self.expected[k],
                self.flagged[k] as f64 / self.expected[k],
                side(self.spikes[k]),
                side(self.flagged[k] - self.spikes[k])
            )
        };
        println!("{name:<16} {:>10} {:>40} {:>40} {:>40}", self.eligible, cell(0), cell(1), cell(2));
    }
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
