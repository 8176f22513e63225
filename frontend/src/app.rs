//! The app: state, the two-stage scoring pipeline, and the page layout.

use std::sync::Arc;

use leptos::prelude::*;
use servicewatch_shared::{wire, Scores};

use crate::api;
use crate::components::{
    chart::Chart, controls::ControlsPanel, drilldown::Drilldown, loading::Loading, marked_list::MarkedDays,
    marks::MarkStore, metrics::MetricsBar, table::AnomalyTable,
};
use crate::state::{self, Controls};
use crate::summary::{Summary, TABLE_ROWS};

/// The page clock, in milliseconds (sub-millisecond where the browser allows).
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

#[component]
pub fn App() -> impl IntoView {
    let search = state::location_search();
    let embed = state::is_embed(&search);
    let controls = RwSignal::new(Controls::from_query(&search));
    let meta = LocalResource::new(api::meta);

    // Stage 0: one fetch per date range.
    let range = Memo::new(move |_| controls.with(|c| (c.from, c.to)));
    let daily = LocalResource::new(move || {
        let (from, to) = range.get();
        async move { api::daily(from, to).await.map(|panel| ((from, to), panel)) }
    });

    // The analysts' marks, read once with the data; a stored mark updates
    // them here, and the scores follow without asking the server.
    let marks = MarkStore::new();
    let marks_read = LocalResource::new(api::marks);
    Effect::new(move |_| {
        if let Some(read) = marks_read.get() {
            marks.loaded(read);
        }
    });

    // Stage 1 (expensive): baselines, only when range, method, weekly or
    // the marked days change. Waits for /api/meta, which names the partial
    // edge days, and for the marks, so the first scoring is the only one.
    let partial = Memo::new(move |_| meta.get().and_then(|m| m.ok()).map(|m| m.partial_days));
    let baseline = Memo::new(move |_| {
        let partial = partial.get()?;
        marks.current.with(|m| {
            let m = m.as_deref()?;
            Some(controls.with(|c| c.baseline_params(partial, m)))
        })
    });
    let scores = Memo::new_with_compare(
        move |_| {
            let (fetched, panel) = daily.get()?.ok()?;
            let b = baseline.get()?;
            // While a new range loads, the old panel would give a partial
            // answer for a full scoring's cost: wait for the right data.
            (fetched == (b.from, b.to)).then(|| Arc::new(Scores::compute(&panel, &b)))
        },
        |a, b| match (a, b) {
            (Some(Some(a)), Some(Some(b))) => !Arc::ptr_eq(a, b),
            (None, None) => false,
            _ => true,
        },
    );

    // The service filter as panel indices: looked up when the selection or
    // the scores change, not on every slider move.
    let chosen = Memo::new(move |_| controls.with(|c| c.services.clone()));
    let selected = Memo::new(move |_| {
        let names = chosen.get();
        let s = scores.get()?;
        (!names.is_empty())
            .then(|| names.iter().filter_map(|n| s.services().iter().position(|i| &i.key == n)).collect())
    });

    // Stage 2 (cheap): flags on every input event.
    let summary = Memo::new(move |_| {
        let s = scores.get()?;
        let c = controls.get();
        let started = now_ms();
        let summary = Summary::new(&s, &c.flag_params(selected.get()), TABLE_ROWS);
        Some(Summary { engine_ms: now_ms() - started, ..summary })
    });
    // CSV of every flagged row, computed only when asked for.
    let export = move || {
        let s = scores.get_untracked()?;
        let c = controls.get_untracked();
        Some(wire::csv(&s.anomalies(&c.flag_params(selected.get_untracked()), usize::MAX).anomalies))
    };

    // The service-day whose raw transactions are open, if any.
    let pick = RwSignal::new(None::<(String, servicewatch_shared::Day)>);
    let top = Signal::derive(move || summary.get().and_then(|s| s.rows.first().map(|a| a.key.clone())));

    // Every control lives in the URL.
    Effect::new(move |_| controls.with(|c| state::replace_query(c, embed)));

    let error = move || match daily.get() {
        Some(Err(e)) => Some(e),
        _ => match meta.get() {
            Some(Err(e)) => Some(e),
            // Scored without marks meanwhile: say so.
            _ => match marks_read.get() {
                Some(Err(e)) => Some(format!("{e} (no marked day is left out of the baselines)")),
                _ => None,
            },
        },
    };
    let retry = move |_| {
        daily.refetch();
        meta.refetch();
        if matches!(marks_read.get_untracked(), Some(Err(_))) {
            marks_read.refetch();
        }
    };

    view! {
        <div class="app" class:embed=embed>
            <Show when=move || !embed>
                <header>
                    <h1>"servicewatch"</h1>
                    <p class="sub" data-testid="provenance">
                        {move || meta.get().and_then(|m| m.ok()).map(|m| crate::api::provenance(&m))}
                    </p>
                </header>
            </Show>
            <ControlsPanel controls=controls meta=meta chosen=chosen />
            <Show when=move || error().is_some()>
                <div class="error" role="alert" data-testid="error">
                    <p>{move || error().unwrap_or_default()}</p>
                    <button on:click=retry>"Retry"</button>
                </div>
            </Show>
            <Show
                when=move || summary.get().is_some()
                fallback=move || view! { <Loading /> }
            >
                <MetricsBar summary=summary />
                <Chart scores=scores controls=controls top=top marks=marks />
                <Drilldown pick=pick />
                // Marked days the table no longer shows can be undone here.
                <MarkedDays store=marks controls=controls pick=pick />
                <AnomalyTable summary=summary controls=controls export=export pick=pick marks=marks />
            </Show>
        </div>
    }
}
