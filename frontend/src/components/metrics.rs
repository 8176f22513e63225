//! The three metrics of the original app, plus the false flags to expect.
//! Each carries its raw number in `data-value` for tests and tools.

use leptos::prelude::*;

use crate::app::Summary;

#[component]
pub fn MetricsBar(summary: Memo<Option<Summary>>) -> impl IntoView {
    let m = move || summary.get().map(|s| s.metrics).unwrap_or_default();
    view! {
        <section
            class="metrics"
            aria-label="Metrics"
            data-engine-ms=move || summary.get().map(|s| format!("{:.3}", s.engine_ms)).unwrap_or_default()
        >
            <div class="metric" data-testid="metric-total" data-value=move || m().total.to_string()>
                <span class="label">"Transactions in range"</span>
                <span class="value">{move || m().total.to_string()}</span>
            </div>
            <div class="metric" data-testid="metric-anomalous" data-value=move || m().anomalous.to_string()>
                <span class="label">"Anomalous service-days"</span>
                <span class="value">{move || m().anomalous.to_string()}</span>
                <span class="hint" data-testid="metric-expected" data-value=move || m().expected_false.to_string()>
                    {move || format!("≈ {:.1} expected by chance", m().expected_false)}
                </span>
            </div>
            <div class="metric" data-testid="metric-share" data-value=move || m().share.to_string()>
                <span class="label">"Share of transactions on anomalous days"</span>
                <span class="value">{move || format!("{:.2} %", 100.0 * m().share)}</span>
            </div>
        </section>
    }
}
