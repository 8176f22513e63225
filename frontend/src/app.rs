//! The app shell. The controls, metrics, table and chart arrive with the
//! frontend issue; for now it proves the engine runs in the browser.

use leptos::prelude::*;
use servicewatch_shared::{BaselineParams, Day, FlagParams, Panel, Scores};

/// A tiny built-in series scored in wasm, so the shell shows the engine works.
fn demo_flags() -> u64 {
    let mut b = Panel::builder();
    let days: Vec<Day> = (0..60).map(Day).collect();
    let counts: Vec<u64> = (0..60).map(|i| if i == 40 { 90 } else { 30 + (i % 7) }).collect();
    if b.push("demo", &days, &counts).is_err() {
        return 0;
    }
    let scores = Scores::compute(&b.build(), &BaselineParams::default());
    scores.flag(&FlagParams::default()).metrics.anomalous
}

#[component]
pub fn App() -> impl IntoView {
    let flagged = demo_flags();
    view! {
        <main>
            <h1>"servicewatch"</h1>
            <p data-testid="engine-check" data-value=flagged.to_string()>
                "Scoring engine loaded in the browser; demo anomalies: " {flagged}
            </p>
        </main>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_series_has_exactly_one_anomaly() {
        // tests/browser/smoke.mjs expects this same number on the page.
        assert_eq!(super::demo_flags(), 1);
    }
}
