//! What crosses the network, as JSON.
//!
//! The daily aggregates travel as `{"from","to","series":[{"key","dates",
//! "values"}]}` with days without transactions omitted; anomalies as
//! `{"metrics", "anomalies"}`. Converting to a [`Panel`] validates everything,
//! so a hostile or broken body becomes an error, never a wrong answer.

use serde::{Deserialize, Serialize};

use crate::{Anomaly, Day, Metrics, Panel, PanelError};

/// `GET /api/daily`: per-service daily counts for a range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Daily {
    pub from: Day,
    pub to: Day,
    pub series: Vec<Series>,
}

/// One service's days with transactions and their counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    pub key: String,
    pub dates: Vec<Day>,
    pub values: Vec<u64>,
}

/// `GET /api/anomalies`: metrics and the flagged rows by |z| descending.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomalies {
    pub metrics: Metrics,
    pub anomalies: Vec<Anomaly>,
}

/// `GET /api/transactions`: the raw rows of one service-day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transactions {
    pub orderservice: String,
    pub date: Day,
    pub limit: u32,
    /// True when there may be more rows than `limit`.
    pub truncated: bool,
    pub columns: Vec<String>,
    /// One object per transaction, keyed by column name.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// `GET /api/progress`: how far the caller's first read of the table has got.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadProgress {
    /// Whether the warehouse is reading the table for this caller now.
    pub loading: bool,
    /// What the load waits for: `reading` (rows counted below),
    /// `warehouse_starting` (a Databricks SQL warehouse is booting, which
    /// takes minutes), `querying` (the warehouse runs the query) or
    /// `downloading` (the result is coming).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Raw rows read so far.
    pub rows_read: u64,
    /// Raw rows to read; 0 when the warehouse cannot tell.
    pub rows_total: u64,
}

/// The body of every error response, `{"error":{"status","code","message"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in an [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// The HTTP status again.
    pub status: u16,
    /// Stable and machine-readable: bad_request, not_found, too_large,
    /// timeout, unavailable, loading, cancelled, not_authorised,
    /// table_unavailable, bad_data, missing_column, warehouse_error,
    /// internal, cross_site, rate_limited, unsupported_media_type,
    /// not_available, audit_failed.
    pub code: String,
    /// For a person: what is wrong and how to fix it.
    pub message: String,
}

/// `GET /api/meta`: what the app needs before its first query, and where
/// the numbers come from. Asked with a view (`?metric=amount&split=channel`,
/// filters), `service_days`, `services` and `not_summed` are that view's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Meta {
    /// The configured table, `catalog.schema.table`.
    pub table: String,
    /// Whether the numbers are the table's or generated sample data.
    #[serde(default)]
    pub source: DataSource,
    /// `embedded`, `databricks` or `spark`.
    pub warehouse: String,
    /// The time zone that defines a day (IANA name).
    pub timezone: String,
    pub first: Option<Day>,
    pub last: Option<Day>,
    /// The first and/or last day when the data covers them only in part:
    /// the first when its data starts later than the partial-day gap into
    /// it, the last while it is still running (the day the table is read
    /// on) or, for an extract, when its data stops earlier than the gap
    /// before its end. The robust method does not flag these days.
    #[serde(default)]
    pub partial_days: Vec<Day>,
    /// The days within the data that the `holidays` setting names
    /// (`BaselineParams::holidays`): the robust method does not flag a
    /// drop on one unless a common factor measured the day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<Day>,
    /// Transactions counted: the table's rows less `dropped_rows`.
    pub rows: u64,
    /// Rows left out of every count, by reason.
    #[serde(default)]
    pub dropped_rows: DroppedRows,
    /// (series, day) pairs with transactions.
    pub service_days: usize,
    /// The series keys: services, or with a split `{service} · {value}`.
    pub services: Vec<String>,
    /// The newest transaction's time (RFC 3339, UTC): how fresh the data is.
    pub latest_transaction: Option<String>,
    /// When the server read these aggregates from the warehouse (RFC 3339).
    pub fetched_at: String,
    /// Longest range one request may ask for.
    pub max_span_days: u32,
    /// The metrics the table has columns for: `count`, and `amount` when
    /// it has an amount column.
    #[serde(default)]
    pub metrics: Vec<crate::Metric>,
    /// The dimensions the table has columns for (to split or filter by).
    #[serde(default)]
    pub dimensions: Vec<crate::Dimension>,
    /// Amounts are in minor units: amount × 10^`amount_decimals` (2: cents).
    #[serde(default)]
    pub amount_decimals: u8,
    /// An amount view only: rows of its series left out of the sums
    /// because their amount is negative (a refund), NULL or unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_summed: Option<u64>,
    /// An amount view only: each series' mean ticket in minor units, what
    /// one transaction is worth there; the robust method scores amounts in
    /// transactions (`BaselineParams::units`), in the app as on the server.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub units: std::collections::BTreeMap<String, f64>,
}

