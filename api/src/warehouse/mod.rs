//! The warehouse layer: one trait the routes and the `scan` job use, so the
//! embedded engine, Databricks SQL warehouses and Spark Connect can stand
//! behind the same API.
//!
//! Every call is async and takes a [`CancellationToken`] (a warehouse that
//! bills per query must be told to stop, not just ignored) and the
//! [`Caller`] (a Databricks App runs queries with the end user's own token).

pub mod batches;
pub mod databricks;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod sql;
pub mod zone;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use servicewatch_shared::wire::DroppedRows;
use servicewatch_shared::{Day, Panel};
use tokio_util::sync::CancellationToken;

use crate::view::View;

/// Who is asking. The embedded warehouse ignores it; remote warehouses run
/// queries as this user and keep their cache entries apart.
#[derive(Clone, Default)]
pub struct Caller {
    /// The user's name or email as the platform forwarded it.
    pub user: Option<String>,
    /// The user's own access token, if the platform forwarded one.
    pub token: Option<String>,
}

impl std::fmt::Debug for Caller {
    // Never print a token, not even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").field("user", &self.user).field("token", &self.token.as_ref().map(|_| "***")).finish()
    }
}

/// Daily aggregates for a range, optionally for some services only (as
/// the service column names them, whatever the view's series keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DailyQuery {
    pub from: Day,
    pub to: Day,
    pub services: Option<Vec<String>>,
    /// The metric, series key and filters ([`View::default`]: transactions
    /// per service).
    pub view: View,
}

/// What a daily aggregation gives: a value per series and day, and, for
/// amounts, how many rows of those days were left out of the sums (a
/// refund, a NULL or unreadable amount): said, never silently dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregates {
    pub panel: Panel,
    /// 0 for counts, which leave no row out.
    pub not_summed: u64,
    /// Amounts: each series' mean ticket (its sum over the rows summed),
    /// what one transaction is worth in its values
    /// (`BaselineParams::units`). Empty for counts.
    pub units: std::collections::BTreeMap<String, f64>,
}

/// The extent of the table: the first and last time and the number of the
/// rows that are counted, and the rows left out, by reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub first: Option<NaiveDateTime>,
    pub last: Option<NaiveDateTime>,
    pub rows: u64,
    pub dropped: DroppedRows,
}

/// Why an edge day of the extract is left unscored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Partial {
    /// The first day, whose data starts later than the gap into it (a
    /// load that began at noon).
    #[serde(rename = "partial_first_day")]
    FirstDay,
    /// The day the table was read on, or later: it is still running.
    #[serde(rename = "partial_load_day")]
    LoadDay,
    /// The last day of an extract (a table whose newest row is more than
    /// [`EXTRACT_AGE`] older than the read), whose data stops more than the
    /// gap before its end (an export taken at noon).
    #[serde(rename = "partial_last_day")]
    LastDay,
}

/// How much older than the read a table's newest row must be for the
/// table to be taken as an extract (an export, a historical file) rather
/// than a table still being loaded: a week. A live table's past days are
/// complete whenever their last row came (a business quiet at night, or
/// closed at the weekend, ends its days early, and an outage that stopped
/// the rows is exactly what must be flagged); an extract's last day ends
/// where the export stopped, which says nothing about the business. A
/// table idle for longer than a week is read as an extract too: its last
/// day then follows the first day's rule.
pub const EXTRACT_AGE: chrono::TimeDelta = chrono::TimeDelta::days(7);

impl Partial {
    /// Says why, for people; `gap` is the rules' (`partial_day_gap`).
    pub fn reason(self, gap: chrono::TimeDelta) -> String {
        match self {
            Partial::FirstDay => {
                format!("partial first day (its data starts more than {} minutes into it)", gap.num_minutes())
            }
            Partial::LoadDay => "today's partial day (still running when the table was read)".into(),
            Partial::LastDay => format!(
                "partial last day of an extract (its data stops more than {} minutes before its end)",
                gap.num_minutes()
            ),
        }
    }
}

impl Bounds {
    /// Whether the table read at `loaded_at` is an extract rather than a
    /// table still being loaded: its newest row is more than
    /// [`EXTRACT_AGE`] older than the read.
    pub fn is_extract(&self, loaded_at: chrono::DateTime<chrono::Utc>) -> bool {
        self.last.is_some_and(|last| loaded_at.naive_utc() - last > EXTRACT_AGE)
    }

