//! The app's state: its controls, their round trip through the URL query
//! string so a copied link reopens the same view (names match the API's
//! parameters), and the engine parameters they stand for. Starts from the
//! engine's defaults ([`FlagParams::default`], [`BaselineParams::default`]).
//! Also the analysts' marks: which days they leave out of their series'
//! baselines, and the current marks after one more is stored.

use servicewatch_shared::wire::{exclusions, Mark};
use servicewatch_shared::{BaselineParams, Day, Direction, FlagParams, Method};

#[derive(Clone, Debug, PartialEq)]
pub struct Controls {
    pub from: Option<Day>,
    pub to: Option<Day>,
    pub z: f64,
    pub min_days: u32,
    pub min_count: u64,
    pub direction: Direction,
    pub method: Method,
    pub weekly: bool,
    pub services: Vec<String>,
    /// The service the chart shows (set by clicking a row).
    pub focus: Option<String>,
}

impl Default for Controls {
    fn default() -> Self {
        let (b, f) = (BaselineParams::default(), FlagParams::default());
        Controls {
            from: b.from,
            to: b.to,
            z: f.z,
            min_days: f.min_days,
            min_count: f.min_count,
            direction: f.direction,
            method: b.method,
            weekly: b.weekly,
            services: Vec::new(),
            focus: None,
        }
    }
}

impl Controls {
    /// The expensive stage's parameters: range, method, weekly, the days
    /// the data covers only in part, and the days analysts marked (left out
    /// of their series' baselines).
    pub fn baseline_params(&self, partial: Vec<Day>, marks: &[Mark]) -> BaselineParams {
        BaselineParams {
            from: self.from,
            to: self.to,
            method: self.method,
            weekly: self.weekly,
            partial,
            // As the server leaves them out for /api/anomalies.
            exclude: exclusions(marks),
            ..Default::default()
        }
    }

    /// The cheap stage's parameters, for `services` (panel indices; `None`
    /// = all).
    pub fn flag_params(&self, services: Option<Vec<usize>>) -> FlagParams {
        FlagParams {
            z: self.z,
            min_days: self.min_days,
            min_count: self.min_count,
            direction: self.direction,
            services,
        }
    }

    /// Reads `?from=..&z=..`; anything unreadable keeps its default.
    pub fn from_query(query: &str) -> Controls {
        let mut c = Controls::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (k, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(raw);
            match k {
                "from" => c.from = Day::parse(&v).ok(),
                "to" => c.to = Day::parse(&v).ok(),
                "z" => c.z = v.parse().ok().filter(|z: &f64| z.is_finite() && *z >= 0.0).unwrap_or(c.z),
                "min_days" => c.min_days = v.parse().unwrap_or(c.min_days),
                "min_count" => c.min_count = v.parse().unwrap_or(c.min_count),
                "direction" => c.direction = v.parse().unwrap_or(c.direction),
                "method" => c.method = v.parse().unwrap_or(c.method),
                // As the API reads it: true/1, false/0.
                "weekly" => {
                    c.weekly = match v.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => c.weekly,
                    }
                }
                // One name per `services=`, exactly (a comma inside one is
                // `%2C`); a raw `,` still separates names, as older links
                // wrote them. A name given twice is kept once.
                "services" => {
                    for name in raw.split(',').map(decode).filter(|s| !s.is_empty()) {
                        if !c.services.contains(&name) {
                            c.services.push(name);
                        }
                    }
                }
                "focus" => c.focus = Some(v).filter(|s| !s.is_empty()),
                _ => {}
            }
        }
        c
    }

    /// The query string for this state (only what differs from defaults).
    pub fn to_query(&self) -> String {
        let d = Controls::default();
        let mut parts = Vec::new();
        if let Some(f) = self.from {
            parts.push(format!("from={f}"));
        }
        if let Some(t) = self.to {
            parts.push(format!("to={t}"));
        }
        if self.z != d.z {
            parts.push(format!("z={}", self.z));
        }
        if self.min_days != d.min_days {
            parts.push(format!("min_days={}", self.min_days));
        }
        if self.min_count != d.min_count {
            parts.push(format!("min_count={}", self.min_count));
        }
        if self.direction != d.direction {
            parts.push(format!("direction={}", self.direction));
        }
        if self.method != d.method {
            parts.push(format!("method={}", self.method));
        }
        if self.weekly != d.weekly {
            parts.push(format!("weekly={}", self.weekly));
        }
        // Repeated, as the API takes them: no name can be split wrongly.
        for s in &self.services {
            parts.push(format!("services={}", encode(s)));
        }
        if let Some(f) = &self.focus {
            parts.push(format!("focus={}", encode(f)));
        }
        parts.join("&")
    }
}

