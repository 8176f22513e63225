//! The audit trail, marks and alert outbox in a SQLite file (rusqlite with
//! its bundled SQLite, so no system library is needed). The schema is
//! versioned with `PRAGMA user_version` and migrated forward in one
//! transaction at open; a file from a newer build is refused rather than
//! written wrongly.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use servicewatch_shared::wire::{Alert, AuditRecord, Mark, MarkKind};
use servicewatch_shared::Day;

use super::{AuditQuery, MarkQuery, Store, StoreError};

/// Each entry moves the schema from version i to i + 1. Released entries
/// are never edited: files in the field were made by them.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE audit (
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
    CREATE INDEX audit_by_time ON audit (recorded_at);",
    // Marks are events, never updated: `id` orders events with the same time.
    "CREATE TABLE marks (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        series    TEXT    NOT NULL,
        day       TEXT    NOT NULL,
        kind      TEXT    NOT NULL CHECK (kind IN ('expected', 'confirmed', 'cleared')),
        note      TEXT    NOT NULL,
        marked_by TEXT    NOT NULL,
        marked_at TEXT    NOT NULL
    );
    CREATE INDEX marks_by_series_day ON marks (series, day);",
    // The alert outbox: a row per idempotency key, pending while
    // `delivered_at` is NULL.
    "CREATE TABLE alerts (
        key             TEXT    PRIMARY KEY,
        payload         TEXT    NOT NULL,
        queued_at       TEXT    NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        last_attempt_at TEXT,
        delivered_at    TEXT
    );
    CREATE INDEX alerts_pending ON alerts (queued_at) WHERE delivered_at IS NULL;",
];

/// Times are stored as fixed-width RFC 3339 UTC text, so text order is time order.
fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn kind_text(kind: MarkKind) -> &'static str {
    match kind {
        MarkKind::Expected => "expected",
        MarkKind::Confirmed => "confirmed",
        MarkKind::Cleared => "cleared",
    }
}

