//! The bounds statement's answer from a Parquet file's statistics, when
//! they settle it exactly, instead of a scan of every row.
//!
//! [`Source::bounds`](crate::warehouse::sql::Source::bounds) counts the rows
//! the daily statement keeps and those it drops, by reason. The footer
//! settles all of it when, in every row group, neither the time nor the
//! service column has a null (a null count of 0, or a required column) and
//! the time column's exact minimum and maximum lie inside the valid window:
//! then no row is dropped, every row counts, and the first and last times
//! are the file's minimum and maximum. The time column must be a timestamp
//! without time zone or in UTC, read as the table reads it, so that the
//! statement's `TRY_CAST(.. AS TIMESTAMP)` keeps its values. Anything else
//! (CSV, a folder, text times, a null, a time out of the window, a row
//! group without statistics) is answered by the statement.

use std::fs::File;
use std::path::Path;

use chrono::DateTime;
use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::RowGroupMetaData;
use servicewatch_shared::wire::DroppedRows;

use super::utc_day::{per_day, utc_unit};
use super::Embedded;
use crate::warehouse::sql::{END_VALID_DAY, FIRST_VALID_DAY};
use crate::warehouse::Bounds;

const DAY_NS: i128 = per_day(TimeUnit::Nanosecond) as i128;

impl Embedded {
    /// The bounds from the file's footer, or `None` when it does not
    /// settle them (see the module's comment).
    pub(super) async fn bounds_from_statistics(&self) -> Option<Bounds> {
        if !self.path.is_file() {
            return None;
        }
        let table_ts = self.table_type(&self.source.timestamp).await?;
        let (path, ts, svc) =
            (self.path.clone(), self.source.timestamp.as_str().to_string(), self.source.service.as_str().to_string());
        tokio::task::spawn_blocking(move || from_footer(&path, &table_ts, &ts, &svc)).await.ok()?
    }
}

/// No nulls in any row group: a required column, or every null count 0.
fn no_nulls(c: &StatisticsConverter, groups: &[RowGroupMetaData], required: bool) -> Option<bool> {
    if required {
        return Some(true);
    }
    let n = c.row_group_null_counts(groups).ok()?;
    Some(n.len() == groups.len() && n.null_count() == 0 && n.values().iter().all(|&v| v == 0))
}

fn all_true(b: &BooleanArray, len: usize) -> bool {
    b.len() == len && b.null_count() == 0 && b.true_count() == len
}

/// One value per row group, none missing, as the column's raw integers.
fn per_group(values: &dyn Array, len: usize) -> Option<Vec<i64>> {
    if values.len() != len || values.null_count() > 0 {
        return None;
    }
    Some(cast(values, &DataType::Int64).ok()?.as_primitive::<Int64Type>().values().to_vec())
}

fn from_footer(path: &Path, table_ts: &DataType, ts: &str, svc: &str) -> Option<Bounds> {
    let file = File::open(path).ok()?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).ok()?;
    let (schema, md) = (meta.schema(), meta.metadata());
    let unit = utc_unit(schema, table_ts, ts)?;
    let groups = md.row_groups();
    let parquet_schema = md.file_metadata().schema_descr();
    let t = StatisticsConverter::try_new(ts, schema, parquet_schema).ok()?;
    let s = StatisticsConverter::try_new(svc, schema, parquet_schema).ok()?;
    let required =
        |c: &StatisticsConverter| c.parquet_column_index().map(|i| parquet_schema.column(i).max_def_level() == 0);
    if groups.is_empty() || !no_nulls(&t, groups, required(&t)?)? || !no_nulls(&s, groups, required(&s)?)? {
        return None;
    }
    if !all_true(&t.row_group_is_min_value_exact(groups).ok()?, groups.len())
        || !all_true(&t.row_group_is_max_value_exact(groups).ok()?, groups.len())
    {
        return None;
    }
    let first = *per_group(&t.row_group_mins(groups).ok()?, groups.len())?.iter().min()?;
    let last = *per_group(&t.row_group_maxes(groups).ok()?, groups.len())?.iter().max()?;
    let ns_per = i128::from(per_day(TimeUnit::Nanosecond) / per_day(unit));
    let (first, last) = (i128::from(first) * ns_per, i128::from(last) * ns_per);
    if first < i128::from(FIRST_VALID_DAY.0) * DAY_NS || last >= i128::from(END_VALID_DAY.0) * DAY_NS {
        return None;
    }
    let rows = groups.iter().map(|g| g.num_rows().max(0) as u64).sum();
    let time = |ns: i128| Some(DateTime::from_timestamp_nanos(i64::try_from(ns).ok()?).naive_utc());
    Some(Bounds { first: time(first), last: time(last), rows, dropped: DroppedRows::default() })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use datafusion::arrow::array::TimestampMicrosecondArray;
    use tokio_util::sync::CancellationToken;

    use super::super::test_support::{open, parquet, sample};
    use super::*;
    use crate::warehouse::batches;

    /// The footer's answer, and the statement's.
    async fn both(path: &Path) -> (Option<Bounds>, Bounds) {
        let wh = open(path).await;
        let scanned = wh.run(&wh.source.bounds(), &CancellationToken::new()).await.unwrap();
        (wh.bounds_from_statistics().await, batches::to_bounds(&scanned).unwrap())
    }

    /// Rows of (service, time) written in row groups of 3.
    fn file(name: &str, rows: &[(Option<&str>, i64)]) -> PathBuf {
        let ts = TimestampMicrosecondArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>()).with_timezone("UTC");
        parquet(name, Arc::new(ts), &rows.iter().map(|r| r.0).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn the_footer_gives_what_the_scan_gives() {
        let (footer, scan) = both(&sample("sample", 3, 6, 40)).await;
        assert!(scan.rows > 1000);
        assert_eq!(footer, Some(scan));

        let day = 86_400_000_000_i64;
        let clean = [(Some("a"), 5 * day + 7), (Some("b"), 3 * day), (Some("a"), 9 * day - 1), (Some("c"), 4 * day)];
        let (footer, scan) = both(&file("clean", &clean)).await;
        assert_eq!((footer, scan.rows), (Some(scan.clone()), 4));
    }

    #[tokio::test]
    async fn a_dropped_row_leaves_the_answer_to_the_scan() {
        let day = 86_400_000_000_i64;
        let before_1901 = (i64::from(FIRST_VALID_DAY.0) - 1) * day;
        let after_2199 = i64::from(END_VALID_DAY.0) * day;
        for (name, odd) in
            [("null-service", (None, day)), ("early", (Some("a"), before_1901)), ("late", (Some("a"), after_2199))]
        {
            let rows = [(Some("a"), 5 * day), (Some("b"), 3 * day), (Some("a"), 9 * day), odd];
            let (footer, scan) = both(&file(name, &rows)).await;
            assert_eq!(footer, None, "{name}");
            assert_eq!(scan.rows, 3, "{name}");
            assert_eq!(scan.dropped.null_service + scan.dropped.out_of_range, 1, "{name}");
        }
    }
}
