//! Arrow record batches into what the server needs, for every warehouse:
//! the daily aggregate into the engine's [`Panel`], the bounds row into
//! [`Bounds`], raw rows into JSON objects. The embedded engine produces
//! batches directly, Databricks sends Arrow IPC streams or JSON arrays that
//! [`super::databricks`] turns into batches first: one conversion, so both
//! answer the same bytes for the same table.
//!
//! Values are read by their Arrow type here rather than through Arrow's
//! generic `cast`: the few types the SQL can produce are simple to read, and
//! the cast kernels alone weigh 3 MB, a third of what a Databricks App may
//! upload per file.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit};
use arrow::datatypes::{UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;
use servicewatch_shared::wire::DroppedRows;
use servicewatch_shared::{Day, Panel};

use super::{Aggregates, Bounds, Rows, WarehouseError};

fn data_err(e: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::data(e.to_string())
}

fn unexpected(what: &str, ty: &DataType) -> WarehouseError {
    WarehouseError::data(format!("{what}: unexpected column type {ty}"))
}

/// Row `i` of a string column, whatever its layout.
fn text_at(col: &dyn Array, i: usize) -> Option<&str> {
    if col.is_null(i) {
        return None;
    }
    match col.data_type() {
        DataType::Utf8 => Some(col.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(col.as_string::<i64>().value(i)),
        DataType::Utf8View => Some(col.as_string_view().value(i)),
        _ => None,
    }
}

fn is_text(ty: &DataType) -> bool {
    matches!(ty, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Row `i` of an integer column, if it fits an `i64`.
fn int_at(col: &dyn Array, i: usize) -> Option<i64> {
    if col.is_null(i) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Int8 => col.as_primitive::<Int8Type>().value(i) as i64,
        DataType::Int16 => col.as_primitive::<Int16Type>().value(i) as i64,
        DataType::Int32 => col.as_primitive::<Int32Type>().value(i) as i64,
        DataType::Int64 => col.as_primitive::<Int64Type>().value(i),
        DataType::UInt8 => col.as_primitive::<UInt8Type>().value(i) as i64,
        DataType::UInt16 => col.as_primitive::<UInt16Type>().value(i) as i64,
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(i) as i64,
        DataType::UInt64 => i64::try_from(col.as_primitive::<UInt64Type>().value(i)).ok()?,
        _ => return None,
    })
}

fn is_int(ty: &DataType) -> bool {
    ty.is_integer()
}

/// Row `i` of a date column as days since 1970-01-01.
fn day_at(col: &dyn Array, i: usize) -> Option<i32> {
    if col.is_null(i) {
        return None;
    }
    match col.data_type() {
        DataType::Date32 => Some(col.as_primitive::<arrow::datatypes::Date32Type>().value(i)),
        DataType::Date64 => Some(col.as_primitive::<Date64Type>().value(i).div_euclid(86_400_000) as i32),
        _ => None,
    }
}

/// Row `i` of a timestamp column as a UTC time; `None` for a null, an
/// error for a value outside chrono's years (±262,000). A zoned timestamp
/// holds UTC whatever its zone's name (`UTC`, `Etc/UTC`, `+00:00`); a naive
/// one is read as UTC, the session zone the SQL expects (`sql.rs`).
fn time_at(col: &dyn Array, i: usize) -> Result<Option<NaiveDateTime>, WarehouseError> {
    use arrow::datatypes::{
        TimestampMicrosecondType as Us, TimestampMillisecondType as Ms, TimestampNanosecondType as Ns,
        TimestampSecondType as S,
    };
    if col.is_null(i) {
        return Ok(None);
    }
    let DataType::Timestamp(unit, _) = col.data_type() else { return Err(unexpected("timestamp", col.data_type())) };
    let t = match unit {
        TimeUnit::Second => DateTime::from_timestamp(col.as_primitive::<S>().value(i), 0),
        TimeUnit::Millisecond => DateTime::from_timestamp_millis(col.as_primitive::<Ms>().value(i)),
        TimeUnit::Microsecond => DateTime::from_timestamp_micros(col.as_primitive::<Us>().value(i)),
        TimeUnit::Nanosecond => Some(DateTime::from_timestamp_nanos(col.as_primitive::<Ns>().value(i))),
    };
    t.map(|t| Some(t.naive_utc())).ok_or_else(|| data_err("a timestamp outside the years a date can hold"))
}

/// Rows of (series, day, n), ordered by series then day, into a panel;
/// an amount view's rows have a fourth column, the rows not summed, which
/// is added up.
pub fn to_panel(batches: &[RecordBatch]) -> Result<Aggregates, WarehouseError> {
    let mut builder = Panel::builder();
    let mut not_summed = 0u64;
    let mut units = std::collections::BTreeMap::new();
    let mut summed = 0u64;
    let (mut key, mut days, mut counts) = (None::<String>, Vec::new(), Vec::new());
    let mut flush = |key: &Option<String>, days: &mut Vec<Day>, counts: &mut Vec<u64>, summed: &mut u64| {
        if let Some(k) = key {
            builder.push(k, days, counts).map_err(data_err)?;
            if *summed > 0 {
                let total: u64 = counts.iter().sum();
                units.insert(k.clone(), total as f64 / *summed as f64);
            }
        }
        *summed = 0;
        days.clear();
        counts.clear();
        Ok::<_, WarehouseError>(())
    };
    for b in batches {
        if b.num_columns() < 3 {
            return Err(data_err(format!("expected (service, day, n), got {} columns", b.num_columns())));
        }
        let (svc, day, n) = (b.column(0).as_ref(), b.column(1).as_ref(), b.column(2).as_ref());
        if !is_text(svc.data_type()) {
            return Err(unexpected("service", svc.data_type()));
        }
        if !matches!(day.data_type(), DataType::Date32 | DataType::Date64) {
            return Err(unexpected("day", day.data_type()));
        }
        if !is_int(n.data_type()) {
            return Err(unexpected("count", n.data_type()));
        }
        let left_out = (b.num_columns() > 3).then(|| b.column(3).as_ref());
        if let Some(c) = left_out.filter(|c| !is_int(c.data_type())) {
            return Err(unexpected("not_summed", c.data_type()));
        }
        let rows_summed = (b.num_columns() > 4).then(|| b.column(4).as_ref());
        if let Some(c) = rows_summed.filter(|c| !is_int(c.data_type())) {
            return Err(unexpected("summed", c.data_type()));
        }
        for i in 0..b.num_rows() {
            let (Some(s), Some(d)) = (text_at(svc, i), day_at(day, i)) else { continue };
            let count =
                int_at(n, i).ok_or_else(|| data_err(format!("service {s}: a count that is null or too large")))?;
            if key.as_deref() != Some(s) {
                flush(&key, &mut days, &mut counts, &mut summed)?;
                key = Some(s.to_string());
            }
            days.push(Day(d));
            counts.push(count.max(0) as u64);
            // A sum over no rows is NULL: none left out.
            let rest = left_out.and_then(|c| int_at(c, i)).unwrap_or(0).max(0) as u64;
            not_summed = not_summed.saturating_add(rest);
            summed = summed.saturating_add(rows_summed.and_then(|c| int_at(c, i)).unwrap_or(0).max(0) as u64);
        }
    }
    flush(&key, &mut days, &mut counts, &mut summed)?;
    Ok(Aggregates { panel: builder.build(), not_summed, units })
}

/// The first row's timestamp in column `col`, as UTC.
fn timestamp_at(b: &RecordBatch, col: usize) -> Result<Option<NaiveDateTime>, WarehouseError> {
    let c = b.column(col).as_ref();
    if !matches!(c.data_type(), DataType::Timestamp(..)) {
        return Err(unexpected(b.schema().field(col).name(), c.data_type()));
    }
    if b.num_rows() == 0 {
        return Ok(None);
    }
    time_at(c, 0)
}

/// The one row of (first_ts, last_ts, n, null_service, null_timestamp,
/// out_of_range) into bounds. Sums over no rows are NULL: zero.
pub fn to_bounds(batches: &[RecordBatch]) -> Result<Bounds, WarehouseError> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(Bounds { first: None, last: None, rows: 0, dropped: DroppedRows::default() });
    };
    if b.num_columns() < 6 {
        return Err(data_err(format!(
            "expected (first_ts, last_ts, n, null_service, null_timestamp, out_of_range), got {} columns",
            b.num_columns()
        )));
    }
    let count = |col: usize| {
        let c = b.column(col).as_ref();
        if !is_int(c.data_type()) {
            return Err(unexpected(b.schema().field(col).name(), c.data_type()));
        }
        Ok(int_at(c, 0).unwrap_or(0).max(0) as u64)
    };
    let dropped = DroppedRows { null_service: count(3)?, null_timestamp: count(4)?, out_of_range: count(5)? };
    Ok(Bounds { first: timestamp_at(b, 0)?, last: timestamp_at(b, 1)?, rows: count(2)?, dropped })
}

