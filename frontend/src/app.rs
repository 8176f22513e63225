//! The app: state, the two-stage scoring pipeline, and the page layout.

use std::sync::Arc;

use leptos::prelude::*;
use servicewatch_shared::{BaselineParams, Scores};

use crate::api;
use crate::components::{
    chart::Chart, controls::ControlsPanel, drilldown::Drilldown, loading::Loading, marked_list::MarkedDays,
    marks::MarkStore, metrics::MetricsBar, table::AnomalyTable,
};
use crate::effect::effect;
use crate::fetched::Fetched;
use crate::kept::Kept;
use crate::state::{self, Controls, NamedDays};
use crate::summary::{Summary, TABLE_ROWS};
use crate::unit::Unit;

/// The shortest time between two writes of the controls into the URL.
const URL_EVERY_MS: f64 = 100.0;

/// The page clock, in milliseconds (sub-millisecond where the browser allows).
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// A view's meta answer, with the view.
type ViewMeta = RwSignal<Option<(String, Result<api::Meta, String>)>>;

/// `f` of the meta of `view`: the table's for the default view, else its
/// own once it has come.
fn of_view<T>(
    view: Memo<String>,
    table: Memo<Option<api::Meta>>,
    view_meta: ViewMeta,
    f: impl Fn(&api::Meta) -> T,
) -> Option<T> {
    view.with(|v| {
        if v.is_empty() {
            return table.with(|t| t.as_ref().map(&f));
        }
        view_meta.with(|m| match m.as_ref()? {
            (of, Ok(m)) if of == v => Some(f(m)),
            _ => None,
        })
    })
}

