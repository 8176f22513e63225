//! Which time zone defines a day.
//!
//! Timestamps in the table are instants (UTC). A "day" is a calendar day in
//! one configured zone: UTC by default, or an IANA name such as
//! `Europe/Paris`, so a service-day matches the business day the analysts
//! see. Daylight saving is handled: a day may be 23 or 25 hours long, and
//! where midnight does not exist the day starts at the first instant that
//! does.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use servicewatch_shared::Day;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone(Tz);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time zone: use an IANA name such as UTC, Europe/Paris or America/New_York")]
pub struct BadZone(pub String);

impl Zone {
    pub const UTC: Zone = Zone(Tz::UTC);

    /// An IANA time zone name, exactly as the tz database spells it.
    ///
    /// ```
    /// use servicewatch::warehouse::zone::Zone;
    /// assert_eq!(Zone::parse("Europe/Paris").unwrap().name(), "Europe/Paris");
    /// assert!(Zone::parse("Mars/Olympus").is_err());
    /// assert!(Zone::parse("+02:00").is_err()); // offsets ignore daylight saving
    /// ```
    pub fn parse(name: &str) -> Result<Zone, BadZone> {
        Tz::from_str(name).map(Zone).map_err(|_| BadZone(name.to_string()))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Whether days are plain UTC days (then no per-row conversion is needed).
    pub fn is_utc(&self) -> bool {
        matches!(self.0, Tz::UTC | Tz::Etc__UTC | Tz::Etc__UCT | Tz::UCT | Tz::Etc__Universal | Tz::Universal)
    }

    /// Seconds to add to a UTC instant to get the local wall clock.
    pub fn offset_at(&self, utc: &NaiveDateTime) -> i32 {
        self.0.offset_from_utc_datetime(utc).fix().local_minus_utc()
    }

    /// The day a UTC instant falls on, in this zone.
    ///
    /// ```
    /// use chrono::NaiveDateTime;
    /// use servicewatch::warehouse::zone::Zone;
    /// use servicewatch_shared::Day;
    /// let t = NaiveDateTime::parse_from_str("2024-03-01 23:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
    /// assert_eq!(Zone::UTC.day_of(&t), Day::parse("2024-03-01").unwrap());
    /// assert_eq!(Zone::parse("Europe/Paris").unwrap().day_of(&t), Day::parse("2024-03-02").unwrap());
    /// ```
    pub fn day_of(&self, utc: &NaiveDateTime) -> Day {
        Day::from_date(self.0.from_utc_datetime(utc).date_naive())
    }

    /// The first instant of `day` in this zone, as a UTC time.
    ///
    /// ```
    /// use servicewatch::warehouse::zone::Zone;
    /// use servicewatch_shared::Day;
    /// let paris = Zone::parse("Europe/Paris").unwrap();
    /// let d = Day::parse("2024-03-31").unwrap(); // clocks go forward at 02:00
    /// assert_eq!(paris.start_of(d).to_string(), "2024-03-30 23:00:00"); // UTC+1
    /// assert_eq!(paris.start_of(d.next()).to_string(), "2024-03-31 22:00:00"); // UTC+2: a 23-hour day
    /// ```
    pub fn start_of(&self, day: Day) -> NaiveDateTime {
        let midnight = day.date().and_hms_opt(0, 0, 0).unwrap_or_default();
        // Where midnight is skipped (clocks jump at 00:00), the day starts
        // at the first local minute that exists.
        // A day skipped entirely (Samoa, 2011-12-30) is empty: it starts
        // where the next one does.
        (0..24 * 60)
            .find_map(|m| self.0.from_local_datetime(&(midnight + chrono::Duration::minutes(m))).earliest())
            .map(|t: DateTime<Tz>| t.naive_utc())
            .unwrap_or_else(|| self.start_of(day.next()))
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::UTC
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Offsets change a few times a year, so consecutive rows (tables are
/// mostly written in time order) reuse the offset of their 15-minute slot
/// instead of searching the zone's transitions for every row.
pub struct OffsetCache {
    zone: Zone,
    slot: i64,
    offset: i32,
}

/// Transitions fall on whole quarter hours in every zone in use today.
const SLOT_SECONDS: i64 = 900;

impl OffsetCache {
    pub fn new(zone: Zone) -> OffsetCache {
        OffsetCache { zone, slot: i64::MIN, offset: 0 }
    }

    /// Local-minus-UTC seconds at a UTC instant given in seconds.
    pub fn offset(&mut self, utc_seconds: i64) -> i32 {
        let slot = utc_seconds.div_euclid(SLOT_SECONDS);
        if slot == self.slot {
            return self.offset;
        }
        let at = |s: i64| DateTime::from_timestamp(s, 0).map(|t| self.zone.offset_at(&t.naive_utc())).unwrap_or(0);
        let (start, end) = (at(slot * SLOT_SECONDS), at(slot * SLOT_SECONDS + SLOT_SECONDS - 1));
        if start == end {
            (self.slot, self.offset) = (slot, start);
            start
        } else {
            // A transition inside this slot: no caching, exact answer.
            at(utc_seconds)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn day_of_agrees_with_start_of_across_transitions() {
        for name in ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Havana", "Asia/Kolkata"]
        {
            let z = Zone::parse(name).unwrap();
            let first = Day::parse("2023-01-01").unwrap();
            for d in 0..730 {
                let day = Day(first.0 + d);
                let (start, end) = (z.start_of(day), z.start_of(day.next()));
                assert_eq!(z.day_of(&start), day, "{name} {day}");
                assert_eq!(z.day_of(&(start - chrono::Duration::seconds(1))), Day(day.0 - 1), "{name} {day}");
                let hours = (end - start).num_minutes();
                assert!((22 * 60..=26 * 60).contains(&hours), "{name} {day}: {hours} min");
            }
        }
    }

    #[test]
    fn havana_skips_midnight() {
        // Cuba moves clocks from 00:00 to 01:00: the day starts at 01:00 local.
        let z = Zone::parse("America/Havana").unwrap();
        let day = Day::parse("2024-03-10").unwrap();
        assert_eq!(z.start_of(day), utc("2024-03-10 05:00:00"));
    }

    #[test]
    fn a_skipped_day_is_empty() {
        let z = Zone::parse("Pacific/Apia").unwrap();
        let day = Day::parse("2011-12-30").unwrap();
        assert_eq!(z.start_of(day), z.start_of(day.next()));
        assert_eq!(z.start_of(day), utc("2011-12-30 10:00:00"));
    }

    #[test]
    fn cached_offsets_equal_direct_ones() {
        let z = Zone::parse("America/New_York").unwrap();
        let mut cache = OffsetCache::new(z);
        let start = utc("2024-03-10 05:00:00").and_utc().timestamp();
        for s in (start..start + 4 * 3600).step_by(37) {
            let direct = z.offset_at(&DateTime::from_timestamp(s, 0).unwrap().naive_utc());
            assert_eq!(cache.offset(s), direct, "{s}");
        }
        assert!(Zone::parse("Etc/UTC").unwrap().is_utc());
        assert!(!z.is_utc());
    }
}
