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

/// The first row's timestamp in column `col`, as UTC. A zoned timestamp
/// holds UTC whatever its zone's name (`UTC`, `Etc/UTC`, `+00:00`); a
/// naive one is UTC too, the session zone every engine runs in here.
fn timestamp_at(b: &RecordBatch, col: usize) -> Result<Option<NaiveDateTime>, WarehouseError> {
    let col = b.column(col);
    let col = match col.data_type() {
        DataType::Timestamp(unit, Some(_)) => cast_to(col, &DataType::Timestamp(*unit, None))?,
        _ => col.clone(),
    };
    let ts = cast_to(&col, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
    let ts = ts.as_primitive::<TimestampNanosecondType>();
    Ok((b.num_rows() > 0 && !ts.is_null(0)).then(|| DateTime::from_timestamp_nanos(ts.value(0)).naive_utc()))
}

/// Zoned timestamps labelled `UTC` whatever the warehouse called UTC, so
/// every warehouse writes them alike.
fn utc_labels(b: &RecordBatch) -> Result<RecordBatch, WarehouseError> {
    let mut fields = Vec::with_capacity(b.num_columns());
    let mut columns = Vec::with_capacity(b.num_columns());
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        match f.data_type() {
            DataType::Timestamp(unit, Some(tz)) if tz.as_ref() != "UTC" => {
                let to = DataType::Timestamp(*unit, Some("UTC".into()));
                columns.push(cast_to(c, &to)?);
                fields.push(f.as_ref().clone().with_data_type(to));
            }
            _ => {
                columns.push(c.clone());
                fields.push(f.as_ref().clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).map_err(data_err)
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
    let batches: Vec<RecordBatch> = batches.iter().map(utc_labels).collect::<Result<_, _>>()?;
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    writer.write_batches(&refs).map_err(data_err)?;
    writer.finish().map_err(data_err)?;
    let bytes = writer.into_inner();
    let rows = if bytes.is_empty() { Vec::new() } else { serde_json::from_slice(&bytes).map_err(data_err)? };
    Ok(Rows { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};

    fn bounds_batch(tz: Option<&str>) -> RecordBatch {
        let ts = |v: i64| {
            let a = TimestampMicrosecondArray::from(vec![v]);
            Arc::new(match tz {
                Some(z) => a.with_timezone(z),
                None => a,
            }) as Arc<dyn Array>
        };
        let ty = DataType::Timestamp(TimeUnit::Microsecond, tz.map(Into::into));
        let schema = Schema::new(vec![
            Field::new("first_ts", ty.clone(), true),
            Field::new("last_ts", ty, true),
            Field::new("n", DataType::Int64, false),
        ]);
        let cols = vec![ts(1_711_846_800_000_000), ts(1_711_850_400_000_000), Arc::new(Int64Array::from(vec![7])) as _];
        RecordBatch::try_new(Arc::new(schema), cols).unwrap()
    }

    #[test]
    fn utc_by_any_name_reads_and_writes_alike() {
        let want = to_bounds(&[bounds_batch(None)]).unwrap();
        assert_eq!(want.first.unwrap().to_string(), "2024-03-31 01:00:00");
        for tz in ["UTC", "Etc/UTC", "+00:00"] {
            assert_eq!(to_bounds(&[bounds_batch(Some(tz))]).unwrap(), want, "{tz}");
        }
        let rows = |tz| to_rows(&[bounds_batch(Some(tz))]).unwrap().rows;
        assert_eq!(rows("Etc/UTC"), rows("UTC"));
        assert_eq!(rows("+00:00"), rows("UTC"));
    }
}
