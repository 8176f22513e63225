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
    /// Parses `YYYY-MM-DD` strictly (no time part, no other layout).
    pub fn parse(s: &str) -> Result<Day, BadDate> {
        let ok = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|_| ok)
            .map(Day::from_date)
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

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date().format("%Y-%m-%d"))
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
