//! The store in tables of a Databricks schema (Delta tables on Databricks),
//! written and read through the same SQL statement API the warehouse uses,
//! as the app's own identity: a Databricks App has no local disk worth
//! keeping, and analysts can query their marks and the trail in SQL.
//!
//! Three tables in the configured `store_schema`, created on first use:
//!
//! - `servicewatch_audit`: one row per (series, day, method, params).
//! - `servicewatch_marks`: mark events, appended, never updated.
//! - `servicewatch_alerts`: outbox events (`queued`, `delivered`,
//!   `failed`), appended; an alert is pending while it has no `delivered`.
//!
//! Every write is an `INSERT`, guarded by `NOT EXISTS` where it must be
//! idempotent: the same guarantee as a `MERGE INTO ... WHEN NOT MATCHED
//! THEN INSERT`, in SQL that also runs on open-source Spark tables (which
//! cannot `MERGE` or `UPDATE`), so the tests run it on real Spark. Append
//! only also means the history is the table itself.
//!
//! Times are written as RFC 3339 text with its `Z` and read back with their
//! offset, so they are the same instants whatever the session's time zone.
//! Calls block on the statement API: call them from blocking contexts (the
//! server and `scan` do, through `spawn_blocking`).

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use servicewatch_shared::wire::{Alert, AuditRecord, Mark, MarkKind};
use servicewatch_shared::Day;
use tokio_util::sync::CancellationToken;

use super::{AuditQuery, MarkQuery, Store, StoreError};
use crate::warehouse::databricks::statements::{Client, Shape};
use crate::warehouse::sql::{Ident, Param, Statement, TableName};
use crate::warehouse::{batches, Caller, Progress};

/// Rows per INSERT statement (each row is about ten parameters).
const BATCH: usize = 100;

pub struct Delta {
    client: Arc<Client>,
    runtime: tokio::runtime::Handle,
    schema: TableName,
    ready: OnceLock<()>,
}

impl Delta {
    /// The store in `schema` (`catalog.schema`, which must exist), through
    /// `client`; `runtime` runs its statements (calls block on it).
    pub fn new(client: Arc<Client>, schema: TableName, runtime: tokio::runtime::Handle) -> Delta {
        Delta { client, runtime, schema, ready: OnceLock::new() }
    }

    fn table(&self, name: &str) -> String {
        let mut parts = self.schema.0.clone();
        parts.push(Ident::parse(name).expect("a constant name"));
        TableName(parts).to_string()
    }

    /// Runs one statement; rows as JSON objects.
    fn run(&self, st: &Statement) -> Result<Vec<Map<String, Value>>, Box<dyn std::error::Error + Send + Sync>> {
        let client = self.client.clone();
        let (st, caller) = (st.clone(), Caller::default());
        let batches = self.runtime.block_on(async move {
            client.run(&st, Shape::Inline, &caller, &CancellationToken::new(), &Progress::default()).await
        })?;
        Ok(batches::to_rows(&batches)?.rows)
    }

    /// Creates the tables once per process (they may exist already).
    fn ensure(&self) -> Result<(), StoreError> {
        if self.ready.get().is_some() {
            return Ok(());
        }
        let ddl = [
            format!(
                "CREATE TABLE IF NOT EXISTS {} (series STRING, day DATE, method STRING, params STRING, \
                 value BIGINT, center DOUBLE, z DOUBLE, day_factor DOUBLE, recorded_at TIMESTAMP, recorded_by STRING)",
                self.table("servicewatch_audit")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (series STRING, day DATE, kind STRING, note STRING, \
                 marked_by STRING, marked_at TIMESTAMP)",
                self.table("servicewatch_marks")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (key STRING, payload STRING, event STRING, at TIMESTAMP, error STRING)",
                self.table("servicewatch_alerts")
            ),
        ];
        for sql in ddl {
            self.run(&Statement::new(sql, Vec::new())).map_err(|source| StoreError::Open {
                path: format!("{} (setting `store_schema`; the schema must exist)", self.schema.plain()),
                source,
            })?;
        }
        let _ = self.ready.set(());
        Ok(())
    }

