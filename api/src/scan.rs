//! `servicewatch scan`: score from the command line and print the flagged
//! days as CSV or JSON; the job a scheduler runs for alerting. Flags mirror
//! the API's query names.

use std::io::Write;

use anyhow::Context;
use servicewatch_shared::{BaselineParams, Day, Dimension, Direction, FlagParams, Method, Metric, Scores};
use tokio_util::sync::CancellationToken;

use crate::config::ConfigArgs;
use crate::services::service_indices;
use crate::terminal::{self, Bar};
use crate::view::{Available, View};
use crate::warehouse::{Caller, DailyQuery, Partial, Progress};

/// A day in range the robust method left unscored for every service, and
/// why (in `--format json`). A drop on a listed holiday (the `holidays`
/// setting) is unscored for its service alone, and not listed here.
#[derive(Debug, serde::Serialize)]
struct Unscored {
    date: Day,
    reason: Partial,
}

/// What `--format json` prints: the API's answer and the unscored days
/// (and with `--metric amount`, the rows left out of the sums).
#[derive(serde::Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    result: &'a servicewatch_shared::wire::Anomalies,
    unscored_days: Vec<Unscored>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_summed: Option<u64>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// First day (YYYY-MM-DD); default: the data's first day.
    #[arg(long, value_parser = parse_day)]
    pub from: Option<Day>,
    /// Last day (YYYY-MM-DD); default: the data's last day.
    #[arg(long, value_parser = parse_day)]
    pub to: Option<Day>,
    /// z threshold.
    #[arg(long, default_value_t = FlagParams::DEFAULT_Z)]
    pub z: f64,
    /// Minimum days of history.
    #[arg(long = "min-days", default_value_t = FlagParams::DEFAULT_MIN_DAYS)]
    pub min_days: u32,
    /// Minimum daily count.
    #[arg(long = "min-count", default_value_t = FlagParams::DEFAULT_MIN_COUNT)]
    pub min_count: u64,
    #[arg(long, default_value_t = Direction::default())]
    pub direction: Direction,
    #[arg(long, default_value_t = Method::default())]
    pub method: Method,
    /// Divide out each service's day-of-week pattern (robust only).
    #[arg(long, default_value_t = BaselineParams::DEFAULT_WEEKLY, action = clap::ArgAction::Set)]
    pub weekly: bool,
    /// Only this service, exactly as stored; repeat for several (each
    /// value one name). A single value is split at commas when it splits
    /// into known names in exactly one way, as the API's `services`.
    #[arg(long, action = clap::ArgAction::Append)]
    pub services: Vec<String>,
    /// What a day's value is: count (transactions) or amount (the sum of
    /// the amount column in minor units, refunds and unreadable amounts
    /// left out and counted), as the API's `metric`.
    #[arg(long, default_value_t = Metric::default())]
    pub metric: Metric,
    /// One series per service and value of this dimension (segment,
    /// channel or payment_method), keyed `{service} · {value}`.
    #[arg(long)]
    pub split: Option<Dimension>,
    /// Only rows of this customer segment, exactly as stored; repeat for several.
    #[arg(long, action = clap::ArgAction::Append)]
    pub segment: Vec<String>,
    /// Only rows of this channel, exactly as stored; repeat for several.
    #[arg(long, action = clap::ArgAction::Append)]
    pub channel: Vec<String>,
    /// Only rows of this payment method, exactly as stored; repeat for several.
    #[arg(long = "payment-method", action = clap::ArgAction::Append)]
    pub payment_method: Vec<String>,
    /// Most rows to print (0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    #[arg(long, default_value = "csv")]
    pub format: Format,
    /// Also record every flagged day (whatever `--limit` prints) in the
    /// audit trail, once per series, day, method and parameters: running
    /// the same scan again adds nothing.
    #[arg(long)]
    pub record: bool,
    /// Who the recorded rows are by (default: the `user` setting, else
    /// $USER, else "servicewatch"). Where: `--audit-db` (`audit_db`).
    #[arg(long = "recorded-by", env = "SERVICEWATCH_RECORDED_BY")]
    pub recorded_by: Option<String>,
    #[command(flatten)]
    pub alert: crate::alerts::AlertArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

