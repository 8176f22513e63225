//! The plain daily count of one Parquet file, counted without a hash
//! table, instead of the daily statement's `GROUP BY`.
//!
//! [`Source::daily`](crate::warehouse::sql::Source::daily) groups rows by
//! the service's text and the day. On a clean 17-million-row file that
//! group-by (hashing and comparing the strings) is a quarter of
//! DataFusion's time, and DuckDB ran the same statement faster. For the
//! default view (transactions per service, no split, no filter) in UTC, a
//! file that Parquet stores the service as text and the time as a
//! timestamp without zone or in UTC is read here directly: the service as
//! its dictionary's keys (each batch's few distinct names looked up once),
//! the time as integers divided into days, each service's days counted in
//! an array; the file's pages are read into buffers used again
//! ([`Pooled`]). The rows kept are the statement's: a time inside
//! `[from, to + 1)` (its midnights, clamped to the valid window, as
//! `day_bounds` makes them), a service that is not NULL and, with a
//! service filter, one of its names. The answer goes through the same
//! [`batches::to_panel`] as the statement's; tests compare the two on
//! files with NULLs, times out of range, row groups and filters. Anything
//! else (CSV, a folder, another view or zone, other column types, a
//! series too sparse for an array) is left to the statement.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{
    DataType, Field, Int32Type, Schema, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use tokio_util::sync::CancellationToken;

use super::utc_day::{per_day, utc_unit};
use super::{Embedded, Format};
use crate::view::View;
use crate::warehouse::sql::{END_VALID_DAY, FIRST_VALID_DAY};
use crate::warehouse::{batches, Aggregates, DailyQuery, Progress, WarehouseError};

/// Rows per batch read.
const BATCH: usize = 4_096;
/// Most counters (allocated, not only used) all the arrays together may
/// hold, 64 MiB of them: past it, the data is too sparse for arrays.
const MAX_CELLS: usize = 1 << 24;

impl Embedded {
    /// The default view's daily counts read from the file directly, or
    /// `None` when this file or question is the statement's (see the
    /// module's comment).
    pub(super) async fn daily_counted(
        &self,
        q: &DailyQuery,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Option<Result<Aggregates, WarehouseError>> {
        if self.format != Format::Parquet
            || !self.path.is_file()
            || q.view != View::default()
            || !self.source.zone.is_utc()
        {
            return None;
        }
        // The service's type is checked in the file (`Job::run`).
        let table_ts = self.table_type(&self.source.timestamp).await?;
        // The statement's window: midnights of `from` and of the day after
        // `to`, within the valid window.
        let from = q.from.0.clamp(FIRST_VALID_DAY.0, END_VALID_DAY.0);
        let end = q.to.next().0.clamp(FIRST_VALID_DAY.0, END_VALID_DAY.0);
        let job = Job {
            path: self.path.clone(),
            table_ts,
            ts: self.source.timestamp.as_str().to_string(),
            svc: self.source.service.as_str().to_string(),
            services: q.services.clone(),
            days: (from, end),
            cancel: cancel.child_token(),
            progress: progress.clone(),
        };
        // Dropping this future (a shutdown) stops the reading threads too.
        let _stop = job.cancel.clone().drop_guard();
        let counted = tokio::task::spawn_blocking(move || job.run());
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Some(Err(WarehouseError::Cancelled)),
            r = counted => r.ok()?,
        }
    }
}

/// One count, as the blocking task sees it.
struct Job {
    path: std::path::PathBuf,
    table_ts: DataType,
    ts: String,
    svc: String,
    services: Option<Vec<String>>,
    /// First day counted and the day after the last.
    days: (i32, i32),
    cancel: CancellationToken,
    progress: Progress,
}

/// What a share of the row groups counted: the names met, and each one's
/// days.
#[derive(Default)]
struct Counted {
    names: Vec<String>,
    index: HashMap<String, usize>,
    series: Vec<Series>,
    /// Counters the series have allocated, to give up on data too sparse
    /// for arrays.
    cells: usize,
}

/// One service's counts on consecutive days from `first`.
#[derive(Default)]
struct Series {
    first: i32,
    counts: Vec<u32>,
}