    fn count(&self, sql: String, params: Vec<(String, Param)>) -> Result<u64, StoreError> {
        let rows = self.run(&Statement::new(sql, params)).map_err(StoreError::Read)?;
        rows.first()
            .and_then(|r| r.values().next())
            .and_then(Value::as_u64)
            .ok_or_else(|| StoreError::Read("no count".into()))
    }
}

/// A time as RFC 3339 UTC text with microseconds and `Z`.
fn time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A timestamp column read back with its offset (see [`TIME_OUT`]).
fn time_of(row: &Map<String, Value>, col: &str) -> Result<DateTime<Utc>, StoreError> {
    let s = text(row, col)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Invalid(format!("`{col}` = `{s}`: {e}")))
}

/// How a timestamp column is selected: text with the session's offset.
fn time_out(col: &str) -> String {
    format!("date_format({col}, \"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX\") AS {col}")
}

fn text(row: &Map<String, Value>, col: &str) -> Result<String, StoreError> {
    match row.get(col) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Ok(String::new()),
        Some(other) => Ok(other.to_string()),
    }
}

fn number(row: &Map<String, Value>, col: &str) -> Result<f64, StoreError> {
    match row.get(col) {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| StoreError::Invalid(format!("`{col}`: {n}"))),
        // Non-finite doubles come as text (JSON has no NaN).
        Some(Value::String(s)) => s.parse().map_err(|_| StoreError::Invalid(format!("`{col}` = `{s}`"))),
        other => Err(StoreError::Invalid(format!("`{col}`: {other:?}"))),
    }
}

fn integer(row: &Map<String, Value>, col: &str) -> Result<u64, StoreError> {
    row.get(col).and_then(Value::as_u64).ok_or_else(|| StoreError::Invalid(format!("`{col}`: {:?}", row.get(col))))
}

fn day(row: &Map<String, Value>, col: &str) -> Result<Day, StoreError> {
    let s = text(row, col)?;
    Day::parse(&s).map_err(|e| StoreError::Invalid(format!("`{col}` = `{s}`: {e}")))
}

/// `(:p0, ...), (...)` for `rows` rows of `cols` parameters each, with the
/// SQL type of each column wrapped around its parameter.
fn values(rows: usize, casts: &[&str]) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = casts
                .iter()
                .enumerate()
                .map(|(c, ty)| match *ty {
                    "STRING" => format!(":p{r}_{c}"),
                    ty => format!("CAST(:p{r}_{c} AS {ty})"),
                })
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parameters of one row for [`values`], all as text.
fn row_params(r: usize, cells: Vec<String>) -> impl Iterator<Item = (String, Param)> {
    cells.into_iter().enumerate().map(move |(c, v)| (format!("p{r}_{c}"), Param::Text(v)))
}

const AUDIT_TYPES: &[&str] =
    &["STRING", "DATE", "STRING", "STRING", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "TIMESTAMP", "STRING"];
const AUDIT_COLS: &str = "series, day, method, params, value, center, z, day_factor, recorded_at, recorded_by";

