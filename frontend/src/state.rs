//! The app's state: its controls, their round trip through the URL query
//! string so a copied link reopens the same view (names match the API's
//! parameters), and the engine parameters they stand for. Starts from the
//! engine's defaults ([`FlagParams::default`], [`BaselineParams::default`]).
//! Also the analysts' marks: which days they leave out of their series'
//! baselines, and the current marks after one more is stored.
//!
//! The view (metric, split, dimension filters) is a control too: unlike the
//! others it changes the data, so it is what `/api/daily` and `/api/meta`
//! are asked for ([`Controls::view_query`]).

use std::collections::BTreeMap;

use servicewatch_shared::params::SPLIT_SEPARATOR;
use servicewatch_shared::wire::{exclusions, Mark};
use servicewatch_shared::{BaselineParams, Day, Dimension, Direction, FlagParams, Method, Metric};

use crate::float_text::shortest;
use crate::sorted::sorted_by;

/// The days `/api/meta` names for the robust method: the extract's partial
/// edge days and the `holidays` setting's days.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamedDays {
    pub partial: Vec<Day>,
    pub holidays: Vec<Day>,
}

impl NamedDays {
    pub fn of(meta: &servicewatch_shared::wire::Meta) -> NamedDays {
        NamedDays { partial: meta.partial_days.clone(), holidays: meta.holidays.clone() }
    }
}

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
    /// Series keys (with a split, `{service} · {value}`).
    pub services: Vec<String>,
    /// The series the chart shows (set by clicking a row).
    pub focus: Option<String>,
    /// What a series-day's value is.
    pub metric: Metric,
    /// One series per service and value of this dimension.
    pub split: Option<Dimension>,
    /// Only rows whose dimension holds one of these values: each list
    /// sorted, without duplicates, never empty.
    pub filters: BTreeMap<Dimension, Vec<String>>,
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
            metric: Metric::default(),
            split: None,
            filters: BTreeMap::new(),
        }
    }
}

impl Controls {
    /// The expensive stage's parameters: range, method, weekly, the days
    /// `/api/meta` names (the data's partial days, the `holidays` setting's
    /// days), and the days analysts marked (left out of their series'
    /// baselines).
    pub fn baseline_params(&self, named: NamedDays, marks: &[Mark]) -> BaselineParams {
        BaselineParams {
            from: self.from,
            to: self.to,
            method: self.method,
            weekly: self.weekly,
            metric: self.metric,
            partial: named.partial,
            holidays: named.holidays,
            // As the server leaves them out for /api/anomalies.
            exclude: exclusions(marks),
            // Filled from the view's /api/meta (amounts).
            units: Default::default(),
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
                "z" => c.z = crate::number::parse_f64(&v).filter(|z: &f64| z.is_finite() && *z >= 0.0).unwrap_or(c.z),
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
                "metric" => c.metric = v.parse().unwrap_or(c.metric),
                "split" => c.split = v.parse().ok(),
                // Repeated, one value each, as the API takes them.
                other => {
                    if let (Ok(d), false) = (other.parse::<Dimension>(), v.is_empty()) {
                        c.filters.entry(d).or_default().push(v);
                    }
                }
            }
        }
        for values in c.filters.values_mut() {
            *values = sorted_by(std::mem::take(values), String::cmp);
            values.dedup();
        }
        c
    }

    /// The view's parameters, as `/api/daily`, `/api/meta` and
    /// `/api/anomalies` take them (`metric=amount&split=channel&channel=web`;
    /// empty for the default view). One text per view, so it keys the data.
    pub fn view_query(&self) -> String {
        let mut parts = Vec::new();
        if self.metric != Metric::default() {
            parts.push(format!("metric={}", self.metric));
        }
        if let Some(d) = self.split {
            parts.push(format!("split={d}"));
        }
        for (d, values) in &self.filters {
            parts.extend(values.iter().map(|v| format!("{d}={}", encode(v))));
        }
        parts.join("&")
    }

    /// Whether the table has a column for everything the view asks.
    pub fn view_available(&self, metrics: &[Metric], dimensions: &[Dimension]) -> bool {
        metrics.contains(&self.metric)
            && self.split.is_none_or(|d| dimensions.contains(&d))
            && self.filters.keys().all(|d| dimensions.contains(d))
    }

    /// These controls without what the table has no column for (a link
    /// made on another table): the count, no split, fewer filters.
    pub fn restricted(&self, metrics: &[Metric], dimensions: &[Dimension]) -> Controls {
        let mut c = self.clone();
        if !metrics.contains(&c.metric) {
            c.set_metric(Metric::default());
        }
        if c.split.is_some_and(|d| !dimensions.contains(&d)) {
            c.set_split(None);
        }
        c.filters.retain(|d, _| dimensions.contains(d));
        c
    }

    /// Another metric: the minimum count meant the old one's unit, so it
    /// starts over.
    pub fn set_metric(&mut self, metric: Metric) {
        if metric != self.metric {
            self.metric = metric;
            self.min_count = FlagParams::default().min_count;
        }
    }

    /// Another split: the chosen series and the chart's were the old
    /// split's keys, so they go.
    pub fn set_split(&mut self, split: Option<Dimension>) {
        if split != self.split {
            self.split = split;
            self.services.clear();
            self.focus = None;
        }
    }

    /// Adds `value` to the filter of `d` (or takes it out); a filter left
    /// without values is no filter.
    pub fn toggle_filter(&mut self, d: Dimension, value: &str, on: bool) {
        let values = self.filters.entry(d).or_default();
        match (values.binary_search_by(|v| v.as_str().cmp(value)), on) {
            (Err(at), true) => values.insert(at, value.to_string()),
            (Ok(at), false) => {
                values.remove(at);
            }
            _ => {}
        }
        if values.is_empty() {
            self.filters.remove(&d);
        }
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
            parts.push(format!("z={}", shortest(self.z)));
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
        let view = self.view_query();
        if !view.is_empty() {
            parts.push(view);
        }
        parts.join("&")
    }
}

