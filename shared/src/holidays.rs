//! Holiday calendars: days a business is expected to be quiet.
//!
//! The common factor ([`crate::methods::common`]) finds holidays on its own
//! when enough services share them, and then still flags a service that
//! breaks from the crowd. A table of a handful of series cannot measure
//! one (a shared drop of four sensors is as likely a flood as Christmas), so
//! a calendar says which days are holidays: on those, the robust method
//! leaves the day out of every baseline and, where no common factor was
//! measured, does not flag a drop (a spike still flags). It is a setting
//! (`holidays = "nz"`; none by default): a wrong country's list would hide
//! real drops, and whether a holiday is an anomaly is the business's call.
//!
//! A calendar lists each public holiday on its date and, when it falls on
//! a weekend, on the weekday it is observed on too (both are quiet). The
//! rules are the national ones, with the days proclaimed apart from them
//! (a holiday moved for a jubilee, a coronation, a state funeral); no
//! regional days (an anniversary day), which an analyst adds as dates.
//! Years before the Gregorian calendar (1583) and after 9999 have none.
//!
//! ```
//! use servicewatch_shared::holidays::Holidays;
//! use servicewatch_shared::Day;
//! let d = |s| Day::parse(s).unwrap();
//! let h: Holidays = "us, 2024-03-15".parse().unwrap();
//! // The added date; Veterans Day, Thanksgiving (the fourth Thursday of
//! // November) and Christmas, 2024.
//! assert_eq!(h.days(d("2024-03-01"), d("2024-03-31")), vec![d("2024-03-15")]);
//! assert_eq!(h.days(d("2024-11-01"), d("2024-12-31")), vec![d("2024-11-11"), d("2024-11-28"), d("2024-12-25")]);
//! // Christmas 2022 was a Sunday: quiet on the day and on the Monday.
//! assert_eq!(h.days(d("2022-12-20"), d("2022-12-31")), vec![d("2022-12-25"), d("2022-12-26")]);
//! assert!("mars".parse::<Holidays>().unwrap_err().contains("us, gb, nz"));
//! ```

use crate::Day;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use std::fmt;
use std::str::FromStr;

/// A country's public holidays, by rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calendar {
    /// United States federal holidays (weekend ones observed on the Friday
    /// or the Monday).
    Us,
    /// England and Wales bank holidays, with Easter Sunday (large shops
    /// close by law); weekend ones substituted on the next weekdays.
    Gb,
    /// New Zealand public holidays, with Easter Sunday (restricted shop
    /// trading); weekend ones "Mondayised".
    Nz,
}

