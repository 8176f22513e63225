//! `servicewatch sample`: realistic raw transactions as Parquet.
//!
//! Daily counts come from the labelled generator (`servicewatch_shared::synth`:
//! weekly patterns, holidays, late starters, partial first and last days,
//! injected anomalies); each count becomes that many rows with a time of day
//! (busier in working hours), an amount, a customer segment, a channel and a
//! payment method. Deterministic for a seed.
//!
//! Two more kinds of anomaly live only in the amounts and the dimensions,
//! where the daily counts cannot show them ([`Injected`]): days on which a
//! service's amounts are three times their usual while its count stays
//! ordinary (`metric=amount`), and a few days on which a quarter of one
//! service's payments are card-not-present on the web channel while its
//! total count stays ordinary (`split=payment_method`). Some refunds
//! (negative amounts) are in every service, as in real tables; the amount
//! metric leaves them out and counts them. The labels file says which view
//! shows each labelled day.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use servicewatch_shared::params::SPLIT_SEPARATOR;
use servicewatch_shared::synth::{generate, Config as SynthConfig, Labelled, Rng};
use servicewatch_shared::{Day, Dimension, Metric};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Output Parquet file.
    #[arg(long, default_value = "sample.parquet")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of services.
    #[arg(long, default_value_t = 60)]
    pub services: usize,
    /// Number of days.
    #[arg(long, default_value_t = 540)]
    pub days: u32,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2024-01-01", value_parser = parse_day)]
    pub start: Day,
    /// Multiplies every service's typical daily volume.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Also write the labelled anomalous days as CSV here:
    /// `orderservice,date,kind,metric,split,value`, the last three naming
    /// the view that shows the day (`count,,` for the count anomalies).
    #[arg(long)]
    pub labels: Option<PathBuf>,
}

fn parse_day(s: &str) -> Result<Day, String> {
    Day::parse(s).map_err(|e| e.to_string())
}

const SEGMENTS: [&str; 4] = ["retail", "fleet", "commercial", "public"];
const CHANNELS: [&str; 4] = ["web", "app", "phone", "branch"];
const PAYMENTS: [&str; 4] = ["card", "invoice", "cash", "wallet"];
const BATCH: usize = 64 * 1024;

/// A card payment without the card (online, by phone): a few of every
/// service's payments, and the payments of the injected burst.
pub const CARD_NOT_PRESENT: &str = "card_not_present";
/// The channel the burst's payments come in by.
pub const BURST_CHANNEL: &str = "web";
/// Share of an ordinary day's payments that are card-not-present.
const CNP_SHARE: f64 = 0.03;
/// Share of a burst day's payments made card-not-present on the web.
const BURST_SHARE: f64 = 0.25;
/// Share of rows that are refunds (a negative amount).
const REFUND_SHARE: f64 = 0.005;
/// How much a service's amounts grow on an amount-jump day.
const AMOUNT_JUMP: f64 = 3.0;

/// The anomalies only the amounts and the dimensions show, chosen from the
/// generated counts: on ordinary days (a count within 15 % of the same
/// weekday's in the weeks around it, no labelled day within a week), so
/// the count view has nothing to flag there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Injected {
    /// (service, day) whose amounts are [`AMOUNT_JUMP`] times the usual:
    /// two days of the steadiest busy service.
    pub amount_jumps: Vec<(usize, Day)>,
    /// (service, day) on which [`BURST_SHARE`] of the payments are
    /// card-not-present on the web: three days in a row of the busiest
    /// service.
    pub bursts: Vec<(usize, Day)>,
}

/// A labelled day and the view that shows it, as the labels file has it.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewLabel {
    pub service: String,
    pub day: Day,
    pub kind: &'static str,
    pub metric: Metric,
    pub split: Option<Dimension>,
    /// The split's value whose series shows it.
    pub value: Option<&'static str>,
}

impl ViewLabel {
    /// The series key that shows the day in its view.
    pub fn series(&self) -> String {
        match self.value {
            Some(v) => format!("{}{SPLIT_SEPARATOR}{v}", self.service),
            None => self.service.clone(),
        }
    }
}

