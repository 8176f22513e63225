//! The top anomalous service-days, most unusual first; an empty state that
//! says which setting is holding flags back.

use leptos::prelude::*;

use crate::app::Summary;
use crate::state::Controls;

#[component]
pub fn AnomalyTable(summary: Memo<Option<Summary>>, controls: RwSignal<Controls>) -> impl IntoView {
    let rows = move || summary.get().map(|s| s.rows).unwrap_or_default();
    let empty_reason = move || {
        let s = summary.get()?;
        if !s.rows.is_empty() {
            return None;
        }
        let c = controls.get();
        Some(if s.services > 0 && s.eligible_services == 0 {
            format!("No service has {} days of history in this range: lower the minimum history.", c.min_days)
        } else {
            format!(
                "Nothing reaches |z| ≥ {} with at least {} transactions: lower the threshold or the minimum count.",
                c.z, c.min_count
            )
        })
    };
    view! {
        <section class="table">
            <Show when=move || empty_reason().is_some()>
                <p class="empty" data-testid="empty-state">{move || empty_reason().unwrap_or_default()}</p>
            </Show>
            <table data-testid="anomaly-table">
                <thead>
                    <tr>
                        <th scope="col">"Service"</th>
                        <th scope="col">"Date"</th>
                        <th scope="col">"Count"</th>
                        <th scope="col">"Baseline"</th>
                        <th scope="col">"Spread"</th>
                        <th scope="col">"z"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows().into_iter().enumerate() key=|(i, a)| (*i, a.key.clone(), a.date) let:item>
                        <tr data-testid="anomaly-row" data-key=item.1.key.clone() data-date=item.1.date.to_string()
                            tabindex="0" title="Show this service in the chart"
                            on:click={let k = item.1.key.clone(); move |_| controls.update(|c| c.focus = Some(k.clone()))}>
                            <td>{item.1.key.clone()}</td>
                            <td>{item.1.date.to_string()}</td>
                            <td data-value=item.1.value.to_string()>{item.1.value.to_string()}</td>
                            <td>{format!("{:.1}", item.1.center)}</td>
                            <td>{format!("{:.1}", item.1.spread)}</td>
                            <td data-value=item.1.z.to_string()>{format!("{:+.2}", item.1.z)}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </section>
    }
}