    /// The first and last day with data, in `zone`.
    pub fn days(&self, zone: zone::Zone) -> Option<(Day, Day)> {
        Some((zone.day_of(self.first.as_ref()?), zone.day_of(self.last.as_ref()?)))
    }

    /// The edge days the extract covers only in part, and why; the robust
    /// method gives them a baseline but no score.
    ///
    /// The first day is partial when its data starts more than `gap` after
    /// it began (nothing says what came before the extract). The last day
    /// depends on whether the table is still being loaded:
    /// - **Live** (its newest row within [`EXTRACT_AGE`] of the read,
    ///   `loaded_at`): the day the table is read on (in `zone`), or a later
    ///   one, is still running, so partial; a past day is complete whatever
    ///   its last time. Judging by the last row instead would hide every
    ///   alert on the newest complete day of a table quiet at night.
    /// - **An extract** (its newest row older than that): its last day
    ///   follows the first day's rule from the other end, partial when its
    ///   data stops more than `gap` before the day ends. A live table that
    ///   stops being loaded becomes one a week later, and its last day,
    ///   flagged as a drop until then, goes unscored (README).
    ///
    /// A table of whole days (its first and last rows at midnight: dates,
    /// or times cut to the day) says nothing about how much of a day it
    /// holds, so neither time rule applies to it.
    pub fn partial_edges(
        &self,
        zone: zone::Zone,
        gap: chrono::TimeDelta,
        loaded_at: chrono::DateTime<chrono::Utc>,
    ) -> Vec<(Day, Partial)> {
        let (Some(first_ts), Some(last_ts), Some((first, last))) = (self.first, self.last, self.days(zone)) else {
            return Vec::new();
        };
        let today = zone.day_of(&loaded_at.naive_utc());
        // Midnight in UTC (a DATE read as a timestamp) or in the zone.
        let midnight = |t: NaiveDateTime| t.time() == chrono::NaiveTime::MIN || t == zone.start_of(zone.day_of(&t));
        let timed = !(midnight(first_ts) && midnight(last_ts));
        let extract = self.is_extract(loaded_at);
        let mut out = Vec::new();
        for day in if first == last { vec![first] } else { vec![first, last] } {
            if day >= today {
                out.push((day, Partial::LoadDay));
            } else if day == first && timed && first_ts - zone.start_of(first) > gap {
                out.push((day, Partial::FirstDay));
            } else if day == last && timed && extract && zone.start_of(last.next()) - last_ts > gap {
                out.push((day, Partial::LastDay));
            }
        }
        out
    }

    /// The days of [`Bounds::partial_edges`].
    pub fn partial_days(
        &self,
        zone: zone::Zone,
        gap: chrono::TimeDelta,
        loaded_at: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Day> {
        self.partial_edges(zone, gap, loaded_at).into_iter().map(|(d, _)| d).collect()
    }
}

/// Raw rows of one service-day, as JSON objects keyed by column name.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// How far a long warehouse call has got, readable while it runs (the
/// terminal's progress bar, the app's loading bar). Warehouses that cannot
/// count rows leave them at zero and say what they wait for in the stage.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<[AtomicU64; 3]>);

/// What a load is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading rows (counted by `done` and `total`).
    Reading,
    /// A remote warehouse is starting up (a statement stays PENDING for
    /// minutes while a Databricks SQL warehouse boots).
    WarehouseStarting,
    /// A remote warehouse runs the query; it does not say how far it is.
    Querying,
    /// The result is being downloaded.
    Downloading,
}

impl Stage {
    /// Every stage, indexed by the code [`Progress`] stores.
    const ALL: [Stage; 4] = [Stage::Reading, Stage::WarehouseStarting, Stage::Querying, Stage::Downloading];

    /// The name `/api/progress` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Reading => "reading",
            Stage::WarehouseStarting => "warehouse_starting",
            Stage::Querying => "querying",
            Stage::Downloading => "downloading",
        }
    }
}

impl Progress {
    pub fn set_stage(&self, stage: Stage) {
        self.0[2].store(stage as u64, Ordering::Relaxed);
    }