impl Calendar {
    /// Every calendar, by name.
    pub const ALL: [(&'static str, Calendar); 3] = [("us", Calendar::Us), ("gb", Calendar::Gb), ("nz", Calendar::Nz)];

    /// The calendar's name in settings.
    pub fn name(self) -> &'static str {
        Calendar::ALL.iter().find(|(_, c)| *c == self).map_or("", |(n, _)| n)
    }

    /// The holidays of `year`, each on its date and on its observed day
    /// (within the year), sorted, without repeats.
    pub fn year(self, year: i32) -> Vec<NaiveDate> {
        if !YEARS.contains(&year) {
            return Vec::new();
        }
        let date = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("a valid date");
        let easter = easter(year);
        let mut out = Vec::new();
        match self {
            Calendar::Us => {
                for day in [date(1, 1), date(7, 4), date(11, 11), date(12, 25)] {
                    out.push(day);
                    out.push(nearest_weekday(day));
                }
                if year >= 2021 {
                    out.push(date(6, 19));
                    out.push(nearest_weekday(date(6, 19)));
                }
                // The next year's New Year's Day on a Saturday is observed
                // on this year's 31 December.
                if let Some(next) = NaiveDate::from_ymd_opt(year + 1, 1, 1) {
                    if next.weekday() == Weekday::Sat {
                        out.push(date(12, 31));
                    }
                }
                out.push(nth(year, 1, Weekday::Mon, 3)); // Martin Luther King Jr. Day
                out.push(nth(year, 2, Weekday::Mon, 3)); // Washington's Birthday
                out.push(last(year, 5, Weekday::Mon)); // Memorial Day
                out.push(nth(year, 9, Weekday::Mon, 1)); // Labor Day
                out.push(nth(year, 10, Weekday::Mon, 2)); // Columbus Day
                out.push(nth(year, 11, Weekday::Thu, 4)); // Thanksgiving
            }
            Calendar::Gb => {
                out.push(date(1, 1));
                out.push(next_weekday(date(1, 1)));
                out.extend([easter - Duration::days(2), easter, easter + Duration::days(1)]);
                out.push(nth(year, 5, Weekday::Mon, 1)); // Early May
                out.push(last(year, 5, Weekday::Mon)); // Spring
                out.push(last(year, 8, Weekday::Mon)); // Summer
                out.extend(christmas_and_boxing(year));
                // Moved by proclamation: the rule's day is a working day.
                for (from, to) in GB_MOVED {
                    let from: NaiveDate = from.parse().expect("a valid date");
                    if let Some(d) = out.iter_mut().find(|d| **d == from) {
                        *d = to.parse().expect("a valid date");
                    }
                }
                out.extend(proclaimed(&GB_ADDED, year));
            }
            Calendar::Nz => {
                // New Year's Day and the day after, Mondayised in turn.
                let (jan1, jan2) = (date(1, 1), date(1, 2));
                out.extend([jan1, jan2]);
                out.extend(mondayised_pair(jan1, jan2));
                if year >= 2014 {
                    out.extend([date(2, 6), next_weekday(date(2, 6))]); // Waitangi Day
                    out.extend([date(4, 25), next_weekday(date(4, 25))]); // Anzac Day
                } else {
                    out.extend([date(2, 6), date(4, 25)]);
                }
                out.extend([easter - Duration::days(2), easter, easter + Duration::days(1)]);
                out.push(nth(year, 6, Weekday::Mon, 1)); // the Sovereign's Birthday
                if let Some(&(_, m, d)) = MATARIKI.iter().find(|(y, _, _)| *y == year) {
                    out.push(date(m, d));
                }
                out.push(nth(year, 10, Weekday::Mon, 4)); // Labour Day
                out.extend(christmas_and_boxing(year));
                out.extend(proclaimed(&NZ_ADDED, year));
            }
        }
        out.retain(|d| d.year() == year);
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The years a calendar lists: the Gregorian calendar's (Easter's rule)
/// up to four digits.
const YEARS: std::ops::RangeInclusive<i32> = 1583..=9999;

/// Matariki's public holiday, set by law year by year (Te Kāhui o Matariki
/// Public Holiday Act 2022, schedule: to 2052; later years have none yet).
const MATARIKI: [(i32, u32, u32); 31] = [
    (2022, 6, 24),
    (2023, 7, 14),
    (2024, 6, 28),
    (2025, 6, 20),
    (2026, 7, 10),
    (2027, 6, 25),
    (2028, 7, 14),
    (2029, 7, 6),
    (2030, 6, 21),
    (2031, 7, 11),
    (2032, 7, 2),
    (2033, 6, 24),
    (2034, 7, 7),
    (2035, 6, 29),
    (2036, 7, 18),
    (2037, 7, 10),
    (2038, 6, 25),
    (2039, 7, 15),
    (2040, 7, 6),
    (2041, 7, 19),
    (2042, 7, 11),
    (2043, 7, 3),
    (2044, 6, 24),
    (2045, 7, 7),
    (2046, 6, 29),
    (2047, 7, 19),
    (2048, 7, 3),
    (2049, 6, 25),
    (2050, 7, 15),
    (2051, 6, 30),
    (2052, 6, 21),
];

/// England and Wales bank holidays moved from the rule's Monday by
/// proclamation: VE Day's anniversaries (1995, 2020) and the jubilees
/// (2002, 2012, 2022).
const GB_MOVED: [(&str, &str); 5] = [
    ("1995-05-01", "1995-05-08"),
    ("2002-05-27", "2002-06-04"),
    ("2012-05-28", "2012-06-04"),
    ("2020-05-04", "2020-05-08"),
    ("2022-05-30", "2022-06-02"),
];

/// England and Wales bank holidays proclaimed once: the Silver Jubilee, two
/// royal weddings, the millennium, the Golden, Diamond and Platinum
/// Jubilees, a state funeral, a coronation.
const GB_ADDED: [&str; 9] = [
    "1977-06-07",
    "1981-07-29",
    "1999-12-31",
    "2002-06-03",
    "2011-04-29",
    "2012-06-05",
    "2022-06-03",
    "2022-09-19",
    "2023-05-08",
];

/// New Zealand public holidays held once: Queen Elizabeth II's memorial day.
const NZ_ADDED: [&str; 1] = ["2022-09-26"];

/// The days of `list` in `year`.
fn proclaimed(list: &[&str], year: i32) -> Vec<NaiveDate> {
    list.iter().map(|d| d.parse::<NaiveDate>().expect("a valid date")).filter(|d| d.year() == year).collect()
}

/// Easter Sunday of `year` (the Gregorian computus, Meeus/Jones/Butcher).
///
/// ```
/// use servicewatch_shared::holidays::easter;
/// assert_eq!(easter(2024).to_string(), "2024-03-31");
/// assert_eq!(easter(2025).to_string(), "2025-04-20");
/// ```
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let (b, c) = (year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is in March or April")
}

/// The `n`th `weekday` of a month.
fn nth(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).expect("every month has four of each weekday")
}

/// The last `weekday` of a month.
fn last(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, 5).unwrap_or_else(|| nth(year, month, weekday, 4))
}

