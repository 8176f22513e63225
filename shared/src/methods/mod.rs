//! The baseline methods. Each turns one service's days in range into scored
//! points (day, count, centre, spread, z) written to a [`sink::Sink`] (the
//! end of shared [`Columns`], or one core's share of them), and says how
//! scorable the service is.

pub mod classic;
pub mod common;
pub mod robust;
pub mod sink;
pub mod tail;

use crate::Day;

/// The per-point output columns all services are appended to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    pub svc: Vec<u32>,
    pub day: Vec<Day>,
    pub count: Vec<u64>,
    pub center: Vec<f64>,
    pub spread: Vec<f64>,
    pub z: Vec<f64>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.day.len()
    }

    pub fn is_empty(&self) -> bool {
        self.day.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.svc.clear();
        self.day.clear();
        self.count.clear();
        self.center.clear();
        self.spread.clear();
        self.z.clear();
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.svc.reserve(n);
        self.day.reserve(n);
        self.count.reserve(n);
        self.center.reserve(n);
        self.spread.reserve(n);
        self.z.reserve(n);
    }

    /// Appends `other`'s points after these.
    pub(crate) fn append(&mut self, other: &Columns) {
        self.svc.extend_from_slice(&other.svc);
        self.day.extend_from_slice(&other.day);
        self.count.extend_from_slice(&other.count);
        self.center.extend_from_slice(&other.center);
        self.spread.extend_from_slice(&other.spread);
        self.z.extend_from_slice(&other.z);
    }

    #[inline(always)]
    pub fn push(&mut self, svc: u32, day: Day, count: u64, center: f64, spread: f64, z: f64) {
        self.svc.push(svc);
        self.day.push(day);
        self.count.push(count);
        self.center.push(center);
        self.spread.push(spread);
        self.z.push(z);
    }
}

/// Whether a service's days could be scored, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Scored,
    /// Not enough days to estimate a baseline at all.
    TooFewDays,
    /// Every day has the same count: the spread is zero, nothing can stand out.
    Flat,
}

/// What a method reports about one service besides its points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub status: Status,
    /// Days of history the minimum-history control is compared with.
    pub history: u32,
    /// The largest |z| this method can give any day of this history, if it
    /// is bounded (classic: (n - 1) / sqrt(n)).
    pub z_ceiling: Option<f64>,
    /// Days each baseline was estimated from (robust; 0 when unscored): the
    /// calibration's measure of how sure the baseline is (`tail`).
    pub neighbours: u32,
    /// Days behind each weekday factor, when a weekly pattern is divided
    /// out (robust; 0 when none is): the factor's own error is part of the
    /// baseline's (`tail::Calibration::new`).
    pub weeks: u32,
}

impl Verdict {
    /// The calibration every z of this service was scored with, for
    /// whatever scores or inverts it again (the common factor, the chart's
    /// band); `None` where the method does not calibrate (classic, unscored).
    pub fn calibration(&self) -> Option<tail::Calibration> {
        (self.status == Status::Scored && self.neighbours > 0)
            .then(|| tail::Calibration::new(self.neighbours as usize, self.weeks as usize))
    }
}