    /// Whether both are the same load's progress.
    pub fn same(&self, other: &Progress) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub fn stage(&self) -> Stage {
        Stage::ALL.get(self.0[2].load(Ordering::Relaxed) as usize).copied().unwrap_or(Stage::Reading)
    }

    /// `done` of `total` rows read; `total` 0 when unknown.
    pub fn set(&self, done: u64, total: u64) {
        self.0[0].store(done, Ordering::Relaxed);
        self.0[1].store(total, Ordering::Relaxed);
    }

    /// `(done, total)` rows.
    pub fn get(&self) -> (u64, u64) {
        (self.0[0].load(Ordering::Relaxed), self.0[1].load(Ordering::Relaxed))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("the query was cancelled")]
    Cancelled,
    /// The warehouse refused the credentials (401/403); says whose and why,
    /// never the token.
    #[error("not authorised: {0}")]
    NotAuthorised(String),
    /// The table does not exist or the caller may not read it (Unity
    /// Catalog answers both the same way).
    #[error("table {0} not found or no SELECT permission")]
    TableUnavailable(String),
    /// Throttled or unavailable after every retry the budget allowed.
    #[error("the warehouse is busy or unavailable: {0}")]
    Unavailable(String),
    /// The table's content cannot be read as expected (e.g. missing column).
    #[error("the table cannot be read: {0}")]
    Data(#[source] Failure),
    /// A setting names a column the table does not have: the configuration
    /// and the table disagree, and only a person can say which is right.
    #[error("the table has no column `{column}` (setting `{setting}`); its columns are: {}", have.join(", "))]
    MissingColumn { column: String, setting: &'static str, have: Vec<String> },
    /// Anything else the engine reported; logged, never sent to clients.
    #[error("warehouse query failed: {0}")]
    Query(#[source] Failure),
}

impl WarehouseError {
    pub fn data(f: impl Into<Failure>) -> WarehouseError {
        WarehouseError::Data(f.into())
    }

    pub fn query(f: impl Into<Failure>) -> WarehouseError {
        WarehouseError::Query(f.into())
    }
}

/// What a failed read says for the log: a message, and the error behind it
/// when there is one, kept whole (not flattened into text) so the log can
/// show its chain.
#[derive(Debug)]
pub struct Failure {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Failure {
    /// `message` about `cause`.
    pub fn with(message: impl Into<String>, cause: impl std::error::Error + Send + Sync + 'static) -> Failure {
        Failure { message: message.into(), source: Some(Box::new(cause)) }
    }

    /// `cause` itself, its text as the message.
    pub fn of(cause: impl std::error::Error + Send + Sync + 'static) -> Failure {
        Failure { message: cause.to_string(), source: Some(Box::new(cause)) }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure { message, source: None }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        message.to_string().into()
    }
}

#[async_trait]
pub trait Warehouse: Send + Sync + 'static {
    /// `embedded`, `databricks`, `spark`.
    fn kind(&self) -> &'static str;

    /// Callers with the same scope may share cached results.
    fn cache_scope(&self, _caller: &Caller) -> String {
        String::new()
    }

    /// Reports how many raw rows it has read to `progress` as it goes.
    async fn daily(
        &self,
        q: &DailyQuery,
        caller: &Caller,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Aggregates, WarehouseError>;

    /// The table's column names, as the table spells them: which of the
    /// optional columns (amount, dimensions) it has
    /// ([`crate::view::Available::resolve`]).
    async fn columns(&self, caller: &Caller, cancel: &CancellationToken) -> Result<Vec<String>, WarehouseError>;

    /// Reports its stage to `progress` (a remote warehouse that is starting
    /// keeps the first statement of a load waiting).
    async fn bounds(
        &self,
        caller: &Caller,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Bounds, WarehouseError>;

    async fn transactions(
        &self,
        service: &str,
        day: Day,
        limit: u32,
        caller: &Caller,
        cancel: &CancellationToken,
    ) -> Result<Rows, WarehouseError>;
}

#[cfg(test)]
mod tests {
    use super::{zone, Bounds, Partial, Progress, Stage};
    use servicewatch_shared::Day;

    #[test]
    fn the_last_day_is_partial_on_the_load_day_or_where_an_extract_stops() {
        let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let at = |s: &str| t(s).and_utc();
        let day = |s: &str| Day::parse(s).unwrap();
        let bounds = |first: &str, last: &str| Bounds {
            first: Some(t(first)),
            last: Some(t(last)),
            rows: 1,
            dropped: Default::default(),
        };
        let (utc, hour) = (zone::Zone::UTC, chrono::TimeDelta::minutes(60));
        // Quiet from 21:00: the last day ends three hours early, but it is
        // past when the table is read, so complete.
        let quiet = bounds("2024-03-01 00:10", "2024-03-31 20:59");
        assert_eq!(quiet.partial_edges(utc, hour, at("2024-04-01 00:05")), vec![]);
        // Read the same day, it is still running, however late its last row.
        let late = bounds("2024-03-01 00:10", "2024-03-31 23:59");
        assert_eq!(late.partial_edges(utc, hour, at("2024-03-31 08:00")), vec![(day("2024-03-31"), Partial::LoadDay)]);
        // The first day: partial when it starts later than the gap into it.
        let noon = bounds("2024-03-01 12:00", "2024-03-31 20:59");
        let first = vec![(day("2024-03-01"), Partial::FirstDay)];
        assert_eq!(noon.partial_edges(utc, hour, at("2024-04-02 00:00")), first);
        assert_eq!(noon.partial_edges(utc, chrono::TimeDelta::minutes(720), at("2024-04-02 00:00")), vec![]);
        // A table a week idle is an extract: its last day is judged by its
        // last row, as the first day by its first.
        let ends_early = vec![(day("2024-03-01"), Partial::FirstDay), (day("2024-03-31"), Partial::LastDay)];
        assert_eq!(noon.partial_edges(utc, hour, at("2024-05-01 00:00")), ends_early);
        assert_eq!(noon.partial_edges(utc, hour, at("2024-04-07 21:00")), ends_early);
        assert_eq!(noon.partial_edges(utc, hour, at("2024-04-07 20:59")), first, "a week to the minute: still live");
        assert_eq!(late.partial_edges(utc, hour, at("2024-05-01 00:00")), vec![], "it stops at 23:59: complete");
        assert_eq!(noon.partial_edges(utc, chrono::TimeDelta::minutes(720), at("2024-05-01 00:00")), vec![]);
        // An extract of one day: the first day's rule names it first.
        let one = bounds("2024-03-01 12:00", "2024-03-01 13:00");
        assert_eq!(one.partial_edges(utc, hour, at("2024-05-01 00:00")), first);
        let morning = bounds("2024-03-01 00:00", "2024-03-01 13:00");
        assert_eq!(
            morning.partial_edges(utc, hour, at("2024-05-01 00:00")),
            vec![(day("2024-03-01"), Partial::LastDay)]
        );
        // The load's day is the zone's: 22:30 UTC on the 31st is April 1st in Paris.
        let paris = zone::Zone::parse("Europe/Paris").unwrap();
        // (00:10 UTC is 01:10 in Paris, so its first day starts late.)
        let first = vec![(day("2024-03-01"), Partial::FirstDay)];
        assert_eq!(quiet.partial_edges(paris, hour, at("2024-03-31 22:30")), first);
        assert_eq!(quiet.partial_edges(utc, hour, at("2024-03-31 22:30")), vec![(day("2024-03-31"), Partial::LoadDay)]);
        // Whole days (dates, or times at midnight): nothing to judge by.
        let dates = bounds("2024-03-01 00:00", "2024-03-31 00:00");
        assert_eq!(dates.partial_edges(utc, hour, at("2024-05-01 00:00")), vec![]);
        assert_eq!(dates.partial_edges(paris, hour, at("2024-05-01 00:00")), vec![]);
        // In summer a UTC midnight is 02:00 in Paris: still whole days.
        let summer = bounds("2024-06-01 00:00", "2024-06-30 00:00");
        assert_eq!(summer.partial_edges(paris, hour, at("2024-08-01 00:00")), vec![]);
    }

    #[test]
    fn a_stage_reads_back_as_set() {
        let p = Progress::default();
        assert_eq!(p.stage(), Stage::Reading);
        for s in Stage::ALL {
            p.set_stage(s);
            assert_eq!(p.stage(), s);
        }
    }
}
