//! Where the audit trail, analysts' marks and the alert outbox live: one
//! small trait, so that an embedded deployment keeps them in a SQLite file
//! and a Databricks one in Delta tables, with the same guarantees:
//!
//! - **Idempotent.** A flagged series-day is recorded once per (series,
//!   day, method, parameters): re-running the same scan adds nothing.
//! - **Never lost silently.** A write that fails is an error the caller
//!   sees (`scan --record` exits non-zero, the API answers 5xx), never a
//!   log line.
//!
//! - **History kept.** A mark is never overwritten: each one is a new
//!   event, and a series-day's current mark is its newest.
//! - **At least once.** An alert is queued before it is sent and stays
//!   pending until a delivery succeeds (its idempotency key lets a receiver
//!   drop a repeat).
//!
//! The rows themselves are wire types (`servicewatch_shared::wire::AuditRecord`,
//! `Mark`, `Alert`), so the API can return them as stored.

pub mod delta;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use chrono::{DateTime, Utc};
use servicewatch_shared::wire::{Alert, AuditRecord, Mark};
use servicewatch_shared::Day;

/// Which recorded rows to read back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    /// Recorded at or after.
    pub since: Option<DateTime<Utc>>,
    /// Recorded before.
    pub until: Option<DateTime<Utc>>,
    /// One series only.
    pub series: Option<String>,
    /// At most this many rows, oldest first.
    pub limit: usize,
}

/// Which marks to read back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MarkQuery {
    /// One series only.
    pub series: Option<String>,
    /// One day only.
    pub date: Option<Day>,
    /// Every event, oldest first, instead of each series-day's current mark.
    pub history: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the audit store at {path}: {source}")]
    Open { path: String, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("the audit store at {path} has schema version {found}, newer than this build's {supported}: upgrade servicewatch")]
    Newer { path: String, found: i64, supported: i64 },
    #[error("cannot write the audit store: {0}")]
    Write(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot read the audit store: {0}")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("invalid row: {0}")]
    Invalid(String),
}

/// The audit trail, marks and alert outbox. Calls block (SQLite is a file;
/// the Databricks store waits on statements): call them from blocking
/// contexts.
pub trait Store: Send + Sync {
    /// Adds the rows not recorded yet (same series, day, method and
    /// parameters) in one transaction; returns how many were new.
    fn record(&self, rows: &[AuditRecord]) -> Result<usize, StoreError>;

    /// Recorded rows matching `q`, by time recorded, then series and day.
    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Appends one mark event (marks are never overwritten: history is kept).
    fn add_mark(&self, mark: &Mark) -> Result<(), StoreError>;

    /// Marks matching `q`: with `q.history == false` the current mark of each series-day
    /// (its newest event), cleared ones left out; with `true` every event, oldest first.
    fn marks(&self, q: &MarkQuery) -> Result<Vec<Mark>, StoreError>;

    /// Queues alerts not queued before (by idempotency key); returns how many were new.
    fn enqueue_alerts(&self, alerts: &[Alert], at: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Alerts queued and not yet delivered, oldest first.
    fn pending_alerts(&self) -> Result<Vec<Alert>, StoreError>;

    /// Delivery succeeded.
    fn alert_delivered(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Delivery failed (kept pending; attempts counted, last error kept).
    fn alert_failed(&self, key: &str, at: DateTime<Utc>, error: &str) -> Result<(), StoreError>;
}

/// The method as the trail and alerts name it: `classic`, `robust` or
/// `robust+weekly`.
pub fn method_text(method: servicewatch_shared::Method, weekly: bool) -> String {
    match (method, weekly) {
        (servicewatch_shared::Method::Robust, true) => "robust+weekly".to_string(),
        (m, _) => m.to_string(),
    }
}

/// The audit rows for `flagged` days under one method and parameters.
pub fn records(
    flagged: &[servicewatch_shared::Anomaly],
    method: servicewatch_shared::Method,
    weekly: bool,
    params: &str,
    at: DateTime<Utc>,
    by: &str,
) -> Vec<AuditRecord> {
    let method = method_text(method, weekly);
    flagged
        .iter()
        .map(|a| AuditRecord {
            series: a.key.clone(),
            date: a.date,
            method: method.clone(),
            params: params.to_string(),
            value: a.value,
            center: a.center,
            z: a.z,
            day_factor: a.day_factor,
            recorded_at: at,
            recorded_by: by.to_string(),
        })
        .collect()
}

/// The flag parameters in the one text the trail keys rows by. The range
/// is not in it: a daily scan over a growing range flags the same days
/// again, and they must not be recorded twice.
///
/// ```
/// use servicewatch::store::params_text;
/// use servicewatch_shared::Direction;
/// assert_eq!(params_text(3.0, 7, 0, Direction::Both), "z=3;min_days=7;min_count=0;direction=both");
/// ```
pub fn params_text(z: f64, min_days: u32, min_count: u64, direction: servicewatch_shared::Direction) -> String {
    format!("z={z};min_days={min_days};min_count={min_count};direction={direction}")
}

/// Where the audit trail lives when not told: `servicewatch/audit.sqlite3`
/// in `$XDG_DATA_HOME`, else `~/.local/share`.
pub fn default_path() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".local/share")))?;
    Some(base.join("servicewatch").join("audit.sqlite3"))
}