/// A Saturday's holiday observed on the Friday, a Sunday's on the Monday
/// (United States).
fn nearest_weekday(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Sat => day - Duration::days(1),
        Weekday::Sun => day + Duration::days(1),
        _ => day,
    }
}

/// A weekend holiday observed on the next Monday.
fn next_weekday(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Sat => day + Duration::days(2),
        Weekday::Sun => day + Duration::days(1),
        _ => day,
    }
}

/// Two consecutive holidays observed on the next two weekdays that are not
/// already holidays (Christmas and Boxing Day; New Year's Day and the day
/// after in New Zealand): the first's weekday, or the Monday; the second's,
/// or the day after the first's.
fn mondayised_pair(first: NaiveDate, second: NaiveDate) -> [NaiveDate; 2] {
    match first.weekday() {
        // Saturday and Sunday: Monday and Tuesday.
        Weekday::Sat => [first + Duration::days(2), first + Duration::days(3)],
        // Sunday and Monday: the Monday is the second's, the first moves to Tuesday.
        Weekday::Sun => [first + Duration::days(2), second],
        // Friday and Saturday: the second moves to Monday.
        Weekday::Fri => [first, second + Duration::days(2)],
        _ => [first, second],
    }
}

/// Christmas Day and Boxing Day with their weekday substitutes.
fn christmas_and_boxing(year: i32) -> Vec<NaiveDate> {
    let (christmas, boxing) = (
        NaiveDate::from_ymd_opt(year, 12, 25).expect("a date"),
        NaiveDate::from_ymd_opt(year, 12, 26).expect("a date"),
    );
    let mut out = vec![christmas, boxing];
    out.extend(mondayised_pair(christmas, boxing));
    out
}

/// The holidays a setting names: calendars and single dates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holidays {
    pub calendars: Vec<Calendar>,
    pub dates: Vec<Day>,
}

impl Holidays {
    /// No calendar and no date.
    pub fn is_empty(&self) -> bool {
        self.calendars.is_empty() && self.dates.is_empty()
    }

