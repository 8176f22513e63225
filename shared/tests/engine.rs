//! The engine against hand-computed cases, edge cases, and a deliberately
//! naive reference implementation (property tests).

use std::collections::BTreeMap;

use proptest::prelude::*;
use servicewatch_shared::methods::robust::{BLOCK, NEIGHBOURS, SPARSE_MEDIAN, SPREAD_GAP, SPREAD_GAP_FROM};
use servicewatch_shared::methods::tail;
use servicewatch_shared::{BaselineParams, Day, Direction, FlagParams, Method, Panel, PanelError, Scores, Status};

fn panel(series: &[(&str, Vec<(i32, u64)>)]) -> Panel {
    let mut b = Panel::builder();
    for (key, pts) in series {
        let days: Vec<Day> = pts.iter().map(|p| Day(p.0)).collect();
        let counts: Vec<u64> = pts.iter().map(|p| p.1).collect();
        b.push(key, &days, &counts).unwrap();
    }
    b.build()
}

fn classic() -> BaselineParams {
    BaselineParams { method: Method::Classic, weekly: false, ..Default::default() }
}

/// Every baseline is a number, and so is every score but the ones the
/// robust method leaves out on purpose, each reading low: a service's own
/// first or last day inside the data's days (it most likely started or
/// stopped mid-day), and a listed holiday. Nothing else may be NaN or
/// infinite.
fn all_finite(s: &Scores) -> bool {
    let p = s.points();
    if !p.center.iter().chain(&p.spread).all(|v| v.is_finite()) || p.z.iter().any(|z| z.is_infinite()) {
        return false;
    }
    let data = p.day.iter().min().zip(p.day.iter().max());
    (0..s.services().len()).all(|si| {
        let v = s.series(si);
        let n = v.day.len();
        (0..n).all(|k| {
            let own_edge =
                |(first, last): (&Day, &Day)| (k == 0 && v.day[0] > *first) || (k + 1 == n && v.day[n - 1] < *last);
            let excused = data.is_some_and(own_edge) || s.holidays.contains(&v.day[k]);
            !v.z[k].is_nan() || (excused && v.count[k] as f64 <= v.center[k])
        })
    })
}

#[test]
fn classic_hand_computed() {
    // A: 2 4 4 4 5 5 7 9 -> mean 5, sd sqrt(32/7) = 2.138; 9 scores 1.871.
    let p = panel(&[("A", vec![(0, 2), (1, 4), (2, 4), (3, 4), (4, 5), (5, 5), (6, 7), (7, 9)])]);
    let s = Scores::compute(&p, &classic());
    let sd = (32.0f64 / 7.0).sqrt();
    assert_eq!(s.points().center[7], 5.0);
    assert!((s.points().spread[7] - sd).abs() < 1e-12);
    assert!((s.points().z[7] - 4.0 / sd).abs() < 1e-12);
    let f = s.flag(&FlagParams { z: 1.8, min_days: 1, ..Default::default() });
    assert_eq!(f.metrics.total, 40);
    assert_eq!(f.metrics.anomalous, 1);
    assert_eq!(f.metrics.share, 9.0 / 40.0);
    // The ceiling (n - 1) / sqrt(n) for n = 8.
    assert_eq!(s.services()[0].verdict.z_ceiling, Some(7.0 / 8f64.sqrt()));
}

#[test]
fn classic_controls() {
    let p = panel(&[
        ("A", vec![(0, 10), (1, 10), (2, 10), (3, 40)]),
        ("B", vec![(0, 100), (1, 100), (2, 100), (3, 10)]),
        ("C", vec![(0, 5), (1, 5)]),
    ]);
    let s = Scores::compute(&p, &classic());
    let base = FlagParams { z: 1.4, min_days: 3, ..Default::default() };
    // A's last day z = 1.5 (spike), B's last day z = -1.5 (drop); C is flat.
    assert_eq!(s.flag(&base).metrics.anomalous, 2);
    assert_eq!(s.services()[2].verdict.status, Status::Flat);
    let spikes = s.flag(&FlagParams { direction: Direction::Spikes, ..base.clone() });
    assert_eq!(s.ranked(&spikes, 10)[0].key, "A");
    let drops = s.flag(&FlagParams { direction: Direction::Drops, ..base.clone() });
    assert_eq!(s.ranked(&drops, 10)[0].key, "B");
    // Minimum count 20 keeps A's 40 and drops B's 10.
    let counted = s.flag(&FlagParams { min_count: 20, ..base.clone() });
    assert_eq!(counted.metrics.anomalous, 1);
    // Minimum history 5 exceeds every service: nothing flagged, total unchanged.
    let strict = s.flag(&FlagParams { min_days: 5, ..base.clone() });
    assert_eq!(strict.metrics.anomalous, 0);
    assert_eq!(strict.metrics.total, 70 + 310 + 10);
    // The service filter changes the total too.
    let only_b = s.flag(&FlagParams { services: Some(vec![1]), ..base.clone() });
    assert_eq!(only_b.metrics.total, 310);
    assert_eq!(only_b.metrics.anomalous, 1);
}

