//! Labelled sets of real public daily counts, for `servicewatch evaluate`
//! next to the generator.
//!
//! The files live in `data/real/` (sources, licences, derivation and the
//! reason for every label: `data/real/README.md`) and are compiled into the
//! binary, so the sets load from any folder. One labelled set per data
//! family, each series a service: the services of one family share a
//! calendar and its events (as the services of one business do), while two
//! families share nothing, so mixing them in one panel would only blur the
//! day factors the robust method computes across services.
//!
//! Formats, read strictly (an error names the file and line):
//!
//! - `<set>.csv`: `service,date,count`; each service's rows together, one row
//!   for every day from its first to its last (a day without transactions is
//!   a row with 0), dates `YYYY-MM-DD` ascending, counts non-negative integers.
//!   A service's first and last rows are its lifetime.
//! - `labels.csv`: `set,service,date,kind,reason`; `kind` is spike, burst,
//!   drop or outage; the reason is free text to the end of the line.

use std::collections::HashSet;

use anyhow::{bail, ensure, Context};
use servicewatch_shared::synth::{Kind, Label, Labelled};
use servicewatch_shared::{Day, Panel};

/// The embedded sets: name and `service,date,count` text.
const SETS: [(&str, &str); 2] = [
    ("capital-bikeshare", include_str!("../../data/real/capital-bikeshare.csv")),
    ("auckland-pedestrians", include_str!("../../data/real/auckland-pedestrians.csv")),
];

const LABELS: &str = include_str!("../../data/real/labels.csv");

/// Each set's country's holiday calendar ([`servicewatch_shared::holidays`]),
/// which `evaluate --real` tries as the `holidays` setting would.
pub const CALENDARS: [(&str, &str); 2] = [("capital-bikeshare", "us"), ("auckland-pedestrians", "nz")];

/// The set's country's calendar (its name) and its days within the set,
/// as the `holidays` setting would give them; `None` for a set without one.
pub fn calendar(name: &str, set: &Labelled) -> Option<(&'static str, Vec<Day>)> {
    let (_, calendar) = CALENDARS.iter().find(|(n, _)| *n == name)?;
    let holidays: servicewatch_shared::holidays::Holidays = calendar.parse().ok()?;
    let (first, last) = set.panel.bounds()?;
    Some((calendar, holidays.days(first, last)))
}

/// Every embedded real set, named, in a fixed order.
pub fn load() -> anyhow::Result<Vec<(String, Labelled)>> {
    parse_all(&SETS, LABELS)
}

/// Parses sets given as (name, counts text) with one labels text for all of
/// them. Every label must name one of the sets.
pub fn parse_all(sets: &[(&str, &str)], labels: &str) -> anyhow::Result<Vec<(String, Labelled)>> {
    let labels = parse_labels(labels)?;
    let mut out = Vec::new();
    for (name, text) in sets {
        let file = format!("data/real/{name}.csv");
        let (panel, lifetimes) = parse_counts(&file, text)?;
        let mut set_labels = Vec::new();
        let mut seen = HashSet::new();
        for l in labels.iter().filter(|l| l.set == *name) {
            let at = || format!("data/real/labels.csv line {}", l.line);
            let service = panel
                .find(&l.service)
                .with_context(|| format!("{}: set `{name}` has no service `{}`", at(), l.service))?;
            let (first, last) = lifetimes[service];
            ensure!(
                first <= l.day && l.day <= last,
                "{}: {} is outside {}'s days in {file} ({first} to {last})",
                at(),
                l.day,
                l.service
            );
            ensure!(seen.insert((service, l.day)), "{}: {} {} is labelled twice", at(), l.service, l.day);
            set_labels.push(Label { service, day: l.day, kind: l.kind });
        }
        out.push((name.to_string(), Labelled { panel, labels: set_labels, lifetimes }));
    }
    if let Some(l) = labels.iter().find(|l| !sets.iter().any(|(name, _)| *name == l.set)) {
        bail!("data/real/labels.csv line {}: no set is named `{}`", l.line, l.set);
    }
    Ok(out)
}

struct RawLabel {
    line: usize,
    set: String,
    service: String,
    day: Day,
    kind: Kind,
}

