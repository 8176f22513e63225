//! A second thread for full scorings. A new date range, view, method or
//! weekly switch scores every service-day again; on one thread that is the
//! page's longest wait (about 155 ms at a million service-days). The server
//! splits the services between its cores (`Scores::recompute`); the page
//! does the same with a Web Worker running the app's own wasm module: it
//! scores one contiguous part of the services ([`Scores::score_part`]) while
//! the page scores the other, and [`Scores::assemble`] puts them together,
//! the same bits as one scoring.
//!
//! The worker holds its own copy of the panel: the bytes `/api/daily` sent,
//! posted as they arrive ([`share`]), so it decodes them while the page
//! does. It sends back its part's baselines and scores as typed arrays it
//! gives up (transferred, not copied); the page writes the service, day
//! and count columns again from its own panel ([`Part::thin`]). The worker
//! starts with the first data, so the page's first scoring is its own.
//! Where a worker cannot start (no `Worker`, a policy that forbids it, a
//! slow start) or fails, the page scores on its own thread, as before.
//!
//! [`Part::thin`]: servicewatch_shared::score::Part::thin

use std::sync::Arc;

use servicewatch_shared::score::split_weighted;
use servicewatch_shared::{BaselineParams, Method, Panel, Scores};

/// Scores `panel` with `params`, and says on how many threads: the worker
/// scores the second part when the scoring is large enough to split
/// ([`split`]) and the worker holds a copy of the panel ([`share`]).
pub async fn score(panel: &Arc<Panel>, params: &BaselineParams) -> (Scores, usize) {
    // Classic scores a million days in about 20 ms, less than its part
    // takes to come back from the worker: only the robust method splits.
    if params.method != Method::Robust {
        return (Scores::compute(panel, params), 1);
    }
    let share = page_share();
    let sizes = Scores::sizes(panel, params);
    let parts = split_weighted(&sizes, &[share, 1.0 - share]);
    match parts.as_slice() {
        [mine, theirs] => {
            let points = |r: &std::ops::Range<usize>| sizes[r.clone()].iter().sum();
            two_threads(panel, params, (mine.clone(), points(mine)), (theirs.clone(), points(theirs))).await
        }
        _ => (Scores::compute(panel, params), 1),
    }
}

#[cfg(not(target_family = "wasm"))]
async fn two_threads(
    panel: &Arc<Panel>,
    params: &BaselineParams,
    _: (std::ops::Range<usize>, usize),
    _: (std::ops::Range<usize>, usize),
) -> (Scores, usize) {
    (Scores::compute(panel, params), 1)
}

/// The page's share of a scoring's points (the worker scores the rest).
#[cfg(not(target_family = "wasm"))]
fn page_share() -> f64 {
    0.5
}

/// The id of a panel about to be asked for: ids grow in the order panels
/// are asked for, whatever order they arrive in.
#[cfg(not(target_family = "wasm"))]
pub fn next_id() -> u32 {
    0
}

/// Posts a copy of panel `id`'s bytes to the worker (see [`holds`]).
#[cfg(not(target_family = "wasm"))]
pub fn share(_: u32, _: &js_sys::ArrayBuffer) {}

/// `panel` is the one shared as `id`.
#[cfg(not(target_family = "wasm"))]
pub fn holds(_: u32, _: &Arc<Panel>) {}

#[cfg(target_family = "wasm")]
use page::page_share;
#[cfg(target_family = "wasm")]
use page::two_threads;
#[cfg(target_family = "wasm")]
pub use page::{holds, next_id, share};

/// What the worker answers when asked about a panel it does not hold (it
/// keeps the newest posted): the page then scores that part itself.
#[cfg(target_family = "wasm")]
const STALE: &str = "stale panel";

/// The page's side: starting the worker and asking it.
#[cfg(target_family = "wasm")]
mod page {
    use std::cell::RefCell;
    use std::ops::Range;
    use std::sync::{Arc, Weak};

    use js_sys::{ArrayBuffer, Promise};
    use servicewatch_shared::{BaselineParams, Panel, Scores};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;

    use crate::app::now_ms;