#[test]
fn date_range_limits_the_history() {
    let p = panel(&[("A", (0..20).map(|d| (d, if d == 15 { 50 } else { 10 + (d % 3) as u64 })).collect())]);
    let full = Scores::compute(&p, &classic());
    let part = Scores::compute(&p, &BaselineParams { from: Some(Day(10)), to: Some(Day(19)), ..classic() });
    assert_eq!(full.services()[0].verdict.history, 20);
    assert_eq!(part.services()[0].verdict.history, 10);
    assert_eq!(part.range, Some((Day(10), Day(19))));
    assert!(part.points().day.iter().all(|d| (10..=19).contains(&d.0)));
}

#[test]
fn edge_cases_never_produce_nan() {
    let big = servicewatch_shared::panel::MAX_TOTAL / 4;
    let cases: Vec<Panel> = vec![
        Panel::default(),
        panel(&[("one", vec![(5, 3)])]),
        panel(&[("flat", (0..40).map(|d| (d, 7)).collect())]),
        panel(&[("huge", vec![(0, big), (1, big), (3, 1)])]),
        panel(&[("sparse", vec![(0, 1), (100, 1), (300, 2)])]),
    ];
    for p in &cases {
        for method in [Method::Classic, Method::Robust] {
            for weekly in [false, true] {
                let s = Scores::compute(p, &BaselineParams { method, weekly, ..Default::default() });
                assert!(all_finite(&s), "{method} weekly={weekly} on {:?}", p.keys());
                let f = s.flag(&FlagParams { z: 0.0, min_days: 0, ..Default::default() });
                assert!(f.metrics.share.is_finite() && f.metrics.expected_false.is_finite());
                let f = s.flag(&FlagParams { z: f64::NAN, ..Default::default() });
                assert_eq!(f.metrics.anomalous, 0);
            }
        }
    }
    // Flat and one-day series flag nothing with either method.
    for p in &cases[1..3] {
        for method in [Method::Classic, Method::Robust] {
            let s = Scores::compute(p, &BaselineParams { method, ..Default::default() });
            assert_eq!(s.flag(&FlagParams { min_days: 0, ..Default::default() }).metrics.anomalous, 0);
        }
    }
    // Empty input: zero everything.
    let s = Scores::compute(&cases[0], &BaselineParams::default());
    assert_eq!(s.flag(&FlagParams::default()).metrics, Default::default());
}

#[test]
fn bad_panels_are_rejected_with_the_reason() {
    let mut b = Panel::builder();
    let e = b.push("x", &[Day(2), Day(1)], &[1, 1]).unwrap_err();
    assert!(matches!(e, PanelError::Unsorted { .. }), "{e}");
    let e = b.push("x", &[Day(1), Day(1)], &[1, 1]).unwrap_err();
    assert!(matches!(e, PanelError::Duplicate { .. }), "{e}");
    let e = b.push("x", &[Day(1)], &[1, 1]).unwrap_err();
    assert!(e.to_string().contains("1 dates but 2 values"), "{e}");
    b.push("x", &[Day(1)], &[1]).unwrap();
    assert!(matches!(b.push("x", &[Day(2)], &[1]), Err(PanelError::DuplicateService { .. })));
    let e = b.push("y", &[Day(1), Day(2)], &[u64::MAX, 1]).unwrap_err();
    assert_eq!(e, PanelError::TotalTooLarge);
    // Rejected pushes leave the builder as it was.
    assert_eq!(b.build().service_days(), 1);
}

#[test]
fn robust_sees_missing_days_and_short_series() {
    // Four weeks of ~40 a day, then a day with no transactions at all.
    let mut pts: Vec<(i32, u64)> = (0..28).map(|d| (d, 38 + (d as u64 * 7) % 5)).collect();
    pts.retain(|p| p.0 != 20);
    let p = panel(&[("A", pts)]);
    let s = Scores::compute(&p, &BaselineParams { weekly: false, ..Default::default() });
    let top = s.ranked(&s.flag(&FlagParams::default()), 5);
    assert_eq!(top.len(), 1);
    assert_eq!((top[0].date, top[0].value), (Day(20), 0));
    // Classic cannot see it: the day has no row.
    let c = Scores::compute(&p, &classic());
    assert_eq!(c.flag(&FlagParams::default()).metrics.anomalous, 0);
}