fn parse_day(s: &str) -> Result<Day, String> {
    Day::parse(s).map_err(|e| e.to_string())
}

impl Args {
    /// The view the flags ask for, as the API's parameters give it.
    fn view(&self) -> anyhow::Result<View> {
        let filters = [
            (Dimension::Segment, &self.segment),
            (Dimension::Channel, &self.channel),
            (Dimension::PaymentMethod, &self.payment_method),
        ];
        let given = filters.into_iter().filter(|(_, v)| !v.is_empty()).map(|(d, v)| (d, v.clone()));
        View::new(self.metric, self.split, given).map_err(anyhow::Error::msg)
    }
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.z.is_finite() && args.z >= 0.0, "--z must be a number >= 0");
    let view = args.view()?;
    let config = args.config.load()?;
    // One store for marks, the trail and the outbox, opened before the
    // scan (which can take minutes) so that a missing one fails at once.
    let wanted = args.record || args.alert.url.is_some();
    let store = if wanted || config.has_store() {
        let c = config.clone();
        let store = tokio::task::spawn_blocking(move || crate::open_store(&c)).await.context("opening the store")??;
        if store.is_none() && wanted {
            anyhow::bail!(
                "--record and --alert need a store: this build has no SQLite; set `store_schema` (--store-schema) to \
                 keep it in Databricks tables"
            );
        }
        store
    } else {
        None
    };
    // Days analysts marked leave their baselines, as in the app.
    let exclude = match &store {
        Some(s) => {
            let s = s.clone();
            let marks = tokio::task::spawn_blocking(move || s.marks(&Default::default()))
                .await
                .context("reading analysts' marks")??;
            servicewatch_shared::wire::exclusions(&marks)
        }
        None => Default::default(),
    };
    let warehouse = crate::open_warehouse(&config).await?;
    let caller = Caller::default();
    let cancel = CancellationToken::new();
    let available = Available::resolve(&config.columns, &warehouse.columns(&caller, &cancel).await?)?;
    available.check(&view, &config.columns).map_err(anyhow::Error::msg)?;
    // The load time decides whether the last day is still running.
    let loaded_at = chrono::Utc::now();
    let bounds = warehouse.bounds(&caller, &cancel, &Progress::default()).await?;
    let days = bounds.days(config.time_zone);
    let (from, to) = match (args.from.or(days.map(|d| d.0)), args.to.or(days.map(|d| d.1))) {
        (Some(f), Some(t)) => (f, t),
        _ => anyhow::bail!("the table is empty"),
    };
    anyhow::ensure!(from <= to, "--from ({from}) is after --to ({to})");
    // Every service is read, whatever `--services` says: the robust
    // method's common day factor comes from all of them (as in the API and
    // the app); the list only chooses which are flagged.
    let q = DailyQuery { from, to, services: None, view: view.clone() };
    let bar = std::sync::Arc::new(Bar::new("reading transactions"));
    let progress = Progress::default();
    let drawing = terminal::follow(bar.clone(), progress.clone());
    let panel = warehouse.daily(&q, &caller, &cancel, &progress).await;
    drawing.abort();
    let crate::warehouse::Aggregates { panel, not_summed, units } = panel.context("aggregating daily counts")?;
    let not_summed = (view.metric == Metric::Amount).then_some(not_summed);
    bar.finish(&format!("{} rows into {} service-days", progress.get().0, panel.service_days()));
    let selected = match args.services.as_slice() {
        [] => None,
        wanted => Some(
            service_indices(wanted, panel.keys(), "--services")
                .map_err(|e| anyhow::anyhow!("{e} (known: services with transactions from {from} to {to})"))?,
        ),
    };
    let partial = bounds.partial_edges(config.time_zone, config.partial_day_gap, loaded_at);
    // A scheduled scan of a table that stopped being loaded finds nothing
    // new to flag: say so where a scheduler's log keeps it.
    if let Some(last) = bounds.last.filter(|_| bounds.is_extract(loaded_at)) {
        eprintln!(
            "scan: the table's newest row is {} days old ({last} UTC): read as an extract, not a table still \
             being loaded",
            (loaded_at.naive_utc() - last).num_days()
        );
    }
    let baseline = BaselineParams {
        from: Some(from),
        to: Some(to),
        method: args.method,
        weekly: args.weekly,
        metric: view.metric,
        units,
        partial: partial.iter().map(|p| p.0).collect(),
        holidays: config.holidays.days(from, to),
        exclude: exclude.clone(),
    };
    // Only the robust method leaves partial days unscored.
    let unscored: Vec<Unscored> = partial
        .into_iter()
        .filter(|(d, _)| args.method == Method::Robust && (from..=to).contains(d))
        .map(|(date, reason)| Unscored { date, reason })
        .collect();
    let flag = FlagParams {
        z: args.z,
        min_days: args.min_days,
        min_count: args.min_count,
        direction: args.direction,
        services: selected,
    };
    let limit = if args.limit == 0 { usize::MAX } else { args.limit };
    let mut result = Scores::compute(&panel, &baseline).anomalies(&flag, usize::MAX);
    if let Some(store) = store.as_ref().filter(|_| args.record) {
        record(args, &config, store, &result.anomalies).await?;
    }
    // Every flagged day is alerted, whatever `--limit` prints.
    let outbox = store.filter(|_| args.alert.url.is_some());
    let flagged = outbox.is_some().then(|| result.anomalies.clone());
    result.anomalies.truncate(limit);
    print(args, &config, &result, unscored, not_summed)?;
    if let (Some(store), Some(flagged)) = (outbox, flagged) {
        let method = crate::store::method_text(args.method, args.weekly);
        crate::alerts::run(&args.alert, &store, &config, (&flagged, &exclude), &method, &flag_text(args)).await?;
    }
    Ok(())
}

