//! The embedded warehouse: DataFusion running the shared SQL over local
//! Parquet or CSV files (a local copy of the table), in process.

mod dense_count;
mod from_utc_timestamp;
mod statistics;
mod utc_day;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::physical_plan::{collect, ExecutionPlan, StatisticsArgs, StatisticsContext};
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use servicewatch_shared::Day;
use tokio_util::sync::CancellationToken;

use super::sql::{Ident, Param, Placeholder, Source, Statement};
use super::{batches, Aggregates, Bounds, Caller, DailyQuery, Failure, Progress, Rows, Warehouse, WarehouseError};

/// DataFusion over a file or a folder of files.
pub struct Embedded {
    ctx: SessionContext,
    source: Source,
    format: Format,
    pub path: PathBuf,
    /// Whether a clean Parquet file may be answered without the statements
    /// (the footer's bounds, `dense_count`); off only to race the
    /// statements themselves against another engine (`servicewatch bench
    /// --statements`).
    shortcuts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Parquet,
    Csv,
}

/// Parquet or CSV, from the file's extension or the files in a folder.
fn detect(path: &Path) -> anyhow::Result<Format> {
    let of = |p: &Path| match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("parquet") => Some(Format::Parquet),
        Some("csv") => Some(Format::Csv),
        _ => None,
    };
    if path.is_dir() {
        let mut found = None;
        for entry in std::fs::read_dir(path)? {
            let p = entry?.path();
            match (found, of(&p)) {
                (_, None) => {}
                (None, f) => found = f,
                (Some(a), Some(b)) if a != b => {
                    anyhow::bail!("{} mixes Parquet and CSV files; keep one format per folder", path.display())
                }
                _ => {}
            }
        }
        found.ok_or_else(|| anyhow::anyhow!("{} has no .parquet or .csv files", path.display()))
    } else {
        of(path).ok_or_else(|| anyhow::anyhow!("{}: expected a .parquet or .csv file", path.display()))
    }
}

impl Embedded {
    /// Registers the data at `path` as the configured table.
    pub async fn open(path: &Path, source: Source) -> anyhow::Result<Embedded> {
        let parts = &source.table.0;
        let (catalog, schema) = match parts.len() {
            3 => (parts[0].as_str().to_string(), parts[1].as_str().to_string()),
            2 => ("datafusion".to_string(), parts[0].as_str().to_string()),
            _ => ("datafusion".to_string(), "public".to_string()),
        };
        let config = SessionConfig::new()
            .with_create_default_catalog_and_schema(true)
            .with_default_catalog_and_schema(catalog, schema)
            // Backtick identifiers, as on Spark and Databricks.
            .set_str("datafusion.sql_parser.dialect", "databricks")
            // Keep the file's column case, as Spark does with backticks.
            .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udf(from_utc_timestamp::udf());
        // `CAST(ts AS DATE)` in UTC by division, not through chrono.
        ctx.add_analyzer_rule(Arc::new(utc_day::UtcDayRule));
        let table = source.table.table().as_str().to_string();
        let location = path.to_str().ok_or_else(|| anyhow::anyhow!("{} is not valid UTF-8", path.display()))?;
        let location = if path.is_dir() && !location.ends_with('/') { format!("{location}/") } else { location.into() };
        let format = detect(path)?;
        let registered = match format {
            Format::Parquet => ctx.register_parquet(&table, &location, ParquetReadOptions::default()).await,
            Format::Csv => ctx.register_csv(&table, &location, CsvReadOptions::new().has_header(true)).await,
        };
        registered.with_context(|| format!("{}: cannot read it as {format:?}", path.display()))?;
        let embedded = Embedded { ctx, source, format, path: path.to_path_buf(), shortcuts: true };
        embedded.check_columns().await?;
        Ok(embedded)
    }

    /// Fails early, naming the column, when the data lacks a configured column.
    async fn check_columns(&self) -> anyhow::Result<()> {
        let provider = self.ctx.table_provider(self.source.table.table().as_str()).await?;
        let schema = provider.schema();
        for col in [&self.source.timestamp, &self.source.service] {
            if schema.field_with_name(col.as_str()).is_err() {
                let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                anyhow::bail!(
                    "{}: no column `{}` (columns are: {}); set the column names in the config",
                    self.path.display(),
                    col.as_str(),
                    have.join(", ")
                );
            }
        }
        Ok(())
    }

