//! One update per animation frame. A slider drag fires `input` several
//! times a frame, and each event would re-score, re-render the table and
//! restyle the chart for a frame nobody sees: only the last value of a frame
//! is ever painted. [`per_frame`] keeps the latest value and applies it once,
//! just before the next frame is drawn.

use std::cell::RefCell;
use std::rc::Rc;

/// A setter that applies only the last value given within a frame (through
/// `requestAnimationFrame`, so the update lands in the frame it is for).
pub fn per_frame<T: 'static>(apply: impl Fn(T) + 'static) -> impl Fn(T) + 'static {
    let pending: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
    let apply = Rc::new(apply);
    move |value| {
        let scheduled = pending.borrow_mut().replace(value).is_some();
        if !scheduled {
            let (pending, apply) = (pending.clone(), apply.clone());
            leptos::prelude::request_animation_frame(move || {
                let latest = pending.borrow_mut().take();
                if let Some(v) = latest {
                    apply(v);
                }
            });
        }
    }
}
