//! The raw transactions of the service-day picked in the table. The
//! drill-down is per service: a split series' day shows every transaction
//! of its service that day, whatever the view's split or filters.

use leptos::prelude::*;
use servicewatch_shared::Day;

use crate::api::{self, Meta};
use crate::fetched::Fetched;
use crate::state::service_of;

/// Rows fetched for one service-day.
const LIMIT: u32 = 100;

fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[component]
pub fn Drilldown(
    pick: RwSignal<Option<(String, Day)>>,
    /// The table's meta: its services (a split key's service is one).
    table: Memo<Option<Meta>>,
) -> impl IntoView {
    // The picked series' service.
    let service = move |key: &str| {
        table.with_untracked(|t| {
            let services = t.as_ref().map(|m| m.services.iter().map(String::as_str).collect()).unwrap_or_default();
            service_of(key, &services).to_string()
        })
    };
    let rows = Fetched::new(
        move || pick.get().map(|(key, date)| (service(&key), date)),
        |p| async move {
            match p {
                Some((service, date)) => Some(api::transactions(service, date, LIMIT).await),
                None => None,
            }
        },
    );
    let title = move || {
        pick.get().map(|(key, d)| {
            let service = service(&key);
            if key == service {
                format!("{key} on {d}")
            } else {
                format!("{key} on {d}: every transaction of {service}")
            }
        })
    };
    view! {
        <Show when=move || pick.get().is_some()>
            <section class="drilldown" data-testid="drilldown" aria-label="Transactions of the selected day">
                <header>
                    <h2>{title}</h2>
                    <button type="button" aria-label="Close" on:click=move |_| pick.set(None)>"×"</button>
                </header>
                {move || match rows.get().flatten() {
                    None => view! { <p class="loading">"Loading transactions…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Some(Ok(t)) => {
                        let note = if t.truncated { format!("first {LIMIT} transactions") } else { format!("{} transactions", t.rows.len()) };
                        let columns = t.columns.clone();
                        view! {
                            <p class="sub" data-testid="drilldown-count" data-value=t.rows.len().to_string()>{note}</p>
                            <div class="scroll">
                                <table>
                                    <thead><tr>{t.columns.iter().map(|c| view! { <th scope="col">{c.clone()}</th> }).collect_view()}</tr></thead>
                                    <tbody>
                                        {t.rows.iter().map(|r| {
                                            let cells = columns.iter().map(|c| view! { <td>{cell(r.get(c))}</td> }).collect_view();
                                            view! { <tr data-testid="drilldown-row">{cells}</tr> }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }
                }}
            </section>
        </Show>
    }
}
