//! The default method: robust, local, leave-one-out baselines on the full
//! calendar.
//!
//! For each service, over its days in range from its first to its last day
//! with transactions:
//!
//! 1. **Missing days are zeros.** A service that usually sells 40 a day and
//!    sells nothing has had a very unusual day; the classic method never sees
//!    it because the day has no row.
//! 2. **Optional day-of-week pattern** (`weekly`), only where it is real:
//!    each weekday's median over the median of all days gives a factor;
//!    counts are divided by it before the baseline and the baseline
//!    multiplied back. The pattern is used only when the weekday medians
//!    differ by more than noise would make them (a robust analysis of
//!    variance, see `weekday_factors`) with [`MIN_WEEKS`] of every weekday;
//!    otherwise every factor is 1, so short and patternless series are left
//!    alone. A weekday whose median is zero (a service closed on Sundays)
//!    has a baseline of zero on that weekday and is left out of other days'
//!    neighbourhoods.
//! 3. **Baseline from the neighbours, not the day itself**: each week's days
//!    share a window of [`NEIGHBOURS`] + 1 days centred on that week (shifted
//!    at the ends of the series so it keeps its size; the whole series when
//!    it is shorter). A day's centre is the median of its window without the
//!    day itself: a burst cannot lift its own baseline, and a few unusual
//!    neighbours barely move a median.
//! 4. **A spread that ignores outliers but not heavy tails**: the standard
//!    deviation about that centre of the neighbours within 4 robust standard
//!    deviations (1.4826 × MAD of the window) of the window's median (sigma
//!    clipping), without the day itself and the [`SPREAD_GAP`] days on each
//!    side of it (a burst's other days would widen its own band; below a
//!    median of 3 the clipped mean that measures the level leaves them out
//!    too). Plain MAD understates the spread of skewed, over-dispersed
//!    counts and flags their ordinary busy days; the clip keeps real
//!    anomalies out of the estimate.
//! 5. **A count-noise floor**: the spread is at least 1 + sqrt(centre), a
//!    little above the standard deviation of a Poisson count with that mean,
//!    so flat or sparse series never divide by zero and a day of 4 after a
//!    month of 1s is not ten standard deviations out.
//!
//! 6. **A calibrated z** from that baseline: see [`super::tail`].
//!
//! Why these choices: `docs/quality.md` (measured with `servicewatch evaluate`).
//!
//! ```
//! use servicewatch_shared::methods::{robust, tail, Columns, Status};
//! use servicewatch_shared::Day;
//! // Ten days of 100 around one day of 160, and a missing day (a zero).
//! let days: Vec<Day> = (0..12).filter(|d| *d != 8).map(Day).collect();
//! let counts = [100, 100, 100, 100, 100, 160, 100, 100, 100, 100, 100];
//! let mut out = Columns::default();
//! let v = robust::score(0, &days, &counts, (false, 1.0), &[], &mut out);
//! assert_eq!(v.status, Status::Scored);
//! assert_eq!(v.history, 12); // the gap counts as a day
//! assert_eq!(out.center[5], 100.0); // the spike is not in its own baseline
//! assert_eq!(out.spread[5], 11.0); // the neighbours are flat: floor 1 + sqrt(100)
//! // z is calibrated from that baseline and its 11 neighbours (`tail`).
//! assert_eq!(out.z[5], tail::z(160.0, 100.0, 11.0, 11));
//! assert!(out.z[5] > 2.0); // eleven days of history make anyone cautious
//! assert_eq!(out.count[8], 0); // the missing day is scored as a zero
//! assert!(out.z[8] < -3.0); // and a zero after 100s is very unusual
//! ```

use super::{sink::Sink, tail, Status, Verdict};
#[cfg(target_arch = "x86_64")]
use crate::cpu::Level;
use crate::stats::{mad_sorted, median_by, median_select, median_sorted, MAD_TO_SD, MEDIAN_SE};
use crate::Day;

