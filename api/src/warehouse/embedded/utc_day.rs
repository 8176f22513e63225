//! A faster `CAST(ts AS DATE)` for timestamps in UTC.
//!
//! Arrow's cast from a timestamp to a date goes through chrono for every
//! row (a calendar date built and taken apart again, and a time zone's
//! offset looked up when the column is zoned): on the daily aggregation
//! that was about 40 % of the embedded engine's time. For a timestamp
//! without time zone, or zoned in UTC, the day is a floor division. The
//! analyzer rule [`UtcDayRule`] replaces such casts (`CAST` and `TRY_CAST`)
//! in every plan by [`UtcDay`], which divides, and hands the whole array to
//! Arrow's own cast, errors included, when any value lies outside the years
//! chrono holds; other zones keep Arrow's cast. The results are the same.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, PrimitiveArray};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{ArrowTimestampType, DataType, FieldRef, Schema, TimeUnit};
use datafusion::arrow::datatypes::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, TryCast, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// Days chrono can hold either side of 1970-01-01 (it holds ±262,142 years;
/// this is a little less). Within them, Arrow's cast gives the floor division.
const CHRONO_DAYS: i64 = 95_000_000;

/// A zone Arrow's cast treats as UTC: the day is the UTC day.
pub(super) fn is_utc(tz: Option<&str>) -> bool {
    matches!(tz, None | Some("UTC" | "Etc/UTC" | "+00:00"))
}

/// Ticks of a timestamp of `unit` in a day.
pub(super) const fn per_day(unit: TimeUnit) -> i64 {
    const DAY: i64 = 86_400;
    match unit {
        TimeUnit::Second => DAY,
        TimeUnit::Millisecond => DAY * 1_000,
        TimeUnit::Microsecond => DAY * 1_000_000,
        TimeUnit::Nanosecond => DAY * 1_000_000_000,
    }
}

/// The unit of a Parquet file's time column `column` (its Arrow `schema`)
/// when the table reads it as the same type (`table_ts`) and its days are
/// UTC days: what the shortcuts that read the file themselves need, so
/// that their days are the statement's.
pub(super) fn utc_unit(schema: &Schema, table_ts: &DataType, column: &str) -> Option<TimeUnit> {
    let ts = schema.field_with_name(column).ok()?.data_type();
    match ts {
        DataType::Timestamp(unit, tz) if ts == table_ts && is_utc(tz.as_deref()) => Some(*unit),
        _ => None,
    }
}

/// `CAST(ts AS DATE)` for a timestamp without time zone or in UTC.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UtcDay {
    signature: Signature,
    /// `TRY_CAST` (true) or `CAST`: what Arrow's cast is told when it takes over.
    safe: bool,
}

fn udf(safe: bool) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(UtcDay { signature: Signature::any(1, Volatility::Immutable), safe }))
}

fn days<T: ArrowTimestampType>(array: &dyn Array, per_day: i64) -> Option<Date32Array> {
    let a: &PrimitiveArray<T> = array.as_primitive::<T>();
    let values = a.values();
    let (lo, hi) = values.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (lo.div_euclid(per_day), hi.div_euclid(per_day));
    if !values.is_empty() && (lo < -CHRONO_DAYS || hi > CHRONO_DAYS) {
        return None;
    }
    let days: Vec<i32> = values.iter().map(|&v| v.div_euclid(per_day) as i32).collect();
    Some(Date32Array::new(days.into(), a.nulls().cloned()))
}

/// The days of a timestamp array; `None` when Arrow's cast must decide.
fn utc_days(array: &dyn Array) -> Option<Date32Array> {
    match array.data_type() {
        DataType::Timestamp(unit, tz) if is_utc(tz.as_deref()) => match unit {
            TimeUnit::Second => days::<TimestampSecondType>(array, per_day(*unit)),
            TimeUnit::Millisecond => days::<TimestampMillisecondType>(array, per_day(*unit)),
            TimeUnit::Microsecond => days::<TimestampMicrosecondType>(array, per_day(*unit)),
            TimeUnit::Nanosecond => days::<TimestampNanosecondType>(array, per_day(*unit)),
        },
        _ => None,
    }
}