#[test]
fn a_day_the_whole_business_shares_is_not_one_services_anomaly() {
    // Twelve services, 120 flat days around 100 (a little noise, no weekly
    // rhythm); on day 60 (a holiday) eleven sell 30, one stays at 100.
    let series: Vec<(String, Vec<(i32, u64)>)> = (0..12)
        .map(|s| {
            let pts = (0..120)
                .map(|d| {
                    let base = 100 + ((d * 7 + s * 3) % 11) as u64 - 5;
                    (d, if d == 60 && s != 5 { 30 } else { base })
                })
                .collect();
            (format!("S{s:02}"), pts)
        })
        .collect();
    let refs: Vec<(&str, Vec<(i32, u64)>)> = series.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let p = panel(&refs);
    let s = Scores::compute(&p, &BaselineParams::default());
    assert!((s.day_factor[60] - 0.3).abs() < 0.02, "everyone was at 30 %: {}", s.day_factor[60]);
    assert!((s.day_factor[59] - 1.0).abs() < 0.06, "an ordinary day: {}", s.day_factor[59]);
    let flags = s.flag(&FlagParams::default());
    let top = s.ranked(&flags, 100);
    let on_holiday: Vec<&str> = top.iter().filter(|a| a.date == Day(60)).map(|a| a.key.as_str()).collect();
    assert_eq!(on_holiday, ["S05"], "only the service that broke from the crowd");
    let row = top.iter().find(|a| a.date == Day(60)).unwrap();
    assert_eq!(row.day_factor, s.day_factor[60], "the row says everyone was down");
    assert_eq!(s.day_factor_on(Day(59)), s.day_factor[59]);
    assert_eq!(s.day_factor_on(Day(500)), 1.0, "outside the range");
    // The factor comes from every service, whatever the filter shows.
    let one = s.flag(&FlagParams { services: Some(vec![5]), ..Default::default() });
    assert_eq!(s.ranked(&one, 10)[0].date, Day(60));
    // Without the common factor (weekly off) every service that dropped is
    // flagged, and the one that did not is not.
    let plain = Scores::compute(&p, &BaselineParams { weekly: false, ..Default::default() });
    let f = plain.flag(&FlagParams::default());
    let ranked = plain.ranked(&f, 100);
    let flagged: Vec<&str> = ranked.iter().filter(|a| a.date == Day(60)).map(|a| a.key.as_str()).collect();
    assert_eq!(flagged.len(), 11);
    assert!(!flagged.contains(&"S05"));
}

#[test]
fn a_holiday_calendar_speaks_where_too_few_services_share_the_day() {
    // `n` services, 120 flat days around 100; on day 60 every service but
    // S01 sells `crowd`, S01 sells `own`; on day 80 S02 doubles.
    let table = |n: i32, crowd: u64, own: u64| {
        let series: Vec<(String, Vec<(i32, u64)>)> = (0..n)
            .map(|s| {
                let pts = (0..120)
                    .map(|d| {
                        let base = 100 + ((d * 7 + s * 3) % 11) as u64 - 5;
                        let count = match (d, s) {
                            (60, 1) => own,
                            (60, _) => crowd,
                            (80, 2) => 200,
                            _ => base,
                        };
                        (d, count)
                    })
                    .collect();
                (format!("S{s:02}"), pts)
            })
            .collect();
        build(&series)
    };
    let on = |s: &Scores, day: i32| -> Vec<String> {
        let f = s.flag(&FlagParams::default());
        s.ranked(&f, 100).into_iter().filter(|a| a.date == Day(day)).map(|a| a.key).collect()
    };
    let listed = BaselineParams { holidays: vec![Day(60), Day(80)], ..Default::default() };

    // Three services: too few for a common factor. Without a calendar the
    // shared holiday is three drops; with it, none, and its z is no score.
    let few = table(3, 30, 30);
    assert_eq!(on(&Scores::compute(&few, &BaselineParams::default()), 60).len(), 3);
    let s = Scores::compute(&few, &listed);
    assert!(on(&s, 60).is_empty());
    assert!(s.series(0).z[60].is_nan() && s.series(0).center[60].is_finite());
    // A spike on a listed day is still one.
    assert_eq!(on(&s, 80), ["S02"]);
    // A listed day is in no baseline: on a series of uneven days, the
    // centres and spreads are those of the day marked, not the plain ones.
    let uneven = panel(&[("A", (0..120).map(|d| (d, if d == 60 { 10 } else { 80 + (d as u64 * 37) % 41 })).collect())]);
    let baselines = |p: BaselineParams| {
        let s = Scores::compute(&uneven, &p);
        (s.points().center.clone(), s.points().spread.clone())
    };
    let listed_60 = baselines(BaselineParams { holidays: vec![Day(60)], ..Default::default() });
    let marked = BTreeMap::from([("A".to_string(), vec![Day(60)])]);
    assert_eq!(listed_60, baselines(BaselineParams { exclude: marked, ..Default::default() }));
    assert_ne!(listed_60, baselines(BaselineParams::default()));
    // Without the weekly pattern there is no common factor at all: the
    // calendar alone keeps the drop off the list. Classic, the original
    // logic, ignores the calendar.
    assert!(on(&Scores::compute(&few, &BaselineParams { weekly: false, ..listed.clone() }), 60).is_empty());
    let classic_listed = Scores::compute(&few, &BaselineParams { holidays: listed.holidays.clone(), ..classic() });
    assert_eq!(classic_listed.points(), Scores::compute(&few, &classic()).points());

    // Twelve services measure the day (everyone at 60 %): the calendar
    // adds nothing there, and the one that fell to 5 still breaks from the
    // crowd.
    let many = table(12, 60, 5);
    let s = Scores::compute(&many, &listed);
    assert!((s.day_factor[60] - 0.6).abs() < 0.03, "{}", s.day_factor[60]);
    assert_eq!(on(&s, 60), ["S01"]);
    assert_eq!(on(&Scores::compute(&many, &BaselineParams::default()), 60), ["S01"]);
}

