//! The warehouse SQL, written once for every engine.
//!
//! The statements use only what Spark SQL, Databricks SQL and DataFusion
//! all accept: backtick-quoted identifiers, `CAST`, `TRY_CAST`, `CASE`,
//! `COUNT(*)`, `SUM`, `GROUP BY`, subqueries in `FROM` and named parameters
//! (`:name`; engines that spell them `$name` get them renamed by
//! [`Statement::render`]). Times go through `TRY_CAST`: one unreadable value
//! must not fail the whole table (Spark 4's ANSI mode fails a plain `CAST`,
//! DataFusion too). Days in a time zone other than UTC use
//! Spark's `from_utc_timestamp`, which the embedded engine registers too;
//! on Spark and Databricks the session time zone must be UTC, as it is by
//! default there, for `CAST(.. AS DATE)` to mean what it means here.
//! Nothing the user types ever becomes
//! SQL text: identifiers come from the config and are validated by
//! [`Ident::parse`], values travel as bound parameters.
//!
//! A [`View`] other than counts per service adds what both engines also
//! share: `CONCAT` and `COALESCE` for a split series' key, `ROUND` and a
//! `TRY_CAST` to `BIGINT` for amounts in whole minor units (an amount too
//! large for a `BIGINT`, `NaN` or text that is no number is NULL, not a
//! failed statement), and comparisons on those integers only (Spark orders
//! `NaN` above every number, so a float comparison could differ).

use std::fmt;

use chrono::NaiveDateTime;
use servicewatch_shared::params::SPLIT_SEPARATOR;
use servicewatch_shared::{Day, Dimension, Metric};

use super::zone::Zone;
use crate::view::{View, NONE_VALUE};

/// A validated SQL identifier: letters, digits and underscores, not
/// starting with a digit, at most 128 characters. Displayed quoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid identifier: use letters, digits and _, not starting with a digit")]
pub struct BadIdent(pub String);

impl Ident {
    pub fn parse(s: &str) -> Result<Ident, BadIdent> {
        let mut chars = s.chars();
        let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && s.len() <= 128;
        if ok {
            Ok(Ident(s.to_string()))
        } else {
            Err(BadIdent(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0)
    }
}

/// `table`, `schema.table` or `catalog.schema.table`, each part an [`Ident`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName(pub Vec<Ident>);

impl TableName {
    pub fn parse(s: &str) -> Result<TableName, BadIdent> {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() > 3 {
            return Err(BadIdent(s.to_string()));
        }
        Ok(TableName(parts.into_iter().map(Ident::parse).collect::<Result<_, _>>()?))
    }

    /// `catalog.schema.table` without quotes, for people to read.
    pub fn plain(&self) -> String {
        self.0.iter().map(Ident::as_str).collect::<Vec<_>>().join(".")
    }

    /// The last part: the table itself.
    pub fn table(&self) -> &Ident {
        self.0.last().expect("parse never yields an empty name")
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|p| p.to_string()).collect();
        f.write_str(&parts.join("."))
    }
}

/// A bound parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A UTC instant, without time zone.
    Timestamp(NaiveDateTime),
    Date(Day),
    Text(String),
}

/// The first day a transaction's time can fall on (UTC).
///
/// Times before [`FIRST_VALID_DAY`] or from [`END_VALID_DAY`] on are not
/// counted but reported as `out_of_range`: they are placeholders for
/// "unknown" (0001-01-01, 1900-01-01, 9999-12-31), not transactions. The
/// window also keeps every time inside what DataFusion's nanosecond
/// timestamps hold (1677 to 2262), so day arithmetic never overflows and
/// every engine counts the same rows.
pub const FIRST_VALID_DAY: Day = Day(-25_202); // 1901-01-01
/// The day after the last a transaction's time can fall on (UTC).
pub const END_VALID_DAY: Day = Day(84_006); // 2200-01-01

/// Midnight UTC of `day`.
fn midnight(day: Day) -> NaiveDateTime {
    day.date().and_hms_opt(0, 0, 0).unwrap_or_default()
}

/// SQL text with named parameters, and their values.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sql: String,
    pub params: Vec<(String, Param)>,
}

/// How an engine spells a named parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `:name` (Spark, Databricks).
    Colon,
    /// `$name` (DataFusion).
    Dollar,
}

