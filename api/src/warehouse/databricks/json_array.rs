//! `JSON_ARRAY` results into Arrow record batches, strictly.
//!
//! Databricks sends every value as a string (or null) and the column types
//! in the manifest. Each column is parsed as its declared type, strictly: a
//! value that does not parse is an error naming the column, never a silent
//! null or zero. (Written out rather than through Arrow's generic casts,
//! which would triple the size of the Databricks App's binary.) The batches then go
//! through [`crate::warehouse::batches`], like the Arrow results and the
//! embedded engine's, so every warehouse answers the same values.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, Int8Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use crate::warehouse::WarehouseError;

/// One column of the manifest's schema.
#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(default)]
    pub type_name: Option<String>,
    #[serde(default)]
    pub type_text: Option<String>,
    #[serde(default)]
    pub type_precision: Option<u8>,
    #[serde(default)]
    pub type_scale: Option<i8>,
}

impl Column {
    /// The Arrow type a column of this SQL type is parsed into. Types with
    /// no plain text form (arrays, maps, structs, intervals, binary) stay
    /// the text Databricks sent.
    pub fn arrow_type(&self) -> Result<DataType, WarehouseError> {
        let name = self.type_name.as_deref().unwrap_or("STRING").to_ascii_uppercase();
        Ok(match name.as_str() {
            "BYTE" | "TINYINT" => DataType::Int8,
            "SHORT" | "SMALLINT" => DataType::Int16,
            "INT" | "INTEGER" => DataType::Int32,
            "LONG" | "BIGINT" => DataType::Int64,
            "FLOAT" | "REAL" => DataType::Float32,
            "DOUBLE" => DataType::Float64,
            "BOOLEAN" => DataType::Boolean,
            "DATE" => DataType::Date32,
            "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            "TIMESTAMP_NTZ" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "DECIMAL" => {
                let (p, s) = self.decimal_digits().ok_or_else(|| {
                    WarehouseError::data(format!("column `{}`: DECIMAL without precision and scale", self.name))
                })?;
                DataType::Decimal128(p, s)
            }
            _ => DataType::Utf8,
        })
    }

    /// Precision and scale, from the fields or from `DECIMAL(p,s)`.
    fn decimal_digits(&self) -> Option<(u8, i8)> {
        if let (Some(p), Some(s)) = (self.type_precision, self.type_scale) {
            return Some((p, s));
        }
        let text = self.type_text.as_deref()?;
        let inner = text.trim().strip_prefix("DECIMAL(")?.strip_suffix(')')?;
        let (p, s) = inner.split_once(',')?;
        Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
    }
}

/// Rows of strings (or nulls) into one batch typed by `columns`.
pub fn to_batch(columns: &[Column], rows: &[Vec<Option<String>>]) -> Result<RecordBatch, WarehouseError> {
    if let Some(bad) = rows.iter().position(|r| r.len() != columns.len()) {
        return Err(WarehouseError::data(format!(
            "row {bad} has {} values for {} columns",
            rows[bad].len(),
            columns.len()
        )));
    }
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, col) in columns.iter().enumerate() {
        let ty = col.arrow_type()?;
        let values = rows.iter().map(|r| r[i].as_deref());
        let typed = parse_column(&ty, values).map_err(|bad| {
            WarehouseError::data(format!("column `{}` ({ty}): `{bad}` is not a valid value", col.name))
        })?;
        fields.push(Field::new(&col.name, ty, true));
        arrays.push(typed);
    }
    let schema = Arc::new(Schema::new(fields));
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(schema, arrays, &options)
        .map_err(|e| WarehouseError::data(crate::warehouse::Failure::of(e)))
}

