//! The top anomalous service-days: most unusual first, sortable by any
//! column, paged, downloadable as CSV, each with its analyst's mark and the
//! actions that set it; and an empty state that says which setting is
//! holding flags back.

use leptos::prelude::*;

use servicewatch_shared::Anomaly;

use super::marks::{MarkCell, MarkError, MarkStore};
use crate::effect::effect;
use crate::float_text::{shortest, signed};
use crate::sorted::sorted_by;
use crate::state::Controls;
use crate::summary::Summary;
use crate::unit::Unit;

const PAGE: usize = 25;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Service,
    Date,
    Count,
    Z,
}

fn sort(rows: Vec<Anomaly>, by: Option<(Column, bool)>) -> Vec<Anomaly> {
    let Some((col, asc)) = by else { return rows }; // None: by |z|, as ranked
    sorted_by(rows, |a, b| {
        let o = match col {
            Column::Service => a.key.cmp(&b.key).then(a.date.cmp(&b.date)),
            Column::Date => a.date.cmp(&b.date).then(a.key.cmp(&b.key)),
            Column::Count => a.value.cmp(&b.value),
            Column::Z => a.z.total_cmp(&b.z),
        };
        if asc {
            o
        } else {
            o.reverse()
        }
    })
}

fn download(name: &str, text: &str) {
    use wasm_bindgen::JsCast;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("text/csv");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let doc = web_sys::window().and_then(|w| w.document());
    if let Some(a) =
        doc.and_then(|d| d.create_element("a").ok()).and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

#[component]
pub fn AnomalyTable(
    summary: Memo<Option<Summary>>,
    controls: RwSignal<Controls>,
    export: impl Fn() -> Option<String> + Send + Sync + 'static,
    /// A new scoring is under way: the rows shown are the last one's, so
    /// the export is disabled until it lands.
    stale: RwSignal<bool>,
    pick: RwSignal<Option<(String, servicewatch_shared::Day)>>,
    marks: MarkStore,
    unit: Memo<Unit>,
    /// The `holidays` setting's days: named in the "All services" column.
    holidays: Memo<Vec<servicewatch_shared::Day>>,
) -> impl IntoView {
    let sort_by = RwSignal::new(None::<(Column, bool)>);
    let page = RwSignal::new(0usize);
    // A new result starts at its first page.
    effect(move || {
        summary.track();
        page.set(0);
    });
    let sorted = Memo::new(move |_| sort(summary.get().map(|s| s.rows).unwrap_or_default(), sort_by.get()));
    let rows = move || sorted.with(|r| r.iter().skip(page.get() * PAGE).take(PAGE).cloned().collect::<Vec<_>>());
    // The label is the unit's for the value column ("Count", "Amount").
    let header = move |label: fn(Unit) -> &'static str, col: Column, numeric: bool| {
        let state = move || match sort_by.get() {
            Some((c, true)) if c == col => "ascending",
            Some((c, false)) if c == col => "descending",
            _ => "none",
        };
        let toggle = move |_| {
            page.set(0);
            sort_by.update(|s| {
                *s = match *s {
                    Some((c, asc)) if c == col => Some((col, !asc)),
                    _ => Some((col, col != Column::Count && col != Column::Z)),
                }
            })
        };
        view! {
            <th scope="col" aria-sort=state class:num=numeric>
                <button type="button" class="sort" on:click=toggle>{move || label(unit.get())}</button>
            </th>
        }
    };
    let open = move |key: String, day: servicewatch_shared::Day| open_day(controls, pick, key, day);
    let csv = move |_| {
        if let Some(text) = export() {
            download("servicewatch-anomalies.csv", &text);
        }
    };
    let empty_reason = move || {
        let s = summary.get()?;
        controls.with(|c| s.empty_reason(&c.flag_params(None), unit.get()))
    };
    // The server takes marks on the default view's series only (it 404s a
    // split key), so a split view shows no mark actions.
    let marking = move || marks.available.get();
    view! {
        <section class="table">
            <MarkError store=marks />
            <Show when=move || empty_reason().is_some()>
                <p class="empty" data-testid="empty-state">{move || empty_reason().unwrap_or_default()}</p>
            </Show>
            <table data-testid="anomaly-table">
                <thead>
                    <tr>
                        {header(|_| "Service", Column::Service, false)}
                        {header(|_| "Date", Column::Date, false)}
                        {header(Unit::column, Column::Count, true)}
                        <th scope="col" class="num">"Baseline"</th>
                        <th scope="col" class="num">"Spread"</th>
                        <th scope="col" class="num" title="How all services together did that day, when they moved together (a holiday, a business-wide outage); the baseline already includes it; or a holiday the holidays setting lists">"All services"</th>
                        {header(|_| "z", Column::Z, true)}
                        <Show when=marking>
                            <th scope="col" title="An analyst's mark: expected (explained) or confirmed (a real anomaly); marked days are left out of their service's baseline">
                                "Mark"
                            </th>
                        </Show>
                    </tr>
                </thead>
                <tbody>
                    // Keyed by the service-day and its numbers, not its place: a
                    // slider move that only shifts rows moves their elements, and
                    // re-renders only rows that are new or whose numbers changed
                    // (a mark re-scores: the row must show its new baseline and z).
                    <For each=move || { let u = unit.get(); rows().into_iter().map(move |a| (a, u)) } key=row_key let:item>
                        <tr data-testid="anomaly-row" data-key=item.0.key.clone() data-date=item.0.date.to_string()
                            tabindex="0" title="Show this service in the chart and this day's transactions"
                            on:click={
                                let (k, d) = (item.0.key.clone(), item.0.date);
                                move |_| open(k.clone(), d)
                            }
                            on:keydown={
                                let (k, d) = (item.0.key.clone(), item.0.date);
                                move |ev: web_sys::KeyboardEvent| {
                                    // A focused row opens like a button: Enter or Space.
                                    if ev.key() == "Enter" || ev.key() == " " {
                                        ev.prevent_default();
                                        open(k.clone(), d);
                                    }
                                }
                            }>
                            <td>{item.0.key.clone()}</td>
                            <td>{item.0.date.to_string()}</td>
                            <td class="num" data-testid="value" data-value=item.0.value.to_string()>
                                {item.1.exact(item.0.value)}
                            </td>
                            <td class="num" data-testid="center" data-value=shortest(item.0.center)>
                                {item.1.approx(item.0.center)}
                            </td>
                            <td class="num">{item.1.approx(item.0.spread)}</td>
                            <td class="num" data-testid="day-factor" data-value=shortest(item.0.day_factor)>
                                {
                                    let (factor, day) = (item.0.day_factor, item.0.date);
                                    move || {
                                        let listed = factor == 1.0 && holidays.with(|h| h.contains(&day));
                                        if listed { "holiday".to_string() } else { common_move(factor) }
                                    }
                                }
                            </td>
                            <td class="num" data-testid="z" data-value=shortest(item.0.z)>{signed(item.0.z, 2)}</td>
                            {
                                let (k, d) = (item.0.key.clone(), item.0.date);
                                move || marking().then(|| view! { <MarkCell store=marks series=k.clone() date=d /> })
                            }
                        </tr>
                    </For>
                </tbody>
            </table>
            <nav class="pager" aria-label="Pages">
                <button type="button" data-testid="page-prev" disabled=move || page.get() == 0
                    on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Previous"</button>
                <span data-testid="page-info">{move || {
                    let n = sorted.with(|r| r.len());
                    let start = (page.get() * PAGE).min(n);
                    format!("{}–{} of {}", if n == 0 { 0 } else { start + 1 }, (start + PAGE).min(n), n)
                }}</span>
                <button type="button" data-testid="page-next" disabled=move || { page.get() + 1 >= sorted.with(|r| r.len().div_ceil(PAGE)).max(1) }
                    on:click=move |_| page.update(|p| *p += 1)>"Next"</button>
                <button type="button" data-testid="export-csv" disabled=move || stale.get() on:click=csv>"Download CSV (all flagged rows)"</button>
            </nav>
        </section>
    }
}

/// Opens a service-day, as clicking its row does: its service in the chart
/// and its day's transactions.
pub fn open_day(
    controls: RwSignal<Controls>,
    pick: RwSignal<Option<(String, servicewatch_shared::Day)>>,
    key: String,
    day: servicewatch_shared::Day,
) {
    controls.update(|c| c.focus = Some(key.clone()));
    pick.set(Some((key, day)));
}

/// What identifies a shown row: its service-day, its numbers and their
/// unit (a service-day is at most once in the table).
type RowKey = (String, servicewatch_shared::Day, u64, [u64; 4], Unit);

fn row_key((a, unit): &(Anomaly, Unit)) -> RowKey {
    (a.key.clone(), a.date, a.value, [a.center, a.spread, a.z, a.day_factor].map(f64::to_bits), *unit)
}

/// A day's business-wide factor as a person reads it: "-70 %" when the
/// median service sold 30 % of its usual, nothing on an ordinary day.
pub fn common_move(factor: f64) -> String {
    if factor == 1.0 {
        String::new()
    } else {
        format!("{} %", signed((factor - 1.0) * 100.0, 0))
    }
}
