//! The audit trail in a SQLite file (rusqlite with its bundled SQLite, so
//! no system library is needed). The schema is versioned with
//! `PRAGMA user_version` and migrated forward in one transaction at open;
//! a file from a newer build is refused rather than written wrongly.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use servicewatch_shared::wire::AuditRecord;
use servicewatch_shared::Day;

use super::{AuditQuery, Store, StoreError};

/// Each entry moves the schema from version i to i + 1.
const MIGRATIONS: &[&str] = &["CREATE TABLE audit (
        series      TEXT    NOT NULL,
        day         TEXT    NOT NULL,
        method      TEXT    NOT NULL,
        params      TEXT    NOT NULL,
        value       INTEGER NOT NULL,
        center      REAL    NOT NULL,
        z           REAL    NOT NULL,
        day_factor  REAL    NOT NULL,
        recorded_at TEXT    NOT NULL,
        recorded_by TEXT    NOT NULL,
        PRIMARY KEY (series, day, method, params)
    );
    CREATE INDEX audit_by_time ON audit (recorded_at);"];

pub struct Sqlite {
    path: String,
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// Opens (or creates) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Sqlite, StoreError> {
        let shown = path.display().to_string();
        let open_err = |e: rusqlite::Error| StoreError::Open { path: shown.clone(), source: Box::new(e) };
        let mut conn = Connection::open(path).map_err(open_err)?;
        // Another process (a scan while the server runs) may hold the lock
        // for a moment: wait for it rather than fail.
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(open_err)?;
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(open_err)?;
        let supported = MIGRATIONS.len() as i64;
        if found > supported {
            return Err(StoreError::Newer { path: shown, found, supported });
        }
        let tx = conn.transaction().map_err(open_err)?;
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql).map_err(open_err)?;
            tx.pragma_update(None, "user_version", version as i64 + 1).map_err(open_err)?;
        }
        tx.commit().map_err(open_err)?;
        Ok(Sqlite { path: shown, conn: Mutex::new(conn) })
    }

    /// Where the file is (for messages).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent
        // (the transaction rolls back): keep using the connection.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for Sqlite {
    fn record(&self, rows: &[AuditRecord]) -> Result<usize, StoreError> {
        let write = |e: rusqlite::Error| StoreError::Write(Box::new(e));
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(write)?;
        let mut added = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO audit (series, day, method, params, value, center, z, day_factor, \
                     recorded_at, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(write)?;
            for r in rows {
                let value = i64::try_from(r.value).map_err(|_| {
                    StoreError::Invalid(format!("{} on {}: count {} too large", r.series, r.date, r.value))
                })?;
                added += insert
                    .execute(params![
                        r.series,
                        r.date.to_string(),
                        r.method,
                        r.params,
                        value,
                        r.center,
                        r.z,
                        r.day_factor,
                        r.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        r.recorded_by,
                    ])
                    .map_err(write)?;
            }
        }
        tx.commit().map_err(write)?;
        Ok(added)
    }

    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Read(Box::new(e));
        let time = |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        let conn = self.conn();
        let mut select = conn
            .prepare_cached(
                "SELECT series, day, method, params, value, center, z, day_factor, recorded_at, recorded_by FROM audit \
                 WHERE (?1 IS NULL OR recorded_at >= ?1) AND (?2 IS NULL OR recorded_at < ?2) \
                 AND (?3 IS NULL OR series = ?3) ORDER BY recorded_at, series, day LIMIT ?4",
            )
            .map_err(read)?;
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let rows = select
            .query_map(params![time(&q.since), time(&q.until), q.series, limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, f64>(6)?,
                    r.get::<_, f64>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                ))
            })
            .map_err(read)?;
        let mut out = Vec::new();
        for row in rows {
            let (series, day, method, params, value, center, z, day_factor, at, by) = row.map_err(read)?;
            let bad = |what: &str| StoreError::Invalid(format!("stored {what} of {series} is unreadable"));
            out.push(AuditRecord {
                date: Day::parse(&day).map_err(|_| bad("day"))?,
                value: u64::try_from(value).map_err(|_| bad("count"))?,
                recorded_at: DateTime::parse_from_rfc3339(&at).map_err(|_| bad("time"))?.with_timezone(&Utc),
                series,
                method,
                params,
                center,
                z,
                day_factor,
                recorded_by: by,
            });
        }
        Ok(out)
    }
}

