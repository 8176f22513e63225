//! The default method's z on data with no anomalies: the days flagged by
//! chance at |z| >= 3 and 4 must stay near what the "expected by chance"
//! metric says (`methods::tail`, docs/quality.md). Before calibration the
//! long series flagged 2 and 15 times too many.

use servicewatch_shared::eval::calibration;
use servicewatch_shared::synth::{generate, Config};
use servicewatch_shared::{BaselineParams, FlagParams};

/// (flagged / expected) at |z| >= 3 and 4 over `sets` clean data sets.
fn ratios(services: usize, days: u32, scale: f64, sets: u64) -> [f64; 2] {
    let (mut flagged, mut expected) = ([0u64; 2], [0f64; 2]);
    for seed in 0..sets {
        let d = generate(&Config { seed: 500 + seed, services, days, anomaly_rate: 0.0, scale, ..Config::default() });
        // The server names the extract's partial first and last days.
        let partial = d.panel.bounds().map(|(a, b)| vec![a, b]).unwrap_or_default();
        let c = calibration(&d, &BaselineParams { partial, ..Default::default() }, &FlagParams::default(), &[3.0, 4.0]);
        for k in 0..2 {
            flagged[k] += c[k].flagged;
            expected[k] += c[k].expected;
        }
    }
    [flagged[0] as f64 / expected[0], flagged[1] as f64 / expected[1]]
}

#[test]
fn long_series_flag_about_what_chance_says() {
    let [z3, z4] = ratios(150, 730, 1.0, 2);
    // Measured 0.51 and 0.69 (2026-11-26); before calibration 2.0 and 15.
    assert!((0.3..=1.5).contains(&z3) && (0.3..=2.0).contains(&z4), "long: {z3:.2} {z4:.2}");
}

#[test]
fn short_series_flag_about_what_chance_says() {
    let [z3, z4] = ratios(600, 60, 1.0, 2);
    // Measured 0.68 and 1.27 (2026-11-26); before calibration 3.3 and 34.
    assert!((0.4..=1.5).contains(&z3) && (0.5..=4.0).contains(&z4), "short: {z3:.2} {z4:.2}");
}

#[test]
fn sparse_series_flag_no_more_than_chance_says() {
    // Small counts cannot land exactly on a tail probability: fewer flags
    // than expected is the honest side to err on.
    let [z3, z4] = ratios(150, 730, 0.03, 2);
    // Measured 0.38 and 0.53 (2026-11-26); before calibration 1.65 and 12.
    assert!((0.15..=1.0).contains(&z3) && z4 <= 1.2, "sparse: {z3:.2} {z4:.2}");
}