#[test]
fn ranked_is_sorted_and_limited() {
    let p = panel(&[
        ("B", (0..30).map(|d| (d, if d == 9 { 90 } else { 30 })).collect()),
        ("A", (0..30).map(|d| (d, if d == 9 || d == 3 { 90 } else { 30 })).collect()),
    ]);
    let s = Scores::compute(&p, &BaselineParams::default());
    let f = s.flag(&FlagParams::default());
    let all = s.ranked(&f, usize::MAX);
    assert_eq!(all.len() as u64, f.metrics.anomalous);
    assert!(all.windows(2).all(|w| w[0].z.abs() >= w[1].z.abs()));
    let two = s.ranked(&f, 2);
    assert_eq!(two[..], all[..2]);
    assert!(s.ranked(&f, 0).is_empty());
}

// ---- The naive reference: obviously right, slow, written from the docs. ----

fn naive_median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// (day, count, z) for every point of one service, robust method, no weekly.
fn naive_robust(pts: &[(i32, u64)]) -> Vec<(i32, u64, f64)> {
    let (first, last) = (pts[0].0, pts[pts.len() - 1].0);
    let x: Vec<f64> = (first..=last).map(|d| pts.iter().find(|p| p.0 == d).map_or(0.0, |p| p.1 as f64)).collect();
    let n = x.len();
    let m = (NEIGHBOURS + 1).min(n);
    let floor = |c: f64| 1.0 + c.sqrt();
    // Each day's centre and clipped spread from its neighbours.
    let base: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            // The window is centred on the day's week and includes the day.
            let week_start = i / BLOCK * BLOCK;
            let start = (week_start + BLOCK / 2).saturating_sub(NEIGHBOURS / 2).min(n - m);
            let window: Vec<f64> = x[start..start + m].to_vec();
            assert!((start..start + m).contains(&i));
            let wmed = naive_median(window.clone());
            let lim = (4.0 * 1.4826 * naive_median(window.iter().map(|v| (v - wmed).abs()).collect())).max(4.0);
            let mut nb = window;
            let own = nb.iter().position(|v| *v == x[i]).unwrap();
            nb.remove(own);
            let med = naive_median(nb);
            // The spread leaves out the day and SPREAD_GAP days each side
            // (in windows of SPREAD_GAP_FROM days or more).
            let gap = if m >= SPREAD_GAP_FROM { SPREAD_GAP } else { 0 };
            let near = i.saturating_sub(gap)..=i + gap;
            let kept: Vec<f64> = (start..start + m)
                .filter(|j| !near.contains(j))
                .map(|j| x[j])
                .filter(|v| (v - wmed).abs() <= lim)
                .collect();
            let sd = if kept.len() < 2 {
                0.0
            } else {
                (kept.iter().map(|v| (v - med) * (v - med)).sum::<f64>() / (kept.len() - 1) as f64).sqrt()
            };
            // Sparse counts: the clipped mean is the centre.
            let centre = if med < SPARSE_MEDIAN && !kept.is_empty() {
                kept.iter().sum::<f64>() / kept.len() as f64
            } else {
                med
            };
            (centre, sd)
        })
        .collect();
    // The series' over-dispersion: the median excess over the floor, per centre squared.
    // (every third day of a series of 60 days or more)
    let step = if n >= 60 { 3 } else { 1 };
    let phi = naive_median(
        base.iter()
            .step_by(step)
            .filter(|(c, _)| *c >= 1.0)
            .map(|(c, sd)| (sd * sd - floor(*c).powi(2)).max(0.0) / (c * c))
            .collect(),
    );
    (0..n)
        .map(|i| {
            let (c, sd) = base[i];
            let z =
                if m - 1 < 3 { 0.0 } else { tail::z(x[i], c, sd.max((floor(c).powi(2) + phi * c * c).sqrt()), m - 1) };
            (first + i as i32, x[i] as u64, z)
        })
        .collect()
}

