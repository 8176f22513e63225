//! Every control of the original app, and method, direction and weekly,
//! and the view's (metric, split, filters: `view`). Sliders act on `input`
//! (every step of a drag), not `change`, at most once a frame (`per_frame`).

use leptos::prelude::*;
use servicewatch_shared::{Day, Direction, Method, Metric};

use super::view::ViewControls;
use crate::api::Meta;
use crate::float_text::{fixed, shortest};
use crate::per_frame::per_frame;
use crate::state::Controls;
use crate::unit::Unit;

/// Most services listed at once; the search narrows longer lists.
const MAX_OPTIONS: usize = 10_000;

fn value(ev: &leptos::ev::Event) -> String {
    event_target_value(ev)
}

/// The minimum amount slider's top, in major units (the minimum count's
/// is 500 transactions).
const MAX_MIN_AMOUNT: u64 = 100_000;

/// `s` in lower case, as `str::to_lowercase` gives it (Unicode's default
/// case conversion, the final sigma included): in the browser, by its own
/// `String.prototype.toLowerCase`, so the app does not carry Rust's copy of
/// the Unicode case tables (about 14 KB) for the service search alone.
fn lowercase(s: &str) -> String {
    #[cfg(target_family = "wasm")]
    return js_sys::JsString::from(s).to_lower_case().into();
    #[cfg(not(target_family = "wasm"))]
    s.to_lowercase()
}