/// How the outcome of counting a share of the row groups reads.
enum Share {
    Done(Counted),
    /// Not for an array (a series too sparse, a count past u32, a batch
    /// it cannot read): the statement answers.
    GiveUp,
    Cancelled,
}

impl Job {
    fn run(self) -> Option<Result<Aggregates, WarehouseError>> {
        let file = File::open(&self.path).ok()?;
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).ok()?;
        let schema = meta.schema().clone();
        let unit = utc_unit(&schema, &self.table_ts, &self.ts)?;
        let svc_field = schema.field_with_name(&self.svc).ok()?;
        if !matches!(svc_field.data_type(), DataType::Utf8 | DataType::Utf8View) {
            return None;
        }
        // The service read as its dictionary's keys.
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| {
                if f.name() == &self.svc {
                    f.as_ref()
                        .clone()
                        .with_data_type(DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)))
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        let meta = ArrowReaderMetadata::try_new(meta.metadata().clone(), ArrowReaderOptions::new().with_schema(hinted))
            .ok()?;
        let per_day = per_day(unit);
        let groups = meta.metadata().num_row_groups();
        let total = meta.metadata().row_groups().iter().fold(0u64, |n, g| n.saturating_add(g.num_rows().max(0) as u64));
        let done = AtomicU64::new(0);
        let cells = AtomicUsize::new(0);
        // The two columns by their top-level position (a name may hold a dot).
        let roots = meta.metadata().file_metadata().schema_descr().root_schema().get_fields().to_vec();
        let root = |name: &str| roots.iter().position(|f| f.name() == name);
        let mask =
            ProjectionMask::roots(meta.metadata().file_metadata().schema_descr(), [root(&self.ts)?, root(&self.svc)?]);
        // Two shares of the row groups, one per core.
        let shares: Vec<Vec<usize>> = vec![(0..groups).step_by(2).collect(), (1..groups).step_by(2).collect()];
        let results: Vec<Share> = std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(|share| {
                    // A file of its own: clones of one handle share its offset.
                    let (meta, mask, file) = (meta.clone(), mask.clone(), File::open(&self.path).map(Pooled::new));
                    let (done, cells) = (&done, &cells);
                    let job = &self;
                    scope.spawn(move || {
                        let Ok(file) = file else { return Share::GiveUp };
                        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta)
                            .with_projection(mask)
                            .with_row_groups(share)
                            .with_batch_size(BATCH)
                            .build();
                        match reader {
                            Ok(reader) => job.count(reader, (unit, per_day), (done, total), cells),
                            Err(_) => Share::GiveUp,
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(Share::GiveUp)).collect()
        });
        let mut all: Option<Counted> = None;
        for share in results {
            match (share, all.as_mut()) {
                (Share::Done(c), None) => all = Some(c),
                (Share::Done(c), Some(a)) => {
                    if !a.merge(c) {
                        return None;
                    }
                }
                (Share::GiveUp, _) => return None,
                (Share::Cancelled, _) => return Some(Err(WarehouseError::Cancelled)),
            }
        }
        self.progress.set(total, total);
        Some(batches::to_panel(&[all.unwrap_or_default().into_batch()]))
    }

