//! Detection quality against labelled data: precision, recall and F1 at a
//! threshold, and average precision over all thresholds.
//!
//! The universe is every day of every service's lifetime, zeros included, so
//! a method that cannot see days without transactions is charged for the
//! outages it misses.

use std::collections::{HashMap, HashSet};

use crate::stats::normal_tail;
use crate::synth::{Kind, Labelled, Truth};
use crate::{BaselineParams, Day, FlagParams, Scores};

/// How well one configuration finds the labelled days.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub average_precision: f64,
    pub flagged: usize,
    pub positives: usize,
    /// Per kind of labelled day present, in the order of [`Kind`]: how
    /// many were flagged, and how many there were.
    pub found_by_kind: Vec<(Kind, usize, usize)>,
}

/// Scores `data` with `baseline`, flags with `flag`, and compares with the labels.
///
/// ```
/// use servicewatch_shared::eval::evaluate;
/// use servicewatch_shared::synth::{generate, Config, Kind, Label, Labelled};
/// use servicewatch_shared::{BaselineParams, Day, FlagParams, Method, Panel};
/// // By hand: 60 steady days around 100, an unlabelled 400 on day 20 and a
/// // labelled 300 on day 40. Both are flagged; the false one ranks first.
/// let counts: Vec<u64> = (0..60).map(|d| match d { 20 => 400, 40 => 300, _ => 95 + (d * 7) % 11 }).collect();
/// let days: Vec<Day> = (0..60).map(Day).collect();
/// let mut b = Panel::builder();
/// b.push("A", &days, &counts).unwrap();
/// let labels = vec![Label { service: 0, day: Day(40), kind: Kind::Spike }];
/// let data = Labelled { panel: b.build(), labels, lifetimes: vec![(Day(0), Day(59))] };
/// let q = evaluate(&data, &BaselineParams::default(), &FlagParams::default());
/// assert_eq!((q.flagged, q.positives, q.precision, q.recall), (2, 1, 0.5, 1.0));
/// assert_eq!(q.found_by_kind, vec![(Kind::Spike, 1, 1)]);
/// assert_eq!(q.average_precision, 0.5);
///
/// // Generated data: the default method finds most labelled days, and
/// // ranks them better than the original app's classic method.
/// let data = generate(&Config { services: 10, days: 365, ..Config::default() });
/// let f = FlagParams::default();
/// let q = evaluate(&data, &BaselineParams::default(), &f);
/// let classic = BaselineParams { method: Method::Classic, weekly: false, ..Default::default() };
/// let c = evaluate(&data, &classic, &f);
/// assert_eq!(q.positives, data.labels.len());
/// assert!(q.recall > 0.5 && q.precision > 0.5, "{q:?}");
/// assert!(q.average_precision > c.average_precision, "{q:?} {c:?}");
/// ```
pub fn evaluate(data: &Labelled, baseline: &BaselineParams, flag: &FlagParams) -> Quality {
    let scores = Scores::compute(&data.panel, baseline);
    let truth = labelled_days(data);

    // Flagged set, exactly as the product computes it.
    let flags = scores.flag(flag);
    let pts = scores.points();
    let hits: HashSet<(usize, i32)> =
        flags.hits.iter().map(|&i| (pts.svc[i as usize] as usize, pts.day[i as usize].0)).collect();

    // Ranking: every lifetime day gets a score; days the method cannot score get 0.
    let mut ranked: Vec<(f64, bool)> = Vec::new();
    for (s, info) in scores.services().iter().enumerate() {
        let eligible = info.flaggable(flag.min_days);
        let view = scores.series(s);
        let scored: std::collections::HashMap<i32, f64> = view
            .day
            .iter()
            .zip(view.z)
            .map(|(d, z)| (d.0, if eligible { directional(*z, flag) } else { 0.0 }))
            .collect();
        let (first, last) = data.lifetimes[s];
        for d in first.0..=last.0 {
            ranked.push((scored.get(&d).copied().unwrap_or(0.0), truth.contains_key(&(s, d))));
        }
    }
    quality(&truth, &hits, ranked)
}

