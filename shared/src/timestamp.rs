//! A UTC time's text, read by hand. The browser app reads the times of the
//! marks it is sent (`wire::Mark::marked_at`) and would otherwise ship
//! chrono's RFC 3339 parser for that alone (7.9 KB of its gzip wasm). This
//! reads what chrono writes for a `DateTime<Utc>` in the years 0000-9999,
//! which is all the server ever sends (its clock's times):
//! `YYYY-MM-DDTHH:MM:SS`, a fraction of 1 to 9 digits if the time has one,
//! and `Z` (`+00:00` is read too). Years with a sign (`-0001`, `+10000`)
//! are not read. A property test compares it with chrono on every form
//! chrono writes for years 1-9999.
//!
//! ```
//! use servicewatch_shared::timestamp::parse;
//! let t = parse("2026-11-25T10:00:00.25Z").unwrap();
//! assert_eq!(t.to_rfc3339(), "2026-11-25T10:00:00.250+00:00");
//! assert_eq!(parse("2026-11-25T10:00:00+00:00"), parse("2026-11-25T10:00:00Z"));
//! assert_eq!(parse("2026-11-25T10:00:00+01:00"), None); // UTC only
//! assert_eq!(parse("2026-11-25 10:00:00Z"), None);
//! ```

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::day::digits;
use crate::Day;

/// The time `s` names, if it is in the form above.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let date = Day::parse(s.get(..10)?).ok()?.date();
    let b = s.as_bytes();
    let number = |r| digits(b, r);
    if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (h, m, sec) = (number(11..13)?, number(14..16)?, number(17..19)?);
    // The fraction: one to nine digits after a point.
    let mut end = 19;
    let mut nano = 0;
    if b.get(19) == Some(&b'.') {
        let digits = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        nano = number(20..20 + digits)? * 10u32.pow(9 - digits as u32);
        end = 20 + digits;
    }
    // Everything before `end` is ASCII, so it is a character boundary.
    if !matches!(&s[end..], "Z" | "+00:00") {
        return None;
    }
    // A leap second is written :60 and held as :59 with a second's worth of nanoseconds.
    let (sec, nano) = if sec == 60 { (59, nano + 1_000_000_000) } else { (sec, nano) };
    let time = NaiveTime::from_hms_nano_opt(h, m, sec, nano)?;
    Some(date.and_time(time).and_utc())
}

/// Reads a `DateTime<Utc>` with [`parse`], for `#[serde(deserialize_with)]`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not a UTC time like 2026-11-25T10:00:00Z")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SubsecRound, TimeZone};
    use proptest::prelude::*;

    proptest! {
        /// Whatever chrono writes for a UTC time (serde's form, and
        /// `to_rfc3339`'s), at every precision, reads back as that time.
        #[test]
        fn reads_what_chrono_writes(secs in -62_135_596_800i64..253_402_300_799, nano in 0u32..1_000_000_000, digits in 0u16..=9) {
            let t = Utc.timestamp_opt(secs, nano).unwrap().trunc_subsecs(digits);
            let serde_text: String = serde_json::from_value(serde_json::to_value(t).unwrap()).unwrap();
            prop_assert_eq!(parse(&serde_text), Some(t), "{}", serde_text);
            prop_assert_eq!(parse(&t.to_rfc3339()), Some(t));
        }

        /// It never reads a text differently from chrono: where both read
        /// one, the times are equal.
        #[test]
        fn never_disagrees_with_chrono(s in "20[0-9]{2}-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,10})?(Z|z|\\+00:00|\\+01:00|)") {
            if let Some(t) = parse(&s) {
                let theirs = DateTime::parse_from_rfc3339(&s).map(|d| d.with_timezone(&Utc));
                prop_assert_eq!(Ok(t), theirs, "{}", s);
            }
        }
    }

    #[test]
    fn a_leap_second_and_bad_texts() {
        let leap = parse("2016-12-31T23:59:60.5Z").unwrap();
        assert_eq!(Some(leap), DateTime::parse_from_rfc3339("2016-12-31T23:59:60.5Z").ok().map(|d| d.to_utc()));
        for bad in [
            "",
            "2026-11-25",
            "2026-11-25T10:00:00",
            "2026-11-25T10:00:00.Z",
            "2026-11-25T10:00:00.1234567890Z",
            "2026-11-25T24:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-11-25T10:00:00Zjunk",
            "2026-11-25T1:00:00Z",
            "２026-11-25T10:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        let err = serde_json::from_str::<crate::wire::Mark>(
            r#"{"series":"a","date":"2026-11-25","kind":"expected","note":"","marked_by":"ana","marked_at":"yesterday"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("`yesterday` is not a UTC time"), "{err}");
    }
}