    /// The same warehouse, answering every question by its statement.
    pub fn statements_only(self) -> Embedded {
        Embedded { shortcuts: false, ..self }
    }

    /// The type the registered table gives `column` (what the statements
    /// read), for the shortcuts that read the file themselves.
    async fn table_type(&self, column: &Ident) -> Option<DataType> {
        let provider = self.ctx.table_provider(self.source.table.table().as_str()).await.ok()?;
        Some(provider.schema().field_with_name(column.as_str()).ok()?.data_type().clone())
    }

    /// Runs a statement with its parameters bound, stopping on `cancel`.
    async fn run(&self, st: &Statement, cancel: &CancellationToken) -> Result<Vec<RecordBatch>, WarehouseError> {
        self.run_with_progress(st, cancel, &Progress::default()).await
    }

    /// [`Embedded::run`], reporting the rows its scans have read so far.
    async fn run_with_progress(
        &self,
        st: &Statement,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Vec<RecordBatch>, WarehouseError> {
        let params: Vec<(String, ScalarValue)> = st
            .params
            .iter()
            .map(|(name, p)| {
                let v = match p {
                    Param::Text(s) => ScalarValue::Utf8(Some(s.clone())),
                    Param::Timestamp(t) => ScalarValue::TimestampNanosecond(t.and_utc().timestamp_nanos_opt(), None),
                    Param::Date(d) => ScalarValue::Date32(Some(d.0)),
                };
                (name.clone(), v)
            })
            .collect();
        let plan = async {
            let df = self.ctx.sql(&st.render(Placeholder::Dollar)).await?;
            let df = if params.is_empty() { df } else { df.with_param_values(params)? };
            df.create_physical_plan().await
        };
        // `biased`: a cancelled call stops even when the work is ready too.
        let plan = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(WarehouseError::Cancelled),
            r = plan => r.map_err(classify)?,
        };
        let total = scan_rows_total(&plan);
        let watch = async {
            loop {
                progress.set(scanned_rows(&plan).min(total.unwrap_or(u64::MAX)), total.unwrap_or(0));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(WarehouseError::Cancelled),
            r = collect(plan.clone(), self.ctx.task_ctx()) => r.map_err(classify),
            _ = watch => unreachable!("the watch loop never ends"),
        };
        let done = scanned_rows(&plan);
        progress.set(done, total.unwrap_or(done).max(done));
        // No rows still has columns (an empty drill-down lists them, as
        // Databricks' manifest does).
        result.map(|b| if b.is_empty() { vec![RecordBatch::new_empty(plan.schema())] } else { b })
    }
}

/// Rows the plan's scans (its leaves) have produced so far; their metrics
/// are live counters while the plan runs.
fn scanned_rows(plan: &Arc<dyn ExecutionPlan>) -> u64 {
    if plan.children().is_empty() {
        return plan.metrics().and_then(|m| m.output_rows()).unwrap_or(0) as u64;
    }
    plan.children().into_iter().map(scanned_rows).sum()
}

/// Rows the plan's scans will read, when the files' metadata says (Parquet).
fn scan_rows_total(plan: &Arc<dyn ExecutionPlan>) -> Option<u64> {
    if plan.children().is_empty() {
        let stats = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new()).ok()?;
        return stats.num_rows.get_value().map(|n| *n as u64);
    }
    plan.children().into_iter().map(scan_rows_total).sum()
}

/// Errors from reading the data are the table's fault; the rest are ours.
fn classify(e: datafusion::error::DataFusionError) -> WarehouseError {
    use datafusion::error::DataFusionError as E;
    match e {
        E::ArrowError(..) | E::ParquetError(..) | E::SchemaError(..) | E::IoError(..) => {
            WarehouseError::data(Failure::of(e))
        }
        other => match other.find_root() {
            E::ArrowError(..) => WarehouseError::data(Failure::of(other)),
            _ => WarehouseError::query(Failure::of(other)),
        },
    }
}

