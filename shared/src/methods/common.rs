//! Days the whole business shares: a public holiday, a business-wide outage
//! or promotion moves every service at once. That is not one service's
//! anomaly, so the robust method scores each service against its baseline
//! scaled by the day's common factor: the median, over the services with a
//! baseline of at least [`MIN_CENTRE`], of count over baseline. On an
//! ordinary day the factor is about 1 and changes nothing; on a holiday when
//! everyone sells 30 % of usual it is about 0.3, so a service at 30 % is
//! ordinary and one that stayed at 100 % stands out.
//!
//! The factor comes from every service in the range, never from a filtered
//! few, and only when at least [`MIN_SERVICES`] services inform it: with
//! fewer, one service's own anomaly would move its own baseline. It is used
//! with the weekly pattern on (the default): the ratios are then of days to
//! their own weekday's level, so what is left in common is the calendar.
//!
//! ```
//! use servicewatch_shared::methods::{common, tail::Calibration, Columns};
//! use servicewatch_shared::Day;
//! let mut c = Columns::default();
//! // Five services with a baseline of 100 on day 0; four sold 30, one 100.
//! for (s, n) in [30, 30, 30, 30, 100].into_iter().enumerate() {
//!     c.push(s as u32, Day(0), n, 100.0, 11.0, (n as f64 - 100.0) / 11.0);
//! }
//! let ratios = common::Ratios::gather(&c, 0..5, Day(0), 1, |_| 1.0);
//! let (f, measured) = common::factors(&[ratios], 1);
//! assert_eq!((f.clone(), measured), (vec![0.3], vec![true]));
//! // Each scored with a baseline of 90 neighbours and no weekly pattern.
//! let spans: Vec<_> = (0..5).map(|s| s..s + 1).collect();
//! common::apply(&mut c, &spans, Day(0), &f, &[Some(Calibration::new(90, 0)); 5], &[1.0; 5]);
//! assert_eq!(c.center[0], 30.0); // everyone was at 30 %: ordinary
//! assert_eq!(c.z[0], 0.0);
//! assert!(c.z[4] > 5.0); // the one that stayed at 100 stands out
//! ```

use super::{robust::noise_floor, tail, Columns};
use crate::stats::{median_select, MAD_TO_SD, MEDIAN_SE};
use crate::Day;
use std::ops::Range;

/// Services whose baseline is below this say little about a day's level.
pub const MIN_CENTRE: f64 = 5.0;
/// A common move smaller than this (relative) is left alone.
pub const DEAD_ZONE: f64 = 0.1;
/// Fewer informing services than this and the factor stays 1.
pub const MIN_SERVICES: usize = 5;

/// Ratios of count to baseline grouped by day, from one part of a
/// scoring's points (or all of them): what [`factors`] takes each day's
/// median of. Each part's ratios are gathered where it was scored (each
/// core natively, once all of them have written their points; in the
/// browser the page right after its part, the worker before it answers):
/// reading a million points back is memory-bound (about 3.5 ms natively),
/// and this way it is shared out instead of done by one thread at the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ratios {
    /// Day `from + d`'s ratios are `values[start[d]..start[d + 1]]`.
    pub start: Vec<usize>,
    pub values: Vec<f64>,
}

impl Ratios {
    /// The ratios of `points[range]` on the `days` days from `from`, of
    /// the points whose baseline is at least [`MIN_CENTRE`] transactions
    /// and whose z is a number; `unit(svc)` is what one transaction is
    /// worth in service `svc`'s values (1 for counts). A counting sort:
    /// one pass to count (noting each point's slot), one to place.
    pub fn gather(points: &Columns, range: Range<usize>, from: Day, days: usize, unit: impl Fn(u32) -> f64) -> Ratios {
        let range = range.start.min(range.end).min(points.len())..range.end.min(points.len());
        let mut slot = vec![u32::MAX; range.len()];
        let mut start = vec![0usize; days + 1];
        for (s, i) in slot.iter_mut().zip(range.clone()) {
            let d = (points.day[i].0 - from.0) as usize;
            if points.center[i] / unit(points.svc[i]) >= MIN_CENTRE && points.z[i].is_finite() && d < days {
                *s = d as u32;
                start[d + 1] += 1;
            }
        }
        for d in 0..days {
            start[d + 1] += start[d];
        }
        let mut fill = start.clone();
        let mut values = vec![0.0f64; start[days]];
        for (&d, i) in slot.iter().zip(range) {
            if d != u32::MAX {
                let d = d as usize;
                values[fill[d]] = points.count[i] as f64 / points.center[i];
                fill[d] += 1;
            }
        }
        Ratios { start, values }
    }

    /// Whether this can be the grouping of `days` days of at most
    /// `points` points (a part the browser's worker sent is checked before
    /// it is used: its ratios move every service's baseline): offsets that
    /// rise from 0 to the number of values, and values that are ratios of
    /// a count to a positive baseline (finite, at least 0).
    pub fn fits(&self, days: usize, points: usize) -> bool {
        self.start.len() == days + 1
            && self.start.first() == Some(&0)
            && self.start.windows(2).all(|w| w[0] <= w[1])
            && self.start.last() == Some(&self.values.len())
            && self.values.len() <= points
            && self.values.iter().all(|v| v.is_finite() && *v >= 0.0)
    }