    /// The holidays from `from` to `to` (inclusive), sorted, without repeats.
    pub fn days(&self, from: Day, to: Day) -> Vec<Day> {
        let mut out: Vec<Day> = self.dates.iter().copied().filter(|d| (from..=to).contains(d)).collect();
        if from <= to {
            let years = from.date().year().max(*YEARS.start())..=to.date().year().min(*YEARS.end());
            for cal in &self.calendars {
                for year in years.clone() {
                    out.extend(cal.year(year).into_iter().map(Day::from_date).filter(|d| (from..=to).contains(d)));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl FromStr for Holidays {
    type Err = String;

    /// Comma-separated calendar names (`us`, `gb`, `nz`) and dates
    /// (`2024-03-15`); empty or `none` for none.
    fn from_str(s: &str) -> Result<Holidays, String> {
        let mut h = Holidays::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty() && *i != "none") {
            if let Some((_, cal)) = Calendar::ALL.iter().find(|(n, _)| n.eq_ignore_ascii_case(item)) {
                if !h.calendars.contains(cal) {
                    h.calendars.push(*cal);
                }
            } else if let Ok(day) = Day::parse(item) {
                h.dates.push(day);
            } else {
                let names: Vec<&str> = Calendar::ALL.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown holiday `{item}`: expected a calendar ({}) or a date (YYYY-MM-DD)",
                    names.join(", ")
                ));
            }
        }
        h.dates.sort_unstable();
        h.dates.dedup();
        Ok(h)
    }
}

impl fmt::Display for Holidays {
    /// The setting's text again: calendars, then dates.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> =
            self.calendars.iter().map(|c| c.name().to_string()).chain(self.dates.iter().map(Day::to_string)).collect();
        if items.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendars_match_the_published_lists() {
        // Whole years, with the days themselves and Easter Sunday where the
        // calendar has it: OPM's United States 2023 (New Year's Day a
        // Sunday, observed Monday the 2nd; Veterans Day a Saturday, Friday
        // the 10th); gov.uk's England and Wales 2021 less its one-off days
        // (Christmas a Saturday: the 27th and 28th off); employment.govt.nz's
        // New Zealand 2023 (New Year's Day a Sunday: the day after is Monday
        // the 2nd, New Year's observed Tuesday the 3rd).
        for (cal, y, want) in [
            (
                Calendar::Us,
                2023,
                "2023-01-01 2023-01-02 2023-01-16 2023-02-20 2023-05-29 2023-06-19 \
                 2023-07-04 2023-09-04 2023-10-09 2023-11-10 2023-11-11 2023-11-23 2023-12-25",
            ),
            (
                Calendar::Gb,
                2021,
                "2021-01-01 2021-04-02 2021-04-04 2021-04-05 2021-05-03 2021-05-31 \
                 2021-08-30 2021-12-25 2021-12-26 2021-12-27 2021-12-28",
            ),
            (
                Calendar::Nz,
                2023,
                "2023-01-01 2023-01-02 2023-01-03 2023-02-06 2023-04-07 2023-04-09 \
                 2023-04-10 2023-04-25 2023-06-05 2023-07-14 2023-10-23 2023-12-25 2023-12-26",
            ),
        ] {
            let got: Vec<String> = cal.year(y).iter().map(|d| d.to_string()).collect();
            assert_eq!(got, want.split_whitespace().collect::<Vec<_>>(), "{cal:?} {y}");
        }
        // Single days of other years: listed or not.
        for (cal, day, listed) in [
            (Calendar::Us, "2021-06-18", true),  // Juneteenth's first year, a Saturday: Friday off
            (Calendar::Us, "2021-12-31", true),  // 1 January 2022 a Saturday
            (Calendar::Us, "2020-06-19", false), // before Juneteenth
            (Calendar::Gb, "2022-01-03", true),  // New Year's Day a Saturday
            (Calendar::Gb, "2022-12-27", true),  // Christmas a Sunday: substitute Tuesday
            (Calendar::Gb, "2022-12-28", false),
            (Calendar::Gb, "2022-05-30", false), // the Spring bank holiday moved for the jubilee
            (Calendar::Gb, "2022-06-02", true),
            (Calendar::Gb, "2022-06-03", true),  // and one added
            (Calendar::Gb, "2023-05-08", true),  // a coronation
            (Calendar::Gb, "2020-05-04", false), // VE Day's 75th: Friday the 8th instead
            (Calendar::Gb, "2020-05-08", true),
            (Calendar::Nz, "2022-01-04", true), // New Year's a Saturday: Monday and Tuesday
            (Calendar::Nz, "2022-06-24", true), // the first Matariki
            (Calendar::Nz, "2022-10-24", true), // Labour Day
            (Calendar::Nz, "2022-12-27", true), // Christmas a Sunday
            (Calendar::Nz, "2021-02-08", true), // Waitangi Day a Saturday: Monday
            (Calendar::Nz, "2052-06-21", true), // the last Matariki the Act sets
            (Calendar::Nz, "2022-09-26", true), // Queen Elizabeth II's memorial day
        ] {
            let d: NaiveDate = day.parse().unwrap();
            assert_eq!(cal.year(d.year()).contains(&d), listed, "{cal:?} {day}");
        }
    }

    #[test]
    fn easter_matches_published_dates() {
        for (y, d) in [
            (2000, "2000-04-23"),
            (2011, "2011-04-24"),
            (2019, "2019-04-21"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
        ] {
            assert_eq!(easter(y).to_string(), d);
        }
    }

    #[test]
    fn settings_parse_and_print_back() {
        let h: Holidays = " NZ ,2024-03-15, nz,2024-03-15,".parse().unwrap();
        assert_eq!(h.calendars, vec![Calendar::Nz]);
        assert_eq!(h.to_string(), "nz,2024-03-15");
        assert!("".parse::<Holidays>().unwrap().is_empty());
        assert!("none".parse::<Holidays>().unwrap().is_empty());
        assert_eq!(Holidays::default().to_string(), "none");
        let e = "us,2024-02-30".parse::<Holidays>().unwrap_err();
        assert!(e.contains("`2024-02-30`"), "{e}");
        let us: Holidays = "us".parse().unwrap();
        // Any range is safe: years outside 1583-9999 have no holidays
        // (Easter's rule is the Gregorian calendar's).
        assert!(us.days(Day(i32::MIN), Day(i32::MAX)).len() > 80_000);
        assert!(Calendar::Gb.year(1000).is_empty() && Calendar::Nz.year(-3).is_empty());
        // A range that ends before it starts has no days; one spanning
        // years has each year's, and a year lists only its own days.
        let first = |y: i32| Calendar::Us.year(y)[0].to_string();
        assert_eq!((first(2022), first(2021)), ("2022-01-01".into(), "2021-01-01".into()));
        let d = |s| Day::parse(s).unwrap();
        assert!(us.days(d("2024-12-31"), d("2024-01-01")).is_empty());
        assert_eq!(us.days(d("2023-12-20"), d("2024-01-05")), vec![d("2023-12-25"), d("2024-01-01")]);
    }
}
