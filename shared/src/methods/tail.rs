//! From a day's deviation to a calibrated z: a normal-equivalent score, so
//! that |z| >= 3 means about one ordinary day in 370, as the slider says.
//!
//! A plain `(count - centre) / spread` is not that. Over-dispersed counts
//! have a heavy upper tail (a service whose days vary by half their level
//! lands three "spreads" above its centre ten times more often than a
//! normal variable), and a spread estimated from 90 neighbours, or 14 on a
//! short series, is itself uncertain. Three steps, each cheap and computed
//! once per baseline, never per slider move:
//!
//! 1. **Two readings of the deviation.** The gaussian one, `(x - c) / s`,
//!    ranks a spike by its size in spreads. The count model's one is the
//!    signed deviance residual of a negative binomial with mean `c` and the
//!    over-dispersion the neighbours' spread has beyond the count-noise
//!    floor (a Poisson where the spread is the floor): it
//!    turns a deviation into (about) the normal quantile of its tail
//!    probability, so skewed series' busy days shrink and a drop to zero
//!    gets the weight its probability deserves. Each errs on its own side:
//!    the first overstates spikes of skewed series, the second overstates
//!    drops of steady ones. Above the centre their mean ranks labelled
//!    anomalies better than either; below it the gaussian reading is far
//!    too shy (a count's lower tail is shorter than a normal one: on data
//!    with no anomalies, the mean flagged drops at a fiftieth of the normal
//!    rate), so there the count model's reading weighs nine tenths
//!    ([`DROP_GAUSSIAN_SHARE`], `docs/quality.md`).
//! 2. **The baseline's own uncertainty.** The centre is a median of `n`
//!    neighbours (variance about 1.57 s² / n), so the deviation is divided
//!    by `sqrt(1 + 1.57 / n)`; when a weekly pattern is divided out, the
//!    weekday's factor is itself a median of `w` of its days, and adds its
//!    `1.57 / w` (on eight weeks of history, a tenth of the deviation).
//! 3. **The spread's uncertainty.** A score over an estimated spread is
//!    about Student's t, here with a third of `n - 1` degrees of freedom
//!    ([`DF_SHARE`]: heavy-tailed counts make a spread noisier than normal
//!    data would); Wallace's (1959) approximation maps it to the normal
//!    quantile of the same tail. (Treating the floor as known and only the
//!    excess as estimated, Welch-Satterthwaite style, is neater and
//!    measured worse: small counts that sit on the floor are often more
//!    dispersed than Poisson.)
//!
//! ```
//! use servicewatch_shared::methods::tail;
//! // A day of 160 against a steady 100 (spread 11) and 90 neighbours.
//! let z = tail::z(160.0, 100.0, 11.0, 90);
//! let raw = 60.0 / 11.0; // 5.45 spreads
//! assert!(z > 4.0 && z < raw);
//! // The same deviation on a short history is less sure: a smaller z.
//! assert!(tail::z(160.0, 100.0, 11.0, 14) < z - 0.5);
//! // A skewed series (spread 60 around 100): three spreads up is ordinary
//! // enough not to pass 3, three spreads down (a zero) is not.
//! assert!(tail::z(280.0, 100.0, 60.0, 90) < 3.0);
//! assert!(tail::z(0.0, 100.0, 30.0, 90) < -3.5);
//! // Zero at the centre.
//! assert_eq!(tail::z(100.0, 100.0, 11.0, 90), 0.0);
//! ```

use super::robust::noise_floor;
use crate::ln::{ln, ln_1p};

/// A sample median's variance over the standard deviation's, times n, for
/// normal data: π / 2.
const MEDIAN_VAR: f64 = std::f64::consts::FRAC_PI_2;

/// How much of a spike's z is its gaussian reading (the rest is the count
/// model's deviance): half.
pub const SPIKE_GAUSSIAN_SHARE: f64 = 0.5;
/// The same for a drop. The gaussian reading understates drops (a count
/// cannot fall as far below its mean as a normal variable can), and with
/// half of it drops flagged 0.02x the normal rate on clean data; the count
/// model alone overstates zeros a little (the deviance of a zero is
/// √(-2 ln P(0)), above the normal quantile of P(0)). Of 0.5, 0.25, 0.1
/// and 0, a tenth gave the best F1 on the generated sets and on Auckland's
/// sensors, with average precision within 0.005 of the best
/// (`docs/quality.md`, "Drops read by the count model").
pub const DROP_GAUSSIAN_SHARE: f64 = 0.1;