impl ScalarUDFImpl for UtcDay {
    fn name(&self) -> &str {
        if self.safe {
            "sw_try_utc_day"
        } else {
            "sw_utc_day"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    /// Nullable as the cast it replaces: as its input.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.first().is_none_or(|f| f.is_nullable());
        Ok(Arc::new(datafusion::arrow::datatypes::Field::new(self.name(), DataType::Date32, nullable)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [ts] = args.args.as_slice() else { return exec_err!("{} takes one timestamp", self.name()) };
        let array = ts.to_array(args.number_rows)?;
        let days: ArrayRef = match utc_days(array.as_ref()) {
            Some(d) => Arc::new(d),
            None => {
                cast_with_options(&array, &DataType::Date32, &CastOptions { safe: self.safe, ..Default::default() })?
            }
        };
        Ok(match ts {
            ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&days, 0)?),
            ColumnarValue::Array(_) => ColumnarValue::Array(days),
        })
    }
}

/// Replaces `CAST(ts AS DATE)` and `TRY_CAST(ts AS DATE)` of a UTC or
/// zone-less timestamp by [`UtcDay`], keeping the expressions' names.
#[derive(Debug, Default)]
pub struct UtcDayRule;

impl AnalyzerRule for UtcDayRule {
    fn name(&self) -> &str {
        "servicewatch_utc_day"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            if matches!(node, LogicalPlan::TableScan(_)) || node.inputs().is_empty() {
                return Ok(Transformed::no(node));
            }
            let schema = merge_schema(&node.inputs());
            let names = NamePreserver::new(&node);
            node.map_expressions(|e| {
                let saved = names.save(&e);
                let out = e.transform_up(|e| {
                    let (inner, field, safe) = match &e {
                        Expr::Cast(Cast { expr, field }) => (expr, field, false),
                        Expr::TryCast(TryCast { expr, field }) => (expr, field, true),
                        _ => return Ok(Transformed::no(e)),
                    };
                    let timestamp_in_utc = matches!(
                        inner.get_type(&schema),
                        Ok(DataType::Timestamp(_, tz)) if is_utc(tz.as_deref())
                    );
                    if field.data_type() != &DataType::Date32 || !timestamp_in_utc {
                        return Ok(Transformed::no(e));
                    }
                    let inner = inner.as_ref().clone();
                    Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(udf(safe), vec![inner]))))
                })?;
                Ok(out.update_data(|e| saved.restore(e)))
            })
        })
        .map(|t| t.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{TimestampMicrosecondArray, TimestampNanosecondArray, TimestampSecondArray};

    /// Arrow's own cast, for comparison.
    fn arrow_days(a: &dyn Array) -> Date32Array {
        cast_with_options(a, &DataType::Date32, &CastOptions::default()).unwrap().as_primitive().clone()
    }

    #[test]
    fn days_are_what_arrow_casts_them_to() {
        let us =
            [-86_400_000_001, -1, 0, 1, 86_399_999_999, 86_400_000_000, 1_735_689_599_999_999, i64::from(i32::MAX)];
        let mut values: Vec<Option<i64>> = us.iter().map(|&v| Some(v)).collect();
        values.push(None);
        for tz in [None, Some("UTC"), Some("+00:00")] {
            let a = TimestampMicrosecondArray::from(values.clone()).with_timezone_opt(tz);
            assert_eq!(utc_days(&a).unwrap(), arrow_days(&a), "{tz:?}");
            let ns: Vec<Option<i64>> = values.iter().map(|v| v.map(|v| v * 1000)).collect();
            let a = TimestampNanosecondArray::from(ns).with_timezone_opt(tz);
            assert_eq!(utc_days(&a).unwrap(), arrow_days(&a), "{tz:?}");
        }
        // Another zone, or years chrono cannot hold: Arrow's cast decides.
        let paris = TimestampMicrosecondArray::from(vec![0]).with_timezone("Europe/Paris");
        assert!(utc_days(&paris).is_none());
        assert!(utc_days(&TimestampSecondArray::from(vec![0, i64::MAX / 2])).is_none());
    }

    /// The same statement, with and without the rule: the same rows, and
    /// the rule's function in the plan.
    #[tokio::test]
    async fn the_rule_changes_the_plan_not_the_answer() {
        use datafusion::arrow::array::RecordBatch;
        use datafusion::arrow::datatypes::{Field, Schema};
        use datafusion::prelude::SessionContext;
        let us: Vec<Option<i64>> = vec![Some(-1), Some(0), None, Some(86_400_000_000), Some(1_735_689_599_999_999)];
        let schema = Arc::new(Schema::new(vec![
            Field::new("utc", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("naive", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("paris", DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into())), true),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(us.clone()).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(us.clone())),
            Arc::new(TimestampMicrosecondArray::from(us).with_timezone("Europe/Paris")),
        ];
        let batch = RecordBatch::try_new(schema, cols).unwrap();
        let daily = "SELECT CAST(TRY_CAST(utc AS TIMESTAMP) AS DATE) AS a, COUNT(*) AS n FROM t \
                     GROUP BY CAST(TRY_CAST(utc AS TIMESTAMP) AS DATE) ORDER BY a";
        let rows = "SELECT TRY_CAST(utc AS DATE) AS b, CAST(naive AS DATE) AS c, CAST(paris AS DATE) AS d FROM t";
        let mut answers = Vec::new();
        for rule in [false, true] {
            let ctx = SessionContext::new();
            if rule {
                ctx.add_analyzer_rule(Arc::new(UtcDayRule));
            }
            ctx.register_batch("t", batch.clone()).unwrap();
            for (sql, name) in [(daily, "sw_utc_day"), (rows, "sw_try_utc_day")] {
                let plan = ctx.sql(&format!("EXPLAIN {sql}")).await.unwrap().collect().await.unwrap();
                let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan).unwrap().to_string();
                assert_eq!(text.contains(name), rule, "{text}");
                answers.push(ctx.sql(sql).await.unwrap().collect().await.unwrap());
            }
        }
        assert_eq!(answers[..2], answers[2..]);
        assert_eq!(answers[0].iter().map(RecordBatch::num_rows).sum::<usize>(), 5);
    }
}