/// The median of `v` (sorted in place); 0 when empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Injected {
    /// Chooses the days from the generated data (nothing when it is too
    /// small to have a service busy and long enough).
    pub fn plan(data: &Labelled) -> Injected {
        let panel = &data.panel;
        let count_on = |s: usize, d: Day| panel.days(s).binary_search(&d).ok().map(|i| panel.counts(s)[i] as f64);
        let labelled = |s: usize, d: Day| data.labels.iter().any(|l| l.service == s && (l.day.0 - d.0).abs() <= 7);
        // An ordinary mid-week day with history before it and days after.
        let ordinary = |s: usize, d: Day| {
            let days = panel.days(s);
            let (Some(&first), Some(&last)) = (days.first(), days.last()) else { return false };
            let Some(n) = count_on(s, d) else { return false };
            let mut same: Vec<f64> =
                [-21, -14, -7, 7, 14, 21].iter().filter_map(|k| count_on(s, Day(d.0 + k))).collect();
            let usual = median(&mut same);
            (1..=3).contains(&d.weekday())
                && d.0 - first.0 >= 60
                && last.0 - d.0 >= 21
                && same.len() >= 5
                && usual >= 20.0
                && (n - usual).abs() <= 0.15 * usual
                && !labelled(s, d)
        };
        let long: Vec<usize> = (0..panel.len()).filter(|&s| panel.days(s).len() >= 120).collect();
        let typical = |s: usize| median(&mut panel.counts(s).iter().map(|&c| c as f64).collect::<Vec<_>>());
        // From the middle of a service's days on, the first days that do.
        let days_from_middle = |s: usize| {
            let days = panel.days(s);
            let (before, after) = days.split_at(days.len() / 2);
            after.iter().chain(before).copied()
        };
        let mut out = Injected::default();
        let busiest = long.iter().copied().max_by(|&a, &b| typical(a).total_cmp(&typical(b)).then(b.cmp(&a)));
        if let Some(s) = busiest {
            let start = days_from_middle(s).find(|&d| (0..3).all(|k| ordinary(s, Day(d.0 + k))));
            out.bursts = start.map(|d| (0..3).map(|k| (s, Day(d.0 + k))).collect()).unwrap_or_default();
        }
        // The steadiest of the other busy services: the least spread of its
        // mid-week counts (a jump of ×3 then stands far out of its amounts).
        let spread = |s: usize| {
            let mut mid: Vec<f64> = panel
                .days(s)
                .iter()
                .zip(panel.counts(s))
                .filter(|(d, _)| (1..=3).contains(&d.weekday()))
                .map(|(_, &c)| c as f64)
                .collect();
            let m = median(&mut mid);
            let mut dev: Vec<f64> = mid.iter().map(|c| (c - m).abs()).collect();
            median(&mut dev) / m.max(1.0)
        };
        let steady = long
            .iter()
            .copied()
            .filter(|&s| Some(s) != busiest && typical(s) >= 20.0)
            .min_by(|&a, &b| spread(a).total_cmp(&spread(b)).then(a.cmp(&b)));
        if let Some(s) = steady {
            for d in days_from_middle(s) {
                let apart = out.amount_jumps.iter().all(|(_, j)| (j.0 - d.0).abs() >= 28);
                if out.amount_jumps.len() < 2 && apart && ordinary(s, d) {
                    out.amount_jumps.push((s, d));
                }
            }
            out.amount_jumps.sort_by_key(|j| j.1);
        }
        out
    }

    /// Every labelled day of `data` and of the injections, with its view.
    pub fn labels(&self, data: &Labelled) -> Vec<ViewLabel> {
        let key = |s: usize| data.panel.key(s).to_string();
        let mut out: Vec<ViewLabel> = data
            .labels
            .iter()
            .map(|l| ViewLabel {
                service: key(l.service),
                day: l.day,
                kind: l.kind.name(),
                metric: Metric::Count,
                split: None,
                value: None,
            })
            .collect();
        out.extend(self.amount_jumps.iter().map(|&(s, day)| ViewLabel {
            service: key(s),
            day,
            kind: "amount_jump",
            metric: Metric::Amount,
            split: None,
            value: None,
        }));
        out.extend(self.bursts.iter().map(|&(s, day)| ViewLabel {
            service: key(s),
            day,
            kind: "card_not_present_burst",
            metric: Metric::Count,
            split: Some(Dimension::PaymentMethod),
            value: Some(CARD_NOT_PRESENT),
        }));
        out
    }
}

pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("transaction_id", DataType::Utf8, false),
        Field::new("transaction_timestamp", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("orderservice", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, false),
        Field::new("customer_segment", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("payment_method", DataType::Utf8, false),
    ]))
}

/// Column buffers for one batch of rows.
#[derive(Default)]
struct Rows {
    id: Vec<String>,
    ts: Vec<i64>,
    svc: Vec<String>,
    amount: Vec<f64>,
    segment: Vec<&'static str>,
    channel: Vec<&'static str>,
    payment: Vec<&'static str>,
}

impl Rows {
    fn batch(&mut self, schema: &Arc<Schema>) -> anyhow::Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(std::mem::take(&mut self.id))),
            Arc::new(TimestampMicrosecondArray::from(std::mem::take(&mut self.ts)).with_timezone("UTC")),
            Arc::new(StringArray::from(std::mem::take(&mut self.svc))),
            Arc::new(Float64Array::from(std::mem::take(&mut self.amount))),
            Arc::new(StringArray::from(std::mem::take(&mut self.segment))),
            Arc::new(StringArray::from(std::mem::take(&mut self.channel))),
            Arc::new(StringArray::from(std::mem::take(&mut self.payment))),
        ];
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

/// A time of day in microseconds, mostly between 07:00 and 20:00.
fn time_of_day(rng: &mut Rng) -> i64 {
    let hour = if rng.uniform() < 0.85 { rng.range(7.0, 20.0) } else { rng.range(0.0, 24.0) };
    (hour * 3_600_000_000.0) as i64
}

