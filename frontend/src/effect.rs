//! The app's effects, compiled once.

use leptos::prelude::*;

/// `Effect::new(move |_| run())`: runs `run` (on the next tick) and again
/// whenever a signal it read changes. Boxed, so that Leptos' effect task is
/// compiled once for all the app's effects rather than once per closure.
pub fn effect(run: impl Fn() + 'static) {
    let run: Box<dyn Fn()> = Box::new(run);
    Effect::new(move |_| run());
}