    /// Counts the rows of `reader` (the projected time and service).
    /// `cells` is what both shares' arrays hold, checked after each batch
    /// against the rows read so far (`done` of `total`).
    fn count(
        &self,
        reader: impl Iterator<Item = Result<RecordBatch, datafusion::arrow::error::ArrowError>>,
        (unit, per_day): (TimeUnit, i64),
        (done, total): (&AtomicU64, u64),
        cells: &AtomicUsize,
    ) -> Share {
        let bound = |day: i32| i64::from(day).checked_mul(per_day);
        let (Some(lo), Some(hi)) = (bound(self.days.0), bound(self.days.1)) else { return Share::GiveUp };
        let wanted: Option<std::collections::HashSet<&str>> =
            self.services.as_ref().map(|s| s.iter().map(String::as_str).collect());
        let mut out = Counted::default();
        let (mut ids, mut last_dictionary): (Vec<Option<usize>>, Option<ArrayData>) = (Vec::new(), None);
        let mut reported = 0;
        let mut day = DayOf::new(per_day, lo, self.days.0);
        for batch in reader {
            if self.cancel.is_cancelled() {
                return Share::Cancelled;
            }
            // A file this reader cannot read is the statement's to judge.
            let Ok(batch) = batch else { return Share::GiveUp };
            let (Some(ts), Some(svc)) = (batch.column_by_name(&self.ts), batch.column_by_name(&self.svc)) else {
                return Share::GiveUp;
            };
            let Some(svc) = svc.as_dictionary_opt::<Int32Type>() else { return Share::GiveUp };
            let Some(names) = svc.values().as_string_opt::<i32>() else { return Share::GiveUp };
            // Each distinct name of the batch to its series, once; batches
            // of one column chunk share its dictionary (the same buffers:
            // the last one is held, so no other can take its place), and
            // its mapping.
            let dictionary = svc.values().to_data();
            if !last_dictionary.as_ref().is_some_and(|d| d.ptr_eq(&dictionary)) {
                ids = (0..names.len())
                    .map(|k| {
                        let name = (!names.is_null(k)).then(|| names.value(k))?;
                        if wanted.as_ref().is_some_and(|w| !w.contains(name)) {
                            return None;
                        }
                        Some(out.id(name))
                    })
                    .collect();
                last_dictionary = Some(dictionary);
            }
            let Some(times) = times(ts, unit) else { return Share::GiveUp };
            let keys = svc.keys();
            let mut row = |key: i32, t: i64| {
                if t < lo || t >= hi {
                    return true;
                }
                let Some(id) = ids.get(key as usize).copied().flatten() else { return true };
                out.add(id, day.of(t))
            };
            let mut rows = keys.values().iter().zip(times.values().iter());
            let counted = if keys.null_count() == 0 && times.null_count() == 0 {
                // The usual column, without NULLs: no validity test a row.
                rows.all(|(&k, &t)| row(k, t))
            } else {
                rows.enumerate().all(|(i, (&k, &t))| keys.is_null(i) || times.is_null(i) || row(k, t))
            };
            if !counted {
                return Share::GiveUp;
            }
            let seen = done.fetch_add(batch.num_rows() as u64, Ordering::Relaxed) + batch.num_rows() as u64;
            self.progress.set(seen.min(total), total);
            // Arrays for sparse data would outgrow the rows they count.
            let held = cells.fetch_add(out.cells - reported, Ordering::Relaxed) + out.cells - reported;
            reported = out.cells;
            if held > MAX_CELLS || held > 8 * seen as usize + (1 << 20) {
                return Share::GiveUp;
            }
        }
        Share::Done(out)
    }
}

/// A file whose pages (as Parquet's reader asks for them, compressed) are
/// read into buffers used again: a page is often past glibc's mmap
/// threshold, which `main.rs` fixes at 128 KiB, and each fresh buffer was
/// a new mapping the kernel zeroed page by page and unmapped when it was
/// dropped (about a sixth of the count's samples). Each read is handed out
/// as [`Bytes`] owning a [`Loan`], which gives its buffer back when the
/// last reference to it is dropped.
struct Pooled {
    file: File,
    spare: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl Pooled {
    fn new(file: File) -> Pooled {
        Pooled { file, spare: Arc::default() }
    }
}

/// A buffer lent out as one chunk's bytes (`len` of them).
struct Loan {
    buf: Vec<u8>,
    len: usize,
    home: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl AsRef<[u8]> for Loan {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        if let Ok(mut spare) = self.home.lock() {
            spare.push(std::mem::take(&mut self.buf));
        }
    }
}

impl parquet::file::reader::Length for Pooled {
    fn len(&self) -> u64 {
        self.file.len()
    }
}

impl parquet::file::reader::ChunkReader for Pooled {
    type T = <File as parquet::file::reader::ChunkReader>::T;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.file.get_read(start)
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        use std::os::unix::fs::FileExt;
        // The largest spare buffer (the two columns' pages differ in size).
        let mut buf = match self.spare.lock() {
            Ok(mut spare) => {
                let best = (0..spare.len()).max_by_key(|&i| spare[i].len());
                best.map(|i| spare.swap_remove(i)).unwrap_or_default()
            }
            Err(_) => Vec::new(),
        };
        if buf.len() < length {
            buf.resize(length, 0);
        }
        self.file.read_exact_at(&mut buf[..length], start)?;
        Ok(bytes::Bytes::from_owner(Loan { buf, len: length, home: self.spare.clone() }))
    }
}

