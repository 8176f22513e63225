//! Every current mark, newest first, whether or not its day is still
//! flagged: a marked day under the threshold, or of a service filtered out,
//! leaves the anomalies table, and here it can still be opened and undone.
//! Collapsed, with the count in its summary; absent without marks.

use leptos::prelude::*;
use servicewatch_shared::Day;

use super::marks::{when, MarkBadge, MarkStore, UndoButton};
use super::table::open_day;
use crate::api::Mark;
use crate::sorted::sorted_by;
use crate::state::Controls;

/// The marks as listed: newest first (then by service and day, so equal
/// times keep one order).
pub fn newest_first(marks: &[Mark]) -> Vec<Mark> {
    sorted_by(marks.to_vec(), |a, b| {
        b.marked_at.cmp(&a.marked_at).then_with(|| a.series.cmp(&b.series)).then(a.date.cmp(&b.date))
    })
}

#[component]
pub fn MarkedDays(
    store: MarkStore,
    controls: RwSignal<Controls>,
    pick: RwSignal<Option<(String, Day)>>,
) -> impl IntoView {
    let listed = Memo::new(move |_| {
        if !store.available.get() {
            return Vec::new();
        }
        store.current.with(|m| newest_first(m.as_deref().unwrap_or_default()))
    });
    view! {
        <Show when=move || listed.with(|l| !l.is_empty())>
            <details class="marked" data-testid="marked-days">
                <summary data-testid="marked-summary">{move || format!("Marked days ({})", listed.with(Vec::len))}</summary>
                <table>
                    <thead>
                        <tr>
                            <th scope="col">"Service"</th>
                            <th scope="col">"Date"</th>
                            <th scope="col">"Mark"</th>
                            <th scope="col">"Note"</th>
                            <th scope="col">"Marked by"</th>
                            <th scope="col">"When"</th>
                            <th scope="col"><span class="sr-only">"Undo"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || listed.get() key=|m| (m.series.clone(), m.date, m.kind, m.marked_at) let:m>
                            {
                                let (key, date) = (m.series.clone(), m.date);
                                let open = {
                                    let key = key.clone();
                                    move || open_day(controls, pick, key.clone(), date)
                                };
                                let open_key = open.clone();
                                view! {
                                    <tr data-testid="marked-row" data-key=key.clone() data-date=date.to_string()
                                        tabindex="0" title="Show this service in the chart and this day's transactions"
                                        on:click=move |_| open()
                                        on:keydown=move |ev: web_sys::KeyboardEvent| {
                                            if ev.key() == "Enter" || ev.key() == " " {
                                                ev.prevent_default();
                                                open_key();
                                            }
                                        }>
                                        <td>{m.series.clone()}</td>
                                        <td>{date.to_string()}</td>
                                        <td><MarkBadge mark=m.clone() /></td>
                                        <td class="note" data-testid="marked-note">{m.note.clone()}</td>
                                        <td data-testid="marked-by">{m.marked_by.clone()}</td>
                                        <td data-testid="marked-at" data-value=m.marked_at.to_rfc3339()>{when(&m)}</td>
                                        // Undo does not open the day.
                                        <td class="mark" on:click=|ev| ev.stop_propagation()
                                            on:keydown=|ev| ev.stop_propagation()>
                                            <UndoButton store=store series=m.series.clone() date=date />
                                        </td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                </table>
            </details>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(series: &str, date: &str, at: &str) -> Mark {
        serde_json::from_value(serde_json::json!({
            "series": series, "date": date, "kind": "expected", "note": "",
            "marked_by": "ana", "marked_at": at,
        }))
        .unwrap()
    }

    #[test]
    fn newest_mark_first() {
        let marks = [
            mark("tyres", "2024-03-09", "2026-11-25T10:00:00Z"),
            mark("oil", "2024-03-01", "2026-11-26T09:00:00Z"),
            mark("brakes", "2024-03-05", "2026-11-25T10:00:00Z"),
            mark("brakes", "2024-03-02", "2026-11-25T10:00:00Z"),
        ];
        let listed: Vec<_> = newest_first(&marks).iter().map(|m| format!("{} {}", m.series, m.date)).collect();
        assert_eq!(listed, ["oil 2024-03-01", "brakes 2024-03-02", "brakes 2024-03-05", "tyres 2024-03-09"]);
        assert!(newest_first(&[]).is_empty());
    }
}