/// Each labelled (service, day) and what was injected there.
fn labelled_days(data: &Labelled) -> HashMap<(usize, i32), Kind> {
    data.labels.iter().map(|l| ((l.service, l.day.0), l.kind)).collect()
}

/// The figures of a flagged set (`hits`) and a ranking of every lifetime
/// day against the labelled days (`truth`).
fn quality(truth: &HashMap<(usize, i32), Kind>, hits: &HashSet<(usize, i32)>, ranked: Vec<(f64, bool)>) -> Quality {
    let true_hits = truth.keys().filter(|k| hits.contains(k)).count();
    let positives = truth.len();
    let mut found_by_kind: Vec<(Kind, usize, usize)> = Vec::new();
    for (key, &kind) in truth {
        let i = match found_by_kind.iter().position(|f| f.0 == kind) {
            Some(i) => i,
            None => {
                found_by_kind.push((kind, 0, 0));
                found_by_kind.len() - 1
            }
        };
        found_by_kind[i].1 += hits.contains(key) as usize;
        found_by_kind[i].2 += 1;
    }
    found_by_kind.sort_by_key(|f| f.0 as u8);
    let precision = if hits.is_empty() { 0.0 } else { true_hits as f64 / hits.len() as f64 };
    let recall = if positives == 0 { 0.0 } else { true_hits as f64 / positives as f64 };
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    Quality {
        precision,
        recall,
        f1,
        average_precision: average_precision(ranked, positives),
        flagged: hits.len(),
        positives,
        found_by_kind,
    }
}

/// The ceiling: the figures of a method that knew the generator's own mean
/// and dispersion for every day ([`Truth`]) and scored each count by the
/// exact tail probability of its negative binomial, as a normal z (the
/// upper tail `P(X >= x)` above the mean, the lower `P(X <= x)` below).
/// A reference, not a proof of a bound: it scores each day alone (a score
/// that saw a burst's days together, or knew where drops are generated,
/// could rank some labels higher), F1 at a fixed threshold depends on the
/// score's scale, and the generator draws large Poisson counts by a
/// rounded normal. But a labelled day this model finds ordinary is hard
/// for anything that learns its baseline from the data. It scores every
/// lifetime day, half days included, and ignores the flag's minimum
/// history, minimum count and services.
///
/// ```
/// use servicewatch_shared::eval::{ceiling, evaluate};
/// use servicewatch_shared::synth::{generate_with_truth, Config};
/// use servicewatch_shared::{BaselineParams, FlagParams};
/// let (data, truth) = generate_with_truth(&Config { services: 20, days: 365, ..Config::default() });
/// let f = FlagParams::default();
/// let best = ceiling(&data, &truth, &f);
/// let q = evaluate(&data, &BaselineParams::default(), &f);
/// assert!(best.average_precision > q.average_precision, "{best:?} {q:?}");
/// assert!(best.recall > 0.5 && best.recall < 1.0, "{best:?}");
/// ```
pub fn ceiling(data: &Labelled, truth: &Truth, flag: &FlagParams) -> Quality {
    let labels = labelled_days(data);
    let mut hits = HashSet::new();
    let mut ranked = Vec::new();
    for (s, d, z) in true_scores(data, truth) {
        let z = directional(z, flag);
        if z >= flag.z {
            hits.insert((s, d));
        }
        ranked.push((z, labels.contains_key(&(s, d))));
    }
    quality(&labels, &hits, ranked)
}

/// (service, day, z) of every lifetime day, scored by the generator's own
/// model ([`nb_z`]); days without rows count 0.
fn true_scores<'a>(data: &'a Labelled, truth: &'a Truth) -> impl Iterator<Item = (usize, i32, f64)> + 'a {
    data.lifetimes.iter().enumerate().flat_map(move |(s, &(first, last))| {
        let (days, counts) = (data.panel.days(s), data.panel.counts(s));
        (first.0..=last.0).zip(&truth.means[s]).map(move |(d, &mean)| {
            let count = days.binary_search(&Day(d)).map_or(0, |i| counts[i]);
            (s, d, nb_z(count, mean, truth.dispersion[s]))
        })
    })
}

