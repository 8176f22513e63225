//! The chart's band must agree with the flags: a day outside the band at a
//! threshold has |z| at or above it, a day inside has less. With the
//! calibrated z the band is not centre ± z × spread (`Scores::band`).

use servicewatch_shared::synth::{generate, Config};
use servicewatch_shared::{BaselineParams, Method, Scores};

#[test]
fn the_band_is_where_the_threshold_flags() {
    let data = generate(&Config { services: 30, days: 240, ..Config::default() });
    for method in [Method::Robust, Method::Classic] {
        let scores = Scores::compute(&data.panel, &BaselineParams { method, ..Default::default() });
        let mut checked = [0usize; 2];
        for s in 0..data.panel.len() {
            let v = scores.series(s);
            for threshold in [2.0, 3.0, 4.0] {
                let (lower, upper) = scores.band(s, threshold);
                for i in 0..v.z.len() {
                    let (z, x) = (v.z[i], v.count[i] as f64);
                    if !z.is_finite() || (z.abs() - threshold).abs() < 1e-3 {
                        continue; // unscored, or on the edge itself
                    }
                    let outside = x > upper[i] || x < lower[i];
                    assert_eq!(
                        outside,
                        z.abs() > threshold,
                        "{method} service {s} day {i}: {x} in [{}, {}], z {z}",
                        lower[i],
                        upper[i]
                    );
                    checked[outside as usize] += 1;
                }
            }
        }
        assert!(checked[0] > 1000 && checked[1] > 50, "{method}: {checked:?}");
    }
}