impl Statement {
    /// A statement from SQL text with `:name` parameters. The text must be
    /// built only from validated identifiers and constants; every value
    /// goes in `params`.
    pub fn new(sql: String, params: Vec<(String, Param)>) -> Statement {
        Statement { sql, params }
    }

    /// The SQL with parameters spelled for an engine. Only the statement's
    /// own parameter names are rewritten; they are generated here.
    pub fn render(&self, style: Placeholder) -> String {
        match style {
            Placeholder::Colon => self.sql.clone(),
            Placeholder::Dollar => {
                let mut sql = self.sql.clone();
                // Longest names first so `:s1` does not eat into `:s10`.
                let mut names: Vec<&String> = self.params.iter().map(|(n, _)| n).collect();
                names.sort_by_key(|n| std::cmp::Reverse(n.len()));
                for n in names {
                    sql = sql.replace(&format!(":{n}"), &format!("${n}"));
                }
                sql
            }
        }
    }
}

/// The table and columns a statement reads.
#[derive(Debug, Clone)]
pub struct Source {
    pub table: TableName,
    pub timestamp: Ident,
    pub service: Ident,
    /// The zone whose calendar days the counts are per.
    pub zone: Zone,
    /// The amount column and the decimals of its minor unit (0 to 6).
    pub amount: Ident,
    pub amount_decimals: u8,
    /// The dimensions' columns (read only by views that split or filter).
    pub segment: Ident,
    pub channel: Ident,
    pub payment_method: Ident,
}

/// A string constant of ours as a SQL literal. Only for text without
/// quotes or backslashes (Spark reads `\` as an escape, DataFusion does
/// not), which the tests check of every constant passed here.
fn literal(text: &str) -> String {
    debug_assert!(!text.contains(['\'', '\\']), "{text:?}");
    format!("'{text}'")
}

impl Source {
    /// The row's time; NULL when the column is NULL or holds no time the
    /// engine can represent (text that is no time; DataFusion: past 2262),
    /// instead of failing the whole statement.
    fn ts(&self) -> String {
        format!("TRY_CAST({} AS TIMESTAMP)", self.timestamp)
    }

    /// The service as the daily counts name it. The drill-down and the
    /// service filter compare this same expression, so a non-text column
    /// (integer codes) or a padded CHAR one matches the names it produced.
    fn service(&self) -> String {
        format!("CAST({} AS STRING)", self.service)
    }

    /// A dimension's column.
    fn dimension_column(&self, d: Dimension) -> &Ident {
        match d {
            Dimension::Segment => &self.segment,
            Dimension::Channel => &self.channel,
            Dimension::PaymentMethod => &self.payment_method,
        }
    }

    /// A dimension's value as filters compare it and split keys show it.
    fn dimension(&self, d: Dimension) -> String {
        format!("CAST({} AS STRING)", self.dimension_column(d))
    }

    /// A series' key: the service, or `{service} · {value}` (`(none)` for a
    /// NULL value; see [`View::split_key`]).
    fn series_key(&self, split: Option<Dimension>) -> String {
        match split {
            None => self.service(),
            Some(d) => format!(
                "CONCAT({}, {}, COALESCE({}, {}))",
                self.service(),
                literal(SPLIT_SEPARATOR),
                self.dimension(d),
                literal(NONE_VALUE)
            ),
        }
    }

    /// A row's amount in whole minor units: the amount read as a number,
    /// times 10^decimals, rounded. NULL when the amount is NULL, not a
    /// number, or out of a `BIGINT`'s range.
    fn minor_units(&self) -> String {
        format!(
            "TRY_CAST(ROUND(TRY_CAST({} AS DOUBLE) * {}) AS BIGINT)",
            self.amount,
            10u64.pow(self.amount_decimals.min(crate::config::MAX_AMOUNT_DECIMALS).into())
        )
    }

    /// The value column(s) of a metric: `COUNT(*) AS n`; or the sum of the
    /// minor units of the rows with an amount of 0 or more, and the number
    /// of rows left out of it (refunds, NULL and unreadable amounts), so
    /// that nothing is lost silently, and of those summed (each series'
    /// mean ticket is its unit: see `BaselineParams::units`).
    fn value(&self, metric: Metric) -> String {
        match metric {
            Metric::Count => "COUNT(*) AS n".into(),
            Metric::Amount => {
                let m = self.minor_units();
                format!(
                    "SUM(CASE WHEN {m} >= 0 THEN {m} ELSE 0 END) AS v, \
                     SUM(CASE WHEN {m} >= 0 THEN 0 ELSE 1 END) AS not_summed, \
                     SUM(CASE WHEN {m} >= 0 THEN 1 ELSE 0 END) AS summed"
                )
            }
        }
    }