/// How many other days make a baseline.
pub const NEIGHBOURS: usize = 90;
/// Fewer neighbours than this and a service is not scored.
pub const MIN_NEIGHBOURS: usize = 3;
/// Weeks of every weekday before a weekly pattern is considered.
pub const MIN_WEEKS: usize = 6;
/// The χ² (6 degrees of freedom) a weekly pattern must exceed to be divided
/// out: about p = 0.001.
pub const WEEKLY_CHI2: f64 = 22.46;
const CLIP: f64 = 4.0;
/// Days on each side of a day left out of its spread (not its centre): a
/// burst of a few days would otherwise widen its own band. 2 measured best
/// on the generator's bursts of 2 to 5 days (`docs/quality.md`).
pub const SPREAD_GAP: usize = 2;
/// Windows shorter than this keep every neighbour but the day itself in
/// its spread: a short series cannot spare a handful of its few days.
pub const SPREAD_GAP_FROM: usize = 4 * (2 * SPREAD_GAP + 1);
/// Below this median the baseline's centre is the clipped mean (sparse counts).
pub const SPARSE_MEDIAN: f64 = 3.0;

/// A day's value `x` in transactions back to its count in the series' own
/// values: `(x * unit).round()`, the count the day came in with (values
/// are at most 2^53, so the f64 round-trip is exact, and exact through the
/// unit: the error is far below a half). For counts (`unit` 1) `x` is
/// already whole, and the call to `round` that wasm and the x86-64
/// baseline make for it (they have no instruction for rounding half away
/// from zero) is skipped: the same number.
#[inline(always)]
pub fn whole(x: f64, unit: f64) -> u64 {
    if unit == 1.0 {
        x as u64
    } else {
        (x * unit).round() as u64
    }
}

/// The least spread a baseline of `centre` gets: a little above the
/// standard deviation of a Poisson count with that mean (point 5 above).
pub fn noise_floor(centre: f64) -> f64 {
    1.0 + centre.sqrt()
}

/// Scores one service's days (`days` ascending, `counts` beside them) and
/// appends every calendar day from its first to its last to `out`.
/// `excluded` (sorted) are days an analyst marked: left out of every
/// baseline, the weekly pattern and the over-dispersion, and still scored
/// against the neighbours around them.
///
/// `unit` is what one transaction is worth in `counts` (1 for counts; the
/// series' mean ticket for amounts): the series is scored in transactions,
/// so the count-noise floor, the sparse-series rules and the tail model
/// mean the same for money as for orders, and the centre and spread are
/// given back in the values' own units.
pub fn score(
    svc: u32,
    days: &[Day],
    counts: &[u64],
    weekly_unit: (bool, f64),
    excluded: &[Day],
    out: &mut impl Sink,
) -> Verdict {
    // The same kernel compiled for wider vector units, where the CPU has
    // them (`crate::cpu`): the same bits, in less time.
    #[cfg(target_arch = "x86_64")]
    match crate::cpu::level() {
        // SAFETY: `level` found the features each of these is compiled for.
        Level::Avx512 => return unsafe { score_avx512(svc, days, counts, weekly_unit, excluded, out) },
        Level::Avx2 => return unsafe { score_avx2(svc, days, counts, weekly_unit, excluded, out) },
        Level::Baseline => {}
    }
    score_here(svc, days, counts, weekly_unit, excluded, out)
}

/// [`score`] compiled for x86-64-v3 ([`Level::Avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
fn score_avx2(svc: u32, d: &[Day], c: &[u64], wu: (bool, f64), ex: &[Day], out: &mut impl Sink) -> Verdict {
    score_here(svc, d, c, wu, ex, out)
}

/// [`score`] compiled for x86-64-v4 ([`Level::Avx512`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx2,bmi1,bmi2,lzcnt,popcnt")]
fn score_avx512(svc: u32, d: &[Day], c: &[u64], wu: (bool, f64), ex: &[Day], out: &mut impl Sink) -> Verdict {
    score_here(svc, d, c, wu, ex, out)
}