fn parse_kind(text: &str) -> Option<MarkKind> {
    [MarkKind::Expected, MarkKind::Confirmed, MarkKind::Cleared].into_iter().find(|&k| kind_text(k) == text)
}

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

    /// Counts one delivery attempt of the alert `key` with `sql`; an
    /// unknown key is an error (the caller lost track of the outbox).
    fn attempted(&self, key: &str, sql: &str, args: impl rusqlite::Params) -> Result<(), StoreError> {
        let changed = self
            .conn()
            .prepare_cached(sql)
            .and_then(|mut update| update.execute(args))
            .map_err(|e| StoreError::Write(Box::new(e)))?;
        match changed {
            0 => Err(StoreError::Invalid(format!("no queued alert has the key {key}"))),
            _ => Ok(()),
        }
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
                        time_text(r.recorded_at),
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
        let time = |t: &Option<DateTime<Utc>>| t.map(time_text);
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

    fn add_mark(&self, m: &Mark) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "INSERT INTO marks (series, day, kind, note, marked_by, marked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    m.series,
                    m.date.to_string(),
                    kind_text(m.kind),
                    m.note,
                    m.marked_by,
                    time_text(m.marked_at)
                ])
            })
            .map_err(|e| StoreError::Write(Box::new(e)))?;
        Ok(())
    }

    fn marks(&self, q: &MarkQuery) -> Result<Vec<Mark>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Read(Box::new(e));
        let sql = if q.history {
            "SELECT series, day, kind, note, marked_by, marked_at FROM marks \
             WHERE (?1 IS NULL OR series = ?1) AND (?2 IS NULL OR day = ?2) ORDER BY marked_at, id"
        } else {
            // A series-day's current mark is its newest event; a cleared one is no mark.
            "SELECT series, day, kind, note, marked_by, marked_at FROM ( \
               SELECT *, ROW_NUMBER() OVER (PARTITION BY series, day ORDER BY marked_at DESC, id DESC) AS newest \
               FROM marks WHERE (?1 IS NULL OR series = ?1) AND (?2 IS NULL OR day = ?2)) \
             WHERE newest = 1 AND kind <> 'cleared' ORDER BY series, day"
        };
        let conn = self.conn();
        let mut select = conn.prepare_cached(sql).map_err(read)?;
        let rows = select
            .query_map(params![q.series, q.date.map(|d| d.to_string())], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(read)?;
        let mut out = Vec::new();
        for row in rows {
            let (series, day, kind, note, by, at) = row.map_err(read)?;
            let bad = |what: &str| StoreError::Invalid(format!("stored mark {what} of {series} is unreadable"));
            out.push(Mark {
                date: Day::parse(&day).map_err(|_| bad("day"))?,
                kind: parse_kind(&kind).ok_or_else(|| bad("kind"))?,
                marked_at: DateTime::parse_from_rfc3339(&at).map_err(|_| bad("time"))?.with_timezone(&Utc),
                series,
                note,
                marked_by: by,
            });
        }
        Ok(out)
    }

    fn enqueue_alerts(&self, alerts: &[Alert], at: DateTime<Utc>) -> Result<usize, StoreError> {
        let write = |e: rusqlite::Error| StoreError::Write(Box::new(e));
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(write)?;
        let mut added = 0;
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO alerts (key, payload, queued_at) VALUES (?1, ?2, ?3)")
                .map_err(write)?;
            for a in alerts {
                // JSON writes a NaN as null, which would not read back: refuse
                // it here rather than leave a row no run can deliver.
                let payload = serde_json::to_string(a)
                    .ok()
                    .filter(|p| serde_json::from_str::<Alert>(p).is_ok())
                    .ok_or_else(|| StoreError::Invalid(format!("alert {} cannot be stored", a.idempotency_key)))?;
                added += insert.execute(params![a.idempotency_key, payload, time_text(at)]).map_err(write)?;
            }
        }
        tx.commit().map_err(write)?;
        Ok(added)
    }

    fn pending_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Read(Box::new(e));
        let conn = self.conn();
        let mut select = conn
            .prepare_cached("SELECT key, payload FROM alerts WHERE delivered_at IS NULL ORDER BY queued_at, rowid")
            .map_err(read)?;
        let rows = select.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(read)?;
        let mut out = Vec::new();
        for row in rows {
            let (key, payload) = row.map_err(read)?;
            out.push(
                serde_json::from_str(&payload)
                    .map_err(|_| StoreError::Invalid(format!("queued alert {key} is unreadable")))?,
            );
        }
        Ok(out)
    }

    fn alert_delivered(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        // A repeat keeps the first delivery time.
        self.attempted(
            key,
            "UPDATE alerts SET attempts = attempts + 1, last_attempt_at = ?2, \
             delivered_at = COALESCE(delivered_at, ?2) WHERE key = ?1",
            params![key, time_text(at)],
        )
    }

    fn alert_failed(&self, key: &str, at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.attempted(
            key,
            "UPDATE alerts SET attempts = attempts + 1, last_attempt_at = ?2, last_error = ?3 WHERE key = ?1",
            params![key, time_text(at), error],
        )
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

    fn mark(series: &str, day: &str, kind: MarkKind, at: &str) -> Mark {
        Mark {
            series: series.into(),
            date: Day::parse(day).unwrap(),
            kind,
            note: format!("{kind:?} by a test"),
            marked_by: "ann@example.com".into(),
            marked_at: DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc),
        }
    }

    fn current(store: &Sqlite, series: Option<&str>, day: Option<&str>) -> Vec<(String, String, MarkKind)> {
        let q =
            MarkQuery { series: series.map(str::to_string), date: day.map(|d| Day::parse(d).unwrap()), history: false };
        store.marks(&q).unwrap().into_iter().map(|m| (m.series, m.date.to_string(), m.kind)).collect()
    }

    #[test]
    fn marks_keep_their_history_and_the_newest_is_current() {
        let path = temp("marks");
        let store = Sqlite::open(&path).unwrap();
        let events = [
            mark("brakes", "2024-03-01", MarkKind::Expected, "2024-03-02T09:00:00Z"),
            mark("tyres", "2024-03-01", MarkKind::Confirmed, "2024-03-02T09:30:00Z"),
            mark("brakes", "2024-03-01", MarkKind::Cleared, "2024-03-02T10:00:00Z"),
            mark("brakes", "2024-03-08", MarkKind::Expected, "2024-03-09T09:00:00Z"),
            mark("tyres", "2024-03-01", MarkKind::Cleared, "2024-03-03T09:00:00Z"),
            mark("tyres", "2024-03-01", MarkKind::Expected, "2024-03-03T09:00:00Z"), // same time: the later insert wins
            mark("alloy", "2024-03-01", MarkKind::Confirmed, "2024-03-04T09:00:00Z"),
        ];
        for m in &events {
            store.add_mark(m).unwrap();
        }
        // Cleared days are left out; by series, then day.
        let want = [
            ("alloy", "2024-03-01", MarkKind::Confirmed),
            ("brakes", "2024-03-08", MarkKind::Expected),
            ("tyres", "2024-03-01", MarkKind::Expected),
        ];
        let got = current(&store, None, None);
        assert_eq!(got, want.map(|(s, d, k)| (s.to_string(), d.to_string(), k)));
        // The history is every event as written, by time then insertion.
        let history = store.marks(&MarkQuery { history: true, ..Default::default() }).unwrap();
        let mut by_time = events.to_vec();
        by_time.sort_by_key(|m| m.marked_at); // stable: equal times keep insertion order
        assert_eq!(history, by_time);
        // A cleared day marked again is marked again.
        store.add_mark(&mark("brakes", "2024-03-01", MarkKind::Confirmed, "2024-03-05T09:00:00Z")).unwrap();
        assert_eq!(current(&store, Some("brakes"), Some("2024-03-01")).len(), 1);
        drop(store);
        // Reopening keeps them.
        let store = Sqlite::open(&path).unwrap();
        assert_eq!(store.marks(&MarkQuery { history: true, ..Default::default() }).unwrap().len(), events.len() + 1);
        assert_eq!(current(&store, None, None).len(), 4);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn marks_are_filtered_by_series_and_day() {
        let path = temp("marks-filter");
        let store = Sqlite::open(&path).unwrap();
        for (series, day) in [("brakes", "2024-03-01"), ("brakes", "2024-03-02"), ("tyres", "2024-03-01")] {
            store.add_mark(&mark(series, day, MarkKind::Expected, "2024-03-03T09:00:00Z")).unwrap();
        }
        store.add_mark(&mark("brakes", "2024-03-02", MarkKind::Cleared, "2024-03-03T10:00:00Z")).unwrap();
        assert_eq!(current(&store, Some("brakes"), None).len(), 1);
        assert_eq!(current(&store, None, Some("2024-03-01")).len(), 2);
        assert_eq!(current(&store, Some("tyres"), Some("2024-03-01")).len(), 1);
        assert!(current(&store, Some("brakes"), Some("2024-03-02")).is_empty(), "cleared");
        assert!(current(&store, Some("Brakes"), None).is_empty(), "names are exact");
        let q = MarkQuery { series: Some("brakes".into()), date: Day::parse("2024-03-02").ok(), history: true };
        let kinds: Vec<_> = store.marks(&q).unwrap().into_iter().map(|m| m.kind).collect();
        assert_eq!(kinds, [MarkKind::Expected, MarkKind::Cleared]);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_version_1_file_is_migrated_with_its_trail() {
        let path = temp("v1");
        {
            // A file as the first release wrote it.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO audit VALUES ('brakes', '2024-03-01', 'robust+weekly', \
                 'z=3;min_days=7;min_count=0;direction=both', 90, 40.0, 5.0, 1.0, '2024-03-02T06:00:00.000000Z', 'scan')",
                [],
            )
            .unwrap();
        }
        let store = Sqlite::open(&path).unwrap();
        assert_eq!(schema_version(&path).unwrap(), Some(MIGRATIONS.len() as i64));
        let rows = store.audit(&AuditQuery { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(rows, [row("brakes", "2024-03-01", 5.0, "2024-03-02T06:00:00Z")]);
        store.add_mark(&mark("brakes", "2024-03-01", MarkKind::Expected, "2024-03-03T09:00:00Z")).unwrap();
        assert_eq!(store.enqueue_alerts(&[alert("brakes", "2024-03-01")], Utc::now()).unwrap(), 1);
        assert_eq!(current(&store, None, None).len(), 1);
        let _ = std::fs::remove_file(&path);
    }

    fn alert(series: &str, day: &str) -> Alert {
        let anomaly = servicewatch_shared::Anomaly {
            key: series.into(),
            date: Day::parse(day).unwrap(),
            value: 90,
            center: 40.0,
            spread: 10.0,
            z: 5.0,
            day_factor: 1.0,
        };
        Alert {
            idempotency_key: format!("sw-{series}-{day}"),
            text: format!("servicewatch: {series} on {day}"),
            anomaly,
            method: "robust+weekly".into(),
            params: "z=3;min_days=7;min_count=0;direction=both".into(),
        }
    }

    /// (attempts, last error, delivered) of the alert `key`.
    fn outbox_row(store: &Sqlite, key: &str) -> (i64, Option<String>, bool) {
        store
            .conn()
            .query_row("SELECT attempts, last_error, delivered_at IS NOT NULL FROM alerts WHERE key = ?1", [key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap()
    }

    #[test]
    fn the_outbox_queues_once_and_keeps_failures_pending() {
        let path = temp("outbox");
        let store = Sqlite::open(&path).unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let (a, b, c) = (alert("brakes", "2024-03-01"), alert("tyres", "2024-03-01"), alert("alloy", "2024-03-02"));
        assert_eq!(store.enqueue_alerts(&[a.clone(), b.clone()], t("2024-03-02T06:00:00Z")).unwrap(), 2);
        // The next run flags them again and one more: only that one is new,
        // and the queue stays oldest first.
        assert_eq!(store.enqueue_alerts(&[c.clone(), b.clone(), a.clone()], t("2024-03-03T06:00:00Z")).unwrap(), 1);
        assert_eq!(store.pending_alerts().unwrap(), [a.clone(), b.clone(), c.clone()]);

        store.alert_failed(&a.idempotency_key, t("2024-03-03T06:00:01Z"), "HTTP 503").unwrap();
        store.alert_failed(&a.idempotency_key, t("2024-03-03T06:00:02Z"), "no answer within 10 s").unwrap();
        store.alert_delivered(&b.idempotency_key, t("2024-03-03T06:00:03Z")).unwrap();
        assert_eq!(store.pending_alerts().unwrap(), [a.clone(), c.clone()]);
        assert_eq!(outbox_row(&store, &a.idempotency_key), (2, Some("no answer within 10 s".into()), false));
        assert_eq!(outbox_row(&store, &b.idempotency_key), (1, None, true));
        // Delivered is never queued again.
        assert_eq!(store.enqueue_alerts(std::slice::from_ref(&b), t("2024-03-04T06:00:00Z")).unwrap(), 0);
        store.alert_delivered(&a.idempotency_key, t("2024-03-04T06:00:01Z")).unwrap();
        assert_eq!(outbox_row(&store, &a.idempotency_key), (3, Some("no answer within 10 s".into()), true));
        // An unknown key is an error, not a silent no-op.
        let err = store.alert_failed("sw-nope", t("2024-03-04T06:00:02Z"), "x").unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        drop(store);
        let store = Sqlite::open(&path).unwrap();
        assert_eq!(store.pending_alerts().unwrap(), [c]);
        // A payload that would not read back (NaN is null in JSON) is refused whole.
        let mut bad = alert("brakes", "2024-03-09");
        bad.anomaly.z = f64::NAN;
        let err = store.enqueue_alerts(&[alert("x", "2024-03-09"), bad], Utc::now()).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        assert_eq!(store.pending_alerts().unwrap().len(), 1, "nothing of a refused batch is queued");
        let _ = std::fs::remove_file(&path);
    }
}
