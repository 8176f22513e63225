//! Arrow record batches into what the server needs, for every warehouse:
//! the daily aggregate into the engine's [`Panel`], the bounds row into
//! [`Bounds`], raw rows into JSON objects. The embedded engine produces
//! batches directly, Databricks sends Arrow IPC streams or JSON arrays that
//! [`super::databricks`] turns into batches first: one conversion, so both
//! answer the same bytes for the same table.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Int64Type, TimeUnit, TimestampNanosecondType};
use chrono::{DateTime, NaiveDateTime};
use servicewatch_shared::{Day, Panel};

use super::{Bounds, Rows, WarehouseError};

fn data_err(e: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::Data(e.to_string())
}

fn cast_to(col: &Arc<dyn Array>, to: &DataType) -> Result<Arc<dyn Array>, WarehouseError> {
    cast(col, to).map_err(data_err)
}

/// Rows of (service, day, n), ordered by service then day, into a panel.
pub fn to_panel(batches: &[RecordBatch]) -> Result<Panel, WarehouseError> {
    let mut builder = Panel::builder();
    let (mut key, mut days, mut counts) = (None::<String>, Vec::new(), Vec::new());
    let mut flush = |key: &Option<String>, days: &mut Vec<Day>, counts: &mut Vec<u64>| {
        if let Some(k) = key {
            builder.push(k, days, counts).map_err(data_err)?;
        }
        days.clear();
        counts.clear();
        Ok::<_, WarehouseError>(())
    };
    for b in batches {
        if b.num_columns() < 3 {
            return Err(data_err(format!("expected (service, day, n), got {} columns", b.num_columns())));
        }
        let svc = cast_to(b.column(0), &DataType::Utf8)?;
        let svc = svc.as_string::<i32>();
        let day = cast_to(b.column(1), &DataType::Date32)?;
        let day = day.as_primitive::<Date32Type>();
        let n = cast_to(b.column(2), &DataType::Int64)?;
        let n = n.as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            if svc.is_null(i) || day.is_null(i) {
                continue;
            }
            if key.as_deref() != Some(svc.value(i)) {
                flush(&key, &mut days, &mut counts)?;
                key = Some(svc.value(i).to_string());
            }
            days.push(Day(day.value(i)));
            counts.push(n.value(i).max(0) as u64);
        }
    }
    flush(&key, &mut days, &mut counts)?;
    Ok(builder.build())
}

/// The first row's timestamp in column `col`, as UTC.
fn timestamp_at(b: &RecordBatch, col: usize) -> Result<Option<NaiveDateTime>, WarehouseError> {
    let ts = cast_to(b.column(col), &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
    let ts = ts.as_primitive::<TimestampNanosecondType>();
    Ok((b.num_rows() > 0 && !ts.is_null(0)).then(|| DateTime::from_timestamp_nanos(ts.value(0)).naive_utc()))
}

/// The one row of (first_ts, last_ts, n) into bounds.
pub fn to_bounds(batches: &[RecordBatch]) -> Result<Bounds, WarehouseError> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(Bounds { first: None, last: None, rows: 0 });
    };
    if b.num_columns() < 3 {
        return Err(data_err(format!("expected (first_ts, last_ts, n), got {} columns", b.num_columns())));
    }
    let n = cast_to(b.column(2), &DataType::Int64)?;
    let rows = n.as_primitive::<Int64Type>().value(0).max(0) as u64;
    Ok(Bounds { first: timestamp_at(b, 0)?, last: timestamp_at(b, 1)?, rows })
}

/// Record batches as JSON objects (arrow's own JSON writer: every type).
pub fn to_rows(batches: &[RecordBatch]) -> Result<Rows, WarehouseError> {
    let columns =
        batches.first().map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect()).unwrap_or_default();
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    writer.write_batches(&refs).map_err(data_err)?;
    writer.finish().map_err(data_err)?;
    let bytes = writer.into_inner();
    let rows = if bytes.is_empty() { Vec::new() } else { serde_json::from_slice(&bytes).map_err(data_err)? };
    Ok(Rows { columns, rows })
}