/// Splits a text into numbered lines, checking the header. A final newline
/// is expected; a `\r` before it is tolerated; blank lines are not.
fn lines<'a>(file: &'a str, text: &'a str, header: &'a str) -> anyhow::Result<Vec<(usize, &'a str)>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let n = i + 1;
        if n == 1 {
            ensure!(line == header, "{file} line 1: the header must be `{header}`, not `{line}`");
            continue;
        }
        ensure!(!line.trim().is_empty(), "{file} line {n}: blank line");
        out.push((n, line));
    }
    ensure!(!text.is_empty(), "{file}: empty file (the header `{header}` is missing)");
    Ok(out)
}

fn parse_day(file: &str, n: usize, s: &str) -> anyhow::Result<Day> {
    Day::parse(s).map_err(|e| anyhow::anyhow!("{file} line {n}: {e}"))
}

/// A service key or set name: non-empty, no spaces or quotes at all.
fn parse_name<'a>(file: &str, n: usize, what: &str, s: &'a str) -> anyhow::Result<&'a str> {
    ensure!(
        !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '"'),
        "{file} line {n}: `{s}` is not a {what} (non-empty, without spaces or quotes)"
    );
    Ok(s)
}

/// One service's rows while they are read.
struct Series {
    key: String,
    days: Vec<Day>,
    counts: Vec<u64>,
    first: Day,
    last: Day,
}

impl Series {
    fn start(key: &str, day: Day, count: u64) -> Series {
        let mut s = Series { key: key.to_string(), days: Vec::new(), counts: Vec::new(), first: day, last: day };
        s.add(day, count);
        s
    }

    /// Days without transactions are in the lifetime but have no row in
    /// the panel, as in a warehouse.
    fn add(&mut self, day: Day, count: u64) {
        self.last = day;
        if count > 0 {
            self.days.push(day);
            self.counts.push(count);
        }
    }
}

fn parse_counts(file: &str, text: &str) -> anyhow::Result<(Panel, Vec<(Day, Day)>)> {
    let mut series: Vec<Series> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (n, line) in lines(file, text, "service,date,count")? {
        let fields: Vec<&str> = line.split(',').collect();
        ensure!(fields.len() == 3, "{file} line {n}: expected 3 fields (service,date,count), found {}", fields.len());
        let key = parse_name(file, n, "service key", fields[0])?;
        let day = parse_day(file, n, fields[1])?;
        let c = fields[2];
        ensure!(
            !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()),
            "{file} line {n}: count `{c}` is not a non-negative integer"
        );
        let count: u64 = c.parse().with_context(|| format!("{file} line {n}: count `{c}` is too large"))?;
        match series.last_mut() {
            Some(s) if s.key == key => {
                ensure!(
                    day.0 == s.last.0 + 1,
                    "{file} line {n}: {key} goes from {} to {day}; every day must follow the one before",
                    s.last
                );
                s.add(day, count);
            }
            _ => {
                ensure!(seen.insert(key.to_string()), "{file} line {n}: the rows of service `{key}` must be together");
                series.push(Series::start(key, day, count));
            }
        }
    }
    ensure!(!series.is_empty(), "{file}: no rows");
    let mut builder = Panel::builder();
    let mut lifetimes = Vec::new();
    for s in series {
        builder.push(&s.key, &s.days, &s.counts).with_context(|| format!("{file}: service `{}`", s.key))?;
        lifetimes.push((s.first, s.last));
    }
    Ok((builder.build(), lifetimes))
}