/// [`score`]'s body, inlined into each level's copy (with the window's
/// slide and statistics, [`neighbourhood`], and the sink's `push`: what is
/// not inlined runs at the baseline).
#[inline(always)]
fn score_here(
    svc: u32,
    days: &[Day],
    counts: &[u64],
    (weekly, unit): (bool, f64),
    excluded: &[Day],
    out: &mut impl Sink,
) -> Verdict {
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        return Verdict { status: Status::TooFewDays, history: 0, z_ceiling: None, neighbours: 0, weeks: 0 };
    };
    let n = (last.0 - first.0) as usize + 1;
    let mut x = vec![0.0f64; n];
    for (d, &c) in days.iter().zip(counts) {
        x[(d.0 - first.0) as usize] = c as f64 / unit;
    }
    let mut skip = Vec::new();
    for d in excluded.iter().filter(|d| (first..=last).contains(d)) {
        skip.resize(n, false);
        skip[(d.0 - first.0) as usize] = true;
    }
    let skipped = |i: usize| skip.get(i).copied().unwrap_or(false);
    let (factor, weeks) = if weekly { weekday_factors(first, &x, &skip) } else { ([1.0; 7], 0) };
    let weekday = |i: usize| (first.weekday() + i) % 7;

    // Days whose weekday has a zero factor carry no information about level,
    // and marked days must not teach the baseline: both are left out of the
    // neighbourhoods (`y` holds the others).
    let all_informative = factor.iter().all(|f| *f > 0.0) && skip.is_empty();
    let informative: Vec<usize> = if all_informative {
        Vec::new()
    } else {
        (0..n).filter(|&i| factor[weekday(i)] > 0.0 && !skipped(i)).collect()
    };
    let y: Vec<f64> = if all_informative {
        (0..n).map(|i| x[i] / factor[weekday(i)]).collect()
    } else {
        informative.iter().map(|&i| x[i] / factor[weekday(i)]).collect()
    };
    // A marked day is judged against the window of the informative days
    // around it: its insertion point among them.
    let marked: Vec<usize> =
        if skip.is_empty() { Vec::new() } else { (0..n).filter(|&i| skipped(i) && factor[weekday(i)] > 0.0).collect() };
    let at: Vec<usize> = marked.iter().map(|&i| informative.partition_point(|&j| j < i)).collect();
    let enough = y.len() > MIN_NEIGHBOURS;
    let (stats, marked_stats) = if enough {
        neighbourhood(&y, NEIGHBOURS, &at)
    } else {
        (vec![(0.0, 0.0); y.len()], vec![(0.0, 0.0); at.len()])
    };
    let base: Vec<(f64, f64)> = if all_informative {
        stats
    } else {
        let mut base = vec![(0.0, 0.0); n];
        for (j, st) in stats.into_iter().enumerate() {
            base[informative[j]] = st;
        }
        for (&i, st) in marked.iter().zip(marked_stats) {
            base[i] = st;
        }
        base
    };

    // A weekday whose median is zero (mostly closed, or sparse) has its own
    // level: the mean of its other days, so a 5 on a weekday that averages
    // 0.4 is judged against 0.4, not against nothing.
    let (mut wsum, mut wdays) = ([0.0f64; 7], [0usize; 7]);
    if !all_informative {
        for (i, &xi) in x.iter().enumerate().filter(|(i, _)| !skipped(*i)) {
            wsum[weekday(i)] += xi;
            wdays[weekday(i)] += 1;
        }
    }
    let neighbours = y.len().min(NEIGHBOURS + 1).saturating_sub(1);
    let weeks = if enough { weeks } else { 0 };
    let calibration = tail::Calibration::new(neighbours, weeks);
    let phi = if enough { over_dispersion(&base, |i| if skipped(i) { 0.0 } else { factor[weekday(i)] }) } else { 0.0 };
    for (i, (&(med, sd), &xi)) in base.iter().zip(&x).enumerate() {
        let w = weekday(i);
        let f = factor[w];
        // The weekday's mean without the day itself (a marked day is not in
        // the sums to begin with).
        let (others, sum) = if skipped(i) { (wdays[w], wsum[w]) } else { (wdays[w].saturating_sub(1), wsum[w] - xi) };
        let center = if f > 0.0 {
            f * med
        } else if others > 0 {
            sum / others as f64
        } else {
            0.0
        };
        let floor = noise_floor(center);
        // The larger of what the neighbours show and what the series'
        // count model says (floor plus its usual over-dispersion): a calm
        // stretch does not make every wobble an anomaly, a noisy stretch
        // still widens the band.
        let spread = (f * sd).max((floor * floor + phi * center * center).sqrt());
        let z = if enough { calibration.z(xi, center, spread, floor) } else { 0.0 };
        out.push(svc, Day(first.0 + i as i32), whole(xi, unit), center * unit, spread * unit, z);
    }
    let status = if enough { Status::Scored } else { Status::TooFewDays };
    Verdict {
        status,
        history: n as u32,
        z_ceiling: None,
        neighbours: if enough { neighbours as u32 } else { 0 },
        weeks: weeks as u32,
    }
}