    /// The first instant of `from` and of the day after `to`, as UTC,
    /// within the valid window (so a request for year 9999 reads nothing
    /// rather than overflowing).
    fn day_bounds(&self, from: Day, to: Day) -> (Param, Param) {
        let clamp = |t: NaiveDateTime| t.clamp(midnight(FIRST_VALID_DAY), midnight(END_VALID_DAY));
        (Param::Timestamp(clamp(self.zone.start_of(from))), Param::Timestamp(clamp(self.zone.start_of(to.next()))))
    }

    /// The day of each row, and the parameter that expression needs.
    fn day(&self) -> (String, Option<(String, Param)>) {
        if self.zone.is_utc() {
            (format!("CAST({} AS DATE)", self.ts()), None)
        } else {
            let param = ("tz".to_string(), Param::Text(self.zone.name().to_string()));
            (format!("CAST(from_utc_timestamp({}, :tz) AS DATE)", self.ts()), Some(param))
        }
    }

    /// Transactions per (service, day) in `[from, to]`, optionally for
    /// some services only, ordered by service then day; for a [`View`]
    /// other than the default, its metric per (series, day) of the rows its
    /// filters keep (`(series, day, v, not_summed)` for amounts).
    ///
    /// ```
    /// use servicewatch::warehouse::sql::{Ident, Placeholder, Source, TableName};
    /// use servicewatch::warehouse::zone::Zone;
    /// use servicewatch_shared::Day;
    /// let ident = |s| Ident::parse(s).unwrap();
    /// let src = Source {
    ///     table: TableName::parse("gold.fact.maintenanceservices").unwrap(),
    ///     timestamp: ident("transaction_timestamp"),
    ///     service: ident("orderservice"),
    ///     zone: Zone::UTC,
    ///     amount: ident("amount"),
    ///     amount_decimals: 2,
    ///     segment: ident("customer_segment"),
    ///     channel: ident("channel"),
    ///     payment_method: ident("payment_method"),
    /// };
    /// let st = src.daily(Day(0), Day(6), Some(&["oil".to_string()]), &Default::default());
    /// let sql = st.render(Placeholder::Colon);
    /// assert!(sql.contains("FROM `gold`.`fact`.`maintenanceservices`"));
    /// assert!(sql.contains("IN (:s0)"));
    /// assert!(!sql.contains("oil")); // values are bound, never spliced
    /// assert!(st.render(Placeholder::Dollar).contains("$from_ts"));
    /// ```
    pub fn daily(&self, from: Day, to: Day, services: Option<&[String]>, view: &View) -> Statement {
        let (start, end) = self.day_bounds(from, to);
        let (day, zone_param) = self.day();
        let mut params = vec![("from_ts".to_string(), start), ("to_ts".to_string(), end)];
        params.extend(zone_param);
        let mut filter = String::new();
        if let Some(list) = services {
            let names: Vec<String> = (0..list.len()).map(|i| format!(":s{i}")).collect();
            filter = format!(" AND {} IN ({})", self.service(), names.join(", "));
            params.extend(list.iter().enumerate().map(|(i, s)| (format!("s{i}"), Param::Text(s.clone()))));
        }
        // One numbering for every dimension's values: `:f0`, `:f1`, ...
        let mut next = 0;
        for (&d, values) in &view.filters {
            let names: Vec<String> = (next..next + values.len()).map(|i| format!(":f{i}")).collect();
            filter.push_str(&format!(" AND {} IN ({})", self.dimension(d), names.join(", ")));
            params.extend(values.iter().zip(next..).map(|(v, i)| (format!("f{i}"), Param::Text(v.clone()))));
            next += values.len();
        }
        let sql = format!(
            "SELECT {key} AS service, {day} AS day, {value} \
             FROM {table} \
             WHERE {ts} >= :from_ts AND {ts} < :to_ts AND {svc} IS NOT NULL{filter} \
             GROUP BY {key}, {day} \
             ORDER BY service, day",
            key = self.series_key(view.split),
            value = self.value(view.metric),
            svc = self.service(),
            ts = self.ts(),
            table = self.table,
        );
        Statement { sql, params }
    }