/// The day of a time in the file's unit, remembering the last day's
/// midnights: rows of a file written in time order fall on the day before
/// them, and two comparisons cost less than a 64-bit division.
struct DayOf {
    per_day: i64,
    /// The last day's midnight and the next, in the file's unit (compared,
    /// never subtracted: in nanoseconds two times of the window can lie
    /// further apart than an i64 holds).
    start: i64,
    end: i64,
    day: i32,
}

impl DayOf {
    /// Starting on `day`, whose midnight is `start`.
    fn new(per_day: i64, start: i64, day: i32) -> DayOf {
        DayOf { per_day, start, end: start.saturating_add(per_day), day }
    }

    /// `t` must be inside the counted window (whose midnights fit an i64).
    #[inline(always)]
    fn of(&mut self, t: i64) -> i32 {
        if t >= self.start && t < self.end {
            return self.day;
        }
        let day = t.div_euclid(self.per_day);
        *self = DayOf::new(self.per_day, day * self.per_day, day as i32);
        self.day
    }
}

/// The time column as its integers, whatever its unit.
fn times(
    col: &ArrayRef,
    unit: TimeUnit,
) -> Option<datafusion::arrow::array::PrimitiveArray<datafusion::arrow::datatypes::Int64Type>> {
    let values = match unit {
        TimeUnit::Second => col.as_primitive_opt::<TimestampSecondType>()?.reinterpret_cast(),
        TimeUnit::Millisecond => col.as_primitive_opt::<TimestampMillisecondType>()?.reinterpret_cast(),
        TimeUnit::Microsecond => col.as_primitive_opt::<TimestampMicrosecondType>()?.reinterpret_cast(),
        TimeUnit::Nanosecond => col.as_primitive_opt::<TimestampNanosecondType>()?.reinterpret_cast(),
    };
    Some(values)
}