/// The series' over-dispersion φ: the median, over its days with a centre
/// of at least 1, of what the neighbours' spread shows beyond the
/// count-noise floor, relative to the centre squared (a negative binomial's
/// variance beyond Poisson is φ c²). One figure per series, from hundreds
/// of days, where each day's own spread comes from 90 neighbours and is
/// noisy: a day whose neighbours happened to be calm does not get a spread
/// the series never has.
fn over_dispersion(base: &[(f64, f64)], factor: impl Fn(usize) -> f64) -> f64 {
    // Every third day of a long series is plenty (neighbouring days share
    // most of their neighbours anyway), and 3 is prime to 7, so every
    // weekday still speaks.
    let step = if base.len() >= 60 { 3 } else { 1 };
    let mut ratios: Vec<f64> = (0..base.len())
        .step_by(step)
        .filter_map(|i| {
            let (f, (med, sd)) = (factor(i), base[i]);
            let c = f * med;
            (f > 0.0 && c >= 1.0).then(|| {
                let floor = noise_floor(c);
                ((f * sd) * (f * sd) - floor * floor).max(0.0) / (c * c)
            })
        })
        .collect();
    median_select(&mut ratios)
}

/// Median-of-weekday over median-of-all, per weekday (Monday = 0), when
/// the weekday effect stands out from the noise; all 1 when it does not.
/// Beside them, the fewest days any factor was measured from (0 when the
/// factors are all 1): how sure they are.
///
/// The test is a robust analysis of variance of the weekday groups: each
/// weekday's median is compared with the overall median in units of its
/// standard error, `1.2533 σ / √n` (the median's), where σ is the noise
/// within weekdays (1.4826 × the median absolute deviation of each day
/// from its weekday's median), at least the count noise √median. The sum of
/// the seven squared differences is about χ² with 6 degrees of freedom when
/// weekdays do not differ; the pattern is divided out only above
/// [`WEEKLY_CHI2`], and only with [`MIN_WEEKS`] of every weekday: a
/// pattern read into a few noisy weeks moves baselines the wrong way.
fn weekday_factors(first: Day, x: &[f64], skip: &[bool]) -> ([f64; 7], usize) {
    let kept = |i: &usize| !skip.get(*i).copied().unwrap_or(false);
    let mut all: Vec<f64> =
        if skip.is_empty() { x.to_vec() } else { (0..x.len()).filter(kept).map(|i| x[i]).collect() };
    let overall = median_select(&mut all);
    let mut factor = [1.0; 7];
    if overall <= 0.0 {
        return (factor, 0);
    }
    // Group by weekday in one pass: day i falls on weekday (w0 + i) % 7, so
    // weekday w's days are i = (w - w0) mod 7, then every 7th.
    let w0 = first.weekday();
    let mut medians = [0.0; 7];
    let mut sizes = [0usize; 7];
    // `all` is free again: it holds the residuals now.
    let residuals = &mut all;
    residuals.clear();
    let mut group = Vec::with_capacity(x.len() / 7 + 1);
    for w in 0..7 {
        group.clear();
        group.extend(((w + 7 - w0) % 7..x.len()).step_by(7).filter(kept).map(|i| x[i]));
        sizes[w] = group.len();
        if group.len() < MIN_WEEKS {
            return (factor, 0);
        }
        medians[w] = median_select(&mut group);
        residuals.extend(group.iter().map(|v| (v - medians[w]).abs()));
    }
    let sigma = (MAD_TO_SD * median_select(residuals)).max(overall.sqrt());
    let chi2: f64 = (0..7)
        .map(|w| {
            let se = MEDIAN_SE * sigma / (sizes[w] as f64).sqrt();
            let d = (medians[w] - overall) / se;
            d * d
        })
        .sum();
    if chi2 <= WEEKLY_CHI2 {
        return (factor, 0);
    }
    for w in 0..7 {
        factor[w] = medians[w] / overall;
    }
    (factor, sizes.iter().copied().min().unwrap_or(0))
}