    /// No rows, only the table's columns (the manifest or the schema says
    /// them): which optional columns it has.
    pub fn columns(&self) -> Statement {
        Statement { sql: format!("SELECT * FROM {} LIMIT 0", self.table), params: Vec::new() }
    }

    /// First and last transaction time and the number of rows, of the
    /// rows [`Source::daily`] counts, then the rows it leaves out by reason
    /// (`null_service`, `null_timestamp`, `out_of_range`), in one scan.
    ///
    /// A time DataFusion cannot hold as a timestamp (9999-12-31) is NULL
    /// after `TRY_CAST`; its date still says it is out of range, as the
    /// timestamp does on Spark, so both engines give it the same reason.
    pub fn bounds(&self) -> Statement {
        let sql = format!(
            "SELECT MIN(CASE WHEN sw_why = 0 THEN sw_ts END) AS first_ts, \
             MAX(CASE WHEN sw_why = 0 THEN sw_ts END) AS last_ts, \
             SUM(CASE WHEN sw_why = 0 THEN 1 ELSE 0 END) AS n, \
             SUM(CASE WHEN sw_why = 1 THEN 1 ELSE 0 END) AS null_service, \
             SUM(CASE WHEN sw_why = 2 THEN 1 ELSE 0 END) AS null_timestamp, \
             SUM(CASE WHEN sw_why = 3 THEN 1 ELSE 0 END) AS out_of_range \
             FROM (SELECT sw_ts, \
             CASE WHEN sw_service IS NULL THEN 1 \
             WHEN sw_ts >= :min_ts AND sw_ts < :end_ts THEN 0 \
             WHEN sw_ts IS NOT NULL OR sw_day < :min_day OR sw_day >= :end_day THEN 3 \
             ELSE 2 END AS sw_why \
             FROM (SELECT {ts} AS sw_ts, TRY_CAST({raw} AS DATE) AS sw_day, {svc} AS sw_service \
             FROM {table}) AS sw_cast) AS sw_rows",
            ts = self.ts(),
            raw = self.timestamp,
            svc = self.service,
            table = self.table
        );
        let params = vec![
            ("min_ts".into(), Param::Timestamp(midnight(FIRST_VALID_DAY))),
            ("end_ts".into(), Param::Timestamp(midnight(END_VALID_DAY))),
            ("min_day".into(), Param::Date(FIRST_VALID_DAY)),
            ("end_day".into(), Param::Date(END_VALID_DAY)),
        ];
        Statement { sql, params }
    }