/// The schema version of the store at `path`, if it exists (for tests and
/// diagnostics).
pub fn schema_version(path: &Path) -> Result<Option<i64>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open(path)
        .map_err(|e| StoreError::Open { path: path.display().to_string(), source: Box::new(e) })?;
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).optional().map_err(|e| StoreError::Read(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(series: &str, day: &str, z: f64, at: &str) -> AuditRecord {
        AuditRecord {
            series: series.into(),
            date: Day::parse(day).unwrap(),
            method: "robust+weekly".into(),
            params: "z=3;min_days=7;min_count=0;direction=both".into(),
            value: 90,
            center: 40.0,
            z,
            day_factor: 1.0,
            recorded_at: DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc),
            recorded_by: "scan".into(),
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("servicewatch-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        dir
    }

    #[test]
    fn the_same_scan_twice_records_one_set() {
        let path = temp("idem");
        let store = Sqlite::open(&path).unwrap();
        let rows = vec![
            row("brakes", "2024-03-01", 5.0, "2024-03-02T06:00:00Z"),
            row("tyres", "2024-03-01", -4.0, "2024-03-02T06:00:00Z"),
        ];
        assert_eq!(store.record(&rows).unwrap(), 2);
        // The next run sees the same days with a later time: nothing new.
        let again: Vec<_> = rows
            .iter()
            .map(|r| AuditRecord { recorded_at: r.recorded_at + chrono::Duration::hours(24), ..r.clone() })
            .collect();
        assert_eq!(store.record(&again).unwrap(), 0);
        // Other parameters are another record.
        let other = AuditRecord { params: "z=4;min_days=7;min_count=0;direction=both".into(), ..rows[0].clone() };
        assert_eq!(store.record(&[other]).unwrap(), 1);
        let all = store.audit(&AuditQuery { limit: 100, ..Default::default() }).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], rows[0]); // read back exactly as written
        drop(store);
        // Reopening keeps the rows and the schema.
        let store = Sqlite::open(&path).unwrap();
        assert_eq!(store.audit(&AuditQuery { limit: 100, ..Default::default() }).unwrap().len(), 3);
        assert_eq!(schema_version(&path).unwrap(), Some(MIGRATIONS.len() as i64));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn the_trail_is_read_back_by_time_and_series() {
        let path = temp("query");
        let store = Sqlite::open(&path).unwrap();
        store
            .record(&[
                row("brakes", "2024-03-01", 5.0, "2024-03-02T06:00:00Z"),
                row("tyres", "2024-03-01", 4.0, "2024-03-02T06:00:00Z"),
                row("brakes", "2024-03-08", 6.0, "2024-03-09T06:00:00Z"),
            ])
            .unwrap();
        let t = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        let q = |since, until, series: Option<&str>, limit| {
            store.audit(&AuditQuery { since, until, series: series.map(str::to_string), limit }).unwrap()
        };
        assert_eq!(q(t("2024-03-03T00:00:00Z"), None, None, 10).len(), 1);
        assert_eq!(q(None, t("2024-03-03T00:00:00Z"), None, 10).len(), 2);
        let brakes = q(None, None, Some("brakes"), 10);
        assert_eq!(brakes.iter().map(|r| r.date.to_string()).collect::<Vec<_>>(), ["2024-03-01", "2024-03-08"]);
        assert_eq!(q(None, None, None, 1).len(), 1);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_failed_write_is_an_error_and_a_newer_file_is_refused() {
        let path = temp("newer");
        let store = Sqlite::open(&path).unwrap();
        {
            let conn = store.conn();
            conn.pragma_update(None, "user_version", 99).unwrap();
            // A write that cannot happen: the table is gone.
            conn.execute_batch("DROP TABLE audit").unwrap();
        }
        let err = store.record(&[row("brakes", "2024-03-01", 5.0, "2024-03-02T06:00:00Z")]).unwrap_err();
        assert!(matches!(err, StoreError::Write(_)), "{err}");
        drop(store);
        let err = Sqlite::open(&path).err().unwrap();
        assert!(err.to_string().contains("schema version 99"), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