/// For each index, the median and the clipped standard deviation of its
/// neighbours: the window of `k + 1` days around its week ([`BLOCK`] days
/// share one window), without the day itself for the median, and without
/// the day and the [`SPREAD_GAP`] days on each side for the spread (in
/// windows of at least [`SPREAD_GAP_FROM`] days).
///
/// Per week the sorted window slides forward a day at a time
/// ([`Window::replace`]) and yields its median, MAD and the sums of the values inside the clip. Per
/// day, leaving days out is O(1) for the median, which moves by at most
/// half a rank (one comparison tells which way), and O(gap) for the sums,
/// which lose the left-out days' terms.
///
/// `extra` (ascending insertion points into `y`) asks for the same of days
/// that are not in `y` (marked days): the window of the block they fall
/// in, its median whole (the day is not in it to leave out), its spread
/// without the [`SPREAD_GAP`] days on each side of the insertion point.
#[inline(always)]
fn neighbourhood(y: &[f64], k: usize, extra: &[usize]) -> (Vec<Stat>, Vec<Stat>) {
    let n = y.len();
    let m = (k + 1).min(n); // window size, the day itself included
    let mut win = Window::new(&y[..m]);
    let mut start = 0;
    let mut out = Vec::with_capacity(n);
    let mut out_extra = Vec::with_capacity(extra.len());
    let gap = if m >= SPREAD_GAP_FROM { SPREAD_GAP } else { 0 };
    for b0 in (0..n).step_by(BLOCK) {
        let target = (b0 + BLOCK / 2).saturating_sub(k / 2).min(n - m);
        while start < target {
            win.replace(y[start], y[start + m]);
            start += 1;
        }
        let clip = win.clip();
        // The clip's sums without the window's days `lo..=hi` (clamped to
        // the window): the days around a day are not its spread's
        // neighbours, so a burst does not widen its own band.
        let without = |lo: usize, hi: usize| {
            let (mut s1, mut s2, mut kept) = (clip.s1, clip.s2, clip.kept);
            let (lo, hi) = (lo.max(start), hi.min(start + m - 1));
            for &v in y.get(lo..=hi).unwrap_or_default() {
                if clip.keeps(v) {
                    let d = v - clip.median;
                    s1 -= d;
                    s2 -= d * d;
                    kept -= 1;
                }
            }
            (s1, s2, kept)
        };
        while let Some(&at) = extra.get(out_extra.len()).filter(|&&j| j.min(n - 1) < b0 + BLOCK) {
            // Not in `y`: it sits before y[at], between y[at - 1] and y[at].
            let (s1, s2, kept) =
                if gap > 0 { without(at.saturating_sub(gap), at + gap - 1) } else { (clip.s1, clip.s2, clip.kept) };
            let centre = if clip.median < SPARSE_MEDIAN && kept > 0 {
                (clip.median + s1 / kept as f64).max(0.0)
            } else {
                clip.median
            };
            let sd = if kept >= 2 { (s2.max(0.0) / (kept - 1) as f64).sqrt() } else { 0.0 };
            out_extra.push((centre, sd));
        }
        for (i, &yi) in y[b0..(b0 + BLOCK).min(n)].iter().enumerate() {
            let i = b0 + i;
            let med = win.median_without(yi);
            let (s1, s2, kept) = without(i.saturating_sub(gap), i + gap);
            // Sum of squares about `med`, from sums taken about the window median.
            let c = med - clip.median;
            let ss = s2 - 2.0 * c * s1 + kept as f64 * c * c;
            let sd = if kept >= 2 { (ss.max(0.0) / (kept - 1) as f64).sqrt() } else { 0.0 };
            // A median of sparse counts is a step function of the level
            // (0, 1 or 2 whether the mean is 0.3 or 0.9): there the clipped
            // mean measures the level.
            let centre = if med < SPARSE_MEDIAN && kept > 0 { (clip.median + s1 / kept as f64).max(0.0) } else { med };
            out.push((centre, sd));
        }
    }
    (out, out_extra)
}

/// A day's baseline before scaling: the neighbours' centre and clipped
/// standard deviation.
type Stat = (f64, f64);

/// Days that share one neighbourhood window.
pub const BLOCK: usize = 7;

/// A sorted sliding window.
struct Window {
    sorted: Vec<f64>,
    /// Room for the next slide's values (natively: [`Window::pass`]).
    spare: Vec<f64>,
}

/// What a window says about its clipped values: those within `limit` of
/// its median, summed as deviations from that median.
struct Clip {
    median: f64,
    limit: f64,
    s1: f64,
    s2: f64,
    kept: usize,
}