/// The share of the gaussian reading on one side of the centre.
#[inline]
fn gaussian_share(below: bool) -> f64 {
    if below {
        DROP_GAUSSIAN_SHARE
    } else {
        SPIKE_GAUSSIAN_SHARE
    }
}

/// The share of `n - 1` degrees of freedom an over-dispersion estimated
/// from `n` heavy-tailed counts is worth. A variance estimated from `n` values has `n - 1` of them for
/// normal data and about `2n / (2 + κ)` for data of excess kurtosis κ; the
/// over-dispersed counts seen (κ around 4) give about a third. Measured:
/// with 1 (normal data) clean long series flag 3 times too often at
/// |z| >= 4; with 1/3, 1.7 times (`docs/quality.md`).
pub const DF_SHARE: f64 = 1.0 / 3.0;

/// The calibrated z of `count` against a baseline (`centre`, `spread`)
/// estimated from `neighbours` other days. `spread` must be at least the
/// count-noise floor of `centre`, as the robust method makes it. (Scoring
/// a whole series: [`Calibration`], which works the history out once.)
pub fn z(count: f64, centre: f64, spread: f64, neighbours: usize) -> f64 {
    Calibration::new(neighbours, 0).z(count, centre, spread, noise_floor(centre))
}

/// What calibration needs from a baseline's history, worked out once per
/// series: how much of a deviation the median's own error explains, and
/// the t-to-normal map for its degrees of freedom, tabulated (a per-day
/// logarithm and square root cost a fifth of full scoring).
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    shrink: f64,
    df: f64,
    table: &'static [f64],
}

/// The t-to-normal map is tabulated for |t| up to `TABLE_SPAN`, in steps of
/// `1 / TABLE_STEPS`; linear interpolation is within 1e-4 of the formula
/// (tested) and monotone like it. Beyond, the formula.
const TABLE_SPAN: usize = 16;
const TABLE_STEPS: usize = 64;
/// Histories up to this many neighbours share tables (the robust method
/// uses at most 90).
const TABULATED: usize = 128;

static TABLES: [std::sync::OnceLock<Box<[f64]>>; TABULATED + 1] = [const { std::sync::OnceLock::new() }; TABULATED + 1];