/// Where in the day a transaction falls: the extract starts at 11:00 on its
/// first day and stops at 13:00 on its last, as real extracts do (the
/// generator already gives those days half the volume).
fn time_in(rng: &mut Rng, day: Day, first: Day, last: Day) -> i64 {
    let hour = match day {
        d if d == first && d != last => rng.range(11.0, 24.0),
        d if d == last && d != first => rng.range(0.0, 13.0),
        _ => return time_of_day(rng),
    };
    (hour * 3_600_000_000.0) as i64
}

/// Writes the sample; returns the number of rows. Reports progress to `progress`.
pub fn write(args: &Args, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<u64> {
    anyhow::ensure!(args.services >= 1 && args.services <= 100_000, "--services must be from 1 to 100000");
    anyhow::ensure!(args.days >= 1 && args.days <= 36_600, "--days must be from 1 to 36600");
    anyhow::ensure!(args.scale > 0.0 && args.scale <= 1000.0, "--scale must be above 0 and at most 1000");
    let data = generate(&SynthConfig {
        seed: args.seed,
        services: args.services,
        days: args.days,
        start: args.start,
        scale: args.scale,
        ..SynthConfig::default()
    });
    let panel = &data.panel;
    let total: u64 = (0..panel.len()).flat_map(|s| panel.counts(s)).sum();
    if let Some(dir) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Write to a temporary name, then rename: a crash never leaves half a file.
    let tmp = args.out.with_extension("parquet.partial");
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let schema = schema();
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
    let mut rng = Rng::new(args.seed.wrapping_add(0x5EED));
    // Refunds and card-not-present payments draw from a generator of their
    // own: every other value of every row is what it was before they existed.
    let mut extra = Rng::new(args.seed.wrapping_add(0xCA4D));
    let injected = Injected::plan(&data);
    let mut rows = Rows::default();
    let mut written = 0u64;
    let (first, last) = (args.start, Day(args.start.0 + args.days as i32 - 1));
    for s in 0..panel.len() {
        let key = panel.key(s);
        let typical = libm::exp(rng.range(3.0, 6.5)); // typical ticket: 20 to 650
        for (day, &count) in panel.days(s).iter().zip(panel.counts(s)) {
            let jump = if injected.amount_jumps.contains(&(s, *day)) { AMOUNT_JUMP } else { 1.0 };
            let burst = injected.bursts.contains(&(s, *day));
            let midnight = day.0 as i64 * 86_400_000_000;
            let mut times: Vec<i64> = (0..count).map(|_| midnight + time_in(&mut rng, *day, first, last)).collect();
            times.sort_unstable();
            for t in times {
                written += 1;
                rows.id.push(format!("TX{:010}", written));
                rows.ts.push(t);
                rows.svc.push(key.to_string());
                let amount = jump * typical * libm::exp(0.5 * rng.normal());
                let refund = extra.uniform() < REFUND_SHARE;
                rows.amount.push((if refund { -amount } else { amount } * 100.0).round() / 100.0);
                rows.segment.push(SEGMENTS[(rng.next_u64() % 4) as usize]);
                let channel = CHANNELS[(rng.next_u64() % 4) as usize];
                let payment = PAYMENTS[(rng.next_u64() % 4) as usize];
                let u = extra.uniform();
                let (channel, payment) = match u {
                    _ if burst && u < BURST_SHARE => (BURST_CHANNEL, CARD_NOT_PRESENT),
                    _ if u >= 1.0 - CNP_SHARE => (channel, CARD_NOT_PRESENT),
                    _ => (channel, payment),
                };
                rows.channel.push(channel);
                rows.payment.push(payment);
                if rows.id.len() == BATCH {
                    writer.write(&rows.batch(&schema)?)?;
                    progress(written, total);
                }
            }
        }
    }
    if !rows.id.is_empty() {
        writer.write(&rows.batch(&schema)?)?;
    }
    writer.close()?;
    std::fs::rename(&tmp, &args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    progress(written, total);
    if let Some(path) = &args.labels {
        let mut csv = String::from("orderservice,date,kind,metric,split,value\n");
        for l in injected.labels(&data) {
            let split = l.split.map(|d| d.to_string()).unwrap_or_default();
            let (service, day, kind, metric, value) = (&l.service, l.day, l.kind, l.metric, l.value.unwrap_or(""));
            csv.push_str(&format!("{service},{day},{kind},{metric},{split},{value}\n"));
        }
        std::fs::write(path, csv).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(written)
}

/// The sample `serve --sample` and `scan --sample` read: generated once
/// into the user's cache folder.
pub fn default_sample() -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("servicewatch");
    let args = Args {
        out: dir.join("sample-v3-seed1.parquet"),
        seed: 1,
        services: 60,
        days: 540,
        start: Day::parse("2024-01-01").expect("a valid date"),
        scale: 1.0,
        labels: None,
    };
    if !args.out.exists() {
        eprintln!("generating sample data into {} (once)", args.out.display());
        write(&args, |_, _| {})?;
    }
    Ok(args.out)
}
