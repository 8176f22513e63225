//! Where the audit trail lives (and, next, analysts' marks): one small
//! trait, so that an embedded deployment keeps it in a SQLite file and a
//! Databricks one in Delta tables, with the same guarantees:
//!
//! - **Idempotent.** A flagged series-day is recorded once per (series,
//!   day, method, parameters): re-running the same scan adds nothing.
//! - **Never lost silently.** A write that fails is an error the caller
//!   sees (`scan --record` exits non-zero, the API answers 5xx), never a
//!   log line.
//!
//! The rows themselves are a wire type (`servicewatch_shared::wire::AuditRecord`),
//! so the API can return them as stored.

#[cfg(feature = "sqlite")]
pub mod sqlite;

use chrono::{DateTime, Utc};
use servicewatch_shared::wire::AuditRecord;

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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the audit store at {path}: {source}")]
    Open { path: String, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("the audit store at {path} has schema version {found}, newer than this build's {supported}: upgrade servicewatch")]
    Newer { path: String, found: i64, supported: i64 },
    #[error("cannot write the audit trail: {0}")]
    Write(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot read the audit trail: {0}")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("invalid audit row: {0}")]
    Invalid(String),
}

/// The audit trail. Calls block (SQLite is a file; the Databricks store
/// waits on statements): call them from blocking contexts.
pub trait Store: Send + Sync {
    /// Adds the rows not recorded yet (same series, day, method and
    /// parameters) in one transaction; returns how many were new.
    fn record(&self, rows: &[AuditRecord]) -> Result<usize, StoreError>;

    /// Recorded rows matching `q`, by time recorded, then series and day.
    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
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
    let method = match (method, weekly) {
        (servicewatch_shared::Method::Robust, true) => "robust+weekly".to_string(),
        (m, _) => m.to_string(),
    };
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