impl Calibration {
    /// For a baseline of `neighbours` days, scaled by a weekday factor
    /// measured from `weeks` days of its weekday (0: no weekly pattern).
    pub fn new(neighbours: usize, weeks: usize) -> Calibration {
        let df = (DF_SHARE * neighbours.saturating_sub(1) as f64).max(1.0);
        let table: &'static [f64] = match TABLES.get(neighbours) {
            Some(cell) => cell.get_or_init(|| {
                (0..=TABLE_SPAN * TABLE_STEPS).map(|i| normal_from_t(i as f64 / TABLE_STEPS as f64, df)).collect()
            }),
            None => &[],
        };
        let factor_var = if weeks > 0 { MEDIAN_VAR / weeks as f64 } else { 0.0 };
        Calibration { shrink: 1.0 / (1.0 + MEDIAN_VAR / neighbours.max(1) as f64 + factor_var).sqrt(), df, table }
    }

    /// The calibrated z of `count` against (`centre`, `spread`), given the
    /// centre's count-noise `floor` (`noise_floor(centre)`, which the caller
    /// has at hand).
    #[inline(always)]
    pub fn z(&self, count: f64, centre: f64, spread: f64, floor: f64) -> f64 {
        // Only what the spread has beyond the count-noise floor is read as
        // over-dispersion (the floor is above Poisson's √c, far above it
        // for small c).
        let excess = spread * spread - floor * floor;
        let gaussian = (count - centre) / spread;
        let w = gaussian_share(count < centre);
        let u = (w * gaussian + (1.0 - w) * deviance(count, centre, excess)) * self.shrink;
        self.normal(u)
    }

    /// The count at which the z of a day with this baseline reaches `z`
    /// (above the centre for a positive `z`, below it for a negative one):
    /// the edge of the band a threshold draws on the chart, so that exactly
    /// the counts outside it are flagged. Below the centre it is at least 0:
    /// when not even a zero reaches `z`, the band's floor is 0.
    ///
    /// ```
    /// use servicewatch_shared::methods::{robust::noise_floor, tail::Calibration};
    /// let cal = Calibration::new(90, 0);
    /// let (c, s) = (100.0, 11.0);
    /// let hi = cal.count_at(3.0, c, s, noise_floor(c));
    /// assert!((cal.z(hi, c, s, noise_floor(c)) - 3.0).abs() < 1e-4);
    /// // A skewed count: the band reaches further up than down.
    /// let lo = cal.count_at(-3.0, c, s, noise_floor(c));
    /// assert!(hi - c > c - lo);
    /// ```
    pub fn count_at(&self, z: f64, centre: f64, spread: f64, floor: f64) -> f64 {
        if z == 0.0 || !z.is_finite() {
            return centre;
        }
        // The tabulated map is within 1e-4 of Wallace's formula, whose
        // inverse is closed: t = sqrt(df (exp((z / W)² / df) - 1)).
        let w = (8.0 * self.df + 1.0) / (8.0 * self.df + 3.0);
        let q = z / w;
        let t = (self.df * libm::expm1(q * q / self.df)).sqrt();
        let target = (t / self.shrink).copysign(z); // what the blend of the two readings must be
        let excess = spread * spread - floor * floor;
        // The side's share, as `z` takes it (the edge is on the side of z's sign).
        let w = gaussian_share(z < 0.0);
        // h(x) = 0 at the edge, and h rises with x.
        let h = |x: f64| {
            let (d, slope) = deviance_and_slope(x, centre, excess);
            (w * (x - centre) / spread + (1.0 - w) * d - target, w / spread + (1.0 - w) * slope)
        };
        // A bracket: above the centre the deviance is positive, so the
        // blend is at least the gaussian reading's share of it, and
        // |target| / share spreads out is past the edge; below it, the
        // bracket is 0 to the centre.
        let (mut lo, mut hi) = if z > 0.0 {
            let hi = centre + target * spread / SPIKE_GAUSSIAN_SHARE;
            debug_assert!(h(hi).0 >= 0.0, "the bracket holds the edge");
            (centre, hi)
        } else {
            if h(0.0).0 >= 0.0 {
                return 0.0;
            }
            (0.0, centre)
        };
        // Newton from the gaussian guess, kept in the bracket (a step that
        // leaves it halves the bracket instead): a handful of steps, since
        // the band is drawn on every slider move.
        // `f64::clamp` by hand: its panic message prints the bounds, which
        // alone kept core's float formatting in the browser app. (The
        // brackets above are ordered; a NaN baseline gives a NaN edge.)
        debug_assert!(lo <= hi || lo.is_nan() || hi.is_nan(), "an ordered bracket");
        let guess = centre + target * spread;
        let mut x = if guess < lo {
            lo
        } else if guess > hi {
            hi
        } else {
            guess
        };
        for _ in 0..60 {
            let (f, slope) = h(x);
            if f < 0.0 {
                lo = x;
            } else {
                hi = x;
            }
            if f.abs() <= 1e-12 || hi - lo <= 1e-9 * (1.0 + x.abs()) {
                break;
            }
            let step = x - f / slope;
            x = if step > lo && step < hi { step } else { 0.5 * (lo + hi) };
        }
        x
    }

    fn normal(&self, t: f64) -> f64 {
        let p = t.abs() * TABLE_STEPS as f64;
        if p < (TABLE_SPAN * TABLE_STEPS) as f64 && !self.table.is_empty() {
            let i = p as usize;
            let (lo, hi) = (self.table[i], self.table[i + 1]);
            (lo + (p - i as f64) * (hi - lo)).copysign(t)
        } else {
            normal_from_t(t, self.df)
        }
    }
}

/// Signed deviance residual of `x` under a negative binomial with mean `c`
/// and dispersion `k = c² / excess`, the variance beyond the count-noise
/// floor (a Poisson when there is none). Its square is twice the
/// log-likelihood ratio of the count at its own mean against `c`, so it
/// reads like a normal quantile: a zero gets exactly `-sqrt(-2 ln P(X = 0))`.
/// For a centre of zero, where no count model has a mean to test, it is the
/// count in floors (1) above it.
#[inline(always)]
fn deviance(x: f64, c: f64, excess: f64) -> f64 {
    if c <= 0.0 {
        return x - c;
    }
    let (ratio, nb) = logs(x, c, excess);
    signed_root(x, c, ratio, nb)
}

