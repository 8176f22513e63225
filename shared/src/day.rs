//! Calendar days as plain integers.
//!
//! The engine works on `i32` day numbers (days since 1970-01-01) so that a
//! service's history is a sorted integer column and "the next day" is `+ 1`.
//! Dates only become text at the edges (wire types, CSV).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A calendar day: the number of days since 1970-01-01.
///
/// ```
/// use servicewatch_shared::Day;
/// let d = Day::parse("2024-03-01").unwrap();
/// assert_eq!(d.to_string(), "2024-03-01");
/// assert_eq!(d.next().to_string(), "2024-03-02");
/// assert_eq!(Day::parse("1970-01-01").unwrap(), Day(0));
/// assert!(Day::parse("2024-02-30").is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Day(pub i32);

const EPOCH_CE: i32 = 719_163; // NaiveDate::num_days_from_ce() of 1970-01-01

/// A date string that is not a real `YYYY-MM-DD` day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date in YYYY-MM-DD form")]
pub struct BadDate(pub String);

impl Day {
    /// Parses `YYYY-MM-DD` strictly (no time part, no other layout). By
    /// hand rather than with chrono's `parse_from_str`, whose format
    /// machinery the browser app would otherwise ship for this alone.
    pub fn parse(s: &str) -> Result<Day, BadDate> {
        let b = s.as_bytes();
        let dashes = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
        match (dashes, digits(b, 0..4), digits(b, 5..7), digits(b, 8..10)) {
            (true, Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y as i32, m, d).map(Day::from_date),
            _ => None,
        }
        .ok_or_else(|| BadDate(s.to_string()))
    }

    pub fn from_date(d: NaiveDate) -> Day {
        Day(d.num_days_from_ce() - EPOCH_CE)
    }

    /// The calendar date; days outside chrono's range clamp to its ends.
    pub fn date(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0.saturating_add(EPOCH_CE)).unwrap_or(if self.0 < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
    }

    pub fn next(self) -> Day {
        Day(self.0 + 1)
    }

    /// Day of the week, Monday = 0 … Sunday = 6.
    ///
    /// ```
    /// use servicewatch_shared::Day;
    /// assert_eq!(Day::parse("2024-01-01").unwrap().weekday(), 0); // a Monday
    /// assert_eq!(Day::parse("1970-01-01").unwrap().weekday(), 3); // a Thursday
    /// ```
    pub fn weekday(self) -> usize {
        (self.0 + 3).rem_euclid(7) as usize
    }
}

/// The number the ASCII digits `b[r]` write, if they are all digits (and
/// there: `None` past the end). For the hand-written readers of dates and
/// times (`Day::parse`, `crate::timestamp`).
pub(crate) fn digits(b: &[u8], r: std::ops::Range<usize>) -> Option<u32> {
    b.get(r)
        .filter(|d| d.iter().all(u8::is_ascii_digit))
        .map(|d| d.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0')))
}

impl fmt::Display for Day {
    /// `YYYY-MM-DD` (a year outside 0-9999 signed, as chrono writes it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.date();
        let y = d.year();
        if (0..=9999).contains(&y) {
            write!(f, "{y:04}-{:02}-{:02}", d.month(), d.day())
        } else {
            write!(f, "{y:+05}-{:02}-{:02}", d.month(), d.day())
        }
    }
}

impl TryFrom<String> for Day {
    type Error = BadDate;
    fn try_from(s: String) -> Result<Day, BadDate> {
        Day::parse(&s)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Day {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .examples(["2024-03-01"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Day {}

impl From<Day> for String {
    fn from(d: Day) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn text_is_chronos_and_reads_back(n in -800_000i32..3_000_000) {
            let d = Day(n);
            let text = d.to_string();
            prop_assert_eq!(&text, &d.date().format("%Y-%m-%d").to_string());
            if (0..=9999).contains(&d.date().year()) {
                prop_assert_eq!(Day::parse(&text), Ok(d));
            } else {
                prop_assert!(Day::parse(&text).is_err());
            }
        }
    }

    #[test]
    fn only_real_dates_in_the_one_layout_parse() {
        for bad in [
            "2024-1-01",
            "2024-01-1",
            " 024-01-01",
            "+024-01-01",
            "2024/01/01",
            "20a4-01-01",
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-01-01T00:00",
            "",
            "2024-01-+1",
            "２０24-01-01",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Day::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(Day::parse("0000-01-01").unwrap().to_string(), "0000-01-01");
    }
}