#[component]
pub fn ControlsPanel(
    controls: RwSignal<Controls>,
    /// The table's meta (the default view's).
    table: Memo<Option<Meta>>,
    /// The view's series keys.
    services: Memo<Vec<String>>,
    /// The selected series keys (a memo of `controls`).
    chosen: Memo<Vec<String>>,
    unit: Memo<Unit>,
) -> impl IntoView {
    // Memos, so a slider move neither clones the service list nor touches
    // every option: they change only with the data or the selection.
    let bounds = Memo::new(move |_| table.with(|m| m.as_ref().map(|m| (m.first, m.last))).unwrap_or((None, None)));
    let bounds = move || bounds.get();
    let day_text = |d: Option<Day>| d.map(|d| d.to_string()).unwrap_or_default();
    let (search, set_search) = signal(String::new());
    let visible = move || {
        let q = lowercase(&search.get());
        services.with(|all| {
            all.iter()
                .filter(|s| q.is_empty() || lowercase(s).contains(&q))
                .take(MAX_OPTIONS)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let selected = move |s: &str| chosen.with(|v| v.iter().any(|x| x == s));
    // The sliders: at most one value a frame (the first at once, then the
    // latest of each frame).
    let set_z = per_frame(move |z: f64| controls.update(|c| c.z = z));
    let set_min_days = per_frame(move |v: u32| controls.update(|c| c.min_days = v));
    let set_min_count = per_frame(move |v: u64| controls.update(|c| c.min_count = v));

    view! {
        <form class="controls" aria-label="Controls" on:submit=|ev| ev.prevent_default()>
            <label>
                "From"
                <input type="date" data-testid="date-from"
                    min=move || day_text(bounds().0) max=move || day_text(bounds().1)
                    prop:value=move || day_text(controls.with(|c| c.from).or(bounds().0))
                    on:change=move |ev| { let d = Day::parse(&value(&ev)).ok(); controls.update(|c| c.from = d) } />
            </label>
            <label>
                "To"
                <input type="date" data-testid="date-to"
                    min=move || day_text(bounds().0) max=move || day_text(bounds().1)
                    prop:value=move || day_text(controls.with(|c| c.to).or(bounds().1))
                    on:change=move |ev| { let d = Day::parse(&value(&ev)).ok(); controls.update(|c| c.to = d) } />
            </label>
            <label>
                {move || format!("z threshold: {}", fixed(controls.with(|c| c.z), 1))}
                <input type="range" data-testid="z-threshold" min="0.5" max="8" step="0.1"
                    prop:value=move || shortest(controls.with(|c| c.z))
                    on:input=move |ev| { if let Some(z) = crate::number::parse_f64(&value(&ev)) { set_z(z) } } />
            </label>
            <label>
                {move || format!("Minimum days of history: {}", controls.with(|c| c.min_days))}
                <input type="range" data-testid="min-history" min="0" max="365" step="1"
                    prop:value=move || controls.with(|c| c.min_days).to_string()
                    on:input=move |ev| { if let Ok(v) = value(&ev).parse::<u32>() { set_min_days(v) } } />
            </label>
            // For amounts the slider moves in major units (the URL keeps
            // minor units, as the API's `min_count`).
            <label>
                {move || {
                    let (u, min) = (unit.get(), controls.with(|c| c.min_count));
                    match u.metric {
                        Metric::Count => format!("Minimum daily count: {min}"),
                        Metric::Amount => format!("Minimum daily amount: {}", u.exact(min)),
                    }
                }}
                <input type="range" data-testid="min-count" min="0"
                    max=move || if unit.get().metric == Metric::Amount { MAX_MIN_AMOUNT } else { 500 }.to_string()
                    step=move || if unit.get().metric == Metric::Amount { "10" } else { "1" }
                    prop:value=move || (controls.with(|c| c.min_count) / unit.get().scale()).to_string()
                    on:input=move |ev| {
                        if let Ok(v) = value(&ev).parse::<u64>() {
                            let scale = unit.get_untracked().scale();
                            set_min_count(v.saturating_mul(scale))
                        }
                    } />
            </label>
            <label>
                "Method"
                <select data-testid="method" on:change=move |ev| { if let Ok(m) = value(&ev).parse::<Method>() { controls.update(|c| c.method = m) } }>
                    <option value="robust" selected=move || controls.with(|c| c.method == Method::Robust)>"robust (default)"</option>
                    <option value="classic" selected=move || controls.with(|c| c.method == Method::Classic)>"classic (original app)"</option>
                </select>
            </label>
            <label>
                "Direction"
                <select data-testid="direction" on:change=move |ev| { if let Ok(d) = value(&ev).parse::<Direction>() { controls.update(|c| c.direction = d) } }>
                    <option value="both" selected=move || controls.with(|c| c.direction == Direction::Both)>"spikes and drops"</option>
                    <option value="spikes" selected=move || controls.with(|c| c.direction == Direction::Spikes)>"spikes"</option>
                    <option value="drops" selected=move || controls.with(|c| c.direction == Direction::Drops)>"drops"</option>
                </select>
            </label>
            <label class="check">
                <input type="checkbox" data-testid="weekly"
                    prop:checked=move || controls.with(|c| c.weekly)
                    on:change=move |ev| { let on = event_target_checked(&ev); controls.update(|c| c.weekly = on) } />
                "Day-of-week pattern"
            </label>
            <ViewControls controls=controls table=table />
            <fieldset class="services">
                <legend>"Services"</legend>
                <input type="search" placeholder="Search services" aria-label="Search services" data-testid="service-search"
                    on:input=move |ev| set_search.set(value(&ev)) />
                <select multiple data-testid="service-filter" aria-label="Services (none selected: all)" size="6"
                    on:change=move |ev| {
                        use wasm_bindgen::JsCast;
                        let Some(sel) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok()) else { return };
                        let opts = sel.selected_options();
                        let chosen: Vec<String> = (0..opts.length())
                            .filter_map(|i| opts.item(i))
                            .filter_map(|o| o.get_attribute("value"))
                            .collect();
                        controls.update(|c| c.services = chosen);
                    }>
                    <For each=visible key=|s| s.clone() let:s>
                        <option value=s.clone() selected={let s = s.clone(); move || selected(&s)}>{s.clone()}</option>
                    </For>
                </select>
                <button type="button" on:click=move |_| controls.update(|c| c.services.clear())>"All services"</button>
            </fieldset>
        </form>
    }
}