#[component]
pub fn App() -> impl IntoView {
    let search = state::location_search();
    let embed = state::is_embed(&search);
    let controls = RwSignal::new(Controls::from_query(&search));
    // The table (the default view's meta): its days, services, and the
    // metrics and dimensions it has columns for.
    let meta = Fetched::new(|| (), |()| api::meta(String::new()));
    // While the data is on the wire: the engine optimised before it lands.
    set_timeout(crate::warm_up::warm_up, std::time::Duration::ZERO);
    let table = Memo::new(move |_| meta.get().and_then(Result::ok));

    // A link made on another table may ask for a column this one lacks:
    // that part of the view goes.
    effect(move || {
        table.with(|t| {
            let Some(m) = t else { return };
            let fit = controls.with_untracked(|c| c.restricted(&m.metrics, &m.dimensions));
            if controls.with_untracked(|c| *c != fit) {
                controls.set(fit);
            }
        })
    });

    // The view asked for: the default at once, another once the table is
    // known to have its columns (`None` meanwhile).
    let view = Memo::new(move |_| controls.with(Controls::view_query));
    let wanted = Memo::new(move |_| {
        let v = view.get();
        let fits = |m: &api::Meta| controls.with(|c| c.view_available(&m.metrics, &m.dimensions));
        (v.is_empty() || table.with(|t| t.as_ref().is_some_and(fits))).then_some(v)
    });

    // Stage 0: one fetch per date range and view.
    let range = Memo::new(move |_| controls.with(|c| (c.from, c.to)));
    let daily = Fetched::new(
        move || (range.get(), wanted.get()),
        |((from, to), view)| async move {
            let view = view?;
            let panel = match api::daily(from, to, &view).await {
                Ok(panel) => panel,
                Err(e) => return Some(Err(e)),
            };
            // An amount view's mean ticket per series comes with its values
            // (its /api/meta): the robust method scores amounts in
            // transactions, as the server does.
            let units = if view.split('&').any(|p| p == "metric=amount") {
                match api::meta(view.clone()).await {
                    Ok(m) => m.units,
                    Err(e) => return Some(Err(e)),
                }
            } else {
                Default::default()
            };
            Some(Ok(((from, to, view), panel, units)))
        },
    );
    // The series of another view than the default (its keys, and the
    // amounts not summed), tagged with the view; an answer that comes
    // after the view changed again is dropped.
    let view_meta: ViewMeta = RwSignal::new(None);
    let fetch_view_meta = move || {
        let Some(view) = wanted.get_untracked().filter(|v| !v.is_empty()) else { return };
        leptos::task::spawn_local(async move {
            let answer = api::meta(view.clone()).await;
            if wanted.with_untracked(|w| w.as_ref() == Some(&view)) {
                view_meta.set(Some((view, answer)));
            }
        });
    };
    effect(move || {
        wanted.track();
        fetch_view_meta();
    });
    let services = Memo::new(move |_| of_view(view, table, view_meta, |m| m.services.clone()).unwrap_or_default());
    let not_summed = Memo::new(move |_| of_view(view, table, view_meta, |m| m.not_summed).flatten());
    let unit = Memo::new(move |_| {
        let decimals = table.with(|t| t.as_ref().map_or(0, |m| m.amount_decimals));
        Unit::new(controls.with(|c| c.metric), decimals)
    });

    // The analysts' marks, read once with the data; a stored mark updates
    // them here, and the scores follow without asking the server.
    let marks = MarkStore::new();
    let marks_read = Fetched::new(|| (), |()| api::marks());
    effect(move || {
        if let Some(read) = marks_read.get() {
            marks.loaded(read);
        }
    });

    // Stage 1 (expensive): baselines, only when range, view, method,
    // weekly or the marked days change. Waits for /api/meta, which names
    // the partial edge days, and for the marks, so the first scoring is
    // the only one.
    let named = Memo::new(move |_| table.with(|m| m.as_ref().map(NamedDays::of)));
    let holidays = Memo::new(move |_| named.with(|n| n.as_ref().map(|n| n.holidays.clone()).unwrap_or_default()));
    let baseline = Memo::new(move |_| {
        let named = named.get()?;
        marks.current.with(|m| {
            let m = m.as_deref()?;
            Some(controls.with(|c| c.baseline_params(named, m)))
        })
    });
    // How long the last full scoring took and how many there were, for
    // timing scripts and tests (`scoring` below reads them; not reactive
    // themselves).
    let scoring_ms = StoredValue::new(0.0);
    let scorings = StoredValue::new(0u64);
    let scoring_threads = StoredValue::new(0usize);
    let kept = StoredValue::new(Kept::default());
    // The scoring shown, set when one lands (scored in part by the worker,
    // `crate::worker`, so it comes back later than it was asked for).
    let scored = RwSignal::new(None::<Arc<Scores>>);
    // The latest scoring asked for: one that lands after another was asked
    // for is dropped.
    let asked = StoredValue::new(0u64);
    // A scoring is under way for inputs the shown one was not scored with
    // (a method, weekly or range switch takes about 100 ms at 1M
    // service-days): the results say so (`aria-busy`, dimmed) and the CSV
    // export is disabled until it lands, so no number is read against
    // controls it does not answer.
    let stale = RwSignal::new(false);
    // The panel and parameters of the scoring to show. While a new range or
    // view loads (or failed to), the old panel would give a wrong answer
    // for a full scoring's cost: wait for the right data.
    let wanted_scoring = Memo::new_with_compare(
        move |_| {
            let ready =
                daily.get().flatten().and_then(Result::ok).zip(baseline.get()).filter(
                    |(((from, to, fetched), ..), b)| (*from, *to) == (b.from, b.to) && view.with(|v| v == fetched),
                );
            ready.map(|((_, panel, units), b)| (panel, BaselineParams { units, ..b }))
        },
        |a, b| match (a, b) {
            (Some(Some(a)), Some(Some(b))) => !(Arc::ptr_eq(&a.0, &b.0) && a.1 == b.1),
            (Some(None), Some(None)) => false,
            _ => true,
        },
    );
    effect(move || {
        let ready = wanted_scoring.get();
        asked.update_value(|n| *n += 1);
        // Not ready: let the old panel's scorings go.
        let Some((panel, b)) = ready else {
            kept.update_value(Kept::clear);
            scored.set(None);
            stale.set(false);
            return;
        };
        // A switch back shows the kept scoring (`kept`).
        if let Some(s) = kept.try_update_value(|k| k.get(&panel, &b)).flatten() {
            scored.set(Some(s));
            stale.set(false);
            return;
        }
        kept.update_value(|k| k.make_room(&panel));
        stale.set(true);
        let this = asked.get_value();
        leptos::task::spawn_local(async move {
            let started = now_ms();
            let (scores, threads) = crate::worker::score(&panel, &b).await;
            if asked.get_value() != this {
                return;
            }
            scoring_ms.set_value(now_ms() - started);
            scoring_threads.set_value(threads);
            scorings.update_value(|n| *n += 1);
            if let Some(s) = kept.try_update_value(|k| k.insert(&panel, &b, scores)) {
                scored.set(Some(s));
            }
            stale.set(false);
        });
    });
    let scores = Memo::new_with_compare(
        move |_| scored.get(),
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
    // The last full scoring's time and count, read again only when a new
    // scoring lands (not on every slider move).
    let scoring = Signal::derive(move || {
        // Read, not only tracked: the scoring must have run first.
        scores.with(|_| ());
        (scoring_ms.get_value(), scorings.get_value(), scoring_threads.get_value())
    });
    // CSV of every flagged row, computed only when asked for.
    let export = move || {
        let s = scores.get_untracked()?;
        let c = controls.get_untracked();
        Some(crate::summary::csv(
            &s.anomalies(&c.flag_params(selected.get_untracked()), usize::MAX).anomalies,
            unit.get_untracked(),
        ))
    };

    // The service-day whose raw transactions are open, if any.
    let pick = RwSignal::new(None::<(String, servicewatch_shared::Day)>);
    let top = Signal::derive(move || summary.get().and_then(|s| s.rows.first().map(|a| a.key.clone())));

    // Every control lives in the URL, written at once after a pause and at
    // most every URL_EVERY_MS during a drag (once a frame it cost up to
    // 3 ms of the frame in Chromium). While a write waits, <html> carries
    // `data-url-pending` (tests wait for it to go).
    let url_written = StoredValue::new(f64::NEG_INFINITY);
    let url_pending = StoredValue::new(false);
    let write_url = move || {
        controls.with_untracked(|c| state::replace_query(c, embed));
        url_written.set_value(now_ms());
        url_pending.set_value(false);
        state::mark_url_pending(false);
    };
    effect(move || {
        controls.track();
        if url_pending.get_value() {
            return; // the waiting write takes the latest controls
        }
        let wait = url_written.get_value() + URL_EVERY_MS - now_ms();
        if wait <= 0.0 {
            write_url();
        } else {
            url_pending.set_value(true);
            state::mark_url_pending(true);
            set_timeout(write_url, std::time::Duration::from_micros((wait * 1000.0) as u64));
        }
    });

    let view_error = move || match view_meta.get() {
        Some((of, Err(e))) if view.with(|v| *v == of) => Some(e),
        _ => None,
    };
    let error = move || match daily.get().flatten() {
        Some(Err(e)) => Some(e),
        _ => match meta.get().and_then(Result::err).or_else(view_error) {
            Some(e) => Some(e),
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
        fetch_view_meta();
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
                        {move || table.with(|m| m.as_ref().map(crate::api::provenance))}
                    </p>
                </header>
            </Show>
            <ControlsPanel controls=controls table=table services=services chosen=chosen unit=unit />
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
                <div class="results" data-testid="results" aria-busy=move || stale.get().to_string()>
                    <MetricsBar summary=summary scoring=scoring unit=unit not_summed=not_summed />
                    <Chart scores=scores controls=controls top=top marks=marks unit=unit />
                    <Drilldown pick=pick table=table />
                    // Marked days the table no longer shows can be undone here.
                    <MarkedDays store=marks controls=controls pick=pick />
                    <AnomalyTable summary=summary controls=controls export=export stale=stale pick=pick marks=marks unit=unit holidays=holidays />
                </div>
            </Show>
        </div>
    }
}
