//! The engine's full scoring in wasm, on one thread, without a browser:
//! `scripts/bench-wasm.sh` times [`score`] in Node's V8 (Chromium's engine).
//! In the page the same work is split with a worker and shares the thread
//! with rendering, and six re-scorings there read p50s 10 ms apart in one
//! hour; here twenty read within 1-2 ms, so a change to the kernel can be
//! weighed before the browser bench.

use std::cell::RefCell;

use servicewatch_shared::codec::decode_panel;
use servicewatch_shared::score::{Assembly, Part};
use servicewatch_shared::synth::{generate, Config};
use servicewatch_shared::{BaselineParams, Panel, Scores};

thread_local! {
    static STATE: RefCell<Option<(Panel, Scores)>> = const { RefCell::new(None) };
    static BYTES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// A scoring in two parts, as the page and its worker make it: the
    /// panel leaked (and the parameters a static) so the assembly can wait
    /// between calls.
    static SPLIT: RefCell<Split> = const { RefCell::new(Split { panel: None, page: None, worker: None }) };
}

struct Split {
    panel: Option<&'static Panel>,
    page: Option<Assembly<'static>>,
    worker: Option<Part>,
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

/// The browser's way, in three timed steps on one thread: the worker's
/// half (`1`: `Scores::score_part`, thinned as it posts it), the page's
/// half (`2`: `Scores::assemble`), and what the page does once both are
/// there (`3`: `Assembly::finish`, the serial part). Returns the points
/// scored by steps 1 and 3 and the services of step 2 (NaN out of order
/// or before a setup).
#[no_mangle]
pub extern "C" fn split_step(step: u32) -> f64 {
    static PARAMS: std::sync::OnceLock<BaselineParams> = std::sync::OnceLock::new();
    let params = PARAMS.get_or_init(BaselineParams::default);
    SPLIT.with_borrow_mut(|split| {
        let panel = match split.panel {
            Some(p) => p,
            None => {
                let taken = STATE.with_borrow_mut(|s| s.take());
                let Some((panel, _)) = taken else { return f64::NAN };
                let panel: &'static Panel = Box::leak(Box::new(panel));
                split.panel = Some(panel);
                panel
            }
        };
        let half = panel.len() / 2;
        match step {
            1 => {
                let part = Scores::score_part(panel, params, half..panel.len()).thin();
                let n = part.points.z.len();
                split.worker = Some(part);
                n as f64
            }
            2 => {
                split.page = Some(Scores::assemble(panel, params, 0..half));
                half as f64
            }
            3 => match (split.page.take(), split.worker.take()) {
                (Some(page), Some(part)) => page.finish(vec![part]).map_or(f64::NAN, |s| s.points().len() as f64),
                _ => f64::NAN,
            },
            _ => f64::NAN,
        }
    })
}

/// Points in the last scoring (0 before one).
#[no_mangle]
pub extern "C" fn points() -> usize {
    STATE.with_borrow(|s| s.as_ref().map_or(0, |(_, scores)| scores.points().len()))
}