impl Counted {
    fn id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.index.insert(name.to_string(), self.names.len());
        self.names.push(name.to_string());
        self.series.push(Series::default());
        self.names.len() - 1
    }

    /// One more row of series `id` on `day`; false when a count would
    /// pass u32 or the arrays would pass [`MAX_CELLS`] (the statement
    /// counts it instead).
    fn add(&mut self, id: usize, day: i32) -> bool {
        // Most rows land on a day the series' array holds already.
        let s = &mut self.series[id];
        let held = usize::try_from(day.wrapping_sub(s.first)).ok().and_then(|i| s.counts.get_mut(i));
        if let Some(c) = held.filter(|c| **c < u32::MAX) {
            *c += 1;
            return true;
        }
        self.add_n(id, day, 1)
    }

    fn add_n(&mut self, id: usize, day: i32, n: u32) -> bool {
        let s = &mut self.series[id];
        let before = s.counts.capacity();
        match s.slot(day) {
            Some(c) if u32::MAX - *c >= n => *c += n,
            _ => return false,
        }
        self.cells += s.counts.capacity() - before;
        self.cells <= MAX_CELLS
    }

    /// Adds another share's counts; false as [`Counted::add`] says.
    fn merge(&mut self, other: Counted) -> bool {
        for (name, s) in other.names.into_iter().zip(other.series) {
            let id = self.id(&name);
            for (d, &n) in (s.first..).zip(&s.counts) {
                if n > 0 && !self.add_n(id, d, n) {
                    return false;
                }
            }
        }
        true
    }

    /// (service, day, n) in the statement's order: by service (as bytes),
    /// then day; only days with rows.
    fn into_batch(self) -> RecordBatch {
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        order.sort_by(|&a, &b| self.names[a].as_bytes().cmp(self.names[b].as_bytes()));
        let (mut svc, mut day, mut n) = (Vec::new(), Vec::new(), Vec::new());
        for i in order {
            let s = &self.series[i];
            for (d, &c) in (s.first..).zip(&s.counts) {
                if c > 0 {
                    svc.push(self.names[i].as_str());
                    day.push(d);
                    n.push(i64::from(c));
                }
            }
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("service", DataType::Utf8, false),
            Field::new("day", DataType::Date32, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let cols: Vec<ArrayRef> =
            vec![Arc::new(StringArray::from(svc)), Arc::new(Date32Array::from(day)), Arc::new(Int64Array::from(n))];
        RecordBatch::try_new(schema, cols).expect("three columns of one length")
    }
}

impl Series {
    /// The counter of `day`, growing the array (by at least its length,
    /// so that growth costs O(1) a row) to hold it.
    fn slot(&mut self, day: i32) -> Option<&mut u32> {
        if self.counts.is_empty() {
            self.first = day;
            self.counts.push(0);
        }
        if day < self.first {
            let need = (self.first - day) as usize;
            let by = need.max(self.counts.len());
            let mut grown = Vec::with_capacity(by + self.counts.len());
            grown.resize(by, 0);
            grown.extend_from_slice(&self.counts);
            self.counts = grown;
            self.first -= by as i32;
        }
        let i = (day - self.first) as usize;
        if i >= self.counts.len() {
            let len = (i + 1).max(2 * self.counts.len());
            self.counts.resize(len, 0);
        }
        self.counts.get_mut(i)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use datafusion::arrow::array::{
        TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
    };
    use servicewatch_shared::{Day, Metric};

    use super::super::test_support::{open, parquet, sample};
    use super::*;

    /// The counted answer and the statement's, for the same question.
    async fn both(wh: &Embedded, q: &DailyQuery) -> (Option<Aggregates>, Aggregates) {
        let cancel = CancellationToken::new();
        let counted = wh.daily_counted(q, &cancel, &Progress::default()).await.map(Result::unwrap);
        let st = wh.source.daily(q.from, q.to, q.services.as_deref(), &q.view);
        (counted, batches::to_panel(&wh.run(&st, &cancel).await.unwrap()).unwrap())
    }

    fn query(from: &str, to: &str, services: Option<&[&str]>) -> DailyQuery {
        DailyQuery {
            from: Day::parse(from).unwrap(),
            to: Day::parse(to).unwrap(),
            services: services.map(|s| s.iter().map(|x| x.to_string()).collect()),
            view: View::default(),
        }
    }

    #[tokio::test]
    async fn the_counts_are_the_statements() {
        let wh = open(&sample("dense-sample", 4, 7, 60)).await;
        for q in [
            query("2024-01-01", "2024-02-29", None),
            query("2024-01-10", "2024-01-20", None),
            query("2023-06-01", "2024-01-03", None),
            query("2024-01-01", "2024-02-29", Some(&["SVC-0002", "SVC-0005", "nobody"])),
        ] {
            let (counted, statement) = both(&wh, &q).await;
            assert!(!statement.panel.is_empty());
            assert_eq!(counted, Some(statement), "{q:?}");
        }
        // Another view is the statement's.
        let amounts = DailyQuery {
            view: View { metric: Metric::Amount, ..View::default() },
            ..query("2024-01-01", "2024-02-29", None)
        };
        assert!(wh.daily_counted(&amounts, &CancellationToken::new(), &Progress::default()).await.is_none());
    }

    /// Rows of (service, time in `unit`s) in row groups of 3.
    fn file(name: &str, unit: TimeUnit, rows: &[(Option<&str>, Option<i64>)]) -> PathBuf {
        let times: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
        // Zone-less and UTC, both as the table reads them.
        let ts: ArrayRef = match unit {
            TimeUnit::Second => Arc::new(TimestampSecondArray::from(times)),
            TimeUnit::Millisecond => Arc::new(TimestampMillisecondArray::from(times).with_timezone("UTC")),
            TimeUnit::Microsecond => Arc::new(TimestampMicrosecondArray::from(times)),
            TimeUnit::Nanosecond => Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")),
        };
        parquet(&format!("dense-{name}"), ts, &rows.iter().map(|r| r.0).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn nulls_and_times_out_of_range_are_left_out_as_the_statement_leaves_them() {
        let day = 86_400_i64;
        let before_1901 = (i64::from(FIRST_VALID_DAY.0) - 3) * day;
        let rows = [
            (Some("b"), Some(5 * day + 7)),
            (None, Some(5 * day)),
            (Some("a"), None),
            (Some("a"), Some(-3 * day + 1)), // before 1970: floor division
            (Some("a"), Some(9 * day - 1)),
            (Some("a"), Some(before_1901)),
            (Some("c"), Some(4 * day)),
            (Some("b"), Some(5 * day + 9)),
            (Some("é"), Some(6 * day)),
            (Some("a"), Some(3 * day)),
        ];
        for (name, unit, scale) in [
            ("seconds", TimeUnit::Second, 1),
            ("millis", TimeUnit::Millisecond, 1_000),
            ("micros", TimeUnit::Microsecond, 1_000_000),
            ("nanos", TimeUnit::Nanosecond, 1_000_000_000),
        ] {
            let scaled: Vec<(Option<&str>, Option<i64>)> =
                rows.iter().map(|(s, t)| (*s, t.map(|t| t * scale))).collect();
            let wh = open(&file(name, unit, &scaled)).await;
            for q in [
                query("1969-12-01", "1970-01-31", None),
                query("1970-01-05", "1970-01-06", None),
                query("1900-01-01", "1970-01-31", Some(&["a"])),
            ] {
                let (counted, statement) = both(&wh, &q).await;
                assert_eq!(counted, Some(statement.clone()), "{name} {q:?}");
                assert!(!statement.panel.is_empty(), "{name} {q:?}");
            }
        }
        // Nanoseconds from the window's first days to its last: further
        // apart than an i64 holds, so a day is never found by subtracting.
        let ns = 86_400_000_000_000_i64;
        let far: Vec<(Option<&str>, Option<i64>)> = [FIRST_VALID_DAY.0 + 1, FIRST_VALID_DAY.0 + 3, END_VALID_DAY.0 - 2]
            .into_iter()
            .chain([FIRST_VALID_DAY.0 + 1, END_VALID_DAY.0 - 30_000, END_VALID_DAY.0 - 1])
            .map(|d| (Some("a"), Some(i64::from(d) * ns + 5)))
            .collect();
        let wh = open(&file("far-nanos", TimeUnit::Nanosecond, &far)).await;
        let (counted, statement) = both(&wh, &query("1901-01-01", "2199-12-31", None)).await;
        assert_eq!(statement.panel.len(), 1);
        assert_eq!(counted, Some(statement));
        // Services whose few rows lie centuries apart: arrays would hold
        // millions of counters for 60 rows, so the statement answers.
        let sparse: Vec<(Option<&str>, Option<i64>)> = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
            .iter()
            .flat_map(|&s| {
                [(FIRST_VALID_DAY.0 + 1), 0, (END_VALID_DAY.0 - 2)].map(|d| (Some(s), Some(i64::from(d) * day)))
            })
            .chain([(Some("k"), Some(7 * day)); 30])
            .collect();
        let wh = open(&file("sparse", TimeUnit::Second, &sparse)).await;
        let everything = query("1901-01-01", "2199-12-31", None);
        assert!(wh.daily_counted(&everything, &CancellationToken::new(), &Progress::default()).await.is_none());
        let (_, statement) = both(&wh, &everything).await;
        assert_eq!(statement.panel.len(), 11);
        // A file without rows: nothing, as the statement says.
        let wh = open(&file("empty", TimeUnit::Microsecond, &[])).await;
        let (counted, statement) = both(&wh, &query("2024-01-01", "2024-12-31", None)).await;
        assert!(statement.panel.is_empty());
        assert_eq!(counted, Some(statement));
    }
}