impl Clip {
    /// Whether the clip keeps `v`: the same test as the window's own count
    /// (the same expressions, so the same rounding).
    fn keeps(&self, v: f64) -> bool {
        v >= self.median - self.limit && v <= self.median + self.limit
    }
}

impl Window {
    fn new(values: &[f64]) -> Window {
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let spare = vec![0.0; sorted.len()];
        Window { sorted, spare }
    }

    /// Swaps `old` (which must be in the window) for `new`, keeping the
    /// window sorted. Values are finite and never -0.0, so `<` is a total
    /// order here, and equal values are interchangeable: both ways below
    /// give the same window. Natively one branch-free pass over the window
    /// that both finds and moves ([`Window::pass`]); in the browser, whose
    /// module has no SIMD (older browsers refuse one that does), two
    /// interleaved branch-free searches and one memmove ([`Window::moved`]).
    #[inline(always)]
    fn replace(&mut self, old: f64, new: f64) {
        if cfg!(target_arch = "wasm32") {
            self.moved(old, new);
        } else {
            self.pass(old, new);
        }
    }

    /// [`Window::replace`] by searching the ranks of `old` and `new` and
    /// moving the values strictly between them. `old` leaves from the end
    /// of its run that faces `new`, and `new` lands at the end of its run
    /// that faces `old`: sparse counts (a window of 0s, 1s and 2s) move
    /// only what lies between. In Chromium the searches (with this
    /// tie-aware move) took a full scoring from 125 to 115-119 ms against
    /// counting the ranks (`docs/benchmarks.md`).
    #[inline(always)]
    fn moved(&mut self, old: f64, new: f64) {
        let s = &mut self.sorted;
        if new > old {
            // Old's last copy is at a - 1; new goes before its equals, at b - 1.
            let (a, b) = searched_ranks(s, |x| x <= old, |x| x < new);
            s.copy_within(a..b, a - 1);
            s[b - 1] = new;
        } else if new < old {
            // Old's first copy is at a; new goes after its equals, at b.
            let (a, b) = searched_ranks(s, |x| x < old, |x| x <= new);
            s.copy_within(b..a, b + 1);
            s[b] = new;
        }
    }

    /// [`Window::replace`] in one pass that writes every value of the new
    /// window from the two old values around it, with selects only, so it
    /// vectorises (8 lanes with AVX-512, `crate::cpu`). Counting the two
    /// ranks (a pass that vectorises too) and then a memmove, as before,
    /// spent 7.6 % of a native scoring in the memmove calls alone.
    ///
    /// When `new > old`, the values above old's last copy and below `new`
    /// move down one place and `new` takes the last of them: at index `j`
    /// the new window holds `s[j]` while `s[j + 1] <= old`, then `s[j + 1]`
    /// while that is below `new`, then the larger of `s[j]` and `new` (`new`
    /// once, where `s[j] < new <= s[j + 1]`, then `s[j]` again). When
    /// `new < old`, the mirror image: `s[j]` while `s[j - 1] >= old`
    /// (from the top), `s[j - 1]` while that is above `new`, else the
    /// smaller of `s[j]` and `new`.
    #[inline(always)]
    fn pass(&mut self, old: f64, new: f64) {
        let m = self.sorted.len();
        if m == 0 || new == old {
            return;
        }
        // Already that long (a window keeps its size): no work.
        self.spare.resize(m, 0.0);
        let (s, t) = (&self.sorted, &mut self.spare);
        if new > old {
            for ((t, &u), &v) in t[..m - 1].iter_mut().zip(&s[..m - 1]).zip(&s[1..]) {
                let moved = if v < new {
                    v
                } else if u > new {
                    u
                } else {
                    new
                };
                *t = if v <= old { u } else { moved };
            }
            t[m - 1] = if s[m - 1] > new { s[m - 1] } else { new };
        } else {
            for ((t, &u), &w) in t[1..].iter_mut().zip(&s[1..]).zip(&s[..m - 1]) {
                let moved = if w > new {
                    w
                } else if u < new {
                    u
                } else {
                    new
                };
                *t = if w >= old { u } else { moved };
            }
            t[0] = if s[0] < new { s[0] } else { new };
        }
        std::mem::swap(&mut self.sorted, &mut self.spare);
    }