#[async_trait]
impl Warehouse for Embedded {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn daily(
        &self,
        q: &DailyQuery,
        _: &Caller,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Aggregates, WarehouseError> {
        // The default view of a clean Parquet file, counted without a hash table.
        if self.shortcuts {
            if let Some(counted) = self.daily_counted(q, cancel, progress).await {
                return counted;
            }
        }
        let st = self.source.daily(q.from, q.to, q.services.as_deref(), &q.view);
        batches::to_panel(&self.run_with_progress(&st, cancel, progress).await?)
    }

    /// The registered table's schema: no statement, no rows read.
    async fn columns(&self, _: &Caller, _: &CancellationToken) -> Result<Vec<String>, WarehouseError> {
        let provider = self.ctx.table_provider(self.source.table.table().as_str()).await.map_err(classify)?;
        Ok(provider.schema().fields().iter().map(|f| f.name().clone()).collect())
    }

    async fn bounds(&self, _: &Caller, cancel: &CancellationToken, _: &Progress) -> Result<Bounds, WarehouseError> {
        // A clean Parquet file's footer answers without reading its rows.
        if self.format == Format::Parquet && self.shortcuts {
            if let Some(b) = self.bounds_from_statistics().await {
                return Ok(b);
            }
        }
        batches::to_bounds(&self.run(&self.source.bounds(), cancel).await?)
    }

    async fn transactions(
        &self,
        service: &str,
        day: Day,
        limit: u32,
        _: &Caller,
        cancel: &CancellationToken,
    ) -> Result<Rows, WarehouseError> {
        batches::to_rows(&self.run(&self.source.transactions(service, day, limit), cancel).await?)
    }
}

/// What the embedded warehouse's tests share: a scratch folder, and the
/// warehouse opened on a file with the default column names in UTC.
#[cfg(test)]
mod test_support {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::Embedded;
    use crate::warehouse::sql::{Ident, Source, TableName};
    use crate::warehouse::zone::Zone;

    /// A fresh folder of this test process, named for the test.
    pub fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sw-embedded-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `tx.parquet` in [`dir`]`(name)`: a time column and a service
    /// column of these rows, in row groups of 3.
    pub fn parquet(name: &str, ts: ArrayRef, services: &[Option<&str>]) -> PathBuf {
        let schema = Arc::new(Schema::new(vec![
            Field::new("transaction_timestamp", ts.data_type().clone(), true),
            Field::new("orderservice", DataType::Utf8, true),
        ]));
        let cols: Vec<ArrayRef> = vec![ts, Arc::new(StringArray::from(services.to_vec()))];
        let out = dir(name).join("tx.parquet");
        let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(3)).build();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&out).unwrap(), schema.clone(), Some(props))
                .unwrap();
        w.write(&RecordBatch::try_new(schema, cols).unwrap()).unwrap();
        w.close().unwrap();
        out
    }

    /// `tx.parquet` in [`dir`]`(name)`: the sample's transactions from
    /// 2024-01-01.
    pub fn sample(name: &str, seed: u64, services: usize, days: u32) -> PathBuf {
        let out = dir(name).join("tx.parquet");
        let start = servicewatch_shared::Day::parse("2024-01-01").unwrap();
        let args = crate::sample::Args { out: out.clone(), seed, services, days, start, scale: 1.0, labels: None };
        crate::sample::write(&args, |_, _| {}).unwrap();
        out
    }

    pub async fn open(path: &Path) -> Embedded {
        let ident = |s| Ident::parse(s).unwrap();
        let source = Source {
            table: TableName::parse("transactions").unwrap(),
            timestamp: ident("transaction_timestamp"),
            service: ident("orderservice"),
            zone: Zone::UTC,
            amount: ident("amount"),
            amount_decimals: 2,
            segment: ident("customer_segment"),
            channel: ident("channel"),
            payment_method: ident("payment_method"),
        };
        Embedded::open(path, source).await.unwrap()
    }
}