/// [`Calibration`] of the generator's own model ([`ceiling`]'s scores) on
/// data with no anomalies, over every lifetime day but the extract's first
/// and last (half days, which the product does not score either). Counts
/// are whole numbers: a tail probability `P(X >= x)` jumps past the
/// threshold's, so even the true model flags fewer days than a normal z
/// promises, and far fewer drops (a Poisson series whose mean is under
/// about 6.6 cannot fall to z -3 at all: a zero is not that rare; with
/// over-dispersion, about 7 to 24 on the generator's dispersions).
///
/// ```
/// use servicewatch_shared::eval::ceiling_calibration;
/// use servicewatch_shared::synth::{generate_with_truth, Config};
/// let (clean, truth) = generate_with_truth(&Config { services: 40, days: 365, anomaly_rate: 0.0, ..Config::default() });
/// let c = &ceiling_calibration(&clean, &truth, &[3.0])[0];
/// assert!(c.eligible > 10_000 && c.flagged > 0);
/// assert!((c.flagged as f64) < 1.3 * c.expected, "{c:?}");
/// ```
pub fn ceiling_calibration(data: &Labelled, truth: &Truth, thresholds: &[f64]) -> Vec<Calibration> {
    let half_days = data.panel.bounds();
    let z: Vec<f64> = true_scores(data, truth)
        .filter(|&(_, d, _)| !half_days.is_some_and(|(a, b)| d == a.0 || d == b.0))
        .map(|(.., z)| z)
        .collect();
    thresholds
        .iter()
        .map(|&t| Calibration {
            z: t,
            flagged: z.iter().filter(|z| z.abs() >= t).count() as u64,
            spikes: z.iter().filter(|&&z| z >= t).count() as u64,
            expected: z.len() as f64 * normal_tail(t, true),
            eligible: z.len() as u64,
        })
        .collect()
}

/// The normal z with the tail probability of `x` under a negative binomial
/// with this mean and dispersion `r`, summed term by term from `x` outward
/// (each term from the last by the pmf's ratio), so that tails far below
/// 1e-16 keep their digits.
fn nb_z(x: u64, mean: f64, r: f64) -> f64 {
    if mean <= 0.0 {
        return if x > 0 { f64::INFINITY } else { 0.0 };
    }
    let q = mean / (r + mean);
    let xf = x as f64;
    let ln_p =
        libm::lgamma(xf + r) - libm::lgamma(r) - libm::lgamma(xf + 1.0) + r * libm::log1p(-q) + xf * libm::log(q);
    let (mut term, mut tail) = (libm::exp(ln_p), 0.0);
    if xf >= mean {
        let mut k = xf;
        while term > tail * 1e-17 && term > 0.0 {
            tail += term;
            term *= (k + r) / (k + 1.0) * q;
            k += 1.0;
        }
    } else {
        let mut k = xf;
        loop {
            tail += term;
            if k < 1.0 || term <= tail * 1e-17 {
                break;
            }
            term *= k / ((k - 1.0 + r) * q);
            k -= 1.0;
        }
    }
    let z = upper_quantile(tail.min(0.5));
    if xf >= mean {
        z
    } else {
        -z
    }
}

/// The z whose upper normal tail is `p` (at most 0.5), by bisection: the
/// ceiling is a measurement, not a hot path.
fn upper_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if normal_tail(mid, false) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Days flagged by chance: on data with no anomalies, how many days pass
/// each threshold, next to what the product's "expected by chance" metric
/// says ([`crate::Metrics::expected_false`]). A calibrated score keeps the
/// two close.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub z: f64,
    pub flagged: u64,
    /// Of `flagged`, the days above their baseline (the rest are below): a
    /// calibrated score flags each side about as often.
    pub spikes: u64,
    pub expected: f64,
    /// Days that could be flagged.
    pub eligible: u64,
}

