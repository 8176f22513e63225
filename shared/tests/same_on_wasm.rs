//! The engine must give bit-identical answers natively and in the browser.
//!
//! Both builds hash every centre, spread and z-score (as raw bits) and the
//! metrics for a generated data set, and compare with one recorded value.
//! Native: `cargo test`. wasm32: the same file under wasm-bindgen-test in
//! headless Chromium (see scripts/test.sh). If the engine changes on purpose,
//! update `EXPECTED` from the native failure message.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use servicewatch_shared::synth::{generate, Config};
use servicewatch_shared::{BaselineParams, FlagParams, Method, Scores};

const EXPECTED: u64 = 0x606fc97bea4be7c2;

struct Fnv(u64);

impl Fnv {
    fn add(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn digest() -> u64 {
    let data = generate(&Config { services: 40, days: 400, ..Config::default() });
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for (method, weekly) in [(Method::Classic, false), (Method::Robust, false), (Method::Robust, true)] {
        let scores = Scores::compute(&data.panel, &BaselineParams { method, weekly, ..Default::default() });
        let p = scores.points();
        for v in p.center.iter().chain(&p.spread).chain(&p.z) {
            h.add(v.to_bits());
        }
        // The chart's band (the calibrated z inverted) for a few services.
        for s in 0..3 {
            let (lower, upper) = scores.band(s, 3.0);
            for v in lower.iter().chain(&upper) {
                h.add(v.to_bits());
            }
        }
        for z in [2.0, 3.0, 4.5] {
            let flags = scores.flag(&FlagParams { z, ..Default::default() });
            let m = &flags.metrics;
            for v in [m.total, m.anomalous, m.share.to_bits(), m.expected_false.to_bits()] {
                h.add(v);
            }
            for a in scores.ranked(&flags, 50) {
                h.add(a.date.0 as u64);
                h.add(a.z.to_bits());
            }
        }
    }
    h.0
}

#[test]
fn same_bits_on_every_platform() {
    let got = digest();
    assert_eq!(got, EXPECTED, "engine digest changed: {got:#018x}");
}
