//! What the page shows for the current controls: the cheap stage's output,
//! one engine call ([`Scores::anomalies`]) plus the engine's count of the
//! services it can flag. Pure (no browser), so it is tested natively.

use servicewatch_shared::{wire, Anomaly, FlagParams, Metric, Metrics, Scores};

use crate::float_text::shortest;
use crate::unit::Unit;

/// The most rows the table pages through (sorted by |z| first).
pub const TABLE_ROWS: usize = 1000;

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub metrics: Metrics,
    pub rows: Vec<Anomaly>,
    /// Selected services the flags can reach under these controls (scored,
    /// with enough history).
    pub eligible_services: usize,
    /// Selected services.
    pub services: usize,
    /// Milliseconds the engine took for this summary (flags and ranking),
    /// shown to timing scripts as `data-engine-ms` (set by the caller,
    /// which has the clock).
    pub engine_ms: f64,
}

impl Summary {
    /// The answer to `params`: metrics, the `limit` most unusual flagged
    /// days, and how many of the selected services could be flagged.
    pub fn new(scores: &Scores, params: &FlagParams, limit: usize) -> Summary {
        let answer = scores.anomalies(params, limit);
        let counts = scores.service_counts(params);
        Summary {
            metrics: answer.metrics,
            rows: answer.anomalies,
            eligible_services: counts.flaggable,
            services: counts.selected,
            engine_ms: 0.0,
        }
    }

    /// Why nothing is flagged, naming the setting that holds flags back;
    /// `None` when there are rows.
    pub fn empty_reason(&self, params: &FlagParams, unit: Unit) -> Option<String> {
        if !self.rows.is_empty() {
            return None;
        }
        Some(if self.services > 0 && self.eligible_services == 0 {
            format!("No service has {} days of history in this range: lower the minimum history.", params.min_days)
        } else if unit.metric == Metric::Amount {
            format!(
                "Nothing reaches |z| ≥ {} with an amount of at least {}: lower the threshold or the minimum amount.",
                shortest(params.z),
                unit.exact(params.min_count)
            )
        } else {
            format!(
                "Nothing reaches |z| ≥ {} with at least {} transactions: lower the threshold or the minimum count.",
                shortest(params.z),
                params.min_count
            )
        })
    }
}