    /// Day `d`'s ratios (none past the days gathered).
    fn on(&self, d: usize) -> &[f64] {
        match (self.start.get(d), self.start.get(d + 1)) {
            (Some(&a), Some(&b)) => self.values.get(a..b).unwrap_or_default(),
            _ => &[],
        }
    }
}

/// The common factor of each of `days` days, from every part's [`Ratios`]
/// of it, and whether at least [`MIN_SERVICES`] services informed it (a
/// day that was not measured has factor 1 too, but says nothing of the
/// business's day). The same whichever parts a day's ratios came in: a
/// median and a median deviation depend on the values alone.
pub fn factors(parts: &[Ratios], days: usize) -> (Vec<f64>, Vec<bool>) {
    let mut r = Vec::new();
    let (mut factor, mut measured) = (Vec::with_capacity(days), Vec::with_capacity(days));
    for d in 0..days {
        let n: usize = parts.iter().map(|p| p.on(d).len()).sum();
        measured.push(n >= MIN_SERVICES);
        // Most days are ordinary: counted where the parts hold them, and
        // only the others are put together and ordered.
        if n < MIN_SERVICES || plainly_ordinary(parts.iter().map(|p| p.on(d)), n) {
            factor.push(1.0);
            continue;
        }
        r.clear();
        for part in parts {
            r.extend_from_slice(part.on(d));
        }
        factor.push(day_factor(&mut r));
    }
    (factor, measured)
}

/// Whether the median of `n` ratios (given in slices) is plainly within
/// DEAD_ZONE of 1, by counting: when no more than the values below the
/// middle lie at or under 1 - DEAD_ZONE / 2, and as many at or over
/// 1 + DEAD_ZONE / 2, the middle values lie strictly between, and so does
/// the median (their mean when `n` is even), well inside the dead zone.
/// Counting is one pass; a median by selection is several, and was half
/// of the serial assembly in the browser.
fn plainly_ordinary<'a>(slices: impl Iterator<Item = &'a [f64]>, n: usize) -> bool {
    let (lo, hi) = (1.0 - 0.5 * DEAD_ZONE, 1.0 + 0.5 * DEAD_ZONE);
    let (mut below, mut above) = (0, 0);
    for v in slices.flatten() {
        below += (*v <= lo) as usize;
        above += (*v >= hi) as usize;
    }
    let half = n.saturating_sub(1) / 2;
    below <= half && above <= half
}

/// One day's factor from its ratios (reordered).
fn day_factor(r: &mut [f64]) -> f64 {
    if r.len() < MIN_SERVICES {
        return 1.0;
    }
    let m = median_select(r);
    // An ordinary day's factor is 1 give or take noise: only a real
    // common move is divided out, one beyond DEAD_ZONE and beyond
    // three standard errors of the median (few services, or services
    // that disagree, make a noisy median). Most days stop at the
    // first test, so the spread is computed on the rare others.
    if (m - 1.0).abs() < DEAD_ZONE {
        return 1.0;
    }
    let mut dev: Vec<f64> = r.iter().map(|v| (v - m).abs()).collect();
    let sd = MAD_TO_SD * median_select(&mut dev);
    let se = MEDIAN_SE * sd / (r.len() as f64).sqrt();
    if (m - 1.0).abs() < 3.0 * se {
        1.0
    } else {
        m
    }
}

/// Scales the baselines of scored services by their day's factor and
/// re-scores: centre × f, spread × f (at least the count-noise floor
/// 1 + √centre in transactions), z from those with the calibration the
/// service was scored with (`calibration[svc]`, [`super::Verdict::calibration`];
/// `None` = not calibrated, left as it is). `spans[svc]` are the service's
/// points: only its days whose factor is not 1 are visited (a few holidays
/// a year), found by their offset from its first day (the robust method
/// scores every calendar day), else by search.
pub fn apply(
    points: &mut Columns,
    spans: &[Range<usize>],
    from: Day,
    factor: &[f64],
    calibration: &[Option<tail::Calibration>],
    units: &[f64],
) {
    let moved: Vec<(Day, f64)> =
        factor.iter().enumerate().filter(|(_, f)| **f != 1.0).map(|(d, &f)| (Day(from.0 + d as i32), f)).collect();
    if moved.is_empty() {
        return;
    }
    for (svc, span) in spans.iter().enumerate() {
        let Some(cal) = calibration.get(svc).copied().flatten() else { continue };
        debug_assert!(span.end <= points.len(), "a span within the points");
        debug_assert!(points.svc.get(span.clone()).is_some_and(|s| s.iter().all(|&v| v as usize == svc)));
        let days = points.day.get(span.clone()).unwrap_or_default();
        let (Some(&first), Some(&last)) = (days.first(), days.last()) else { continue };
        // Scored in transactions, as the method scored the day.
        let unit = units.get(svc).copied().unwrap_or(1.0);
        for &(day, f) in moved.iter().filter(|(d, _)| (first..=last).contains(d)) {
            let Some(k) = position(days, day) else { continue };
            let i = span.start + k;
            if !points.z[i].is_finite() {
                continue;
            }
            let center = points.center[i] * f;
            let floor = noise_floor(center / unit);
            let spread = (points.spread[i] * f / unit).max(floor);
            points.center[i] = center;
            points.spread[i] = spread * unit;
            points.z[i] = cal.z(points.count[i] as f64 / unit, center / unit, spread, floor);
        }
    }
}