    #[inline(always)]
    fn clip(&self) -> Clip {
        let s = &self.sorted;
        let median = median_sorted(s);
        // At least CLIP counts: the MAD of mostly-zero counts is 0.
        let limit = (CLIP * MAD_TO_SD * mad_sorted(s, median)).max(CLIP);
        let lo = s.partition_point(|v| *v < median - limit);
        let hi = s.partition_point(|v| *v <= median + limit).max(lo);
        let kept = &s[lo..hi];
        let (s1, s2) = sums(kept, median);
        Clip { median, limit, s1, s2, kept: kept.len() }
    }

    /// The median of the window with one copy of `v` (which is in it) left out.
    fn median_without(&self, v: f64) -> f64 {
        let s = &self.sorted;
        // Index j of the reduced window is s[j] if j < rank(v), else s[j + 1];
        // and j < rank(v) exactly when s[j] < v.
        let at = |j: usize| if s[j] < v { s[j] } else { s[j + 1] };
        median_by(s.len() - 1, at)
    }
}

/// How many of `s` pass `lo` and how many pass `hi` (each true on a
/// prefix of `s`, which is sorted), by two interleaved branch-free binary
/// searches: the browser's way to find where a slide moves
/// ([`Window::moved`]).
#[inline(always)]
fn searched_ranks(s: &[f64], lo: impl Fn(f64) -> bool, hi: impl Fn(f64) -> bool) -> (usize, usize) {
    let (mut a, mut b, mut n) = (0usize, 0usize, s.len());
    if n == 0 {
        return (0, 0);
    }
    // The answers lie in a..=a + n and b..=b + n; each step halves n.
    while n > 1 {
        let half = n / 2;
        a = std::hint::select_unpredictable(lo(s[a + half]), a + half, a);
        b = std::hint::select_unpredictable(hi(s[b + half]), b + half, b);
        n -= half;
    }
    (a + lo(s[a]) as usize, b + hi(s[b]) as usize)
}