impl Store for Delta {
    fn record(&self, rows: &[AuditRecord]) -> Result<usize, StoreError> {
        self.ensure()?;
        let audit = self.table("servicewatch_audit");
        let before = self.count(format!("SELECT COUNT(*) AS n FROM {audit}"), Vec::new())?;
        for chunk in rows.chunks(BATCH) {
            let params = chunk
                .iter()
                .enumerate()
                .flat_map(|(i, a)| {
                    row_params(
                        i,
                        vec![
                            a.series.clone(),
                            a.date.to_string(),
                            a.method.clone(),
                            a.params.clone(),
                            a.value.to_string(),
                            a.center.to_string(),
                            a.z.to_string(),
                            a.day_factor.to_string(),
                            time_text(a.recorded_at),
                            a.recorded_by.clone(),
                        ],
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO {audit} SELECT {AUDIT_COLS} FROM (SELECT DISTINCT * FROM (VALUES {v}) AS s({AUDIT_COLS})) AS s \
                 WHERE NOT EXISTS (SELECT 1 FROM {audit} AS a WHERE a.series = s.series AND a.day = s.day \
                 AND a.method = s.method AND a.params = s.params)",
                v = values(chunk.len(), AUDIT_TYPES),
            );
            self.run(&Statement::new(sql, params)).map_err(StoreError::Write)?;
        }
        let after = self.count(format!("SELECT COUNT(*) AS n FROM {audit}"), Vec::new())?;
        Ok(after.saturating_sub(before) as usize)
    }

    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.ensure()?;
        let mut filter = Vec::new();
        let mut params = Vec::new();
        if let Some(t) = q.since {
            filter.push("recorded_at >= CAST(:since AS TIMESTAMP)");
            params.push(("since".to_string(), Param::Text(time_text(t))));
        }
        if let Some(t) = q.until {
            filter.push("recorded_at < CAST(:until AS TIMESTAMP)");
            params.push(("until".to_string(), Param::Text(time_text(t))));
        }
        if let Some(s) = &q.series {
            filter.push("series = :series");
            params.push(("series".to_string(), Param::Text(s.clone())));
        }
        let filter = if filter.is_empty() { String::new() } else { format!(" WHERE {}", filter.join(" AND ")) };
        let sql = format!(
            "SELECT series, CAST(day AS STRING) AS day, method, params, value, center, z, day_factor, {at}, recorded_by \
             FROM {audit}{filter} ORDER BY recorded_at, series, day LIMIT {limit}",
            at = time_out("recorded_at"),
            audit = self.table("servicewatch_audit"),
            limit = q.limit,
        );
        let rows = self.run(&Statement::new(sql, params)).map_err(StoreError::Read)?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    series: text(r, "series")?,
                    date: day(r, "day")?,
                    method: text(r, "method")?,
                    params: text(r, "params")?,
                    value: integer(r, "value")?,
                    center: number(r, "center")?,
                    z: number(r, "z")?,
                    day_factor: number(r, "day_factor")?,
                    recorded_at: time_of(r, "recorded_at")?,
                    recorded_by: text(r, "recorded_by")?,
                })
            })
            .collect()
    }

    fn add_mark(&self, m: &Mark) -> Result<(), StoreError> {
        self.ensure()?;
        let kind = serde_json::to_value(m.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let params = row_params(
            0,
            vec![
                m.series.clone(),
                m.date.to_string(),
                kind,
                m.note.clone(),
                m.marked_by.clone(),
                time_text(m.marked_at),
            ],
        )
        .collect();
        let sql = format!(
            "INSERT INTO {} VALUES {}",
            self.table("servicewatch_marks"),
            values(1, &["STRING", "DATE", "STRING", "STRING", "STRING", "TIMESTAMP"])
        );
        self.run(&Statement::new(sql, params)).map_err(StoreError::Write)?;
        Ok(())
    }

    fn marks(&self, q: &MarkQuery) -> Result<Vec<Mark>, StoreError> {
        self.ensure()?;
        let mut filter = vec!["TRUE"];
        let mut params = Vec::new();
        if let Some(s) = &q.series {
            filter.push("series = :series");
            params.push(("series".to_string(), Param::Text(s.clone())));
        }
        if let Some(d) = q.date {
            filter.push("day = :day");
            params.push(("day".to_string(), Param::Date(d)));
        }
        let marks = self.table("servicewatch_marks");
        let cols = format!("series, CAST(day AS STRING) AS day, kind, note, marked_by, {}", time_out("marked_at"));
        let filter = filter.join(" AND ");
        let sql = if q.history {
            format!("SELECT {cols} FROM {marks} WHERE {filter} ORDER BY marked_at, series, day")
        } else {
            format!(
                "SELECT {cols} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY series, day ORDER BY marked_at DESC) AS sw_rank \
                 FROM {marks} WHERE {filter}) AS m WHERE sw_rank = 1 AND kind <> 'cleared' ORDER BY series, day"
            )
        };
        let rows = self.run(&Statement::new(sql, params)).map_err(StoreError::Read)?;
        rows.iter()
            .map(|r| {
                let kind: MarkKind = serde_json::from_value(Value::String(text(r, "kind")?))
                    .map_err(|e| StoreError::Invalid(format!("`kind`: {e}")))?;
                Ok(Mark {
                    series: text(r, "series")?,
                    date: day(r, "day")?,
                    kind,
                    note: text(r, "note")?,
                    marked_by: text(r, "marked_by")?,
                    marked_at: time_of(r, "marked_at")?,
                })
            })
            .collect()
    }

    fn enqueue_alerts(&self, alerts: &[Alert], at: DateTime<Utc>) -> Result<usize, StoreError> {
        self.ensure()?;
        let table = self.table("servicewatch_alerts");
        let queued = || format!("SELECT COUNT(*) AS n FROM {table} WHERE event = 'queued'");
        let before = self.count(queued(), Vec::new())?;
        for chunk in alerts.chunks(BATCH) {
            let mut params = Vec::new();
            for (i, a) in chunk.iter().enumerate() {
                let payload = serde_json::to_string(a).map_err(|e| StoreError::Write(Box::new(e)))?;
                params.extend(row_params(i, vec![a.idempotency_key.clone(), payload, time_text(at)]));
            }
            let sql = format!(
                "INSERT INTO {table} SELECT s.key, s.payload, 'queued', s.at, CAST(NULL AS STRING) \
                 FROM (VALUES {v}) AS s(key, payload, at) \
                 WHERE NOT EXISTS (SELECT 1 FROM {table} AS a WHERE a.key = s.key AND a.event = 'queued')",
                v = values(chunk.len(), &["STRING", "STRING", "TIMESTAMP"]),
            );
            self.run(&Statement::new(sql, params)).map_err(StoreError::Write)?;
        }
        let after = self.count(queued(), Vec::new())?;
        Ok(after.saturating_sub(before) as usize)
    }

    fn pending_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        self.ensure()?;
        let table = self.table("servicewatch_alerts");
        let sql = format!(
            "SELECT q.payload FROM {table} AS q WHERE q.event = 'queued' AND NOT EXISTS \
             (SELECT 1 FROM {table} AS d WHERE d.key = q.key AND d.event = 'delivered') ORDER BY q.at, q.key"
        );
        let rows = self.run(&Statement::new(sql, Vec::new())).map_err(StoreError::Read)?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(&text(r, "payload")?).map_err(|e| StoreError::Invalid(format!("an alert: {e}")))
            })
            .collect()
    }

    fn alert_delivered(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.alert_event(key, at, "delivered", None)
    }

    fn alert_failed(&self, key: &str, at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.alert_event(key, at, "failed", Some(error))
    }
}

impl Delta {
    fn alert_event(&self, key: &str, at: DateTime<Utc>, event: &str, error: Option<&str>) -> Result<(), StoreError> {
        self.ensure()?;
        let params = vec![
            ("key".to_string(), Param::Text(key.to_string())),
            ("event".to_string(), Param::Text(event.to_string())),
            ("at".to_string(), Param::Text(time_text(at))),
            ("error".to_string(), Param::Text(error.unwrap_or_default().to_string())),
        ];
        let sql = format!(
            "INSERT INTO {} SELECT :key, '', :event, CAST(:at AS TIMESTAMP), NULLIF(:error, '')",
            self.table("servicewatch_alerts")
        );
        self.run(&Statement::new(sql, params)).map_err(StoreError::Write)?;
        Ok(())
    }
}