/// Where `day` is among a service's sorted `days`: at its offset from the
/// first (the robust method scores every calendar day), else by search.
fn position(days: &[Day], day: Day) -> Option<usize> {
    let first = *days.first()?;
    let k = usize::try_from(day.0 - first.0).ok()?;
    if days.get(k) == Some(&day) {
        Some(k)
    } else {
        days.binary_search(&day).ok()
    }
}

/// Leaves unscored (z = NaN) a reading below its centre on a calendar
/// holiday (`holidays`, sorted) that no common factor measured
/// (`measured[day - from]`, from [`factors`]; empty when there was no
/// factor): the calendar says the business is quiet that day, and too few
/// services share the day to tell by how much. A spike
/// on a holiday is still scored, and so is every day a factor measured,
/// where a service that breaks from the crowd still flags.
///
/// ```
/// use servicewatch_shared::methods::{common, Columns};
/// use servicewatch_shared::Day;
/// let mut c = Columns::default();
/// for (d, n) in [(0, 100), (1, 20), (2, 300)] {
///     c.push(0, Day(d), n, 100.0, 11.0, (n as f64 - 100.0) / 11.0);
/// }
/// common::calendar(&mut c, &[0..3], &[Day(1), Day(2)], Day(0), &[]);
/// assert!(c.z[1].is_nan()); // a quiet holiday: not a drop
/// assert!(c.z[2] > 10.0); // a busy one is still a spike
/// ```
pub fn calendar(points: &mut Columns, spans: &[Range<usize>], holidays: &[Day], from: Day, measured: &[bool]) {
    let measured = |d: Day| usize::try_from(d.0 - from.0).ok().and_then(|i| measured.get(i)) == Some(&true);
    let quiet: Vec<Day> = holidays.iter().copied().filter(|&d| !measured(d)).collect();
    if quiet.is_empty() {
        return;
    }
    for span in spans {
        let days = points.day.get(span.clone()).unwrap_or_default();
        let (Some(&first), Some(&last)) = (days.first(), days.last()) else { continue };
        for &day in quiet.iter().filter(|d| (first..=last).contains(d)) {
            let Some(k) = position(days, day) else { continue };
            let i = span.start + k;
            if points.z[i] < 0.0 {
                points.z[i] = f64::NAN;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counted shortcut never decides a day the median would not: on
    /// days of ratios around 1 (ties at the shortcut's bounds and at the
    /// dead zone's included), a day it calls ordinary has factor 1 by the
    /// median too, and the factors do not depend on how the ratios are
    /// cut into parts.
    #[test]
    fn counting_agrees_with_the_median() {
        let mut next = crate::lcg(7);
        let edges = [1.0 - 0.5 * DEAD_ZONE, 1.0 + 0.5 * DEAD_ZONE, 1.0 - DEAD_ZONE, 1.0 + DEAD_ZONE, 1.0];
        let (mut shortcut, mut moved) = (0, 0);
        for _ in 0..20_000 {
            let n = MIN_SERVICES + next(40) as usize;
            let spread = [0.02, 0.06, 0.15, 0.4][next(4) as usize];
            let centre = 1.0 + (next(41) as f64 - 20.0) / 100.0;
            let r: Vec<f64> = (0..n)
                .map(|_| match next(5) {
                    0 => edges[next(edges.len() as u64) as usize],
                    _ => (centre + spread * (next(2001) as f64 / 1000.0 - 1.0)).max(0.0),
                })
                .collect();
            let exact = day_factor(&mut r.clone());
            if plainly_ordinary(std::iter::once(&r[..]), n) {
                shortcut += 1;
                assert_eq!(exact, 1.0, "{r:?}");
            }
            moved += (exact != 1.0) as usize;
            // The same day's ratios in two parts, and in one.
            let cut = next(n as u64 + 1) as usize;
            let part = |v: &[f64]| Ratios { start: vec![0, v.len()], values: v.to_vec() };
            let (one, two) = (factors(&[part(&r)], 1), factors(&[part(&r[..cut]), part(&r[cut..])], 1));
            assert_eq!(one, two);
            assert_eq!(one.0[0].to_bits(), exact.to_bits());
        }
        // Both kinds of day were met.
        assert!(shortcut > 1000 && moved > 1000, "{shortcut} {moved}");
    }
}