    #[wasm_bindgen(module = "/js/worker.js")]
    extern "C" {
        fn spawn(module: &JsValue) -> Promise;
        #[wasm_bindgen(js_name = sendPanel)]
        fn send_panel(worker: &JsValue, id: u32, bytes: &ArrayBuffer) -> Promise;
        #[wasm_bindgen(js_name = scorePart)]
        fn score_part(worker: &JsValue, panel: u32, params: &str, start: u32, end: u32) -> Promise;
        fn stop(worker: &JsValue);
    }

    /// The worker as the page knows it.
    #[derive(Default)]
    struct Helper {
        /// Resolves to the worker once it has started (`None`: not asked to).
        started: Option<Promise>,
        /// The worker, once it has started.
        ready: Option<JsValue>,
        /// The panels posted, by id (the worker holds the newest).
        panels: Vec<(Weak<Panel>, u32)>,
        next_id: u32,
        /// It could not start, or failed: the page scores alone from then on.
        gone: bool,
        /// The page's share of the next scoring's points (`None`: half).
        share: Option<f64>,
    }

    /// The page's share of a scoring's points: half at first, then what
    /// would have made the last scoring's two threads finish together.
    /// Their speeds differ: the worker also writes its columns out, and
    /// shares the second core with the browser's own threads (half of a
    /// million service-days measured 3-20 ms slower in the worker, which
    /// the page spent waiting).
    pub fn page_share() -> f64 {
        HELPER.with_borrow(|h| h.share.unwrap_or(0.5))
    }

    /// Moves the page's share halfway to where the last scoring would
    /// have balanced: `mine` points took the page `page_ms`, `theirs` the
    /// worker `worker_ms`.
    fn balance(mine: usize, page_ms: f64, theirs: usize, worker_ms: f64) {
        let (page, worker) = (page_ms / mine as f64, worker_ms / theirs as f64);
        let best = worker / (page + worker);
        if best.is_finite() && mine > 0 && theirs > 0 {
            HELPER.with_borrow_mut(|h| {
                let share = h.share.unwrap_or(0.5);
                h.share = Some((0.5 * (share + best)).clamp(MIN_SHARE, 1.0 - MIN_SHARE));
            });
        }
    }

    /// Neither thread gets less than this share of a scoring.
    const MIN_SHARE: f64 = 0.3;

    thread_local! {
        static HELPER: RefCell<Helper> = RefCell::default();
    }

    /// Starts the worker: it loads the module the page compiled and warms
    /// up its engine. Started with the first data, not with the page: on a
    /// machine of two cores its start would slow the first view down (it
    /// took a core from the page's own start and from a local server), and
    /// the first scoring does not wait for it.
    fn start() {
        let started = HELPER.with_borrow_mut(|h| {
            if h.started.is_some() || h.gone {
                return None;
            }
            let started = spawn(&wasm_bindgen::module());
            h.started = Some(started.clone());
            Some(started)
        });
        let Some(started) = started else { return };
        wasm_bindgen_futures::spawn_local(async move {
            match JsFuture::from(started).await {
                Ok(worker) => HELPER.with_borrow_mut(|h| h.ready = Some(worker)),
                Err(_) => give_up(),
            }
        });
    }

    /// Stops asking the worker, and stops it (its memory goes with it).
    fn give_up() {
        let was = HELPER.with_borrow_mut(|h| std::mem::replace(h, Helper { gone: true, ..Helper::default() }));
        if let Some(worker) = was.ready {
            stop(&worker);
        }
    }

    /// The id of a panel about to be asked for: ids grow in the order
    /// panels are asked for, and the worker keeps the newest it was sent,
    /// so an answer to an older request that lands late does not replace it.
    pub fn next_id() -> u32 {
        HELPER.with_borrow_mut(|h| {
            h.next_id += 1;
            h.next_id
        })
    }

