//! The original app's method, reproduced exactly.
//!
//! Per service, over the days in range that have at least one transaction:
//! mean and sample standard deviation (n - 1) of the daily counts, the day
//! under test included; z = (count - mean) / sd. Missing days are not zeros.
//!
//! Because each day is part of its own baseline, no day can score above
//! (n - 1) / sqrt(n): with 10 days of history a threshold of 3 can never be
//! reached, whatever happens.
//!
//! Days an analyst marked (`excluded`, sorted) are left out of the mean and the
//! standard deviation and still scored against them; with no marks this is
//! the original logic, bit for bit.
//!
//! ```
//! use servicewatch_shared::methods::{classic, Columns, Status};
//! use servicewatch_shared::Day;
//! // counts 10, 10, 10, 30: mean 15, sd = sqrt(300 / 3) = 10
//! let days: Vec<Day> = (0..4).map(Day).collect();
//! let mut out = Columns::default();
//! let v = classic::score(0, &days, &[10, 10, 10, 30], &[], &mut out);
//! assert_eq!(v.status, Status::Scored);
//! assert_eq!(out.center[3], 15.0);
//! assert_eq!(out.spread[3], 10.0);
//! assert_eq!(out.z, vec![-0.5, -0.5, -0.5, 1.5]);
//! assert_eq!(v.z_ceiling, Some(3.0 / 2.0)); // (n - 1) / sqrt(n) with n = 4
//!
//! // Day 3 marked: the baseline is the other three days (10, sd 0: flat).
//! let mut out = Columns::default();
//! let v = classic::score(0, &days, &[10, 10, 10, 30], &[Day(3)], &mut out);
//! assert_eq!((v.status, out.center[3]), (Status::Flat, 10.0));
//! ```

use super::{sink::Sink, Status, Verdict};
use crate::stats::mean_sd;
use crate::Day;

pub fn score(svc: u32, days: &[Day], counts: &[u64], excluded: &[Day], out: &mut impl Sink) -> Verdict {
    let n = days.len();
    let xs: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let ceiling = (n >= 2).then(|| (n as f64 - 1.0) / (n as f64).sqrt());
    let kept: Vec<f64>;
    let base = if excluded.is_empty() {
        &xs
    } else {
        kept = days.iter().zip(&xs).filter(|(d, _)| excluded.binary_search(d).is_err()).map(|(_, x)| *x).collect();
        &kept
    };
    let (mean, sd, status) = match mean_sd(base) {
        None => (base.first().copied().unwrap_or(0.0), 0.0, Status::TooFewDays),
        Some((m, sd)) if sd > 0.0 => (m, sd, Status::Scored),
        Some((m, _)) => (m, 0.0, Status::Flat),
    };
    for (i, &d) in days.iter().enumerate() {
        let z = if status == Status::Scored { (xs[i] - mean) / sd } else { 0.0 };
        out.push(svc, d, counts[i], mean, sd, z);
    }
    Verdict { status, history: n as u32, z_ceiling: ceiling, neighbours: 0, weeks: 0 }
}
