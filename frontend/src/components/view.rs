//! The view's controls: the metric (transactions or amount), a split (one
//! series per service and value of a dimension) and filters (only rows of
//! some values of a dimension). Only what the table has columns for is
//! shown (`/api/meta`'s `metrics` and `dimensions`). A dimension's values
//! are the distinct ones of the view split by it (`/api/meta?split=…`),
//! asked for once, when the filters are first opened.

use leptos::prelude::*;
use leptos::task::spawn_local;
use servicewatch_shared::{Dimension, Metric};

use crate::api::{self, Meta};
use crate::effect::effect;
use crate::sorted::sorted_by;
use crate::state::{split_values, Controls};

/// A dimension as a person reads it.
pub fn label(d: Dimension) -> &'static str {
    match d {
        Dimension::Segment => "Customer segment",
        Dimension::Channel => "Channel",
        Dimension::PaymentMethod => "Payment method",
    }
}

/// The filters' summary line: "Filters", or what they keep.
fn summary(c: &Controls) -> String {
    if c.filters.is_empty() {
        return "Filters".into();
    }
    let parts: Vec<String> =
        c.filters.iter().map(|(d, v)| format!("{}: {}", label(*d).to_ascii_lowercase(), v.join(", "))).collect();
    format!("Filters ({})", parts.join("; "))
}

// Few elements and no `Show`/`For`: every control is there from the start
// and hidden when the table lacks its column (the bundle stays small).
#[component]
pub fn ViewControls(controls: RwSignal<Controls>, table: Memo<Option<Meta>>) -> impl IntoView {
    let amount = move || table.with(|t| t.as_ref().is_some_and(|m| m.metrics.contains(&Metric::Amount)));
    let has = move |d: Dimension| table.with(|t| t.as_ref().is_some_and(|m| m.dimensions.contains(&d)));
    let none = move || table.with(|t| t.as_ref().is_none_or(|m| m.dimensions.is_empty()));
    // Open from the start when the link has filters; values are asked for
    // once the filters have been open.
    let open = RwSignal::new(controls.with_untracked(|c| !c.filters.is_empty()));
    let metric = move |m: Metric| controls.with(|c| c.metric == m);
    let split = move |d: Option<Dimension>| controls.with(|c| c.split == d);
    let split_options = Dimension::ALL.map(|d| {
        view! { <option value=d.to_string() hidden=move || !has(d) selected=move || split(Some(d))>{label(d)}</option> }
    });
    let filters = Dimension::ALL.map(|d| view! { <DimensionFilter d=d controls=controls open=open table=table /> });
    view! {
        <label hidden=move || !amount()>
            "Metric"
            <select data-testid="metric" on:change=move |ev| {
                if let Ok(m) = event_target_value(&ev).parse::<Metric>() { controls.update(|c| c.set_metric(m)) }
            }>
                <option value="count" selected=move || metric(Metric::Count)>"Transactions"</option>
                <option value="amount" selected=move || metric(Metric::Amount)>"Amount"</option>
            </select>
        </label>
        <label hidden=none>
            "Split by"
            <select data-testid="split" on:change=move |ev| {
                let d = event_target_value(&ev).parse::<Dimension>().ok();
                controls.update(|c| c.set_split(d))
            }>
                <option value="" selected=move || split(None)>"nothing (one series per service)"</option>
                {split_options}
            </select>
        </label>
        <details class="filters" data-testid="filters" hidden=none
            prop:open=open.get_untracked()
            on:toggle=move |ev| {
                use wasm_bindgen::JsCast;
                if let Some(d) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlDetailsElement>().ok()) {
                    open.set(d.open());
                }
            }>
            <summary data-testid="filters-summary">{move || controls.with(summary)}</summary>
            {filters}
        </details>
    }
}

/// One dimension's values as checkboxes; none checked: every row.
#[component]
fn DimensionFilter(
    d: Dimension,
    controls: RwSignal<Controls>,
    open: RwSignal<bool>,
    table: Memo<Option<Meta>>,
) -> impl IntoView {
    let hidden = move || table.with(|t| t.as_ref().is_none_or(|m| !m.dimensions.contains(&d)));
    // The values once asked for (`Err`: why there are none yet).
    let known = RwSignal::new(Err::<Vec<String>, String>(String::new()));
    // Asked for once the filters were open (or the link filters by it),
    // if the table has the column.
    let asked = StoredValue::new(false);
    effect(move || {
        if asked.get_value() || !(open.get() || controls.with(|c| c.filters.contains_key(&d))) || hidden() {
            return;
        }
        asked.set_value(true);
        known.set(Err("Loading values…".into()));
        spawn_local(async move {
            let answer = match api::meta(format!("split={d}")).await {
                Ok(m) => {
                    Ok(table.with_untracked(|t| split_values(&m.services, t.as_ref().map_or(&[], |t| &t.services))))
                }
                Err(e) => Err(format!("Cannot list the values: {e}")),
            };
            let _ = known.try_set(answer);
        });
    });
    let chosen = Memo::new(move |_| controls.with(|c| c.filters.get(&d).cloned().unwrap_or_default()));
    // The values, with any the link names that the data lacks.
    let values = Memo::new(move |_| {
        let mut all = known.with(|k| k.as_ref().cloned().unwrap_or_default());
        chosen.with(|c| all.extend(c.iter().filter(|v| !all.contains(v)).cloned().collect::<Vec<_>>()));
        sorted_by(all, String::cmp)
    });
    let boxes = move || {
        values
            .get()
            .into_iter()
            .map(|v| {
                let on = v.clone();
                let toggle = v.clone();
                view! {
                    <label class="check">
                        <input type="checkbox" value=v.clone()
                            prop:checked=move || chosen.with(|c| c.contains(&on))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                controls.update(|c| c.toggle_filter(d, &toggle, on))
                            } />
                        {v}
                    </label>
                }
            })
            .collect_view()
    };
    view! {
        <fieldset class="filter" data-testid=format!("filter-{d}") hidden=hidden>
            <legend>{label(d)}</legend>
            <span class="hint">{move || known.with(|k| k.as_ref().err().cloned())}</span>
            {boxes}
        </fieldset>
    }
}
