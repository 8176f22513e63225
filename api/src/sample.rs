//! `servicewatch sample`: realistic raw transactions as Parquet.
//!
//! Daily counts come from the labelled generator (`servicewatch_shared::synth`:
//! weekly patterns, holidays, late starters, partial first and last days,
//! injected anomalies); each count becomes that many rows with a time of day
//! (busier in working hours), an amount, a customer segment, a channel and a
//! payment method. Deterministic for a seed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use servicewatch_shared::synth::{generate, Config as SynthConfig, Rng};
use servicewatch_shared::Day;

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
    /// Also write the labelled anomalous service-days as CSV here.
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
    let mut rows = Rows::default();
    let mut written = 0u64;
    let (first, last) = (args.start, Day(args.start.0 + args.days as i32 - 1));
    for s in 0..panel.len() {
        let key = panel.key(s);
        let typical = libm::exp(rng.range(3.0, 6.5)); // typical ticket: 20 to 650
        for (day, &count) in panel.days(s).iter().zip(panel.counts(s)) {
            let midnight = day.0 as i64 * 86_400_000_000;
            let mut times: Vec<i64> = (0..count).map(|_| midnight + time_in(&mut rng, *day, first, last)).collect();
            times.sort_unstable();
            for t in times {
                written += 1;
                rows.id.push(format!("TX{:010}", written));
                rows.ts.push(t);
                rows.svc.push(key.to_string());
                rows.amount.push((typical * libm::exp(0.5 * rng.normal()) * 100.0).round() / 100.0);
                rows.segment.push(SEGMENTS[(rng.next_u64() % 4) as usize]);
                rows.channel.push(CHANNELS[(rng.next_u64() % 4) as usize]);
                rows.payment.push(PAYMENTS[(rng.next_u64() % 4) as usize]);
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
        let mut csv = String::from("orderservice,date,kind\n");
        for l in &data.labels {
            csv.push_str(&format!("{},{},{}\n", panel.key(l.service), l.day, l.kind.name()));
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
        out: dir.join("sample-v2-seed1.parquet"),
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
