//! The three metrics of the original app, plus the false flags to expect,
//! in the view's unit (transactions, or an amount in major units), and for
//! amounts how many rows were not summed. Each carries its raw number in
//! `data-value` for tests and tools (amounts in minor units, as the API).

use leptos::prelude::*;
use servicewatch_shared::Metric;

use crate::float_text::{fixed, shortest};
use crate::summary::Summary;
use crate::unit::{grouped, Unit};

/// "1 row" or "12 rows".
fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{} rows", grouped(n))
    }
}

#[component]
pub fn MetricsBar(
    summary: Memo<Option<Summary>>,
    /// The last full scoring's milliseconds, how many scorings the page
    /// has run and on how many threads the last ran, for timing scripts
    /// and tests (`data-scoring-ms`, `data-scorings`, `data-scoring-threads`).
    scoring: Signal<(f64, u64, usize)>,
    unit: Memo<Unit>,
    /// Rows of an amount view left out of its sums (`/api/meta`).
    not_summed: Memo<Option<u64>>,
) -> impl IntoView {
    let m = move || summary.get().map(|s| s.metrics).unwrap_or_default();
    let what = move || unit.get().name().to_ascii_lowercase();
    let skipped = move || not_summed.get().filter(|&n| n > 0);
    view! {
        <section
            class="metrics"
            aria-label="Metrics"
            data-engine-ms=move || summary.get().map(|s| fixed(s.engine_ms, 3)).unwrap_or_default()
            data-scoring-ms=move || fixed(scoring.get().0, 3)
            data-scorings=move || scoring.get().1.to_string()
            data-scoring-threads=move || scoring.get().2.to_string()
        >
            <div class="metric" data-testid="metric-total" data-value=move || m().total.to_string()>
                <span class="label">{move || format!("{} in range", unit.get().name())}</span>
                <span class="value">{move || unit.get().grouped(m().total)}</span>
            </div>
            <div class="metric" data-testid="metric-anomalous" data-value=move || m().anomalous.to_string()>
                <span class="label">"Anomalous service-days"</span>
                <span class="value">{move || grouped(m().anomalous)}</span>
                <span class="hint" data-testid="metric-expected" data-value=move || shortest(m().expected_false)>
                    {move || format!("≈ {} expected by chance", fixed(m().expected_false, 1))}
                </span>
            </div>
            <div class="metric" data-testid="metric-share" data-value=move || shortest(m().share)>
                <span class="label">{move || format!("Share of {} on anomalous days", what())}</span>
                <span class="value">{move || format!("{} %", fixed(100.0 * m().share, 2))}</span>
            </div>
            // Read out, politely, what a slider move changed.
            <p class="sr-only" aria-live="polite" data-testid="metrics-announce">
                {move || {
                    let m = m();
                    let u = unit.get();
                    let of = match u.metric {
                        Metric::Count => format!("{} transactions", u.grouped(m.total)),
                        Metric::Amount => format!("the amount, {}", u.grouped(m.total)),
                    };
                    format!("{} anomalous service-days, {} % of {of}", grouped(m.anomalous), fixed(100.0 * m.share, 2))
                }}
            </p>
        </section>
        <p class="note" data-testid="not-summed" hidden=move || skipped().is_none()
            data-value=move || skipped().unwrap_or_default().to_string()>
            {move || format!("{} not summed: a refund (negative), or no readable amount.", rows(skipped().unwrap_or_default()))}
        </p>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn says_rows() {
        assert_eq!(super::rows(1), "1 row");
        assert_eq!(super::rows(1313), "1,313 rows");
    }
}