/// Flagged rows as CSV, with the API's column names: counts exactly as
/// `scan --format csv` prints them ([`wire::csv`]); amounts, their
/// baselines and spreads in major units (`1234.50`), as the page shows them.
/// (A count's unit has no decimals: its values are written as they are.)
pub fn csv(rows: &[Anomaly], unit: Unit) -> String {
    wire::csv_with(rows, |a| {
        let major = |v: f64| shortest(unit.major(v));
        [unit.exact(a.value), major(a.center), major(a.spread), shortest(a.z), shortest(a.day_factor)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicewatch_shared::{BaselineParams, Day, Method, Panel};

    fn scores() -> Scores {
        let mut b = Panel::builder();
        let days: Vec<Day> = (0..60).map(Day).collect();
        let mut spiky: Vec<u64> = (0..60).map(|i| 40 + (i * 7 % 11)).collect();
        spiky[45] = 200;
        b.push("flat", &days, &[5; 60]).unwrap();
        b.push("spiky", &days, &spiky).unwrap();
        b.push("short", &days[..12], &spiky[..12]).unwrap();
        Scores::compute(&b.build(), &BaselineParams { method: Method::Classic, ..Default::default() })
    }

    #[test]
    fn the_summary_is_the_engines_answer() {
        let s = scores();
        for services in [None, Some(vec![1]), Some(vec![0, 2])] {
            for z in [1.0, 3.0, 9.0] {
                let p = FlagParams { z, services: services.clone(), ..FlagParams::default() };
                let sum = Summary::new(&s, &p, TABLE_ROWS);
                let answer = s.anomalies(&p, TABLE_ROWS);
                assert_eq!((sum.metrics, sum.rows), (answer.metrics, answer.anomalies), "{p:?}");
            }
        }
        let all = Summary::new(&s, &FlagParams::default(), TABLE_ROWS);
        assert_eq!(all.rows[0].key, "spiky");
        assert_eq!(all.rows[0].date, Day(45));
        // The flat service has the history but no baseline to flag against.
        assert_eq!((all.services, all.eligible_services), (3, 2));
        let picked = Summary::new(&s, &FlagParams { services: Some(vec![0]), ..FlagParams::default() }, 10);
        assert_eq!((picked.services, picked.eligible_services), (1, 0));
    }

    #[test]
    fn a_mark_rescores_and_its_undo_gives_the_same_answer_back() {
        use crate::state::{apply_mark, Controls};
        let mut b = Panel::builder();
        let days: Vec<Day> = (0..90).map(Day).collect();
        let mut spiky: Vec<u64> = (0..90).map(|i| 40 + (i * 7 % 11)).collect();
        spiky[45] = 200;
        spiky[47] = 190;
        b.push("spiky", &days, &spiky).unwrap();
        let panel = b.build();
        let c = Controls::default();
        let answer = |marks: &[servicewatch_shared::wire::Mark]| {
            let s = Scores::compute(&panel, &c.baseline_params(Default::default(), marks));
            Summary::new(&s, &c.flag_params(None), TABLE_ROWS)
        };
        let mark = |kind: &str| {
            serde_json::from_value(serde_json::json!({
                "series": "spiky", "date": Day(45).to_string(), "kind": kind, "note": "promotion",
                "marked_by": "ana", "marked_at": "2026-11-25T10:00:00Z",
            }))
            .unwrap()
        };
        let before = answer(&[]);
        let mut marks = Vec::new();
        apply_mark(&mut marks, mark("expected"));
        let marked = answer(&marks);
        assert_ne!(marked.rows, before.rows, "the day left out moves the other days' baselines");
        apply_mark(&mut marks, mark("cleared"));
        assert!(marks.is_empty());
        assert_eq!(answer(&marks), before);
    }

    #[test]
    fn amounts_export_in_major_units() {
        let row = Anomaly {
            key: "Brakes, front · card".into(),
            date: Day::parse("2024-03-01").unwrap(),
            value: 123450,
            center: 4000.0,
            spread: 1050.0,
            z: 5.0,
            day_factor: 1.0,
        };
        let rows = [row];
        assert_eq!(csv(&rows, Unit::default()), wire::csv(&rows));
        assert_eq!(
            csv(&rows, Unit::new(Metric::Amount, 2)),
            "key,date,value,center,spread,z,day_factor\n\"Brakes, front · card\",2024-03-01,1234.50,40,10.5,5,1\n"
        );
    }

    #[test]
    fn the_empty_state_names_the_setting_that_holds_flags_back() {
        let s = scores();
        let p = FlagParams::default();
        let count = Unit::default();
        assert_eq!(Summary::new(&s, &p, TABLE_ROWS).empty_reason(&p, count), None);
        let history = FlagParams { min_days: 365, ..FlagParams::default() };
        let why = Summary::new(&s, &history, TABLE_ROWS).empty_reason(&history, count).unwrap();
        assert_eq!(why, "No service has 365 days of history in this range: lower the minimum history.");
        let high = FlagParams { z: 50.0, min_count: 3, ..FlagParams::default() };
        let why = Summary::new(&s, &high, TABLE_ROWS).empty_reason(&high, count).unwrap();
        assert!(why.starts_with("Nothing reaches |z| ≥ 50 with at least 3 transactions"), "{why}");
        let cents = Unit::new(Metric::Amount, 2);
        let why = Summary::new(&s, &high, TABLE_ROWS).empty_reason(&high, cents).unwrap();
        assert!(why.starts_with("Nothing reaches |z| ≥ 50 with an amount of at least 0.03: "), "{why}");
        // Only the flat service selected: nothing can be flagged, and the
        // engine's count says so.
        let flat = FlagParams { services: Some(vec![0]), ..FlagParams::default() };
        let why = Summary::new(&s, &flat, TABLE_ROWS).empty_reason(&flat, count).unwrap();
        assert!(why.contains("minimum history"), "{why}");
    }
}
