//! Detection quality against labelled data: precision, recall and F1 at a
//! threshold, and average precision over all thresholds.
//!
//! The universe is every day of every service's lifetime, zeros included, so
//! a method that cannot see days without transactions is charged for the
//! outages it misses.

use std::collections::HashSet;

use crate::synth::Labelled;
use crate::{BaselineParams, FlagParams, Scores};

/// How well one configuration finds the labelled days.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub average_precision: f64,
    pub flagged: usize,
    pub positives: usize,
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
    let truth: HashSet<(usize, i32)> = data.labels.iter().map(|l| (l.service, l.day.0)).collect();

    // Flagged set, exactly as the product computes it.
    let flags = scores.flag(flag);
    let pts = scores.points();
    let hits: HashSet<(usize, i32)> =
        flags.hits.iter().map(|&i| (pts.svc[i as usize] as usize, pts.day[i as usize].0)).collect();
    let true_hits = hits.intersection(&truth).count();

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
            ranked.push((scored.get(&d).copied().unwrap_or(0.0), truth.contains(&(s, d))));
        }
    }
    let positives = truth.len();
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
    }
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