/// Parses every value of a column as `ty`; the first value that does not
/// parse is the error.
fn parse_column<'a>(ty: &DataType, values: impl Iterator<Item = Option<&'a str>>) -> Result<ArrayRef, String> {
    fn all<'a, T>(
        values: impl Iterator<Item = Option<&'a str>>,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<Option<T>>, String> {
        values.map(|v| v.map(|s| parse(s).ok_or_else(|| s.to_string())).transpose()).collect()
    }
    fn int<T: TryFrom<i64>>(s: &str) -> Option<T> {
        T::try_from(s.trim().parse::<i64>().ok()?).ok()
    }
    Ok(match ty {
        DataType::Int8 => Arc::new(Int8Array::from(all(values, int::<i8>)?)),
        DataType::Int16 => Arc::new(Int16Array::from(all(values, int::<i16>)?)),
        DataType::Int32 => Arc::new(Int32Array::from(all(values, int::<i32>)?)),
        DataType::Int64 => Arc::new(Int64Array::from(all(values, int::<i64>)?)),
        DataType::Float32 => Arc::new(Float32Array::from(all(values, |s| s.trim().parse::<f32>().ok())?)),
        DataType::Float64 => Arc::new(Float64Array::from(all(values, |s| s.trim().parse::<f64>().ok())?)),
        DataType::Boolean => Arc::new(BooleanArray::from(all(values, |s| match s.trim() {
            t if t.eq_ignore_ascii_case("true") => Some(true),
            t if t.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        })?)),
        DataType::Date32 => Arc::new(Date32Array::from(all(values, |s| {
            let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
            Some((d - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
        })?)),
        DataType::Timestamp(_, tz) => {
            let micros = all(values, |s| parse_timestamp(s).map(|t| t.and_utc().timestamp_micros()))?;
            let a = TimestampMicrosecondArray::from(micros);
            Arc::new(match tz {
                Some(z) => a.with_timezone(z.clone()),
                None => a,
            })
        }
        DataType::Decimal128(p, scale) => {
            let v = all(values, |s| parse_decimal(s, *p, *scale))?;
            Arc::new(Decimal128Array::from(v).with_precision_and_scale(*p, *scale).map_err(|e| e.to_string())?)
        }
        _ => Arc::new(StringArray::from(values.collect::<Vec<_>>())),
    })
}

/// An instant in the forms warehouses write: RFC 3339 (`Z` or an offset),
/// or a date and time with `T` or a space and no zone (UTC, the session's).
pub fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.naive_utc());
        }
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"].iter().find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// `-12.3` with scale 2 is -1230: digits, an optional sign and point, no
/// more fractional digits than the scale and no more digits than the
/// precision.
fn parse_decimal(s: &str, precision: u8, scale: i8) -> Option<i128> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let scale = usize::try_from(scale).ok()?;
    let ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !ok(int) || !ok(frac) || frac.len() > scale {
        return None;
    }
    let digits = format!("{int}{frac:0<scale$}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > precision as usize {
        return None;
    }
    let v: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{Date32Type, Decimal128Type, TimestampMicrosecondType};

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            type_name: Some(ty.into()),
            type_text: Some(ty.into()),
            type_precision: None,
            type_scale: None,
        }
    }

    fn row(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn values_parse_as_their_declared_types() {
        let mut dec = col("amount", "DECIMAL");
        dec.type_text = Some("DECIMAL(10,2)".into());
        let cols = [col("n", "LONG"), col("d", "DATE"), col("t", "TIMESTAMP"), dec, col("s", "STRING")];
        let b = to_batch(
            &cols,
            &[
                row(&[Some("42"), Some("2024-03-31"), Some("2024-03-31T01:30:00.000Z"), Some("12.34"), Some("x")]),
                row(&[None, None, Some("2024-03-31 01:30:00.5"), Some("-0.01"), None]),
            ],
        )
        .unwrap();
        assert_eq!(b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0), 42);
        assert!(b.column(0).is_null(1));
        assert_eq!(b.column(1).as_primitive::<Date32Type>().value(0), 19813);
        let t = b.column(2).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(t.value(0), 1_711_848_600_000_000);
        assert_eq!(t.value(1), 1_711_848_600_500_000, "a value without a zone is UTC, the session's zone");
        assert_eq!(b.column(3).as_primitive::<Decimal128Type>().value(0), 1234);
        assert_eq!(b.column(3).as_primitive::<Decimal128Type>().value(1), -1);
    }

    #[test]
    fn a_value_that_does_not_parse_is_an_error_naming_the_column() {
        for (ty, bad) in [
            ("LONG", "1.5"),
            ("LONG", "12abc"),
            ("INT", "3000000000"),
            ("DATE", "31/03/2024"),
            ("TIMESTAMP", "yesterday"),
            ("BOOLEAN", "yes"),
            ("DOUBLE", "1,5"),
        ] {
            let e = to_batch(&[col("c", ty)], &[row(&[Some(bad)])]).unwrap_err().to_string();
            assert!(e.contains("column `c`"), "{ty} {bad}: {e}");
        }
        let e = to_batch(&[col("a", "LONG"), col("b", "LONG")], &[row(&[Some("1")])]).unwrap_err();
        assert!(e.to_string().contains("1 values for 2 columns"), "{e}");
    }

    #[test]
    fn timestamps_in_every_iso_form_a_warehouse_may_send() {
        let want = 1_711_848_600_000_000i64;
        for text in [
            "2024-03-31T01:30:00Z",
            "2024-03-31T01:30:00.000Z",
            "2024-03-31T01:30:00.000+00:00",
            "2024-03-31T03:30:00+02:00",
            "2024-03-31 01:30:00",
            "2024-03-31T01:30:00",
            "2024-03-31T01:30:00.000+0000",
        ] {
            let b = to_batch(&[col("t", "TIMESTAMP")], &[row(&[Some(text)])]).unwrap();
            assert_eq!(b.column(0).as_primitive::<TimestampMicrosecondType>().value(0), want, "{text}");
        }
    }

    #[test]
    fn decimals_are_exact_and_bounded() {
        assert_eq!(parse_decimal("12.34", 10, 2), Some(1234));
        assert_eq!(parse_decimal("-0.5", 10, 2), Some(-50));
        assert_eq!(parse_decimal("7", 10, 2), Some(700));
        assert_eq!(parse_decimal("1.234", 10, 2), None, "more digits than the scale");
        assert_eq!(parse_decimal("123456789.00", 10, 2), None, "more digits than the precision");
        for bad in ["", ".", "1e3", "1.2.3", "--1", "NaN"] {
            assert_eq!(parse_decimal(bad, 10, 2), None, "{bad}");
        }
    }

    #[test]
    fn no_rows_still_have_their_columns() {
        let b = to_batch(&[col("n", "LONG")], &[]).unwrap();
        assert_eq!((b.num_rows(), b.schema().field(0).name().as_str()), (0, "n"));
    }
}
