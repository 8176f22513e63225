//! The answer to a request whose arguments are reactive: what the app
//! took from Leptos' `LocalResource`, made of a signal, an effect and a
//! task. `LocalResource` carries Leptos' async-derived machinery (its
//! futures' wrappers, an async lock, event listeners, transitions), which
//! the app used for this alone.

use std::future::Future;

use leptos::prelude::*;

use crate::effect::effect;

/// The answer to `fetch(input())`, asked again whenever what `input`
/// reads changes and on [`Fetched::refetch`]. The last answer stays until
/// the next one comes (`None` before the first); an answer to a request
/// made before the latest is dropped.
pub struct Fetched<T: Send + Sync + 'static> {
    answer: RwSignal<Option<T>>,
    again: Trigger,
}

impl<T: Send + Sync + 'static> Clone for Fetched<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Fetched<T> {}

impl<T: Clone + Send + Sync + 'static> Fetched<T> {
    pub fn new<I: 'static, F: Future<Output = T> + 'static>(
        input: impl Fn() -> I + 'static,
        fetch: impl Fn(I) -> F + 'static,
    ) -> Fetched<T> {
        let answer = RwSignal::new(None);
        let again = Trigger::new();
        // The latest request's number: only its answer is taken.
        let latest = StoredValue::new(0u64);
        effect(move || {
            again.track();
            let request = fetch(input());
            let number = latest.get_value() + 1;
            latest.set_value(number);
            leptos::task::spawn_local(async move {
                let got = request.await;
                // The page part that asked may be gone by now.
                if latest.try_get_value() == Some(number) {
                    let _ = answer.try_set(Some(got));
                }
            });
        });
        Fetched { answer, again }
    }

    /// The last answer (tracked).
    pub fn get(&self) -> Option<T> {
        self.answer.get()
    }

    /// The last answer, not tracked.
    pub fn get_untracked(&self) -> Option<T> {
        self.answer.get_untracked()
    }

    /// Asks again with the same arguments.
    pub fn refetch(&self) {
        self.again.notify();
    }
}
