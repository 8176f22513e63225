//! At most one update per animation frame, the first one at once. A slider
//! drag fires `input` several times a frame, and each event would re-score,
//! re-render the table and redraw the chart for a frame nobody sees: only
//! the last value of a frame is ever painted. [`per_frame`] applies a value
//! that comes after an idle frame as it comes (its work is then done while
//! the page waits for the frame anyway, not after the frame has begun);
//! while values keep coming, it keeps the latest and applies it in the next
//! frame's callback, one per frame, until a frame finds nothing waiting.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A setter that applies a value at once after an idle frame, and
/// otherwise the last value given before the next frame (through
/// `requestAnimationFrame`, so it lands in that frame).
pub fn per_frame<T: 'static>(apply: impl Fn(T) + 'static) -> impl Fn(T) + 'static {
    let state = Rc::new(State { pending: RefCell::new(None), busy: Cell::new(false) });
    let apply: Rc<dyn Fn(T)> = Rc::new(apply);
    move |value| {
        if state.busy.get() {
            // This frame has had its update: keep the latest for the next.
            state.pending.replace(Some(value));
            return;
        }
        // Busy first, so that a value given while `apply` runs waits too.
        state.busy.set(true);
        next_frame(state.clone(), apply.clone());
        apply(value);
    }
}

/// In the next frame: the waiting value, if any, and then one more frame
/// to see whether more come; a frame that finds nothing waiting ends it.
fn next_frame<T: 'static>(state: Rc<State<T>>, apply: Rc<dyn Fn(T)>) {
    leptos::prelude::request_animation_frame(move || {
        let latest = state.pending.take();
        match latest {
            Some(v) => {
                next_frame(state.clone(), apply.clone());
                apply(v);
            }
            None => state.busy.set(false),
        }
    });
}

/// The latest value waiting for a frame, and whether this frame has had
/// its update.
struct State<T> {
    pending: RefCell<Option<T>>,
    busy: Cell<bool>,
}