/// [`Calibration`] at each of `thresholds`, flagging as `flag` says
/// otherwise (its `z` is replaced).
///
/// ```
/// use servicewatch_shared::eval::calibration;
/// use servicewatch_shared::synth::{generate, Config};
/// use servicewatch_shared::{BaselineParams, FlagParams};
/// let clean = generate(&Config { services: 20, days: 365, anomaly_rate: 0.0, ..Config::default() });
/// let c = calibration(&clean, &BaselineParams::default(), &FlagParams::default(), &[3.0]);
/// // 20 services x about 330 scored days x 0.27 %: about 18 by chance.
/// assert!(c[0].expected > 10.0 && c[0].expected < 25.0);
/// assert!(c[0].flagged > 0 && (c[0].flagged as f64) < 2.0 * c[0].expected);
/// assert!(c[0].spikes <= c[0].flagged);
/// ```
pub fn calibration(
    data: &Labelled,
    baseline: &BaselineParams,
    flag: &FlagParams,
    thresholds: &[f64],
) -> Vec<Calibration> {
    let scores = Scores::compute(&data.panel, baseline);
    thresholds
        .iter()
        .map(|&z| {
            let f = scores.flag(&FlagParams { z, ..flag.clone() });
            let up = scores.flag(&FlagParams { z, direction: crate::Direction::Spikes, ..flag.clone() });
            Calibration {
                z,
                flagged: f.metrics.anomalous,
                spikes: up.metrics.anomalous.min(f.metrics.anomalous),
                expected: f.metrics.expected_false,
                eligible: f.eligible,
            }
        })
        .collect()
}

/// The score a day is ranked by: |z|, or the signed z for one direction.
/// Unscored days (z is NaN) rank last.
fn directional(z: f64, flag: &FlagParams) -> f64 {
    if z.is_nan() {
        return f64::NEG_INFINITY;
    }
    match flag.direction {
        crate::Direction::Both => z.abs(),
        crate::Direction::Spikes => z,
        crate::Direction::Drops => -z,
    }
}

/// Mean of precision@k over the ranks k of the positives (ties broken
/// pessimistically: negatives first).
///
/// ```
/// use servicewatch_shared::eval::average_precision;
/// // ranks: P N P N -> (1/1 + 2/3) / 2
/// let ap = average_precision(vec![(4.0, true), (3.0, false), (2.0, true), (1.0, false)], 2);
/// assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
/// ```
pub fn average_precision(mut ranked: Vec<(f64, bool)>, positives: usize) -> f64 {
    if positives == 0 {
        return 0.0;
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let (mut seen, mut sum) = (0usize, 0.0);
    for (k, (_, positive)) in ranked.iter().enumerate() {
        if *positive {
            seen += 1;
            sum += seen as f64 / (k + 1) as f64;
        }
    }
    sum / positives as f64
}

#[cfg(test)]
mod tests {
    use super::nb_z;

    /// Against tail probabilities summed term by term in Python (`math.lgamma`,
    /// `statistics.NormalDist`).
    #[test]
    fn the_ceiling_reads_exact_tails() {
        for (x, mean, r, want) in [
            (0, 20.0, 3.0, -2.845_208_6),    // P(0) = (3/23)^3
            (150, 50.0, 10.0, 4.044_926_9),  // upper tail 2.6e-5
            (130, 100.0, 1e6, 2.836_132_1),  // almost Poisson
            (400, 50.0, 10.0, 9.437_127_4),  // a tail of 1.9e-21 keeps its digits
            (10, 100.0, 40.0, -7.400_442_5), // a lower tail of 6.8e-14
        ] {
            let z = nb_z(x, mean, r);
            assert!((z - want).abs() < 1e-5, "{x} of {mean} (r {r}): {z}, want {want}");
        }
        assert_eq!(nb_z(0, 0.0, 5.0), 0.0);
        let at_mean = nb_z(50, 50.0, 5.0); // P(X >= mean) is a little under a half
        assert!(at_mean > 0.0 && at_mean < 0.5, "{at_mean}");
    }
}