    /// Posts a copy of panel `id`'s bytes to the worker, once it has started
    /// (requests are answered in the order they were posted, so a scoring
    /// asked for later finds it there).
    pub fn share(id: u32, bytes: &ArrayBuffer) {
        start();
        // Posted now when the worker is there, so that it comes before the
        // scoring that asks for it.
        if let Some(worker) = HELPER.with_borrow(|h| h.ready.clone()) {
            drop(send_panel(&worker, id, bytes));
            return;
        }
        // Still starting (`start` handles a failed start).
        let Some(started) = HELPER.with_borrow(|h| h.started.clone()) else { return };
        let bytes = bytes.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Ok(worker) = JsFuture::from(started).await {
                drop(send_panel(&worker, id, &bytes));
            }
        });
    }

    /// `panel` is the one shared as `id`.
    pub fn holds(id: u32, panel: &Arc<Panel>) {
        HELPER.with_borrow_mut(|h| {
            h.panels.retain(|(p, _)| p.strong_count() > 0);
            h.panels.push((Arc::downgrade(panel), id));
        });
    }

    /// `mine` and `theirs`: services, and their points.
    pub async fn two_threads(
        panel: &Arc<Panel>,
        params: &BaselineParams,
        (mine, my_points): (Range<usize>, usize),
        (theirs, their_points): (Range<usize>, usize),
    ) -> (Scores, usize) {
        // Not waited for: a worker still starting (the page's first
        // scoring) leaves this scoring to the page.
        let ready = HELPER.with_borrow(|h| {
            let id = h.panels.iter().find(|(p, _)| std::ptr::eq(p.as_ptr(), Arc::as_ptr(panel))).map(|(_, id)| *id);
            h.ready.clone().zip(id)
        });
        let Some((worker, id)) = ready else { return (Scores::compute(panel, params), 1) };
        // JSON: a hand-made binary form was measured 0.9 KB larger in the
        // wasm than serde_json's, which the app ships anyway. JSON has no
        // NaN or infinity: a unit that is not finite (the engine reads it
        // as none) leaves the scoring to the page.
        if params.units.values().any(|u| !u.is_finite()) {
            return (Scores::compute(panel, params), 1);
        }
        let asked = now_ms();
        let json = serde_json::to_string(params).unwrap_or_default();
        let answer = JsFuture::from(score_part(&worker, id, &json, theirs.start as u32, theirs.end as u32));
        let started = Scores::assemble(panel, params, mine);
        let own = now_ms() - asked;
        let part = match answer.await {
            Ok(part) => {
                // What the worker says its part took, not when its answer
                // was read: a page that was busy longer renders a frame
                // first (2-8 ms measured), which no split can move.
                let took = js_sys::Reflect::get(&part, &"ms".into()).ok().and_then(|v| v.as_f64());
                if let Some(worker_ms) = took.filter(|ms| *ms > 0.0) {
                    balance(my_points, own, their_points, worker_ms);
                }
                super::wire::read(&part, theirs.clone())
            }
            Err(e) => {
                let message = js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string());
                if message.as_deref() != Some(super::STALE) {
                    give_up();
                }
                None
            }
        };
        let (part, threads) = match part {
            Some(part) => (part, 2),
            None => (Scores::score_part(panel, params, theirs), 1),
        };
        match started.finish(vec![part]) {
            Ok(scores) => (scores, threads),
            Err(_) => (Scores::compute(panel, params), 1),
        }
    }
}

/// The worker's side: what the worker script calls on its copy of the app.
#[cfg(target_family = "wasm")]
mod serve {
    use std::cell::RefCell;

    use servicewatch_shared::codec::decode_panel;
    use servicewatch_shared::{BaselineParams, Panel, Scores};
    use wasm_bindgen::prelude::*;

    thread_local! {
        /// The last panel posted, with its id.
        static PANEL: RefCell<Option<(u32, Panel)>> = const { RefCell::new(None) };
    }

    /// Warms the worker's engine up as the page warms up its own.
    #[wasm_bindgen(js_name = workerWarmUp)]
    pub fn worker_warm_up() {
        crate::warm_up::warm_up();
    }

    /// Keeps the panel `/api/daily` sent (a copy of the page's bytes) as
    /// `id`, unless it holds a newer one.
    #[wasm_bindgen(js_name = workerPanel)]
    pub fn worker_panel(id: u32, bytes: &[u8]) -> Result<(), String> {
        // An older request's answer that came late: the newer panel stays.
        if PANEL.with_borrow(|p| p.as_ref().is_some_and(|(held, _)| *held > id)) {
            return Ok(());
        }
        PANEL.with_borrow_mut(|p| *p = None);
        let (_, panel) = decode_panel(bytes).map_err(|e| e.to_string())?;
        PANEL.with_borrow_mut(|p| *p = Some((id, panel)));
        Ok(())
    }

