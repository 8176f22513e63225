//! At most one update per animation frame, the first one at once. A slider
//! drag fires `input` several times a frame, and each event would re-score,
//! re-render the table and redraw the chart for a frame nobody sees: only
//! the last value of a frame is ever painted. [`per_frame`] applies the
//! first value of a frame as it comes (its work is then done while the
//! page waits for the frame anyway, not after the frame has begun) and
//! keeps any later one of the same frame, applying only the latest just
//! before the frame is drawn.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A setter that applies a value at once when nothing was applied since
/// the last frame, and otherwise the last value given before the next
/// frame (through `requestAnimationFrame`, so it lands in that frame).
pub fn per_frame<T: 'static>(apply: impl Fn(T) + 'static) -> impl Fn(T) + 'static {
    let state = Rc::new(State { pending: RefCell::new(None), waiting: Cell::new(false) });
    let apply = Rc::new(apply);
    move |value| {
        if state.waiting.get() {
            // Something already went into this frame: keep the latest.
            state.pending.replace(Some(value));
            return;
        }
        apply(value);
        state.waiting.set(true);
        let (state, apply) = (state.clone(), apply.clone());
        leptos::prelude::request_animation_frame(move || {
            // The frame is being drawn: what came after the first value
            // lands in it, and the next value after it applies at once.
            let latest = state.pending.take();
            state.waiting.set(false);
            if let Some(v) = latest {
                apply(v);
            }
        });
    }
}

/// The frame a value went into, and the latest value waiting for it.
struct State<T> {
    pending: RefCell<Option<T>>,
    /// A value was applied since the last frame.
    waiting: Cell<bool>,
}