/// The robust method's own edges on a naive series: a service that starts
/// after the panel's first day or stops before its last leaves a low
/// reading on that first or last day unscored (NaN).
fn own_edges(mut out: Vec<(i32, u64, f64)>, (first, last): (Day, Day)) -> Vec<(i32, u64, f64)> {
    let n = out.len();
    for k in [0, n - 1] {
        let edge = (k == 0 && out[0].0 > first.0) || (k == n - 1 && out[n - 1].0 < last.0);
        if edge && out[k].2 < 0.0 {
            out[k].2 = f64::NAN;
        }
    }
    out
}

fn naive_classic(pts: &[(i32, u64)]) -> Vec<(i32, u64, f64)> {
    let n = pts.len() as f64;
    let mean = pts.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let var = pts.iter().map(|p| (p.1 as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let sd = var.sqrt();
    pts.iter().map(|p| (p.0, p.1, if n >= 2.0 && sd > 0.0 { (p.1 as f64 - mean) / sd } else { 0.0 })).collect()
}

/// Panels of either kind, half each: scattered days (gaps, sparse and
/// edge cases) or dense ones (a weekday rhythm, many services).
fn series_strategy() -> impl Strategy<Value = Vec<(String, Vec<(i32, u64)>)>> {
    prop_oneof![scattered_series(), dense_series()]
}

/// Up to four services of up to 59 days scattered over 150: mostly
/// gaps (zeros to the robust method), too few for a weekly pattern or a
/// common factor.
fn scattered_series() -> impl Strategy<Value = Vec<(String, Vec<(i32, u64)>)>> {
    let one = (prop::collection::btree_map(0i32..150, 0u64..500, 1..60), 0u64..3).prop_map(|(m, scale)| {
        m.into_iter().map(|(d, c)| (d, if scale == 0 { c % 5 } else { c })).filter(|p| p.1 > 0).collect::<Vec<_>>()
    });
    prop::collection::vec(one, 1..5).prop_map(named)
}

/// Up to nine services of consecutive days with a weekday rhythm, noise and
/// a few days missing: they reach the weekly pattern (93 % of 2,000 panels)
/// and the common factor (10 %), which scattered days never do.
fn dense_series() -> impl Strategy<Value = Vec<(String, Vec<(i32, u64)>)>> {
    let one = (0i32..30, 1i32..160, 0u64..400, prop::array::uniform7(0u64..4), 0u64..30, any::<u64>(), any::<bool>())
        .prop_map(|(start, len, level, week, missing, seed, small)| {
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let level = if small { level % 6 } else { level };
            (start..start + len)
                .filter_map(|d| {
                    let base = level * (1 + week[(d % 7) as usize]) / 2;
                    let root = (base as f64).sqrt() as u64;
                    let count = (base + next() % (2 * root + 2)).saturating_sub(root);
                    (next() % 100 >= missing && count > 0).then_some((d, count))
                })
                .collect::<Vec<_>>()
        });
    prop::collection::vec(one, 1..10).prop_map(named)
}

/// Non-empty series named S0, S1, ... by their place in `v`.
fn named(v: Vec<Vec<(i32, u64)>>) -> Vec<(String, Vec<(i32, u64)>)> {
    v.into_iter().enumerate().filter(|(_, s)| !s.is_empty()).map(|(i, s)| (format!("S{i}"), s)).collect()
}

fn build(series: &[(String, Vec<(i32, u64)>)]) -> Panel {
    let refs: Vec<(&str, Vec<(i32, u64)>)> = series.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    panel(&refs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn engine_matches_naive_reference(series in series_strategy(), z in 0.5f64..5.0, min_days in 0u32..40, min_count in 0u64..50) {
        let p = build(&series);
        for (method, naive) in [(Method::Classic, naive_classic as fn(&[(i32, u64)]) -> Vec<(i32, u64, f64)>), (Method::Robust, naive_robust)] {
            let s = Scores::compute(&p, &BaselineParams { method, weekly: false, ..Default::default() });
            let f = s.flag(&FlagParams { z, min_days, min_count, ..Default::default() });
            let mut expected_hits = 0u64;
            let mut expected_total = 0u64;
            let mut borderline = false;
            for (si, (_, pts)) in series.iter().enumerate() {
                let want = if method == Method::Robust { own_edges(naive(pts), p.bounds().unwrap()) } else { naive(pts) };
                let got = s.series(si);
                prop_assert_eq!(got.day.len(), want.len());
                let history = s.services()[si].verdict.history;
                let scored = s.services()[si].verdict.status == Status::Scored;
                expected_total += pts.iter().map(|p| p.1).sum::<u64>();
                for (k, (d, c, wz)) in want.iter().enumerate() {
                    prop_assert_eq!(got.day[k].0, *d);
                    prop_assert_eq!(got.count[k], *c);
                    if wz.is_nan() {
                        prop_assert!(got.z[k].is_nan(), "{} {} at its own edge", method, got.z[k]);
                        continue;
                    }
                    prop_assert!((got.z[k] - wz).abs() <= 1e-9 * (1.0 + wz.abs()), "{} {} vs {}", method, got.z[k], wz);
                    borderline |= (wz.abs() - z).abs() < 1e-9;
                    if scored && history >= min_days && wz.abs() >= z && *c >= min_count {
                        expected_hits += 1;
                    }
                }
            }
            prop_assert_eq!(f.metrics.total, expected_total);
            if !borderline {
                prop_assert_eq!(f.metrics.anomalous, expected_hits);
            }
        }
    }

    #[test]
    fn top_n_is_the_head_of_the_full_ranking(series in series_strategy(), z in 0.0f64..3.0, limit in 0usize..40) {
        let p = build(&series);
        for method in [Method::Classic, Method::Robust] {
            let s = Scores::compute(&p, &BaselineParams { method, ..Default::default() });
            let f = s.flag(&FlagParams { z, min_days: 0, ..Default::default() });
            let full = s.ranked(&f, usize::MAX);
            prop_assert_eq!(full.len(), f.hits.len());
            let head = s.ranked(&f, limit);
            prop_assert_eq!(&head[..], &full[..limit.min(full.len())]);
        }
    }

    #[test]
    fn cheap_rescore_equals_fresh_scoring(series in series_strategy(), z1 in 0.0f64..6.0, z2 in 0.0f64..6.0, dir in 0usize..3) {
        // One Scores, its memory first used by another method, re-flagged at
        // z1, z2, other settings and z1 again must equal fresh scoring at
        // each: no state may carry from one computation or call to the next.
        let p = build(&series);
        let direction = [Direction::Both, Direction::Spikes, Direction::Drops][dir];
        let params = BaselineParams::default();
        let mut kept = Scores::compute(&p, &classic());
        kept.recompute(&p, &params);
        let at = |z| FlagParams { z, direction, min_days: 3, ..Default::default() };
        let other = FlagParams { z: z2, min_days: 0, min_count: 5, ..Default::default() };
        let asked = [at(z1), at(z2), other, at(z1)];
        let got: Vec<_> = asked.iter().map(|f| kept.flag(f)).collect();
        for (got, f) in got.iter().zip(&asked) {
            let fresh = Scores::compute(&p, &params);
            let want = fresh.flag(f);
            prop_assert_eq!(got, &want, "{:?}", f);
            prop_assert_eq!(kept.ranked(got, usize::MAX), fresh.ranked(&want, usize::MAX));
        }
        let (first, second) = (&got[0], &got[1]);
        // Each answer is its own threshold's: the higher one flags exactly
        // the lower one's days that reach it.
        let score = |i: u32| {
            let z = kept.points().z[i as usize];
            match direction { Direction::Both => z.abs(), Direction::Spikes => z, Direction::Drops => -z }
        };
        let (lo, (hi, hi_z)) = if z1 <= z2 { (first, (second, z2)) } else { (second, (first, z1)) };
        let reaching: Vec<u32> = lo.hits.iter().copied().filter(|&i| score(i) >= hi_z).collect();
        prop_assert_eq!(&hi.hits, &reaching);
        prop_assert!(second.metrics.share >= 0.0 && second.metrics.share <= 1.0);
        prop_assert!(all_finite(&kept));
    }

    #[test]
    fn weekly_never_produces_nan(series in series_strategy()) {
        let s = Scores::compute(&build(&series), &BaselineParams { weekly: true, ..Default::default() });
        prop_assert!(all_finite(&s));
    }

    #[test]
    fn holidays_and_marks_leave_every_other_number_finite(
        series in dense_series(),
        holidays in prop::collection::btree_set(0i32..190, 0..12),
        marked in prop::collection::btree_set(0i32..190, 0..20),
        weekly in any::<bool>(),
    ) {
        let holidays: Vec<Day> = holidays.into_iter().map(Day).collect();
        let exclude = BTreeMap::from([("S0".to_string(), marked.into_iter().map(Day).collect())]);
        let s = Scores::compute(&build(&series), &BaselineParams { holidays, exclude, weekly, ..Default::default() });
        prop_assert!(all_finite(&s));
    }
}

#[test]
fn partial_edge_days_are_not_flagged_by_the_robust_method() {
    // 70 steady days around 100, then a last day with a third of the volume:
    // the extract ended that morning.
    let mut pts: Vec<(i32, u64)> = (0..70).map(|d| (d, 95 + (d as u64 * 7) % 11)).collect();
    pts.push((70, 33));
    let p = panel(&[("A", pts)]);
    let drop = |s: &Scores| s.ranked(&s.flag(&FlagParams { min_days: 1, ..Default::default() }), 10);
    let robust = BaselineParams { weekly: false, ..Default::default() };
    let flagged = drop(&Scores::compute(&p, &robust));
    assert_eq!(flagged.iter().map(|a| a.date).collect::<Vec<_>>(), vec![Day(70)], "without the hint it is a drop");

    let hinted = Scores::compute(&p, &BaselineParams { partial: vec![Day(70)], ..robust.clone() });
    assert!(drop(&hinted).is_empty());
    let last = hinted.points().z.len() - 1;
    assert!(hinted.points().z[last].is_nan(), "no score");
    assert!(hinted.points().center[last] > 90.0, "the chart still gets a baseline");
    let sum: u64 = p.counts(0).iter().sum();
    assert_eq!(hinted.flag(&FlagParams::default()).metrics.total, sum, "its transactions still count");

    // Classic keeps the original app's behaviour.
    let classic = Scores::compute(&p, &BaselineParams { partial: vec![Day(70)], ..classic() });
    assert!(classic.points().z.iter().all(|z| z.is_finite()));
}

#[test]
fn a_series_that_starts_or_stops_inside_the_range_has_partial_edges_of_its_own() {
    // B runs days 10..=60 of A's 0..=70, with half a day at each end: it
    // started at noon and stopped at noon. Nothing names those days (the
    // extract's own edges are A's), yet a half day is not a drop.
    let steady = |d: i32| 95 + (d as u64 * 7) % 11;
    let a: Vec<(i32, u64)> = (0..=70).map(|d| (d, steady(d))).collect();
    let half: Vec<(i32, u64)> = (10..=60).map(|d| (d, if d == 10 || d == 60 { 48 } else { steady(d) })).collect();
    // C starts inside the range with a burst on its first day: a spike on
    // an edge is still a spike.
    let burst: Vec<(i32, u64)> = (20..=70).map(|d| (d, if d == 20 { 400 } else { steady(d) })).collect();
    let p = panel(&[("A", a), ("B", half), ("C", burst)]);
    let flags = |s: &Scores| {
        let f = s.flag(&FlagParams { min_days: 1, ..Default::default() });
        s.ranked(&f, 10).into_iter().map(|x| (x.key, x.date)).collect::<Vec<_>>()
    };
    let robust = Scores::compute(&p, &BaselineParams { weekly: false, ..Default::default() });
    assert_eq!(flags(&robust), vec![("C".to_string(), Day(20))]);
    let b = robust.series(1);
    assert!(b.z[0].is_nan() && b.z[b.z.len() - 1].is_nan(), "B's half days are unscored");
    assert!(b.center[0] > 90.0, "and keep a baseline for the chart");
    // A range that starts on B's first day: the range starts there, and
    // nothing says B did, so the day is scored like any other.
    let cut = Scores::compute(&p, &BaselineParams { from: Some(Day(10)), weekly: false, ..Default::default() });
    assert!(cut.series(1).z[0].is_finite(), "B's first day is the range's first day");
    // Classic keeps the original app's behaviour: every day scored.
    let classic = Scores::compute(&p, &BaselineParams { method: Method::Classic, weekly: false, ..Default::default() });
    assert!(classic.points().z.iter().all(|z| z.is_finite()));
}

#[test]
fn ties_at_the_cut_go_by_service_name_then_date() {
    // Two services with the same series tie on every z: the first name wins.
    let pts: Vec<(i32, u64)> = (0..30).map(|d| (d, if d % 7 == 3 { 90 } else { 40 + (d as u64 % 3) })).collect();
    let p = panel(&[("b", pts.clone()), ("a", pts)]);
    let s = Scores::compute(&p, &classic());
    let f = s.flag(&FlagParams { z: 0.1, min_days: 1, ..Default::default() });
    let full = s.ranked(&f, usize::MAX);
    for limit in [1, 2, 3, 5, 8, 9] {
        assert_eq!(s.ranked(&f, limit), full[..limit].to_vec(), "limit {limit}");
    }
    // The four 90s of each service tie: all of a's by date, then b's.
    let top: Vec<(&str, i32)> = full[..8].iter().map(|a| (a.key.as_str(), a.date.0)).collect();
    assert_eq!(top, [("a", 3), ("a", 10), ("a", 17), ("a", 24), ("b", 3), ("b", 10), ("b", 17), ("b", 24)]);
    assert!(full[..8].iter().all(|a| a.z == full[0].z));
}

#[cfg(feature = "synth")]
#[test]
fn robust_matches_naive_reference_on_over_dispersed_counts() {
    // Random counts rarely have a spread beyond the count model's; generated
    // negative-binomial series (dispersion 3 to 40) do, so the series'
    // over-dispersion (`phi`) is exercised here.
    let data = servicewatch_shared::synth::generate(&servicewatch_shared::synth::Config {
        services: 12,
        days: 200,
        ..Default::default()
    });
    let s = Scores::compute(&data.panel, &BaselineParams { weekly: false, ..Default::default() });
    let mut differs_from_plain_floor = 0;
    for si in 0..data.panel.len() {
        let pts: Vec<(i32, u64)> =
            data.panel.days(si).iter().zip(data.panel.counts(si)).map(|(d, c)| (d.0, *c)).collect();
        // A late starter's or early stopper's low first or last day is
        // left unscored (a half day).
        let want = own_edges(naive_robust(&pts), data.panel.bounds().unwrap());
        let got = s.series(si);
        assert_eq!(got.z.len(), want.len());
        for (k, (_, _, wz)) in want.iter().enumerate() {
            if wz.is_nan() {
                assert!(got.z[k].is_nan(), "service {si} day {k}: {} at its own edge", got.z[k]);
                continue;
            }
            assert!((got.z[k] - wz).abs() <= 1e-9 * (1.0 + wz.abs()), "service {si} day {k}: {} vs {wz}", got.z[k]);
            let floor = 1.0 + got.center[k].sqrt();
            differs_from_plain_floor += (got.spread[k] > floor * 1.5) as usize;
        }
    }
    assert!(differs_from_plain_floor > 100, "the data must be over-dispersed: {differs_from_plain_floor}");
}

/// One service's points for the common factor: (day, count, centre, spread, z).
type FactorPoints = Vec<(i32, u64, f64, f64, f64)>;

fn factor_points() -> impl Strategy<Value = Vec<(FactorPoints, Option<usize>)>> {
    // Days from 0 to 40, some left out (classic-like gaps), some unscored.
    let point = (0u64..500, 1.0f64..300.0, 1.0f64..40.0, prop_oneof![9 => -6.0f64..6.0, 1 => Just(f64::NAN)]);
    let series = (prop::collection::vec((any::<bool>(), point), 0..40), prop::option::of(5usize..90));
    prop::collection::vec(series, 1..6).prop_map(|all| {
        all.into_iter()
            .map(|(days, neighbours)| {
                let pts = days
                    .into_iter()
                    .enumerate()
                    .filter(|(_, (keep, _))| *keep)
                    .map(|(d, (_, (count, c, s, z)))| (d as i32, count, c, s, z))
                    .collect();
                (pts, neighbours)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// `common::apply` visits only the days whose factor is not 1, found
    /// by offset or search; it must re-score exactly the points that, each
    /// scored alone, it re-scores, to the bit.
    #[test]
    fn common_factor_visits_the_points_a_full_pass_would(
        services in factor_points(),
        factor in prop::collection::vec(prop_oneof![3 => Just(1.0f64), 1 => 0.2f64..2.5], 0..45),
        from in -3i32..3,
        units in prop::collection::vec(prop_oneof![Just(1.0f64), 0.5f64..20.0], 6),
    ) {
        use servicewatch_shared::methods::{common, tail::Calibration, Columns};
        let mut c = Columns::default();
        let (mut spans, mut cal) = (Vec::new(), Vec::new());
        for (svc, (pts, neighbours)) in services.iter().enumerate() {
            let start = c.len();
            for &(d, count, centre, spread, z) in pts {
                c.push(svc as u32, Day(d), count, centre, spread, z);
            }
            spans.push(start..c.len());
            cal.push(neighbours.map(|n| Calibration::new(n, n / 7)));
        }
        // The reference: each point alone, so nothing is found by offset
        // or search.
        let mut reference = c.clone();
        for i in 0..reference.len() {
            let svc = reference.svc[i] as usize;
            let mut one = Columns::default();
            let r = &reference;
            one.push(0, r.day[i], r.count[i], r.center[i], r.spread[i], r.z[i]);
            common::apply(&mut one, std::slice::from_ref(&(0..1)), Day(from), &factor, &cal[svc..=svc], &units[svc..=svc]);
            (reference.center[i], reference.spread[i], reference.z[i]) = (one.center[0], one.spread[0], one.z[0]);
        }
        common::apply(&mut c, &spans, Day(from), &factor, &cal, &units);
        let bits = |c: &Columns| c.z.iter().chain(&c.center).chain(&c.spread).map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&c), bits(&reference));
    }
}
