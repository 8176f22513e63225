//! The engine's full scoring in wasm, on one thread, without a browser:
//! `scripts/bench-wasm.sh` times [`score`] in Node's V8 (Chromium's engine).
//! In the page the same work is split with a worker and shares the thread
//! with rendering, and six re-scorings there read p50s 10 ms apart in one
//! hour; here twenty read within 1-2 ms, so a change to the kernel can be
//! weighed before the browser bench.

use std::cell::RefCell;

use servicewatch_shared::synth::{generate, Config};
use servicewatch_shared::{BaselineParams, Panel, Scores};

thread_local! {
    static STATE: RefCell<Option<(Panel, Scores)>> = const { RefCell::new(None) };
}

/// Generates the criterion benchmark's panel: 1370 services x 730 days,
/// about a million service-days.
#[no_mangle]
pub extern "C" fn setup() {
    let panel = generate(&Config { services: 1370, days: 730, ..Config::default() }).panel;
    STATE.with_borrow_mut(|s| *s = Some((panel, Scores::default())));
}

/// Re-scores the panel with the default method (robust, weekly) into the
/// same `Scores`, as the browser does; returns a number that depends on
/// every point, so nothing is optimised away (NaN before `setup`).
#[no_mangle]
pub extern "C" fn score() -> f64 {
    STATE.with_borrow_mut(|s| match s {
        Some((panel, scores)) => {
            scores.recompute(panel, &BaselineParams::default());
            scores.points().z.iter().filter(|z| z.is_finite()).sum::<f64>() + scores.points().len() as f64
        }
        None => f64::NAN,
    })
}
