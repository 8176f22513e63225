//! A compact binary encoding of the daily aggregates ([`Daily`]), for the
//! browser: about a fifth of the JSON before compression, and decoded
//! straight into the engine's validated [`Panel`].
//!
//! Layout (all integers LEB128 varints unless said):
//!
//! ```text
//! "SWD1"                         magic and version, 4 bytes
//! from, to                       zigzag day numbers
//! series count
//! per series:
//!   key length, key bytes        UTF-8
//!   day count
//!   first day - from             zigzag
//!   each next day - previous - 1 (days strictly increase)
//!   each count
//! ```
//!
//! The decoder trusts nothing: every length is checked against the bytes
//! left before anything is allocated, so a truncated or hostile body is an
//! error, never a panic or a huge allocation.

use crate::wire::{Daily, Series};
use crate::{Day, Panel, PanelError};

/// The media type the server offers for this encoding.
pub const MEDIA_TYPE: &str = "application/vnd.servicewatch.daily";
const MAGIC: &[u8; 4] = b"SWD1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a servicewatch daily body (bad magic or version)")]
    BadMagic,
    #[error("the body ends early (at byte {0})")]
    Truncated(usize),
    #[error("a number at byte {0} is too large or padded")]
    Overflow(usize),
    #[error("a service name at byte {0} is not UTF-8")]
    BadKey(usize),
    #[error("a day at byte {0} is out of range")]
    BadDay(usize),
    #[error("{0} bytes left over after the last series")]
    Trailing(usize),
    #[error(transparent)]
    Panel(#[from] PanelError),
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes `daily`. Its series must have strictly increasing days (as every
/// [`Daily`] made from a [`Panel`] does); otherwise the day deltas wrap and
/// the decoder rejects the body.
///
/// ```
/// use servicewatch_shared::codec::{decode, encode};
/// use servicewatch_shared::wire::{Daily, Series};
/// use servicewatch_shared::Day;
/// let d = Daily { from: Day(100), to: Day(110), series: vec![
///     Series { key: "tyres".into(), dates: vec![Day(101), Day(104)], values: vec![3, 500] }] };
/// let bytes = encode(&d);
/// assert_eq!(&bytes[..4], b"SWD1");
/// assert_eq!(decode(&bytes).unwrap(), d);
/// assert!(decode(&bytes[..bytes.len() - 1]).is_err());
/// ```
pub fn encode(daily: &Daily) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + daily.series.iter().map(|s| s.key.len() + 3 * s.dates.len()).sum::<usize>());
    out.extend_from_slice(MAGIC);
    put(&mut out, zigzag(daily.from.0 as i64));
    put(&mut out, zigzag(daily.to.0 as i64));
    put(&mut out, daily.series.len() as u64);
    for s in &daily.series {
        put(&mut out, s.key.len() as u64);
        out.extend_from_slice(s.key.as_bytes());
        put(&mut out, s.dates.len() as u64);
        let mut prev = None;
        for d in &s.dates {
            match prev {
                None => put(&mut out, zigzag(d.0 as i64 - daily.from.0 as i64)),
                Some(p) => put(&mut out, (d.0 as i64 - p as i64 - 1) as u64),
            }
            prev = Some(d.0);
        }
        for &v in &s.values {
            put(&mut out, v);
        }
    }
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.pos).ok_or(DecodeError::Truncated(self.pos))?;
            self.pos += 1;
            let part = (b & 0x7f) as u64;
            if shift == 63 && part > 1 {
                return Err(DecodeError::Overflow(start));
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                // One body per value: no padded varints (a trailing zero byte).
                if b == 0 && self.pos - start > 1 {
                    return Err(DecodeError::Overflow(start));
                }
                return Ok(v);
            }
        }
        Err(DecodeError::Overflow(start))
    }

    /// A length that the remaining bytes could hold at `min_bytes` each.
    fn length(&mut self, min_bytes: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.varint()?;
        let left = (self.bytes.len() - self.pos) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(DecodeError::Truncated(at));
        }
        Ok(n as usize)
    }

    fn day(&mut self, base: i64, raw: u64) -> Result<Day, DecodeError> {
        let v = base.checked_add(unzigzag(raw)).filter(|v| i32::try_from(*v).is_ok());
        v.map(|v| Day(v as i32)).ok_or(DecodeError::BadDay(self.pos))
    }
}

/// Decodes a body made by [`encode`], checking everything.
pub fn decode(bytes: &[u8]) -> Result<Daily, DecodeError> {
    if bytes.len() < 4 || &bytes[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let mut r = Reader { bytes, pos: 4 };
    let raw = r.varint()?;
    let from = r.day(0, raw)?;
    let raw = r.varint()?;
    let to = r.day(0, raw)?;
    let n = r.length(2)?;
    let mut series = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.length(1)?;
        let at = r.pos;
        let key = std::str::from_utf8(&bytes[at..at + len]).map_err(|_| DecodeError::BadKey(at))?.to_string();
        r.pos += len;
        let days = r.length(2)?;
        let mut dates = Vec::with_capacity(days);
        let mut prev: Option<i64> = None;
        for _ in 0..days {
            let raw = r.varint()?;
            let d = match prev {
                None => r.day(from.0 as i64, raw)?,
                Some(p) => {
                    let step = i64::try_from(raw).map_err(|_| DecodeError::BadDay(r.pos))?;
                    r.day(p.saturating_add(1), zigzag(step))?
                }
            };
            prev = Some(d.0 as i64);
            dates.push(d);
        }
        let values = (0..days).map(|_| r.varint()).collect::<Result<Vec<_>, _>>()?;
        series.push(Series { key, dates, values });
    }
    if r.pos != bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - r.pos));
    }
    Ok(Daily { from, to, series })
}

/// Decodes straight into a validated panel (the browser's path).
pub fn decode_panel(bytes: &[u8]) -> Result<(Daily, Panel), DecodeError> {
    let daily = decode(bytes)?;
    let panel = daily.to_panel()?;
    Ok((daily, panel))
}