/// The rows on stdout (CSV or JSON); the unscored days on stderr with CSV.
fn print(
    args: &Args,
    config: &crate::config::Config,
    result: &servicewatch_shared::wire::Anomalies,
    unscored: Vec<Unscored>,
    not_summed: Option<u64>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &Output { result, unscored_days: unscored, not_summed })?;
            writeln!(out)?;
        }
        Format::Csv => {
            // Stdout stays the plain CSV; a scheduler's log keeps this.
            for u in &unscored {
                eprintln!("scan: {} left unscored: {}", u.date, u.reason.reason(config.partial_day_gap));
            }
            if let Some(n) = not_summed.filter(|n| *n > 0) {
                eprintln!("scan: {n} rows left out of the amounts (negative, NULL or unreadable amount)");
            }
            out.write_all(servicewatch_shared::wire::csv(&result.anomalies).as_bytes())?
        }
    }
    Ok(out.flush()?)
}

/// `--record`: the flagged days into the audit trail. A failed write fails
/// the scan (a scheduler sees the exit code), never just a log line.
async fn record(
    args: &Args,
    config: &crate::config::Config,
    store: &std::sync::Arc<dyn crate::store::Store>,
    flagged: &[servicewatch_shared::Anomaly],
) -> anyhow::Result<()> {
    // A person at a terminal is $USER; the server's default is its own name.
    let by = (args.recorded_by.clone().or_else(|| config.user.clone()).or_else(|| std::env::var("USER").ok()))
        .unwrap_or_else(|| config.recorder(None));
    let params = flag_text(args) + &args.view()?.params_suffix();
    let rows = crate::store::records(flagged, args.method, args.weekly, &params, chrono::Utc::now(), &by);
    let total = rows.len();
    let store = store.clone();
    let added =
        tokio::task::spawn_blocking(move || store.record(&rows)).await.context("recording the audit trail")??;
    eprintln!("scan: recorded {added} new of {total} flagged days in {}", config.store_place());
    Ok(())
}

/// The flag parameters as the audit trail and alerts name them.
fn flag_text(args: &Args) -> String {
    crate::store::params_text(args.z, args.min_days, args.min_count, args.direction)
}