/// Sums of deviations from `centre` and of their squares, in four lanes so
/// the loop pipelines; the order is fixed, so the bits are the same everywhere.
fn sums(v: &[f64], centre: f64) -> (f64, f64) {
    let (mut a1, mut a2) = ([0.0f64; 4], [0.0f64; 4]);
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            let d = c[k] - centre;
            a1[k] += d;
            a2[k] += d * d;
        }
    }
    let (mut t1, mut t2) = (0.0, 0.0);
    for x in rest {
        t1 += x - centre;
        t2 += (x - centre) * (x - centre);
    }
    (((a1[0] + a1[1]) + (a1[2] + a1[3])) + t1, ((a2[0] + a2[1]) + (a2[2] + a2[3])) + t2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `weeks` weeks from a Monday: `level` times the weekday's multiplier,
    /// plus noise that has no weekly rhythm (a period of 23 days).
    fn series(weeks: usize, level: f64, week: [f64; 7]) -> Vec<f64> {
        (0..weeks * 7).map(|i| (level * week[i % 7] + ((i * 11) % 23) as f64 - 11.0).max(0.0).round()).collect()
    }

    const MONDAY: Day = Day(4); // 1970-01-05

    fn factors(x: &[f64]) -> [f64; 7] {
        weekday_factors(MONDAY, x, &[]).0
    }

    /// Both ways to slide the window (the browser's searches and move, the
    /// native pass) keep it sorted, on windows full of ties and with
    /// values from outside it, and the searched ranks are the counted ones.
    #[test]
    fn both_slides_keep_the_window_sorted() {
        let mut next = crate::lcg(12345);
        for len in 1..40 {
            let mut w: Vec<f64> = (0..len).map(|_| next(5) as f64).collect();
            w.sort_unstable_by(f64::total_cmp);
            for t in [-1.0, 0.0, 1.0, 2.5, 4.0, 9.0] {
                let counted = (w.iter().filter(|&&x| x < t).count(), w.iter().filter(|&&x| x <= t).count());
                assert_eq!(searched_ranks(&w, |x| x < t, |x| x <= t), counted);
            }
            let (mut moved, mut passed) = (Window::new(&w), Window::new(&w));
            for _ in 0..60 {
                let (old, new) = (moved.sorted[next(len) as usize], next(7) as f64 - 1.0);
                moved.moved(old, new);
                passed.pass(old, new);
                let pos = w.iter().position(|&v| v == old).expect("in the window");
                w[pos] = new;
                w.sort_unstable_by(f64::total_cmp);
                assert_eq!(moved.sorted, w);
                assert_eq!(passed.sorted, w);
            }
        }
    }

    /// Every level's copy of the kernel (`crate::cpu`) gives the
    /// baseline's bits, on series with gaps, weekly patterns, zeros,
    /// bursts, amounts and marked days.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn every_level_scores_the_same_bits() {
        use crate::cpu::{found, Level};
        use crate::methods::Columns;
        let mut next = crate::lcg(99);
        let bits = |c: &Columns| {
            let f = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (c.svc.clone(), c.day.clone(), c.count.clone(), f(&c.center), f(&c.spread), f(&c.z))
        };
        let mut levels = 0;
        for s in 0..60u32 {
            let n = [5, 20, 90, 200, 730][s as usize % 5];
            let level = [0, 1, 3, 40, 900][s as usize % 5] as f64;
            let days: Vec<Day> = (0..n).filter(|_| next(10) > 0).map(Day).collect();
            let counts: Vec<u64> = days
                .iter()
                .map(|d| {
                    let week = if s % 3 == 0 && d.0 % 7 >= 5 { 0.3 } else { 1.0 };
                    let burst = if next(50) == 0 { 8.0 } else { 1.0 };
                    (level * week * burst + next(1 + level as u64 / 2) as f64).round() as u64
                })
                .collect();
            let unit = if s % 4 == 0 { 37.5 } else { 1.0 };
            let marked: Vec<Day> = days.iter().copied().filter(|_| s % 5 == 1 && next(40) == 0).collect();
            let args = |out: &mut Columns, kernel: &dyn Fn(&mut Columns) -> Verdict| (kernel(out), bits(out));
            let want =
                args(&mut Columns::default(), &|o| score_here(s, &days, &counts, (s % 2 == 0, unit), &marked, o));
            if found() >= Level::Avx2 {
                // SAFETY: the CPU has AVX2 (`found`).
                let got = args(&mut Columns::default(), &|o| unsafe {
                    score_avx2(s, &days, &counts, (s % 2 == 0, unit), &marked, o)
                });
                assert!(got == want, "AVX2, series {s}");
                levels = levels.max(1);
            }
            if found() >= Level::Avx512 {
                // SAFETY: the CPU has AVX-512 (`found`).
                let got = args(&mut Columns::default(), &|o| unsafe {
                    score_avx512(s, &days, &counts, (s % 2 == 0, unit), &marked, o)
                });
                assert!(got == want, "AVX-512, series {s}");
                levels = 2;
            }
        }
        eprintln!("compared {levels} wider level(s) with the baseline");
    }

    #[test]
    fn a_weekly_pattern_is_used_only_where_it_stands_out() {
        let flat = [1.0; 7];
        let weekend = [1.0, 1.0, 1.0, 1.0, 1.0, 0.3, 0.3];
        assert_eq!(MONDAY.weekday(), 0);
        // Noise alone, however long: no pattern.
        assert_eq!(factors(&series(52, 100.0, flat)), [1.0; 7]);
        // A clear weekend dip over enough weeks: used, each factor from 12
        // days of its weekday (what the calibration adds their error from);
        // one more Monday makes Monday's 13, and the fewest still 12.
        let f = factors(&series(12, 100.0, weekend));
        assert!(f[5] < 0.4 && f[6] < 0.4 && (f[0] - 1.0).abs() < 0.1, "{f:?}");
        assert_eq!(weekday_factors(MONDAY, &series(12, 100.0, weekend), &[]).1, 12);
        assert_eq!(weekday_factors(MONDAY, &series(13, 100.0, weekend)[..85], &[]).1, 12);
        assert_eq!(weekday_factors(MONDAY, &series(52, 100.0, flat), &[]).1, 0);
        // The same dip in too few weeks to tell: left alone.
        assert_eq!(factors(&series(MIN_WEEKS - 1, 100.0, weekend)), [1.0; 7]);
        // A small dip lost in the noise of small counts: left alone.
        let slight = [1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9];
        assert_eq!(factors(&series(8, 12.0, slight)), [1.0; 7]);
        // A service closed on Sundays: the zero weekday is kept.
        let closed = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0];
        assert_eq!(
            factors(
                &series(10, 100.0, closed)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| if i % 7 == 6 { 0.0 } else { *v })
                    .collect::<Vec<_>>()
            )[6],
            0.0
        );
    }
}
