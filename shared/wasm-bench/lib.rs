//! The engine's full scoring in wasm, on one thread, without a browser:
//! `scripts/bench-wasm.sh` times [`score`] in Node's V8 (Chromium's engine).
//! In the page the same work is split with a worker and shares the thread
//! with rendering, and six re-scorings there read p50s 10 ms apart in one
//! hour; here twenty read within 1-2 ms, so a change to the kernel can be
//! weighed before the browser bench.

use std::cell::RefCell;

use servicewatch_shared::codec::decode_panel;
use servicewatch_shared::synth::{generate, Config};
use servicewatch_shared::{BaselineParams, Panel, Scores};

thread_local! {
    static STATE: RefCell<Option<(Panel, Scores)>> = const { RefCell::new(None) };
    static BYTES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Generates the criterion benchmark's panel: 1370 services x 730 days,
/// about a million service-days.
#[no_mangle]
pub extern "C" fn setup() {
    let panel = generate(&Config { services: 1370, days: 730, ..Config::default() }).panel;
    STATE.with_borrow_mut(|s| *s = Some((panel, Scores::default())));
}

/// Room for `len` bytes of a panel as `/api/daily` sends it; the script
/// copies them there, then calls [`setup_bytes`].
#[no_mangle]
pub extern "C" fn room(len: usize) -> *mut u8 {
    BYTES.with_borrow_mut(|b| {
        *b = vec![0; len];
        b.as_mut_ptr()
    })
}

/// Decodes the bytes written to [`room`] as the panel to score: the
/// browser bench's own data. False when they are not a panel.
#[no_mangle]
pub extern "C" fn setup_bytes() -> bool {
    let panel = BYTES.with_borrow(|b| decode_panel(b).map(|(_, p)| p));
    let ok = panel.is_ok();
    STATE.with_borrow_mut(|s| *s = panel.ok().map(|p| (p, Scores::default())));
    ok
}

/// Re-scores the panel with the default method (robust, weekly) into the
/// same `Scores`, as the browser does; returns a number that depends on
/// every point, so nothing is optimised away (NaN before a setup).
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

/// Points in the last scoring (0 before one).
#[no_mangle]
pub extern "C" fn points() -> usize {
    STATE.with_borrow(|s| s.as_ref().map_or(0, |(_, scores)| scores.points().len()))
}