/// Where the numbers come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    /// The configured table.
    #[default]
    Table,
    /// Generated sample data (`servicewatch serve --sample`): made-up numbers.
    Sample,
}

/// Rows of the table that no count includes, by reason; each row counts
/// once, under the first reason that applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DroppedRows {
    /// The service is NULL.
    pub null_service: u64,
    /// The time is NULL or cannot be read as a time.
    pub null_timestamp: u64,
    /// The time is a valid one outside the years a transaction can have
    /// (placeholders such as 9999-12-31).
    pub out_of_range: u64,
}

impl DroppedRows {
    /// Every row left out.
    pub fn total(&self) -> u64 {
        self.null_service + self.null_timestamp + self.out_of_range
    }
}

impl Daily {
    /// Validates and converts to the engine's columnar form.
    ///
    /// ```
    /// use servicewatch_shared::wire::Daily;
    /// let body = r#"{"from":"2024-01-01","to":"2024-01-31","series":[
    ///     {"key":"tyres","dates":["2024-01-02","2024-01-05"],"values":[3,4]}]}"#;
    /// let daily: Daily = serde_json::from_str(body).unwrap();
    /// let panel = daily.to_panel().unwrap();
    /// assert_eq!(panel.counts(0), &[3, 4]);
    ///
    /// let bad = r#"{"from":"2024-01-01","to":"2024-01-31","series":[
    ///     {"key":"tyres","dates":["2024-01-05","2024-01-02"],"values":[3,4]}]}"#;
    /// let daily: Daily = serde_json::from_str(bad).unwrap();
    /// let err = daily.to_panel().unwrap_err();
    /// assert!(err.to_string().contains("strictly increasing"));
    /// ```
    pub fn to_panel(&self) -> Result<Panel, PanelError> {
        let mut b = Panel::builder();
        for s in &self.series {
            b.push(&s.key, &s.dates, &s.values)?;
        }
        Ok(b.build())
    }

    /// The wire form of `panel` restricted to `[from, to]` and, if given, to
    /// some services (panel indices). Services without transactions in the
    /// range are left out, like days.
    ///
    /// ```
    /// use servicewatch_shared::wire::Daily;
    /// use servicewatch_shared::{Day, Panel};
    /// let mut b = Panel::builder();
    /// b.push("a", &[Day(1), Day(5)], &[2, 3]).unwrap();
    /// b.push("b", &[Day(9)], &[4]).unwrap();
    /// let d = Daily::from_panel(&b.build(), Day(0), Day(4), None);
    /// assert_eq!(d.series.len(), 1); // "b" has nothing in range
    /// assert_eq!(d.series[0].values, vec![2]);
    /// ```
    pub fn from_panel(panel: &Panel, from: Day, to: Day, services: Option<&[usize]>) -> Daily {
        let all: Vec<usize>;
        let picked = match services {
            Some(s) => s,
            None => {
                all = (0..panel.len()).collect();
                &all
            }
        };
        let series = picked
            .iter()
            .filter_map(|&s| {
                let (dates, values) = panel.window(s, from, to);
                (!dates.is_empty()).then(|| Series {
                    key: panel.key(s).to_string(),
                    dates: dates.to_vec(),
                    values: values.to_vec(),
                })
            })
            .collect();
        Daily { from, to, series }
    }
}

/// Flagged rows as CSV with the API's column names, one line per row: what
/// `servicewatch scan --format csv` prints and the app downloads.
///
/// ```
/// use servicewatch_shared::{wire::csv, Anomaly, Day};
/// let row = Anomaly { key: "Brakes, front".into(), date: Day::parse("2024-03-01").unwrap(),
///     value: 90, center: 40.0, spread: 10.0, z: 5.0, day_factor: 0.5 };
/// assert_eq!(
///     csv(&[row]),
///     "key,date,value,center,spread,z,day_factor\n\"Brakes, front\",2024-03-01,90,40,10,5,0.5\n"
/// );
/// ```
pub fn csv(rows: &[Anomaly]) -> String {
    csv_with(rows, |a| {
        [a.value.to_string(), a.center.to_string(), a.spread.to_string(), a.z.to_string(), a.day_factor.to_string()]
    })
}