/// The logarithms a deviance (and its slope) needs, each taken once:
/// ln(x / c) (0 for x = 0, where x ln x vanishes) and, with over-dispersion,
/// k = c² / excess and ln((x + k) / (c + k)) (by ln_1p: when k is huge,
/// almost Poisson, the ratio is almost 1). `c` is positive.
#[inline(always)]
fn logs(x: f64, c: f64, excess: f64) -> (f64, Option<(f64, f64)>) {
    let ratio = if x > 0.0 { ln(x / c) } else { 0.0 };
    let nb = (excess > 0.0).then(|| {
        let k = c * c / excess;
        (k, ln_1p((x - c) / (c + k)))
    });
    (ratio, nb)
}

/// The signed deviance residual from [`logs`].
#[inline(always)]
fn signed_root(x: f64, c: f64, ratio: f64, nb: Option<(f64, f64)>) -> f64 {
    let own = x * ratio;
    let d2 = match nb {
        Some((k, l)) => 2.0 * (own - (x + k) * l),
        None => 2.0 * (own - (x - c)),
    };
    d2.max(0.0).sqrt().copysign(x - c)
}

/// [`deviance`] and its slope in `x`: d = ±√D with D' = 2 (ln(x/c) -
/// ln((x+k)/(c+k))) (Poisson: 2 ln(x/c)), so d' = |D'| / (2 √D); at the
/// centre, where both vanish, the slope of the gaussian reading of the
/// model's variance.
fn deviance_and_slope(x: f64, c: f64, excess: f64) -> (f64, f64) {
    if c <= 0.0 {
        return (x - c, 1.0);
    }
    let (ratio, nb) = logs(x, c, excess);
    let d = signed_root(x, c, ratio, nb);
    if d == 0.0 || x <= 0.0 {
        return (d, 1.0 / (c + excess.max(0.0)).sqrt());
    }
    let dd = 2.0 * (ratio - nb.map_or(0.0, |(_, l)| l));
    (d, dd.abs() / (2.0 * d.abs()))
}

/// The normal quantile with the tail of Student's t at `t` with `df`
/// degrees of freedom (Wallace 1959; within 0.02 of exact from 3 degrees
/// of freedom and |t| up to 10).
fn normal_from_t(t: f64, df: f64) -> f64 {
    let z = (8.0 * df + 1.0) / (8.0 * df + 3.0) * (df * libm::log1p(t * t / df)).sqrt();
    z.copysign(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_scores_its_exact_probability() {
        // NB(mean 20, k 5): P(0) = (5 / 25)^5.
        // The over-dispersion is what the spread has beyond the floor.
        let (c, k) = (20.0f64, 5.0f64);
        let p0: f64 = (k / (k + c)).powf(k);
        assert!((deviance(0.0, c, c * c / k) + (-2.0 * p0.ln()).sqrt()).abs() < 1e-9);
        // No excess: a Poisson, P(0) = e^-c.
        assert!((deviance(0.0, c, 0.0) + (2.0 * c).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn monotone_in_the_count() {
        for (c, s, n) in [(0.4, 1.7, 60), (3.0, 2.8, 14), (100.0, 11.0, 90), (100.0, 60.0, 90)] {
            let zs: Vec<f64> = (0..400).map(|x| z(x as f64, c, s, n)).collect();
            assert!(zs.windows(2).all(|w| w[1] > w[0]), "c {c} s {s}");
        }
    }

    #[test]
    fn the_table_follows_the_formula() {
        for n in [3, 14, 59, 90, 200] {
            let cal = Calibration::new(n, 0);
            let mut last = f64::NEG_INFINITY;
            for i in -2000..=2000 {
                let t = i as f64 / 97.0; // off the table's grid, beyond its span
                let (got, want) = (cal.normal(t), normal_from_t(t, cal.df));
                assert!((got - want).abs() < 1e-4, "n {n} t {t}: {got} vs {want}");
                assert!(got >= last);
                last = got;
            }
        }
    }

    #[test]
    fn t_to_normal_matches_known_quantiles() {
        // t(10) at 3.169 has two-sided tail 0.01 (z 2.576); t(30) at
        // 3.646 has 0.001 (z 3.291).
        assert!((normal_from_t(3.169, 10.0) - 2.576).abs() < 0.02);
        assert!((normal_from_t(3.646, 30.0) - 3.291).abs() < 0.02);
        assert!((normal_from_t(-3.646, 30.0) + 3.291).abs() < 0.02);
    }
}
