//! The three metrics of the original app, plus the false flags to expect.
//! Each carries its raw number in `data-value` for tests and tools.

use leptos::prelude::*;

use crate::summary::Summary;

/// `885388` as `885,388`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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
                <span class="value">{move || grouped(m().total)}</span>
            </div>
            <div class="metric" data-testid="metric-anomalous" data-value=move || m().anomalous.to_string()>
                <span class="label">"Anomalous service-days"</span>
                <span class="value">{move || grouped(m().anomalous)}</span>
                <span class="hint" data-testid="metric-expected" data-value=move || m().expected_false.to_string()>
                    {move || format!("≈ {:.1} expected by chance", m().expected_false)}
                </span>
            </div>
            <div class="metric" data-testid="metric-share" data-value=move || m().share.to_string()>
                <span class="label">"Share of transactions on anomalous days"</span>
                <span class="value">{move || format!("{:.2} %", 100.0 * m().share)}</span>
            </div>
            // Read out, politely, what a slider move changed.
            <p class="sr-only" aria-live="polite" data-testid="metrics-announce">
                {move || {
                    let m = m();
                    format!("{} anomalous service-days, {:.2} % of {} transactions", grouped(m.anomalous), 100.0 * m.share, grouped(m.total))
                }}
            </p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::grouped(0), "0");
        assert_eq!(super::grouped(999), "999");
        assert_eq!(super::grouped(1000), "1,000");
        assert_eq!(super::grouped(885388), "885,388");
        assert_eq!(super::grouped(12345678), "12,345,678");
    }
}