    /// The raw rows of one service-day, oldest first, at most `limit`.
    pub fn transactions(&self, service: &str, day: Day, limit: u32) -> Statement {
        let (start, end) = self.day_bounds(day, day);
        let sql = format!(
            "SELECT * FROM {table} \
             WHERE {svc} = :service AND {ts} >= :from_ts AND {ts} < :to_ts \
             ORDER BY {ts} LIMIT {limit}",
            table = self.table,
            svc = self.service(),
            ts = self.ts(),
        );
        let params =
            vec![("service".into(), Param::Text(service.into())), ("from_ts".into(), start), ("to_ts".into(), end)];
        Statement { sql, params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(zone: Zone) -> Source {
        let ident = |s| Ident::parse(s).unwrap();
        Source {
            table: TableName::parse("t").unwrap(),
            timestamp: ident("ts"),
            service: ident("svc"),
            zone,
            amount: ident("amt"),
            amount_decimals: 2,
            segment: ident("seg"),
            channel: ident("chan"),
            payment_method: ident("pay"),
        }
    }

    fn view(metric: Metric, split: Option<Dimension>, filters: &[(Dimension, &[&str])]) -> View {
        let filters = filters.iter().map(|(d, vs)| (*d, vs.iter().map(|v| v.to_string()).collect()));
        View::new(metric, split, filters).unwrap()
    }

    #[test]
    fn identifiers_reject_anything_but_names() {
        for bad in ["", "1a", "a b", "a`b", "a;drop", "a.b", "é", "a-b", &"x".repeat(129)] {
            assert!(Ident::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Ident::parse("_Ok9").unwrap().to_string(), "`_Ok9`");
        assert!(TableName::parse("a.b.c.d").is_err());
        assert!(TableName::parse("a..b").is_err());
    }

    #[test]
    fn many_services_render_without_clashing() {
        let src = source(Zone::UTC);
        let list: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
        let sql = src.daily(Day(0), Day(1), Some(&list), &View::default()).render(Placeholder::Dollar);
        assert!(sql.contains("$s1, $s2") && sql.contains("$s10, $s11)"), "{sql}");
        assert!(!sql.contains(':'), "{sql}");
    }

    #[test]
    fn the_valid_window_is_what_its_comments_say() {
        assert_eq!(FIRST_VALID_DAY, Day::parse("1901-01-01").unwrap());
        assert_eq!(END_VALID_DAY, Day::parse("2200-01-01").unwrap());
        // A far day is clamped, not overflowed (DataFusion binds nanoseconds).
        let st = source(Zone::UTC).daily(
            Day::parse("9999-12-01").unwrap(),
            Day::parse("9999-12-31").unwrap(),
            None,
            &View::default(),
        );
        let end = Param::Timestamp(midnight(END_VALID_DAY));
        assert_eq!((&st.params[0].1, &st.params[1].1), (&end, &end));
        for (_, p) in source(Zone::UTC).bounds().params {
            if let Param::Timestamp(t) = p {
                assert!(t.and_utc().timestamp_nanos_opt().is_some());
            }
        }
    }

    #[test]
    fn the_drill_down_compares_the_service_as_the_daily_counts_name_it() {
        let src = source(Zone::UTC);
        let daily = src.daily(Day(0), Day(1), Some(&["7".to_string()]), &View::default()).render(Placeholder::Colon);
        let rows = src.transactions("7", Day(0), 10).render(Placeholder::Colon);
        assert!(daily.starts_with("SELECT CAST(`svc` AS STRING) AS service,"), "{daily}");
        assert!(daily.contains("AND CAST(`svc` AS STRING) IN (:s0)"), "{daily}");
        assert!(rows.contains("WHERE CAST(`svc` AS STRING) = :service AND"), "{rows}");
    }

    #[test]
    fn a_time_zone_is_a_bound_parameter() {
        let src = source(Zone::parse("Europe/Paris").unwrap());
        let st = src.daily(Day(0), Day(1), None, &View::default());
        let sql = st.render(Placeholder::Colon);
        assert!(sql.contains("CAST(from_utc_timestamp(TRY_CAST(`ts` AS TIMESTAMP), :tz) AS DATE) AS day"), "{sql}");
        assert!(!sql.contains("Paris"), "{sql}");
        assert!(st.params.contains(&("tz".into(), Param::Text("Europe/Paris".into()))));
        // 1970-01-01 starts at 23:00 UTC the day before in Paris.
        assert_eq!(st.params[0].1, Param::Timestamp(chrono::DateTime::from_timestamp(-3600, 0).unwrap().naive_utc()));
    }

    #[test]
    fn the_default_view_is_the_statement_of_old() {
        let sql = source(Zone::UTC).daily(Day(0), Day(1), None, &View::default()).render(Placeholder::Colon);
        assert_eq!(
            sql,
            "SELECT CAST(`svc` AS STRING) AS service, CAST(TRY_CAST(`ts` AS TIMESTAMP) AS DATE) AS day, COUNT(*) AS n \
             FROM `t` WHERE TRY_CAST(`ts` AS TIMESTAMP) >= :from_ts AND TRY_CAST(`ts` AS TIMESTAMP) < :to_ts \
             AND CAST(`svc` AS STRING) IS NOT NULL GROUP BY CAST(`svc` AS STRING), \
             CAST(TRY_CAST(`ts` AS TIMESTAMP) AS DATE) ORDER BY service, day"
        );
    }

    #[test]
    fn amounts_are_whole_minor_units_of_the_rows_not_refunded_and_the_rest_counted() {
        let mut src = source(Zone::UTC);
        let sql = src.daily(Day(0), Day(1), None, &view(Metric::Amount, None, &[])).render(Placeholder::Colon);
        let m = "TRY_CAST(ROUND(TRY_CAST(`amt` AS DOUBLE) * 100) AS BIGINT)";
        let sums = format!(
            "SUM(CASE WHEN {m} >= 0 THEN {m} ELSE 0 END) AS v, SUM(CASE WHEN {m} >= 0 THEN 0 ELSE 1 END) AS not_summed, \
             SUM(CASE WHEN {m} >= 0 THEN 1 ELSE 0 END) AS summed"
        );
        assert!(sql.starts_with("SELECT CAST(`svc` AS STRING) AS service, "), "{sql}");
        assert!(sql.contains(&format!("AS day, {sums} FROM `t` WHERE")), "{sql}");
        assert!(!sql.contains("COUNT(*)"), "{sql}");
        src.amount_decimals = 0;
        let sql = src.daily(Day(0), Day(1), None, &view(Metric::Amount, None, &[])).render(Placeholder::Colon);
        assert!(sql.contains("AS DOUBLE) * 1) AS BIGINT)"), "{sql}");
        src.amount_decimals = 6;
        let sql = src.daily(Day(0), Day(1), None, &view(Metric::Amount, None, &[])).render(Placeholder::Colon);
        assert!(sql.contains("AS DOUBLE) * 1000000) AS BIGINT)"), "{sql}");
    }

    #[test]
    fn a_split_keys_series_by_service_and_value_and_filters_are_bound() {
        let src = source(Zone::UTC);
        let v = view(
            Metric::Count,
            Some(Dimension::PaymentMethod),
            &[(Dimension::Channel, &["web", "app"]), (Dimension::Segment, &["fleet"])],
        );
        let st = src.daily(Day(0), Day(1), Some(&["oil".to_string()]), &v);
        let sql = st.render(Placeholder::Colon);
        let key = "CONCAT(CAST(`svc` AS STRING), ' · ', COALESCE(CAST(`pay` AS STRING), '(none)'))";
        assert!(sql.starts_with(&format!("SELECT {key} AS service, ")), "{sql}");
        assert!(sql.contains(&format!("GROUP BY {key}, CAST(")), "{sql}");
        assert!(sql.contains("COUNT(*) AS n FROM"), "{sql}");
        // Filters in dimension order, values sorted, one numbering.
        assert!(
            sql.contains(
                "AND CAST(`svc` AS STRING) IN (:s0) AND CAST(`seg` AS STRING) IN (:f0) \
                 AND CAST(`chan` AS STRING) IN (:f1, :f2) GROUP BY"
            ),
            "{sql}"
        );
        let bound: Vec<(&str, &Param)> = st.params.iter().map(|(n, p)| (n.as_str(), p)).collect();
        let text = |s: &str| Param::Text(s.into());
        assert_eq!(
            bound[2..],
            [("s0", &text("oil")), ("f0", &text("fleet")), ("f1", &text("app")), ("f2", &text("web"))]
        );
        for value in ["oil", "fleet", "web"] {
            assert!(!sql.contains(value), "values are bound, never spliced: {sql}");
        }
        // DataFusion's spelling renames every one of them.
        let dollar = st.render(Placeholder::Dollar);
        assert!(dollar.contains("IN ($f1, $f2)") && !dollar.contains(":f"), "{dollar}");
        // The constants put into the SQL text are plain literals, and the
        // key they build is the one the rest of the server expects.
        for constant in [SPLIT_SEPARATOR, NONE_VALUE] {
            assert!(!constant.contains(['\'', '\\']), "{constant:?}");
        }
        assert_eq!(View::split_key("oil", Some("card")), format!("oil{SPLIT_SEPARATOR}card"));
    }

    #[test]
    fn many_filter_values_render_without_clashing() {
        let values: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let v = view(Metric::Amount, Some(Dimension::Channel), &[(Dimension::Channel, &refs)]);
        let sql =
            source(Zone::parse("Europe/Paris").unwrap()).daily(Day(0), Day(1), None, &v).render(Placeholder::Dollar);
        assert!(sql.contains("IN ($f0, $f1, $f2, ") && sql.contains(", $f9, $f10, $f11) GROUP BY"), "{sql}");
        assert!(sql.contains("$tz") && sql.contains("$from_ts") && !sql.contains(':'), "{sql}");
    }

    #[test]
    fn the_columns_come_from_a_statement_that_reads_no_rows() {
        assert_eq!(source(Zone::UTC).columns().render(Placeholder::Colon), "SELECT * FROM `t` LIMIT 0");
    }
}