/// Row `i` of any column as JSON: numbers as numbers (non-finite floats as
/// null), dates as `YYYY-MM-DD`, timestamps as ISO 8601 in UTC (`Z` when
/// the column is zoned), decimals as exact text, anything else as Arrow
/// displays it.
fn json_at(col: &dyn Array, i: usize) -> Result<Value, WarehouseError> {
    use arrow::datatypes::{Float32Type, Float64Type};
    if col.is_null(i) {
        return Ok(Value::Null);
    }
    let ty = col.data_type();
    Ok(match ty {
        DataType::Boolean => Value::Bool(col.as_boolean().value(i)),
        t if is_text(t) => Value::String(text_at(col, i).unwrap_or_default().to_string()),
        DataType::UInt64 => Value::from(col.as_primitive::<UInt64Type>().value(i)),
        t if t.is_integer() => Value::from(int_at(col, i).unwrap_or_default()),
        DataType::Float32 => serde_json::Number::from_f64(col.as_primitive::<Float32Type>().value(i) as f64)
            .map_or(Value::Null, Value::Number),
        DataType::Float64 => {
            serde_json::Number::from_f64(col.as_primitive::<Float64Type>().value(i)).map_or(Value::Null, Value::Number)
        }
        DataType::Date32 | DataType::Date64 => {
            let d = day_at(col, i).unwrap_or_default();
            Value::String(Day(d).to_string())
        }
        DataType::Timestamp(_, tz) => {
            let Some(t) = time_at(col, i)? else { return Ok(Value::Null) };
            let zone = if tz.is_some() { "Z" } else { "" };
            Value::String(format!("{}{zone}", t.format("%Y-%m-%dT%H:%M:%S%.f")))
        }
        DataType::Decimal128(_, scale) => {
            Value::String(decimal_text(col.as_primitive::<arrow::datatypes::Decimal128Type>().value(i), *scale))
        }
        _ => {
            let f = arrow::util::display::ArrayFormatter::try_new(col, &Default::default()).map_err(data_err)?;
            Value::String(f.value(i).to_string())
        }
    })
}