/// The service of a series key: the key itself, or with a split the part
/// before `{SPLIT_SEPARATOR}{value}`. `services` (the data's services)
/// settles a separator inside a name or a value; without a match, the
/// text before the last separator.
pub fn service_of<'a>(key: &'a str, services: &std::collections::HashSet<&str>) -> &'a str {
    split_key(key, services).map_or(key, |(s, _)| s)
}

/// A split series key as its service and dimension value (`None`: no
/// separator in it).
pub fn split_key<'a>(key: &'a str, services: &std::collections::HashSet<&str>) -> Option<(&'a str, &'a str)> {
    let known = key
        .match_indices(SPLIT_SEPARATOR)
        .map(|(at, _)| (&key[..at], &key[at + SPLIT_SEPARATOR.len()..]))
        .find(|(s, _)| services.contains(s));
    known.or_else(|| key.rsplit_once(SPLIT_SEPARATOR))
}

/// The distinct values of a dimension, from the keys of the view split by
/// it (`/api/meta?split=…`), sorted.
pub fn split_values(keys: &[String], services: &[String]) -> Vec<String> {
    let services: std::collections::HashSet<&str> = services.iter().map(String::as_str).collect();
    let values: Vec<String> = keys.iter().filter_map(|k| split_key(k, &services)).map(|(_, v)| v.to_string()).collect();
    let mut values = sorted_by(values, String::cmp);
    values.dedup();
    values
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

/// Says on the page whether a write of the URL is waiting
/// (`<html data-url-pending>`), for whoever reads the link right after a
/// control moved.
pub fn mark_url_pending(pending: bool) {
    if let Some(html) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = if pending {
            html.set_attribute("data-url-pending", "")
        } else {
            html.remove_attribute("data-url-pending")
        };
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
            metric: Metric::Amount,
            split: Some(Dimension::PaymentMethod),
            filters: BTreeMap::from([
                (Dimension::Segment, vec!["a&b".into(), "retail".into()]),
                (Dimension::Channel, vec!["web".into()]),
            ]),
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
    fn the_view_is_in_the_url_as_the_api_takes_it() {
        let c = Controls::from_query("?channel=web&metric=amount&channel=app&split=channel&segment=a%26b&channel=web");
        assert_eq!((c.metric, c.split), (Metric::Amount, Some(Dimension::Channel)));
        assert_eq!(c.view_query(), "metric=amount&split=channel&segment=a%26b&channel=app&channel=web");
        assert_eq!(c.to_query(), c.view_query());
        assert_eq!(Controls::default().view_query(), "");
        // Unreadable: the default; an empty filter value is no filter.
        let odd = Controls::from_query("?metric=euros&split=colour&channel=&payment_method=card");
        assert_eq!(odd.view_query(), "payment_method=card");
        assert_eq!(Controls::from_query("?metric=count&split=segment").view_query(), "split=segment");
    }

    #[test]
    fn a_view_the_table_cannot_give_is_dropped() {
        let mut c = Controls::from_query(
            "?metric=amount&split=payment_method&channel=web&segment=x&services=a%20%C2%B7%20b&min_count=7",
        );
        let all = [Metric::Count, Metric::Amount];
        assert!(c.view_available(&all, &Dimension::ALL));
        assert_eq!(c.restricted(&all, &Dimension::ALL), c);
        assert!(!c.view_available(&[Metric::Count], &Dimension::ALL));
        let bare = c.restricted(&[Metric::Count], &[Dimension::Channel]);
        assert!(bare.view_available(&[Metric::Count], &[Dimension::Channel]));
        assert_eq!(bare.view_query(), "channel=web");
        // The split's keys and the amount's minimum went with them.
        assert_eq!((bare.services.len(), bare.min_count), (0, 0));
        // Changing the metric keeps the series; changing the split does not.
        c.set_metric(Metric::Count);
        assert_eq!((c.services.len(), c.min_count), (1, 0));
        c.set_split(Some(Dimension::PaymentMethod));
        assert_eq!(c.services.len(), 1);
        c.set_split(Some(Dimension::Segment));
        assert!(c.services.is_empty() && c.focus.is_none());
        c.toggle_filter(Dimension::Channel, "app", true);
        c.toggle_filter(Dimension::Channel, "app", true);
        assert_eq!(c.filters[&Dimension::Channel], ["app", "web"]);
        c.toggle_filter(Dimension::Segment, "x", false);
        c.toggle_filter(Dimension::Segment, "y", false);
        assert_eq!(c.view_query(), "split=segment&channel=app&channel=web");
        assert_eq!(c.baseline_params(NamedDays::default(), &[]).metric, Metric::Count);
        assert_eq!(
            Controls::from_query("?metric=amount").baseline_params(NamedDays::default(), &[]).metric,
            Metric::Amount
        );
    }

    #[test]
    fn split_keys_read_back_as_service_and_value() {
        let services = ["SVC-1".to_string(), "a · b".to_string()];
        let keys: Vec<String> = ["SVC-1 · card", "SVC-1 · cash", "a · b · card", "a · b · x · y", "SVC-1 · (none)"]
            .map(String::from)
            .into();
        assert_eq!(split_values(&keys, &services), ["(none)", "card", "cash", "x · y"]);
        let set = services.iter().map(String::as_str).collect();
        assert_eq!(service_of("a · b · x · y", &set), "a · b");
        assert_eq!(service_of("SVC-1", &set), "SVC-1");
        assert_eq!(service_of("other · c · d", &set), "other · c");
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
        assert_eq!(c.baseline_params(NamedDays::default(), &[]), BaselineParams::default());
        let c = Controls::from_query("?z=2.5&min_days=30&min_count=4&direction=drops&method=classic&weekly=0");
        let f = c.flag_params(Some(vec![2]));
        assert_eq!(
            (f.z, f.min_days, f.min_count, f.direction, f.services),
            (2.5, 30, 4, Direction::Drops, Some(vec![2]))
        );
        let b = c.baseline_params(NamedDays { partial: vec![Day(5)], ..Default::default() }, &[]);
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
        assert_eq!(Controls::default().baseline_params(NamedDays::default(), &marks).exclude, want);
        // No marks, or only cleared ones: the engine's defaults exactly.
        assert!(exclusions(&[]).is_empty() && exclusions(&marks[4..]).is_empty());
        assert_eq!(Controls::default().baseline_params(NamedDays::default(), &marks[4..]), BaselineParams::default());
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
