//! Marked days (`BaselineParams::exclude`) leave their series' baseline:
//! the scores equal an independent computation with those days left out.

use std::collections::BTreeMap;

use proptest::prelude::*;
use servicewatch_shared::{BaselineParams, Day, Method, Panel, Scores};

fn panel(series: &[(&str, Vec<u64>)]) -> Panel {
    let mut b = Panel::builder();
    for (key, counts) in series {
        let days: Vec<Day> = (0..counts.len() as i32).map(Day).collect();
        b.push(key, &days, counts).unwrap();
    }
    b.build()
}

fn excluding(method: Method, key: &str, days: &[i32]) -> BaselineParams {
    let exclude = BTreeMap::from([(key.to_string(), days.iter().copied().map(Day).collect())]);
    BaselineParams { method, weekly: false, exclude, ..Default::default() }
}

/// Counts of at least 1 (so the robust method has no implicit zero days)
/// and a set of days to mark.
fn series_and_marks() -> impl Strategy<Value = (Vec<u64>, Vec<bool>)> {
    (8usize..59)
        .prop_flat_map(|n| (prop::collection::vec(1u64..200, n), prop::collection::vec(prop::bool::weighted(0.15), n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Classic: mean and sample sd of the unmarked days; every day scored
    /// against them.
    #[test]
    fn classic_leaves_marked_days_out_of_mean_and_sd((counts, marked) in series_and_marks()) {
        let days: Vec<i32> = (0..counts.len() as i32).filter(|&d| marked[d as usize]).collect();
        let s = Scores::compute(&panel(&[("a", counts.clone())]), &excluding(Method::Classic, "a", &days));
        let kept: Vec<f64> = counts.iter().zip(&marked).filter(|(_, m)| !**m).map(|(c, _)| *c as f64).collect();
        prop_assume!(kept.len() >= 2);
        let mean = kept.iter().sum::<f64>() / kept.len() as f64;
        let sd = (kept.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (kept.len() - 1) as f64).sqrt();
        prop_assume!(sd > 0.0);
        let p = s.points();
        for (i, &c) in counts.iter().enumerate() {
            prop_assert!((p.center[i] - mean).abs() < 1e-9 * mean.max(1.0));
            prop_assert!((p.spread[i] - sd).abs() < 1e-9 * sd.max(1.0));
            prop_assert!((p.z[i] - (c as f64 - mean) / sd).abs() < 1e-9, "day {i}: {} vs {}", p.z[i], (c as f64 - mean) / sd);
        }
    }

    /// Robust: an unmarked day scores exactly as it does in the series with
    /// the marked days taken out altogether; a marked day is scored against
    /// the whole of that shorter series (shorter than a window: its
    /// neighbours are all the unmarked days).
    #[test]
    fn robust_scores_as_if_marked_days_were_not_there((counts, marked) in series_and_marks()) {
        let days: Vec<i32> = (0..counts.len() as i32).filter(|&d| marked[d as usize]).collect();
        let kept: Vec<u64> = counts.iter().zip(&marked).filter(|(_, m)| !**m).map(|(c, _)| *c).collect();
        prop_assume!(kept.len() > 4);
        let with_marks = Scores::compute(&panel(&[("a", counts.clone())]), &excluding(Method::Robust, "a", &days));
        let without = Scores::compute(&panel(&[("a", kept.clone())]), &excluding(Method::Robust, "a", &[]));
        let (p, q) = (with_marks.points(), without.points());
        for (j, i) in (0..counts.len()).filter(|&i| !marked[i]).enumerate() {
            prop_assert_eq!(p.center[i].to_bits(), q.center[j].to_bits(), "centre of day {}", i);
            prop_assert_eq!(p.spread[i].to_bits(), q.spread[j].to_bits(), "spread of day {}", i);
            prop_assert_eq!(p.z[i].to_bits(), q.z[j].to_bits(), "z of day {}", i);
        }
        let mut sorted: Vec<f64> = kept.iter().map(|&c| c as f64).collect();
        sorted.sort_by(f64::total_cmp);
        let median = servicewatch_shared::stats::median_sorted(&sorted);
        for i in (0..counts.len()).filter(|&i| marked[i]) {
            if median >= servicewatch_shared::methods::robust::SPARSE_MEDIAN {
                prop_assert_eq!(p.center[i], median, "marked day {}", i);
            }
            prop_assert!(p.z[i].is_finite());
        }
    }
}

#[test]
fn marks_name_their_series_and_days_outside_the_range_do_nothing() {
    let counts: Vec<u64> = (0..120).map(|i| 100 + (i * 7 % 13)).collect();
    let mut promo = counts.clone();
    for c in &mut promo[40..50] {
        *c *= 4; // a ten-day promotion
    }
    let p = panel(&[("a", promo.clone()), ("b", promo)]);
    let promo_days: Vec<i32> = (40..50).collect();
    for method in [Method::Classic, Method::Robust] {
        let plain = Scores::compute(&p, &excluding(method, "zzz", &promo_days));
        let marked = Scores::compute(&p, &excluding(method, "a", &promo_days));
        let (a, b) = (marked.series(0), marked.series(1));
        // "b" is untouched; "a" has a new baseline.
        assert_eq!(b.z, plain.series(1).z, "{method}");
        assert_ne!(a.z, plain.series(0).z, "{method}");
        // Days outside the range change nothing.
        let out_of_range = BaselineParams { to: Some(Day(30)), ..excluding(method, "a", &promo_days) };
        let in_range = BaselineParams { to: Some(Day(30)), ..excluding(method, "zzz", &[]) };
        assert_eq!(Scores::compute(&p, &out_of_range), Scores::compute(&p, &in_range), "{method}");
    }
    // With the promotion marked, the classic baseline is the ordinary level
    // again, and the promotion days stand far above it.
    let marked = Scores::compute(&p, &excluding(Method::Classic, "a", &promo_days));
    assert!(marked.series(0).center[0] < 110.0);
    assert!(marked.series(0).z[45] > 50.0);
}

#[test]
fn a_marked_burst_no_longer_widens_its_neighbours_robust_spread() {
    // Weekly off; noise small; a fifteen-day burst inside the 90-day window of
    // the days around it: marked, the neighbours' spread comes down to the
    // series' own noise, and a later modest spike stands out more.
    let mut counts: Vec<u64> = (0..200).map(|i| 200 + (i * 37 % 23)).collect();
    for (k, c) in counts[60..75].iter_mut().enumerate() {
        *c = 600 + 40 * k as u64;
    }
    counts[100] = 300;
    let p = panel(&[("a", counts)]);
    let plain = Scores::compute(&p, &excluding(Method::Robust, "a", &[]));
    let marked = Scores::compute(&p, &excluding(Method::Robust, "a", &(60..75).collect::<Vec<_>>()));
    assert!(marked.series(0).spread[100] < plain.series(0).spread[100]);
    assert!(marked.series(0).z[100] > plain.series(0).z[100]);
}

#[test]
fn amounts_are_scored_in_transactions() {
    // A quiet service: one order of 40 to 60 dollars on a third of the
    // days, none on the others. Nothing here is unusual.
    let days: Vec<Day> = (0..180).filter(|d| d % 3 == 0).map(Day).collect();
    let cents: Vec<u64> = (0..days.len() as u64).map(|i| 4_000 + (i * 7_919) % 2_000).collect();
    let mut b = Panel::builder();
    b.push("a", &days, &cents).unwrap();
    let p = b.build();
    let worst = |units: BTreeMap<String, f64>| {
        let params =
            BaselineParams { weekly: false, metric: servicewatch_shared::Metric::Amount, units, ..Default::default() };
        let s = Scores::compute(&p, &params);
        s.series(0).z.iter().fold(0.0f64, |m, z| m.max(z.abs()))
    };
    let ticket = cents.iter().sum::<u64>() as f64 / cents.len() as f64;
    // Cents taken for orders: every sale is "z = 20".
    assert!(worst(BTreeMap::new()) > 10.0, "{}", worst(BTreeMap::new()));
    // In transactions (one unit = the mean ticket): an ordinary series.
    let in_orders = worst(BTreeMap::from([("a".to_string(), ticket)]));
    assert!(in_orders < 3.0, "{in_orders}");
}
