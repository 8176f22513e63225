//! `JSON_ARRAY` results into Arrow record batches, strictly.
//!
//! Databricks sends every value as a string (or null) and the column types
//! in the manifest. Each column is parsed as its declared type, with Arrow's
//! own casts in their strict mode: a value that does not parse is an error
//! naming the column, never a silent null or zero. The batches then go
//! through [`crate::warehouse::batches`], like the Arrow results and the
//! embedded engine's, so every warehouse answers the same values.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
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
                    WarehouseError::Data(format!("column `{}`: DECIMAL without precision and scale", self.name))
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
        return Err(WarehouseError::Data(format!(
            "row {bad} has {} values for {} columns",
            rows[bad].len(),
            columns.len()
        )));
    }
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, col) in columns.iter().enumerate() {
        let text: StringArray = rows.iter().map(|r| r[i].as_deref()).collect();
        let ty = col.arrow_type()?;
        let strict = CastOptions { safe: false, ..Default::default() };
        let typed = cast_with_options(&text, &ty, &strict)
            .map_err(|e| WarehouseError::Data(format!("column `{}` ({ty}): {e}", col.name)))?;
        fields.push(Field::new(&col.name, ty, true));
        arrays.push(typed);
    }
    let schema = Arc::new(Schema::new(fields));
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(schema, arrays, &options).map_err(|e| WarehouseError::Data(e.to_string()))
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
        for (ty, bad) in [("LONG", "1.5"), ("LONG", "12abc"), ("DATE", "31/03/2024"), ("TIMESTAMP", "yesterday")] {
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
        ] {
            let b = to_batch(&[col("t", "TIMESTAMP")], &[row(&[Some(text)])]).unwrap();
            assert_eq!(b.column(0).as_primitive::<TimestampMicrosecondType>().value(0), want, "{text}");
        }
    }

    #[test]
    fn no_rows_still_have_their_columns() {
        let b = to_batch(&[col("n", "LONG")], &[]).unwrap();
        assert_eq!((b.num_rows(), b.schema().field(0).name().as_str()), (0, "n"));
    }
}
