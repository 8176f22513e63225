//! The small statistics the methods share.
//!
//! Everything here is plain IEEE arithmetic plus `libm`, never the platform's
//! maths library, so native and wasm32 builds give bit-identical answers.

/// Scale that turns a median absolute deviation into a standard deviation
/// for normal data: 1 / Φ⁻¹(3/4).
pub const MAD_TO_SD: f64 = 1.4826;

/// A sample median's standard error over the standard deviation's, times
/// √n, for normal data: √(π/2).
pub const MEDIAN_SE: f64 = 1.2533;

/// The median by selection, reordering `v` (0 for no values): O(n), for
/// values that are not kept sorted.
///
/// ```
/// use servicewatch_shared::stats::median_select;
/// assert_eq!(median_select(&mut [3.0, 1.0, 2.0, 10.0]), 2.5);
/// assert_eq!(median_select(&mut [5.0, 1.0, 9.0]), 5.0);
/// assert_eq!(median_select(&mut []), 0.0);
/// ```
pub fn median_select(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lo + hi)
    }
}

/// Mean and sample standard deviation (n - 1), two-pass for accuracy.
/// `None` for fewer than two values.
///
/// ```
/// use servicewatch_shared::stats::mean_sd;
/// // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations add to 32, 32 / 7
/// let (m, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
/// assert_eq!(m, 5.0);
/// assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
/// assert_eq!(mean_sd(&[3.0]), None);
/// ```
pub fn mean_sd(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    Some((mean, (ss / (n - 1.0)).sqrt()))
}

/// Median of an ascending slice (mean of the two middle values when even).
///
/// ```
/// use servicewatch_shared::stats::median_sorted;
/// assert_eq!(median_sorted(&[1.0, 3.0, 8.0]), 3.0);
/// assert_eq!(median_sorted(&[1.0, 3.0, 8.0, 10.0]), 5.5);
/// ```
pub fn median_sorted(s: &[f64]) -> f64 {
    median_by(s.len(), |i| s[i])
}

/// Median of `n` ascending values reached through `at`; 0 when `n` is 0.
pub fn median_by(n: usize, at: impl Fn(usize) -> f64) -> f64 {
    match n {
        0 => 0.0,
        n if n % 2 == 1 => at(n / 2),
        n => 0.5 * (at(n / 2 - 1) + at(n / 2)),
    }
}

/// The `k`-th smallest (0-based) of the union of two ascending sequences.
fn kth_of_two(a: impl Fn(usize) -> f64, na: usize, b: impl Fn(usize) -> f64, nb: usize, k: usize) -> f64 {
    // Take i from a and k + 1 - i from b; find the smallest i with a(i) >= b(j - 1).
    let (mut lo, mut hi) = ((k + 1).saturating_sub(nb), (k + 1).min(na));
    while lo < hi {
        let i = (lo + hi) / 2;
        if a(i) < b(k - i) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let j = k + 1 - lo;
    let from_a = if lo > 0 { a(lo - 1) } else { f64::NEG_INFINITY };
    let from_b = if j > 0 { b(j - 1) } else { f64::NEG_INFINITY };
    from_a.max(from_b)
}

/// Median absolute deviation of an ascending slice.
///
/// ```
/// use servicewatch_shared::stats::{mad_sorted, median_sorted};
/// let s = [1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0];
/// let m = median_sorted(&s); // 2
/// // |x - 2| = 1, 1, 0, 0, 2, 4, 7 -> sorted 0, 0, 1, 1, 2, 4, 7 -> median 1
/// assert_eq!(mad_sorted(&s, m), 1.0);
/// ```
pub fn mad_sorted(s: &[f64], med: f64) -> f64 {
    // The deviations are two ascending runs: walking left from the median and
    // walking right from it. The middle of their union is found by binary
    // search, without sorting anything.
    let n = s.len();
    let split = s.partition_point(|v| *v < med);
    let left = |i: usize| med - s[split - 1 - i];
    let right = |j: usize| s[split + j] - med;
    median_by(n, |k| kth_of_two(left, split, right, n - split, k))
}

/// Probability that a standard normal lands at least `z` away from zero on
/// the side(s) being tested: the false-flag rate of a threshold when the
/// scores are standard normal.
///
/// ```
/// use servicewatch_shared::stats::normal_tail;
/// assert!((normal_tail(1.96, true) - 0.05).abs() < 1e-4);
/// assert!((normal_tail(3.0, false) - 0.0013499).abs() < 1e-6);
/// assert_eq!(normal_tail(0.0, true), 1.0);
/// ```
pub fn normal_tail(z: f64, two_sided: bool) -> f64 {
    let one = 0.5 * libm::erfc(z.max(0.0) / std::f64::consts::SQRT_2);
    if two_sided {
        (2.0 * one).min(1.0)
    } else {
        one
    }
}
