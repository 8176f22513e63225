//! `Scores::anomalies`, the one answer the API, `scan` and the app give, is
//! exactly `flag` then `ranked`; `Scores::service_counts` counts the
//! services the flags can reach by the engine's own rule.

use servicewatch_shared::synth::{generate, Config};
use servicewatch_shared::wire::Anomalies;
use servicewatch_shared::{BaselineParams, Day, Direction, FlagParams, Method, Panel, Scores, ServiceCounts, Status};

#[test]
fn anomalies_is_flag_then_ranked() {
    let data = generate(&Config { services: 25, days: 200, ..Config::default() });
    let mut nonempty = 0;
    for (method, weekly) in [(Method::Robust, true), (Method::Robust, false), (Method::Classic, false)] {
        let scores = Scores::compute(&data.panel, &BaselineParams { method, weekly, ..Default::default() });
        for z in [0.5, 1.0, 2.0, 3.0, 5.0, f64::NAN] {
            for direction in [Direction::Both, Direction::Spikes, Direction::Drops] {
                for services in [None, Some(vec![3, 1, 3]), Some(vec![]), Some(vec![0, 99])] {
                    for (min_days, min_count) in [(7, 0), (0, 5), (150, 0)] {
                        let p = FlagParams { z, min_days, min_count, direction, services: services.clone() };
                        let flags = scores.flag(&p);
                        for limit in [0, 1, 10, 100, usize::MAX] {
                            let want =
                                Anomalies { metrics: flags.metrics.clone(), anomalies: scores.ranked(&flags, limit) };
                            let got = scores.anomalies(&p, limit);
                            assert_eq!(got, want, "{method} weekly {weekly} {p:?} limit {limit}");
                            nonempty += !got.anomalies.is_empty() as usize;
                        }
                    }
                }
            }
        }
    }
    assert!(nonempty > 100, "too few answers with rows to compare: {nonempty}");
    // Nothing scored: an empty answer, not a panic.
    assert_eq!(Scores::default().anomalies(&FlagParams::default(), 100), Anomalies::default());
}

#[test]
fn service_counts_use_the_engines_status_and_history() {
    let mut b = Panel::builder();
    let days: Vec<Day> = (0..40).map(Day).collect();
    let varied: Vec<u64> = (0..40).map(|i| 40 + (i * 7 % 11)).collect();
    b.push("flat", &days, &[5; 40]).unwrap(); // scored by nobody: zero spread
    b.push("long", &days, &varied).unwrap();
    b.push("short", &days[..10], &varied[..10]).unwrap();
    b.push("tiny", &days[..1], &[3]).unwrap();
    let panel = b.build();
    let scores = Scores::compute(&panel, &BaselineParams { method: Method::Classic, ..Default::default() });
    let status: Vec<Status> = scores.services().iter().map(|s| s.verdict.status).collect();
    assert_eq!(status[0], Status::Flat);
    assert_eq!(status[1], Status::Scored);

    let counts = |min_days, services: Option<Vec<usize>>| {
        scores.service_counts(&FlagParams { min_days, services, ..FlagParams::default() })
    };
    // The flat service has 40 days of history but can never be flagged.
    assert_eq!(counts(7, None), ServiceCounts { selected: 4, flaggable: 2 });
    assert_eq!(counts(20, None), ServiceCounts { selected: 4, flaggable: 1 });
    assert_eq!(counts(41, None), ServiceCounts { selected: 4, flaggable: 0 });
    assert_eq!(counts(0, Some(vec![0, 2, 2, 9])), ServiceCounts { selected: 2, flaggable: 1 });
    assert_eq!(counts(0, Some(vec![])), ServiceCounts { selected: 0, flaggable: 0 });
    // The same rule as the flags: a service counted flaggable is one `flag`
    // counts eligible days of.
    for min_days in [0, 7, 20, 41] {
        for s in 0..panel.len() {
            let p = FlagParams { min_days, services: Some(vec![s]), ..FlagParams::default() };
            let flaggable = scores.service_counts(&p).flaggable == 1;
            assert_eq!(flaggable, scores.flag(&p).eligible > 0, "service {s} min_days {min_days}");
        }
    }
}