    /// Scores services `start..end` of panel `id` with `params` (JSON).
    #[wasm_bindgen(js_name = workerScore)]
    pub fn worker_score(id: u32, params: &str, start: u32, end: u32) -> Result<js_sys::Object, String> {
        let params: BaselineParams = serde_json::from_str(params).map_err(|e| e.to_string())?;
        PANEL.with_borrow(|p| match p {
            Some((held, panel)) if *held == id => {
                let part = Scores::score_part(panel, &params, start as usize..end as usize);
                Ok(super::wire::write(&part))
            }
            _ => Err(super::STALE.to_string()),
        })
    }
}

/// A thin [`Part`](servicewatch_shared::score::Part) as the worker posts
/// it: one typed array per column (centre, spread, z), per service its
/// verdict's five numbers, its unit, total and number of points, and the
/// common factor's ratios it gathered, if any.
#[cfg(target_family = "wasm")]
mod wire {
    use std::ops::Range;

    use js_sys::{BigUint64Array, Float64Array, Object, Reflect, Uint32Array};
    use servicewatch_shared::methods::common::Ratios;
    use servicewatch_shared::methods::{Columns, Verdict};
    use servicewatch_shared::score::Part;
    use servicewatch_shared::Status;
    use wasm_bindgen::{JsCast, JsValue};

    const STATUSES: [Status; 3] = [Status::Scored, Status::TooFewDays, Status::Flat];

    pub fn write(part: &Part) -> Object {
        let o = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&o, &k.into(), &v);
        };
        let p = &part.points;
        set("center", Float64Array::from(&p.center[..]).into());
        set("spread", Float64Array::from(&p.spread[..]).into());
        set("z", Float64Array::from(&p.z[..]).into());
        let verdicts: Vec<f64> = part
            .verdicts
            .iter()
            .flat_map(|v| {
                let status = STATUSES.iter().position(|s| *s == v.status).unwrap_or(0);
                [status as f64, v.history.into(), v.z_ceiling.unwrap_or(f64::NAN), v.neighbours.into(), v.weeks.into()]
            })
            .collect();
        set("verdicts", Float64Array::from(&verdicts[..]).into());
        set("units", Float64Array::from(&part.units[..]).into());
        set("totals", BigUint64Array::from(&part.totals[..]).into());
        set("lens", Uint32Array::from(&part.lens[..]).into());
        if let Some(r) = &part.ratios {
            let start: Vec<u32> = r.start.iter().map(|&k| k as u32).collect();
            set("ratioStart", Uint32Array::from(&start[..]).into());
            set("ratios", Float64Array::from(&r.values[..]).into());
        }
        o
    }

    /// The part of `services` in `answer`, or `None` if it is not one (every
    /// column as long as the services' points).
    pub fn read(answer: &JsValue, services: Range<usize>) -> Option<Part> {
        let get = |k: &str| Reflect::get(answer, &k.into()).ok();
        let f64s = |k: &str| Some(get(k)?.dyn_into::<Float64Array>().ok()?.to_vec());
        let u64s = |k: &str| Some(get(k)?.dyn_into::<BigUint64Array>().ok()?.to_vec());
        let u32s = |k: &str| Some(get(k)?.dyn_into::<Uint32Array>().ok()?.to_vec());
        let lens = u32s("lens")?;
        let n: usize = lens.iter().map(|&l| l as usize).sum();
        let points = Columns { center: f64s("center")?, spread: f64s("spread")?, z: f64s("z")?, ..Columns::default() };
        if [points.center.len(), points.spread.len(), points.z.len()].iter().any(|&len| len != n) {
            return None;
        }
        let verdicts = f64s("verdicts")?
            .chunks_exact(5)
            .map(|v| {
                Some(Verdict {
                    status: *STATUSES.get(v[0] as usize)?,
                    history: v[1] as u32,
                    z_ceiling: (!v[2].is_nan()).then_some(v[2]),
                    neighbours: v[3] as u32,
                    weeks: v[4] as u32,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        // The common factor's ratios, when the worker gathered them (else
        // the page does).
        let ratios = u32s("ratioStart")
            .zip(f64s("ratios"))
            .map(|(start, values)| Ratios { start: start.into_iter().map(|k| k as usize).collect(), values });
        Some(Part { services, points, verdicts, units: f64s("units")?, totals: u64s("totals")?, lens, ratios })
    }
}