fn parse_labels(text: &str) -> anyhow::Result<Vec<RawLabel>> {
    let file = "data/real/labels.csv";
    let mut out = Vec::new();
    for (n, line) in lines(file, text, "set,service,date,kind,reason")? {
        let fields: Vec<&str> = line.splitn(5, ',').collect();
        ensure!(
            fields.len() == 5,
            "{file} line {n}: expected 5 fields (set,service,date,kind,reason), found {}",
            fields.len()
        );
        let set = parse_name(file, n, "set name", fields[0])?;
        let service = parse_name(file, n, "service key", fields[1])?;
        let day = parse_day(file, n, fields[2])?;
        let kind = match fields[3] {
            "spike" => Kind::Spike,
            "burst" => Kind::Burst,
            "drop" => Kind::Drop,
            "outage" => Kind::Outage,
            other => bail!("{file} line {n}: kind `{other}` is not spike, burst, drop or outage"),
        };
        ensure!(!fields[4].trim().is_empty(), "{file} line {n}: every label needs a reason");
        out.push(RawLabel { line: n, set: set.to_string(), service: service.to_string(), day, kind });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    #[test]
    fn the_embedded_sets_load() {
        let sets = load().unwrap();
        let names: Vec<&str> = sets.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["capital-bikeshare", "auckland-pedestrians"]);
        let bikes = &sets[0].1;
        assert_eq!(bikes.panel.keys(), ["casual", "registered"]);
        assert_eq!(bikes.lifetimes[0], (day("2011-01-01"), day("2012-12-31")));
        // Hurricane Sandy: 2 casual rentals before the system closed.
        let casual = bikes.panel.find("casual").unwrap();
        let i = bikes.panel.days(casual).iter().position(|d| *d == day("2012-10-29")).unwrap();
        assert_eq!(bikes.panel.counts(casual)[i], 2);
        let akl = &sets[1].1;
        assert_eq!(akl.panel.len(), 6);
        let lengths: Vec<i32> = akl.lifetimes.iter().map(|(a, b)| b.0 - a.0 + 1).collect();
        assert_eq!(lengths, [487, 487, 212, 173, 214, 26]);
        assert_eq!(akl.panel.bounds(), Some((day("2022-09-01"), day("2023-12-31"))));
        assert_eq!(bikes.labels.len() + akl.labels.len(), LABELS.lines().count() - 1);
    }

    #[test]
    fn labels_fall_inside_lifetimes_once_each() {
        for (name, set) in load().unwrap() {
            assert!(!set.labels.is_empty(), "{name}");
            let mut seen = HashSet::new();
            for l in &set.labels {
                let (first, last) = set.lifetimes[l.service];
                assert!(first <= l.day && l.day <= last, "{name}: {l:?}");
                assert!(seen.insert((l.service, l.day)), "{name}: {l:?} twice");
            }
        }
    }

    #[test]
    fn series_are_whole_sorted_and_inside_their_lifetimes() {
        for (name, set) in load().unwrap() {
            for s in 0..set.panel.len() {
                let (first, last) = set.lifetimes[s];
                let days = set.panel.days(s);
                assert!(days.windows(2).all(|w| w[0] < w[1]), "{name} {s}: sorted, no duplicates");
                assert!(days.iter().all(|d| first <= *d && *d <= last), "{name} {s}");
                assert_eq!(days.len(), set.panel.counts(s).len());
                // Every day of these series has counts (no zero rows).
                assert_eq!(days.len() as i32, last.0 - first.0 + 1, "{name} {s}");
                assert!(set.panel.counts(s).iter().all(|&c| c > 0));
            }
        }
    }

    #[test]
    fn every_set_is_scored_against_all_its_labels() {
        use servicewatch_shared::eval::evaluate;
        use servicewatch_shared::{BaselineParams, FlagParams};
        for (name, set) in load().unwrap() {
            let q = evaluate(&set, &BaselineParams::default(), &FlagParams::default());
            assert_eq!(q.positives, set.labels.len(), "{name}");
            assert!((0.0..=1.0).contains(&q.average_precision), "{name}");
        }
    }

    #[test]
    fn each_sets_country_calendar_lifts_it() {
        // What `evaluate --real` prints on its "+ holidays" row: the
        // country's calendar takes Christmas, Easter, Anzac and Labour Day
        // off Auckland's false flags (F1 0.535 -> 0.678 when measured) and
        // loses no labelled day on either set.
        use servicewatch_shared::eval::evaluate;
        use servicewatch_shared::{BaselineParams, FlagParams};
        for (name, set) in load().unwrap() {
            let (_, holidays) = calendar(&name, &set).expect("every set has a calendar");
            let (first, last) = set.panel.bounds().unwrap();
            let base = BaselineParams { partial: vec![first, last], ..Default::default() };
            let without = evaluate(&set, &base, &FlagParams::default());
            let with = BaselineParams { holidays, ..base };
            let with = evaluate(&set, &with, &FlagParams::default());
            assert!(with.f1 > without.f1 && with.average_precision > without.average_precision, "{name}");
            assert!(with.recall >= without.recall, "{name}");
        }
    }

    const COUNTS: &str = "service,date,count\na,2024-01-01,3\na,2024-01-02,0\na,2024-01-03,5\nb,2024-01-02,7\n";

    fn err(sets: &[(&str, &str)], labels: &str) -> String {
        format!("{:#}", parse_all(sets, labels).unwrap_err())
    }

    #[test]
    fn a_small_set_parses_with_zero_days_in_the_lifetime() {
        let labels = "set,service,date,kind,reason\nt,a,2024-01-02,outage,no rows, at all\n";
        let sets = parse_all(&[("t", COUNTS)], labels).unwrap();
        let d = &sets[0].1;
        assert_eq!(d.lifetimes, [(day("2024-01-01"), day("2024-01-03")), (day("2024-01-02"), day("2024-01-02"))]);
        assert_eq!(d.panel.days(0), [day("2024-01-01"), day("2024-01-03")]);
        assert_eq!(d.labels, [Label { service: 0, day: day("2024-01-02"), kind: Kind::Outage }]);
        // CRLF line ends read the same.
        let crlf = COUNTS.replace('\n', "\r\n");
        assert_eq!(parse_all(&[("t", &crlf)], labels).unwrap()[0].1.panel, d.panel);
    }

    #[test]
    fn bad_counts_name_the_file_and_line() {
        let none = "set,service,date,kind,reason\n";
        let cases = [
            ("service,day,count\n", "t.csv line 1: the header"),
            ("service,date,count\na,2024-01-01,-3\n", "t.csv line 2: count `-3`"),
            ("service,date,count\na,2024-01-01,1.5\n", "t.csv line 2: count `1.5`"),
            ("service,date,count\na,2024-01-01,+1\n", "t.csv line 2: count `+1`"),
            ("service,date,count\na,2024-01-01,\n", "t.csv line 2: count ``"),
            ("service,date,count\na,2024-02-30,1\n", "t.csv line 2: `2024-02-30` is not a date"),
            ("service,date,count\na,2024-01-01,1,2\n", "t.csv line 2: expected 3 fields"),
            (
                "service,date,count\na,2024-01-01,1\na,2024-01-01,1\n",
                "t.csv line 3: a goes from 2024-01-01 to 2024-01-01",
            ),
            ("service,date,count\na,2024-01-01,1\na,2024-01-03,1\n", "t.csv line 3: a goes from"),
            ("service,date,count\na,2024-01-02,1\na,2024-01-01,1\n", "t.csv line 3: a goes from"),
            (
                "service,date,count\na,2024-01-01,1\nb,2024-01-01,1\na,2024-01-02,1\n",
                "t.csv line 4: the rows of service `a`",
            ),
            ("service,date,count\na,2024-01-01,1\n\n", "t.csv line 3: blank line"),
            (" a,2024-01-01,1\n", "t.csv line 1: the header"),
            ("service,date,count\n a,2024-01-01,1\n", "t.csv line 2: ` a` is not a service key"),
            ("service,date,count\n", "t.csv: no rows"),
            ("", "t.csv: empty file"),
            ("service,date,count\na,2024-01-01,99999999999999999999999\n", "t.csv line 2: count"),
        ];
        for (text, want) in cases {
            let got = err(&[("t", text)], none);
            assert!(got.contains(want), "{text:?}: {got}");
        }
    }

    #[test]
    fn bad_labels_name_the_line() {
        let h = "set,service,date,kind,reason\n";
        let cases = [
            ("set,service,date,kind\n".to_string(), "labels.csv line 1: the header"),
            (format!("{h}t,a,2024-01-02,dip,x\n"), "line 2: kind `dip`"),
            (format!("{h}t,a,2024-01-02,drop\n"), "line 2: expected 5 fields"),
            (format!("{h}t,a,2024-01-02,drop, \n"), "line 2: every label needs a reason"),
            (format!("{h}t,c,2024-01-02,drop,x\n"), "line 2: set `t` has no service `c`"),
            (format!("{h}t,b,2024-01-03,drop,x\n"), "line 2: 2024-01-03 is outside b's days"),
            (format!("{h}t,a,2024-01-02,drop,x\nt,a,2024-01-02,spike,y\n"), "line 3: a 2024-01-02 is labelled twice"),
            (format!("{h}u,a,2024-01-02,drop,x\n"), "line 2: no set is named `u`"),
        ];
        for (labels, want) in cases {
            let got = err(&[("t", COUNTS)], &labels);
            assert!(got.contains(want), "{labels:?}: {got}");
        }
    }
}
