//! Spark's `from_utc_timestamp(ts, zone)` for DataFusion, so the daily SQL
//! that buckets days in a time zone is the same text on every engine.
//!
//! It reads `ts` as a UTC instant and returns the wall-clock time in `zone`
//! as a timestamp without time zone, which `CAST(.. AS DATE)` then turns
//! into the local day.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, TimestampNanosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::warehouse::zone::{OffsetCache, Zone};

const NANOS: i64 = 1_000_000_000;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FromUtcTimestamp {
    signature: Signature,
}

/// The function, ready for `SessionContext::register_udf`.
pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(FromUtcTimestamp { signature: Signature::any(2, Volatility::Immutable) })
}

/// Shifts UTC nanoseconds to local wall-clock nanoseconds.
fn shift(values: &TimestampNanosecondArray, zone: Zone) -> TimestampNanosecondArray {
    let mut offsets = OffsetCache::new(zone);
    let local: Vec<i64> =
        values.values().iter().map(|&ns| ns + i64::from(offsets.offset(ns.div_euclid(NANOS))) * NANOS).collect();
    TimestampNanosecondArray::new(local.into(), values.nulls().cloned())
}

impl ScalarUDFImpl for FromUtcTimestamp {
    fn name(&self) -> &str {
        "from_utc_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Nanosecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [ts, zone] = args.args.as_slice() else {
            return exec_err!("from_utc_timestamp takes a timestamp and a time zone name");
        };
        let zone = match zone {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(z)) | ScalarValue::LargeUtf8(Some(z))) => {
                Zone::parse(z).or_else(|e| exec_err!("{e}"))?
            }
            _ => return exec_err!("from_utc_timestamp: the time zone must be one text value"),
        };
        let rows = args.number_rows;
        let array = ts.to_array(rows)?;
        let array = cast(&array, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
        let shifted = shift(array.as_primitive::<TimestampNanosecondType>(), zone);
        Ok(match ts {
            ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&shifted, 0)?),
            ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(shifted) as Arc<dyn Array>),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_by_the_offset_in_force_at_each_instant() {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap();
        let input = TimestampNanosecondArray::from(vec![
            Some(t("2024-03-31T00:59:59Z")), // 01:59:59 CET
            Some(t("2024-03-31T01:00:00Z")), // 03:00:00 CEST
            None,
            Some(t("2024-10-27T00:30:00Z")), // 02:30 CEST
            Some(t("2024-10-27T01:30:00Z")), // 02:30 CET, the hour again
        ]);
        let out = shift(&input, Zone::parse("Europe/Paris").unwrap());
        let local = |i: usize| chrono::DateTime::from_timestamp_nanos(out.value(i)).naive_utc().to_string();
        assert_eq!(local(0), "2024-03-31 01:59:59");
        assert_eq!(local(1), "2024-03-31 03:00:00");
        assert!(out.is_null(2));
        assert_eq!(local(3), "2024-10-27 02:30:00");
        assert_eq!(local(4), "2024-10-27 02:30:00");
    }
}