/// The current mark of a series-day, if it has one.
pub fn mark_of<'a>(marks: &'a [Mark], series: &str, date: Day) -> Option<&'a Mark> {
    marks.iter().find(|m| m.series == series && m.date == date)
}

/// The current marks once `mark` is stored: it replaces that series-day's
/// mark, and a cleared one leaves the day unmarked (as `GET /api/marks`
/// lists them).
pub fn apply_mark(marks: &mut Vec<Mark>, mark: Mark) {
    marks.retain(|m| !(m.series == mark.series && m.date == mark.date));
    if mark.kind.excludes() {
        marks.push(mark);
    }
}

/// The page's query string (`?a=1&b=2`, or empty).
pub fn location_search() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// Whether the page is embedded (`embed=1`: no header).
pub fn is_embed(search: &str) -> bool {
    search.split(['?', '&']).any(|p| p == "embed=1")
}

/// Puts `controls` in the page's URL (without a new history entry), keeping
/// `embed=1`.
pub fn replace_query(controls: &Controls, embed: bool) {
    let mut q = controls.to_query();
    if embed {
        q = if q.is_empty() { "embed=1".into() } else { format!("{q}&embed=1") };
    }
    let url = if q.is_empty() { "?".to_string() } else { format!("?{q}") };
    if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// Percent-decoding for query values (UTF-8; `+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicewatch_shared::wire::MarkKind;
    use std::collections::BTreeMap;

    #[test]
    fn query_round_trip() {
        let c = Controls {
            from: Day::parse("2024-02-01").ok(),
            to: Day::parse("2024-03-01").ok(),
            z: 2.5,
            min_days: 30,
            min_count: 4,
            direction: Direction::Drops,
            method: Method::Classic,
            weekly: false,
            services: vec!["oil change".into(), "tyres&co".into(), "Brakes, front".into()],
            focus: Some("tyres&co".into()),
        };
        assert_eq!(Controls::from_query(&c.to_query()), c);
        let q = c.to_query();
        assert!(q.contains("services=oil%20change&services=tyres%26co&services=Brakes%2C%20front"), "{q}");
        // Names as stored, padding included; older comma-joined links still read.
        let padded = Controls { services: vec!["BRAKES  ".into(), "a,b".into()], ..Controls::default() };
        assert_eq!(padded.to_query(), "services=BRAKES%20%20&services=a%2Cb");
        assert_eq!(Controls::from_query(&padded.to_query()), padded);
        let old = Controls::from_query("?services=a,b%2Cc&services=d&services=a");
        assert_eq!(old.services, ["a", "b,c", "d"]);
        assert_eq!(Controls::from_query(""), Controls::default());
        assert_eq!(Controls::from_query("?z=abc&min_days=-1").z, 3.0);
        assert!(is_embed("?z=2&embed=1") && !is_embed("?embed=0"));
    }

    #[test]
    fn weekly_reads_as_the_api_reads_it() {
        assert!(Controls::default().weekly);
        for (query, weekly) in [
            ("?weekly=0", false),
            ("?weekly=false", false),
            ("?weekly=1", true),
            ("?weekly=true", true),
            ("?weekly=maybe", true), // unreadable: the default
            ("?method=classic&weekly=0&z=4", false),
        ] {
            assert_eq!(Controls::from_query(query).weekly, weekly, "{query}");
        }
        // What the app writes reads back, and `weekly=0` becomes `weekly=false`.
        let off = Controls::from_query("?weekly=0");
        assert_eq!(off.to_query(), "weekly=false");
        assert_eq!(Controls::from_query(&off.to_query()), off);
    }

    #[test]
    fn parameters_start_from_the_engines_defaults() {
        let c = Controls::default();
        assert_eq!(c.flag_params(None), FlagParams::default());
        assert_eq!(c.baseline_params(Vec::new(), &[]), BaselineParams::default());
        let c = Controls::from_query("?z=2.5&min_days=30&min_count=4&direction=drops&method=classic&weekly=0");
        let f = c.flag_params(Some(vec![2]));
        assert_eq!(
            (f.z, f.min_days, f.min_count, f.direction, f.services),
            (2.5, 30, 4, Direction::Drops, Some(vec![2]))
        );
        let b = c.baseline_params(vec![Day(5)], &[]);
        assert_eq!((b.method, b.weekly, b.partial), (Method::Classic, false, vec![Day(5)]));
    }

    /// A mark as the server answers it.
    fn mark(series: &str, date: &str, kind: &str) -> Mark {
        serde_json::from_value(serde_json::json!({
            "series": series, "date": date, "kind": kind, "note": "why",
            "marked_by": "ana", "marked_at": "2026-11-25T10:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn marked_days_leave_their_series_baseline() {
        let marks = [
            mark("tyres", "2024-03-09", "confirmed"),
            mark("brakes", "2024-03-02", "expected"),
            mark("tyres", "2024-03-01", "expected"),
            mark("tyres", "2024-03-09", "expected"), // twice: once
            mark("oil", "2024-03-05", "cleared"),    // an ordinary day again
        ];
        let d = |s| Day::parse(s).unwrap();
        let want = BTreeMap::from([
            ("brakes".to_string(), vec![d("2024-03-02")]),
            ("tyres".to_string(), vec![d("2024-03-01"), d("2024-03-09")]),
        ]);
        assert_eq!(exclusions(&marks), want);
        assert_eq!(Controls::default().baseline_params(Vec::new(), &marks).exclude, want);
        // No marks, or only cleared ones: the engine's defaults exactly.
        assert!(exclusions(&[]).is_empty() && exclusions(&marks[4..]).is_empty());
        assert_eq!(Controls::default().baseline_params(Vec::new(), &marks[4..]), BaselineParams::default());
    }

    #[test]
    fn a_stored_mark_replaces_the_days_mark_and_cleared_takes_it_back() {
        let d = |s| Day::parse(s).unwrap();
        let mut marks = vec![mark("tyres", "2024-03-09", "expected"), mark("brakes", "2024-03-02", "confirmed")];
        apply_mark(&mut marks, mark("tyres", "2024-03-09", "confirmed"));
        assert_eq!(marks.len(), 2);
        assert_eq!(mark_of(&marks, "tyres", d("2024-03-09")).map(|m| m.kind), Some(MarkKind::Confirmed));
        apply_mark(&mut marks, mark("oil", "2024-03-09", "expected"));
        assert_eq!(marks.len(), 3);
        apply_mark(&mut marks, mark("tyres", "2024-03-09", "cleared"));
        assert!(mark_of(&marks, "tyres", d("2024-03-09")).is_none());
        assert_eq!(mark_of(&marks, "brakes", d("2024-03-02")).map(|m| m.kind), Some(MarkKind::Confirmed));
        // Clearing an unmarked day changes nothing; the same day of another series is its own.
        apply_mark(&mut marks, mark("tyres", "2024-03-09", "cleared"));
        assert_eq!(marks.len(), 2);
        assert!(mark_of(&marks, "oil", d("2024-03-02")).is_none());
        assert_eq!(exclusions(&marks).len(), 2);
    }
}