/// [`csv`] with the value, centre, spread, z and day factor written by
/// `numbers` (the app writes amounts in major units, `1234.50`, as it shows
/// them, and its floats without core's float formatting).
pub fn csv_with(rows: &[Anomaly], numbers: impl Fn(&Anomaly) -> [String; 5]) -> String {
    let mut out = String::from("key,date,value,center,spread,z,day_factor\n");
    for a in rows {
        let key = if a.key.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", a.key.replace('"', "\"\""))
        } else {
            a.key.clone()
        };
        let [v, c, s, z, f] = numbers(a);
        out.push_str(&format!("{key},{},{v},{c},{s},{z},{f}\n", a.date));
    }
    out
}

/// One flagged series-day in the audit trail: what was flagged, under which
/// method and parameters, when and by whom (`servicewatch scan --record`).
/// Recorded once per (series, day, method, params).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    pub series: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Day,
    /// `classic`, `robust` or `robust+weekly`.
    pub method: String,
    /// The flag parameters in one canonical text, e.g.
    /// `z=3;min_days=7;min_count=0;direction=both`.
    pub params: String,
    pub value: u64,
    pub center: f64,
    pub z: f64,
    pub day_factor: f64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(deserialize_with = "crate::timestamp::deserialize")]
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    pub recorded_by: String,
}

/// `GET /api/audit`: recorded rows, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Audit {
    pub records: Vec<AuditRecord>,
}

/// `POST /api/audit`: how many of the days flagged now were new to the
/// trail (the others were recorded before under the same parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecorded {
    pub recorded: u64,
    pub flagged: u64,
}

/// What an analyst says about a flagged series-day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MarkKind {
    /// Explained and not a problem (a promotion, a known outage): left out
    /// of the series' baseline, and never alerted.
    Expected,
    /// A real anomaly (fraud): left out of the series' baseline, so it does
    /// not teach the baseline that fraud is normal.
    Confirmed,
    /// The mark taken back: the day is an ordinary day again.
    Cleared,
}

impl MarkKind {
    /// Whether a day with this mark is left out of its series' baseline.
    pub fn excludes(self) -> bool {
        matches!(self, MarkKind::Expected | MarkKind::Confirmed)
    }
}

/// `POST /api/marks`: mark a series-day (or clear its mark).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MarkRequest {
    pub series: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Day,
    pub kind: MarkKind,
    /// Why (required in spirit for `expected`; at most 2,000 characters).
    #[serde(default)]
    pub note: String,
}

/// One mark event as stored: marks are never overwritten, so a series-day's
/// history can be read back; its current mark is its newest event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mark {
    pub series: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Day,
    pub kind: MarkKind,
    pub note: String,
    pub marked_by: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(deserialize_with = "crate::timestamp::deserialize")]
    pub marked_at: chrono::DateTime<chrono::Utc>,
}

/// `GET /api/marks`: the current marks (cleared ones left out), or with
/// `history=true` every event, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Marks {
    pub marks: Vec<Mark>,
}

/// The days current marks take out of each series' baseline, for
/// [`crate::BaselineParams::exclude`]: the kinds that exclude
/// ([`MarkKind::excludes`]), by series, sorted.
///
/// ```
/// use servicewatch_shared::wire::{exclusions, Mark, MarkKind};
/// use servicewatch_shared::Day;
/// let m = |kind, d| Mark { series: "a".into(), date: Day(d), kind, note: String::new(),
///     marked_by: "x".into(), marked_at: chrono::DateTime::UNIX_EPOCH };
/// let ex = exclusions(&[m(MarkKind::Expected, 3), m(MarkKind::Cleared, 4), m(MarkKind::Confirmed, 1)]);
/// assert_eq!(ex["a"], vec![Day(1), Day(3)]);
/// ```
pub fn exclusions(marks: &[Mark]) -> std::collections::BTreeMap<String, Vec<Day>> {
    let mut out: std::collections::BTreeMap<String, Vec<Day>> = Default::default();
    for m in marks.iter().filter(|m| m.kind.excludes()) {
        out.entry(m.series.clone()).or_default().push(m.date);
    }
    for days in out.values_mut() {
        days.sort_unstable();
        days.dedup();
    }
    out
}

/// What `servicewatch scan --alert URL` posts to a webhook, one per new
/// anomaly: Slack-compatible (`text`), with the row itself for machines and
/// an idempotency key (also sent as the `Idempotency-Key` header) so a
/// receiver can drop a repeat after a retry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    pub idempotency_key: String,
    /// One line for people (Slack shows it).
    pub text: String,
    pub anomaly: Anomaly,
    /// `classic`, `robust` or `robust+weekly`, as in the audit trail.
    pub method: String,
    /// The flag parameters, as in the audit trail.
    pub params: String,
}