/// An unscaled decimal as exact text: `decimal_text(-1234, 2)` is `-12.34`.
fn decimal_text(v: i128, scale: i8) -> String {
    if scale <= 0 {
        let zeros = if v == 0 { 0 } else { scale.unsigned_abs() as usize };
        return format!("{v}{}", "0".repeat(zeros));
    }
    let digits = v.unsigned_abs().to_string();
    let s = scale as usize;
    let padded = format!("{digits:0>width$}", width = s + 1);
    let (int, frac) = padded.split_at(padded.len() - s);
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
}

/// Record batches as JSON objects keyed by column name.
pub fn to_rows(batches: &[RecordBatch]) -> Result<Rows, WarehouseError> {
    let columns: Vec<String> =
        batches.first().map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect()).unwrap_or_default();
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let mut row = serde_json::Map::with_capacity(columns.len());
            for (f, col) in b.schema().fields().iter().zip(b.columns()) {
                row.insert(f.name().clone(), json_at(col.as_ref(), i)?);
            }
            rows.push(row);
        }
    }
    Ok(Rows { columns, rows })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use arrow::array::{Decimal128Array, Float64Array, Int64Array, StringViewArray, TimestampMicrosecondArray};
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
        let count = |name| Field::new(name, DataType::Int64, true);
        let schema = Schema::new(vec![
            Field::new("first_ts", ty.clone(), true),
            Field::new("last_ts", ty, true),
            count("n"),
            count("null_service"),
            count("null_timestamp"),
            count("out_of_range"),
        ]);
        let n = |v: Option<i64>| Arc::new(Int64Array::from(vec![v])) as Arc<dyn Array>;
        let cols =
            vec![ts(1_711_846_800_000_000), ts(1_711_850_400_250_000), n(Some(7)), n(Some(2)), n(None), n(Some(1))];
        RecordBatch::try_new(Arc::new(schema), cols).unwrap()
    }

    #[test]
    fn utc_by_any_name_reads_and_writes_alike() {
        let want = to_bounds(&[bounds_batch(None)]).unwrap();
        assert_eq!(want.first.unwrap().to_string(), "2024-03-31 01:00:00");
        assert_eq!(want.rows, 7);
        assert_eq!(want.dropped, DroppedRows { null_service: 2, null_timestamp: 0, out_of_range: 1 });
        for tz in ["UTC", "Etc/UTC", "+00:00"] {
            assert_eq!(to_bounds(&[bounds_batch(Some(tz))]).unwrap(), want, "{tz}");
        }
        let rows = |tz| to_rows(&[bounds_batch(Some(tz))]).unwrap().rows;
        assert_eq!(rows("Etc/UTC"), rows("UTC"));
        assert_eq!(rows("UTC")[0]["last_ts"], "2024-03-31T02:00:00.250Z");
        assert_eq!(to_rows(&[bounds_batch(None)]).unwrap().rows[0]["first_ts"], "2024-03-31T01:00:00");
    }

    #[test]
    fn json_values_keep_their_types_and_exact_digits() {
        let schema = Schema::new(vec![
            Field::new("s", DataType::Utf8View, true),
            Field::new("x", DataType::Float64, true),
            Field::new("d", DataType::Decimal128(10, 2), true),
        ]);
        let cols: Vec<Arc<dyn Array>> = vec![
            Arc::new(StringViewArray::from(vec![Some("a"), None])),
            Arc::new(Float64Array::from(vec![Some(12.5), Some(f64::NAN)])),
            Arc::new(Decimal128Array::from(vec![Some(-1), Some(123_456)]).with_precision_and_scale(10, 2).unwrap()),
        ];
        let rows = to_rows(&[RecordBatch::try_new(Arc::new(schema), cols).unwrap()]).unwrap().rows;
        assert_eq!(serde_json::Value::Object(rows[0].clone()), serde_json::json!({"s": "a", "x": 12.5, "d": "-0.01"}));
        assert_eq!(
            serde_json::Value::Object(rows[1].clone()),
            serde_json::json!({"s": null, "x": null, "d": "1234.56"})
        );
        assert_eq!(decimal_text(5, 0), "5");
        assert_eq!(decimal_text(5, -2), "500");
        assert_eq!(decimal_text(i128::MAX, -3), format!("{}000", i128::MAX), "no overflow");
    }

    #[test]
    fn far_timestamps_are_shown_as_they_are() {
        // 9999-12-31, a common "valid to" sentinel, is past what nanoseconds hold.
        let us = 253_402_214_400_000_000i64;
        let schema = Schema::new(vec![Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), true)]);
        let col: Arc<dyn Array> = Arc::new(TimestampMicrosecondArray::from(vec![us]));
        let rows = to_rows(&[RecordBatch::try_new(Arc::new(schema), vec![col]).unwrap()]).unwrap().rows;
        assert_eq!(rows[0]["t"], "9999-12-31T00:00:00");
    }

    #[test]
    fn a_daily_aggregate_of_unexpected_types_is_an_error() {
        let schema = Schema::new(vec![
            Field::new("service", DataType::Utf8, false),
            Field::new("day", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]);
        let cols: Vec<Arc<dyn Array>> = vec![
            Arc::new(arrow::array::StringArray::from(vec!["a"])),
            Arc::new(arrow::array::StringArray::from(vec!["2024-01-01"])),
            Arc::new(Int64Array::from(vec![1])),
        ];
        let e = to_panel(&[RecordBatch::try_new(Arc::new(schema), cols).unwrap()]).unwrap_err();
        assert!(e.to_string().contains("day: unexpected column type Utf8"), "{e}");
    }

    #[test]
    fn an_amount_aggregate_adds_up_the_rows_not_summed() {
        let schema = Schema::new(vec![
            Field::new("service", DataType::Utf8, false),
            Field::new("day", DataType::Date32, false),
            Field::new("v", DataType::Int64, true),
            Field::new("not_summed", DataType::Int64, true),
        ]);
        let cols: Vec<Arc<dyn Array>> = vec![
            Arc::new(arrow::array::StringArray::from(vec!["a · card", "a · card", "b · (none)"])),
            Arc::new(arrow::array::Date32Array::from(vec![19_800, 19_801, 19_800])),
            Arc::new(Int64Array::from(vec![1999, 0, 250])),
            Arc::new(Int64Array::from(vec![Some(2), Some(1), None])),
        ];
        let a = to_panel(&[RecordBatch::try_new(Arc::new(schema), cols).unwrap()]).unwrap();
        assert_eq!(
            (a.panel.keys(), a.panel.counts(0), a.not_summed),
            (&["a · card".to_string(), "b · (none)".into()][..], &[1999, 0][..], 3)
        );
        // Counts have no such column: nothing left out.
        assert_eq!(to_panel(&[]).unwrap().not_summed, 0);
    }
}
