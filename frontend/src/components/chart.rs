//! Daily values (transactions, or an amount in major units) of one series with its usual range (the counts the
//! threshold does not flag, `Scores::band`), the flagged days highlighted,
//! partial edge days, days the whole business moved together and days an
//! analyst marked (expected or confirmed) marked, drawn by plotly.js.

use std::sync::{Arc, Weak};

use leptos::prelude::*;
use servicewatch_shared::wire::{Mark, MarkKind};
use servicewatch_shared::{Anomaly, Scores, Status};
#[cfg(target_family = "wasm")]
use wasm_bindgen::JsValue;

use super::figure::{Figure, Line, Marker, Trace};
use super::marks::MarkStore;
use super::table::common_move;
use crate::effect::effect;
use crate::state::Controls;
use crate::unit::Unit;

const CHART_ID: &str = "sw-chart";

/// How long a drag must pause before the chart switches to the series the
/// top anomaly moved to.
const SERIES_PAUSE: std::time::Duration = std::time::Duration::from_millis(150);

/// The service the chart shows: the focused one, else the first selected,
/// else the service of the top anomaly, else the first.
pub fn chart_service(scores: &Scores, c: &Controls, top: Option<&str>) -> Option<usize> {
    let find = |name: &str| scores.services().iter().position(|i| i.key == name);
    c.focus
        .as_deref()
        .and_then(find)
        .or_else(|| c.services.first().and_then(|s| find(s)))
        .or_else(|| top.and_then(find))
        .or((!scores.services().is_empty()).then_some(0))
}

/// Flagged days of service `s` under the controls (the chart's red points):
/// the engine's own answer, asked for that service only.
fn flagged(scores: &Scores, s: usize, c: &Controls) -> Vec<Anomaly> {
    scores.anomalies(&c.flag_params(Some(vec![s])), usize::MAX).anomalies
}

/// The marker of each kind of mark: its legend name, colour and symbol.
const MARKED: [(MarkKind, &str, &str, &str); 2] = [
    (MarkKind::Expected, "marked expected", "#2e8b57", "square"),
    (MarkKind::Confirmed, "marked confirmed", "#6a1b9a", "x"),
];

/// The days of the series (`days`, sorted) marked `kind`, as indices into
/// it, with each mark's note; marks of other series or outside the range
/// left out.
pub fn marked_days(
    marks: &[Mark],
    series: &str,
    days: &[servicewatch_shared::Day],
    kind: MarkKind,
) -> Vec<(usize, String)> {
    // Each put in its place as it comes (a series has few marks): no sort
    // of its own in the wasm. A day marked twice keeps its first mark.
    let mut out: Vec<(usize, String)> = Vec::new();
    for m in marks.iter().filter(|m| m.kind == kind && m.series == series) {
        if let Ok(i) = days.binary_search(&m.date) {
            if let Err(at) = out.binary_search_by_key(&i, |(j, _)| *j) {
                out.insert(at, (i, m.note.clone()));
            }
        }
    }
    out
}

/// The band's fill and the flagged markers' colour and size, in the
/// overlay and in the legend alike.
const BAND_FILL: &str = "rgba(70, 110, 200, 0.15)";
const FLAGGED_COLOUR: &str = "#b4281e";
const FLAGGED_SIZE: f64 = 9.0;
/// The traces [`plot`] draws as the band's and the anomalies' legend
/// entries: a click on either hides the overlay's part as it would a trace.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
const LEGEND_TRACES: (u32, u32) = (1, 4);

/// What a full drawing of the chart depends on besides the flag controls
/// (threshold, minimum history and count, direction). While it stays the
/// same, a slider move redraws the overlay only (the band and the flagged
/// markers, `js/band.js`): plotly draws the axes, the values, the baseline
/// and the other markers once per series.
#[derive(Clone, PartialEq)]
struct Drawing {
    /// The scoring: a new scoring is a new drawing.
    scores: Scoring,
    service: usize,
    unit: Unit,
    /// The series' marked days, of each kind.
    marked: Vec<Vec<(usize, String)>>,
}

impl Drawing {
    fn of(scores: &Arc<Scores>, s: usize, unit: Unit, marks: &[Mark]) -> Drawing {
        let v = scores.series(s);
        let key = &scores.services()[s].key;
        Drawing {
            scores: Scoring(Arc::downgrade(scores)),
            service: s,
            unit,
            marked: MARKED.iter().map(|(kind, ..)| marked_days(marks, key, v.day, *kind)).collect(),
        }
    }
}

/// A scoring's identity. Weak, so the chart does not keep a replaced
/// scoring's columns alive; and not its bare address, which the allocator
/// may hand to the next scoring once this one is freed (the chart would
/// then take a new range's scoring for the series it shows). A `Weak`
/// keeps the address taken until it is dropped.
#[derive(Clone)]
struct Scoring(Weak<Scores>);

impl PartialEq for Scoring {
    fn eq(&self, other: &Scoring) -> bool {
        Weak::ptr_eq(&self.0, &other.0)
    }
}

/// What the controls draw over a series: the band where the threshold
/// flags (upper and lower, the engine's `Scores::band`) and the flagged
/// days (dates and values), in the view's unit. The series' days go only
/// with a new drawing: a slider move does not change them.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
#[derive(Debug, PartialEq)]
struct Overlay {
    days: Option<Vec<String>>,
    upper: Vec<f64>,
    lower: Vec<f64>,
    flagged: (Vec<String>, Vec<f64>),
}

impl Overlay {
    fn of(scores: &Scores, s: usize, c: &Controls, unit: Unit, with_days: bool) -> (Overlay, usize) {
        let major = |v: Vec<f64>| v.into_iter().map(|m| unit.major(m)).collect::<Vec<f64>>();
        let (lower, upper) = scores.band(s, c.z);
        let hits = flagged(scores, s, c);
        let overlay = Overlay {
            days: with_days.then(|| scores.series(s).day.iter().map(|d| d.to_string()).collect()),
            upper: major(upper),
            lower: major(lower),
            flagged: (
                hits.iter().map(|a| a.date.to_string()).collect(),
                hits.iter().map(|a| unit.major(a.value as f64)).collect(),
            ),
        };
        (overlay, hits.len())
    }

    #[cfg(target_family = "wasm")]
    fn draw(self) {
        let (days, values) = self.flagged;
        let (band, flagged) = LEGEND_TRACES;
        draw_band(
            CHART_ID,
            self.days,
            &self.upper,
            &self.lower,
            days,
            &values,
            BAND_FILL,
            FLAGGED_COLOUR,
            FLAGGED_SIZE,
            band,
            flagged,
        );
    }
}

#[cfg(target_family = "wasm")]
#[wasm_bindgen::prelude::wasm_bindgen(module = "/js/band.js")]
extern "C" {
    /// Draws the band and the flagged markers over the chart's plot area
    /// (see the module's comment for why not through plotly.js).
    #[wasm_bindgen(js_name = drawBand)]
    #[allow(clippy::too_many_arguments)]
    fn draw_band(
        id: &str,
        days: Option<Vec<String>>,
        upper: &[f64],
        lower: &[f64],
        flagged_days: Vec<String>,
        flagged_values: &[f64],
        fill: &str,
        colour: &str,
        size: f64,
        band_trace: u32,
        flagged_trace: u32,
    );
}

/// plotly's drawing of series `s`; `upper` is the band's top in the view's
/// unit ([`Overlay`]'s, computed once).
fn plot(scores: &Scores, s: usize, marks: &[Mark], unit: Unit, upper: &[f64]) -> Figure {
    let v = scores.series(s);
    let x: Vec<String> = v.day.iter().map(|d| d.to_string()).collect();
    // Amounts in major units (counts as they are: a division by 1).
    let y = |minor: f64| unit.major(minor);
    let ys = |minor: &[f64]| minor.iter().map(|&m| y(m)).collect::<Vec<f64>>();
    let value = |i: usize| y(v.count[i] as f64);
    // The band (where the threshold flags, day by day: the calibrated z is
    // not centre ± z × spread) and the flagged markers are the overlay's
    // (`Overlay`). Here the band's top only keeps the y axis' range around
    // it (an invisible line), and the legend names both.
    let legend_only =
        |name: &str, mode| Trace::new(name, mode, vec![x.first().cloned().unwrap_or_default()], vec![f64::NAN]);
    let marker = |symbol, size, color| Some(Marker { symbol, size, color });
    let mut p = Figure { traces: Vec::new(), title: String::new(), decimals: 0 };
    p.traces.push(Trace {
        line: Some(Line { width: Some(0.0), ..Line::default() }),
        hover_info: Some("skip"),
        show_legend: Some(false),
        ..Trace::new("upper", "lines", x.clone(), upper.to_vec())
    });
    p.traces.push(Trace {
        line: Some(Line { width: Some(0.0), ..Line::default() }),
        fill: Some("toself"),
        fill_color: Some(BAND_FILL),
        ..legend_only("usual range (not flagged)", "lines")
    });
    p.traces.push(Trace {
        line: Some(Line { dash: Some("dot"), color: Some("#466ec8"), ..Line::default() }),
        ..Trace::new("baseline", "lines", x.clone(), ys(v.center))
    });
    p.traces.push(Trace {
        line: Some(Line { color: Some("#1d2330"), ..Line::default() }),
        ..Trace::new(unit.name().to_ascii_lowercase(), "lines", x.clone(), (0..x.len()).map(value).collect())
    });
    p.traces.push(Trace {
        marker: marker(None, FLAGGED_SIZE as usize, FLAGGED_COLOUR),
        ..legend_only("anomalies", "markers")
    });
    // Days with a baseline and no score: partial days (the extract's, or
    // the service's own first or last), and drops on a listed holiday.
    let scored = scores.services()[s].verdict.status == Status::Scored;
    let partial: Vec<usize> = if scored { (0..v.z.len()).filter(|&i| v.z[i].is_nan()).collect() } else { Vec::new() };
    // A missing score on a series' first or last day is called partial
    // (the extract's edge or the service's own), even on a listed holiday.
    let why = |i: usize| {
        let edge = i == 0 || i + 1 == v.day.len();
        if !edge && scores.holidays.contains(&v.day[i]) {
            "holiday: a drop is expected"
        } else {
            "partial day"
        }
    };
    p.traces.push(Trace {
        marker: marker(Some("circle-open"), 9, "#8a93a6"),
        text: Some(partial.iter().map(|&i| why(i).to_string()).collect()),
        ..Trace::new(
            "not scored",
            "markers",
            partial.iter().map(|&i| x[i].clone()).collect(),
            partial.iter().map(|&i| value(i)).collect(),
        )
    });
    // Days every service moved together (a holiday): the baseline already
    // follows them; the marker says why it dipped.
    let common: Vec<usize> = (0..v.day.len()).filter(|&i| scores.day_factor_on(v.day[i]) != 1.0).collect();
    let label = |i: usize| format!("all services {}", common_move(scores.day_factor_on(v.day[i])));
    p.traces.push(Trace {
        marker: marker(Some("diamond"), 8, "#c77d00"),
        text: Some(common.iter().map(|&i| label(i)).collect()),
        ..Trace::new(
            "all services moved together",
            "markers",
            common.iter().map(|&i| x[i].clone()).collect(),
            common.iter().map(|&i| y(v.center[i])).collect(),
        )
    });
    // Days an analyst marked: left out of the baseline, drawn on the count.
    for (kind, name, colour, symbol) in MARKED {
        let days = marked_days(marks, &scores.services()[s].key, v.day, kind);
        let text = |note: &str| if note.is_empty() { name.to_string() } else { format!("{name}: {note}") };
        p.traces.push(Trace {
            marker: marker(Some(symbol), 12, colour),
            text: Some(days.iter().map(|(_, note)| text(note)).collect()),
            ..Trace::new(
                name,
                "markers",
                days.iter().map(|(i, _)| x[*i].clone()).collect(),
                days.iter().map(|(i, _)| value(*i)).collect(),
            )
        });
    }
    p.title = format!("{} — daily {}", scores.services()[s].key, unit.name().to_ascii_lowercase());
    p.decimals = unit.decimals;
    p
}

#[cfg(target_family = "wasm")]
impl Figure {
    /// `plotly::bindings::react` of the plot (which draws the same JSON,
    /// parsed by the browser).
    async fn react(&self, id: &str) {
        let object = js_sys::JSON::parse(&self.to_json()).expect("Invalid JSON");
        plotly_react(id, &object).await.expect("Error plotting chart");
    }
}

#[cfg(target_family = "wasm")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// plotly.js' `Plotly.react` (as `plotly::bindings` declares it).
    #[wasm_bindgen(catch, js_namespace = Plotly, js_name = react)]
    async fn plotly_react(id: &str, figure: &JsValue) -> Result<JsValue, JsValue>;
}

#[component]
pub fn Chart(
    scores: Memo<Option<Arc<Scores>>>,
    controls: RwSignal<Controls>,
    top: Signal<Option<String>>,
    marks: MarkStore,
    unit: Memo<Unit>,
) -> impl IntoView {
    let drawn = RwSignal::new((String::new(), 0usize, String::new()));
    // What plotly shows, and a drawing put off until a drag pauses.
    let shown = StoredValue::new(None::<Drawing>);
    let deferred = StoredValue::new(None::<leptos::prelude::TimeoutHandle>);
    // Draws the chart for the current state: the overlay alone when plotly
    // already shows this series, else plotly's drawing first.
    let render = move |s: Arc<Scores>, c: Controls, idx: usize, u: Unit, drawing: Drawing| {
        let key = s.services()[idx].key.clone();
        let what = u.name().to_ascii_lowercase();
        let new_drawing = shown.with_value(|d| d.as_ref() != Some(&drawing));
        let (overlay, hits) = Overlay::of(&s, idx, &c, u, new_drawing);
        let plot = new_drawing.then(|| {
            marks.current.with_untracked(|m| plot(&s, idx, m.as_deref().unwrap_or_default(), u, &overlay.upper))
        });
        shown.set_value(Some(drawing));
        // Queued, so an overlay never overtakes the drawing it goes on.
        leptos::task::spawn_local(async move {
            // plotly.js exists only in the browser; native builds (tests,
            // clippy) compile the rest of the app.
            #[cfg(target_family = "wasm")]
            {
                if let Some(p) = plot {
                    p.react(CHART_ID).await;
                }
                overlay.draw();
            }
            #[cfg(not(target_family = "wasm"))]
            drop((plot, overlay));
            drawn.set((key, hits, what));
        });
    };
    // A drawing put off must not outlive the chart.
    on_cleanup(move || {
        if let Some(h) = deferred.try_get_value().flatten() {
            h.clear();
        }
    });
    effect(move || {
        let Some(s) = scores.get() else { return };
        let c = controls.get();
        let Some(idx) = chart_service(&s, &c, top.get().as_deref()) else { return };
        let u = unit.get();
        let drawing = marks.current.with(|m| Drawing::of(&s, idx, u, m.as_deref().unwrap_or_default()));
        if let Some(h) = deferred.get_value() {
            h.clear();
            deferred.set_value(None);
        }
        // The chart follows the top anomaly, which a minimum-count or
        // minimum-history drag moves from series to series: plotly's
        // drawing of each (13 ms or more) would cost every frame it passes
        // through. Drawn once the drag pauses; clicks, filters and new
        // scorings draw at once.
        let follows_top = c.focus.is_none() && c.services.is_empty();
        let same_scoring = shown.with_value(|d| {
            d.as_ref()
                .is_some_and(|d| d.scores == drawing.scores && d.unit == drawing.unit && d.service != drawing.service)
        });
        if follows_top && same_scoring {
            let later = move || {
                deferred.set_value(None);
                let (Some(s), c) = (scores.get_untracked(), controls.get_untracked()) else { return };
                let Some(idx) = chart_service(&s, &c, top.get_untracked().as_deref()) else { return };
                let u = unit.get_untracked();
                let drawing =
                    marks.current.with_untracked(|m| Drawing::of(&s, idx, u, m.as_deref().unwrap_or_default()));
                render(s, c, idx, u, drawing);
            };
            deferred.set_value(leptos::prelude::set_timeout_with_handle(later, SERIES_PAUSE).ok());
            // Meanwhile the series shown keeps up with the controls.
            if let Some(was) = shown.get_value() {
                let idx = was.service;
                render(s, c, idx, u, was);
            }
            return;
        }
        render(s, c, idx, u, drawing);
    });
    view! {
        <section class="chart" aria-label=move || format!("Daily {} chart", unit.get().name().to_ascii_lowercase())>
            // What the picture says, for screen readers.
            <p class="sr-only" data-testid="chart-summary">
                {move || {
                    let (key, hits, what) = drawn.get();
                    (!key.is_empty()).then(|| format!("Chart of daily {what} of {key}: {hits} flagged days."))
                }}
            </p>
            <div id=CHART_ID data-testid="chart"
                data-service=move || drawn.get().0 data-anomalies=move || drawn.get().1.to_string()></div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicewatch_shared::Day;

    #[test]
    fn the_overlay_is_the_engines_band_and_flags() {
        // 60 steady days and a spike on day 40.
        let days: Vec<Day> = (0..60).map(Day).collect();
        let counts: Vec<u64> = (0..60).map(|d| if d == 40 { 400 } else { 95 + (d as u64 * 7) % 11 }).collect();
        let mut b = servicewatch_shared::Panel::builder();
        b.push("tyres", &days, &counts).unwrap();
        let params = servicewatch_shared::BaselineParams { weekly: false, ..Default::default() };
        let scores = Scores::compute(&b.build(), &params);
        let c = Controls { min_days: 1, ..Controls::default() };
        let (o, hits) = Overlay::of(&scores, 0, &c, Unit::default(), true);
        assert_eq!((hits, o.flagged), (1, (vec!["1970-02-10".to_string()], vec![400.0])));
        let (lower, upper) = scores.band(0, 3.0);
        assert_eq!((&o.lower, &o.upper, o.days.map(|d| d.len())), (&lower, &upper, Some(60)));
        // A lower threshold: a narrower band, and the spike still flagged.
        let (o2, hits2) = Overlay::of(&scores, 0, &Controls { z: 1.0, ..c }, Unit::default(), false);
        assert!(hits2 >= 1 && o2.upper[10] < upper[10] && o2.lower[10] > lower[10]);
    }

    #[test]
    fn marked_days_are_those_of_the_series_and_kind_in_range() {
        let mark = |series: &str, date: Day, kind: &str, note: &str| -> Mark {
            serde_json::from_value(serde_json::json!({
                "series": series, "date": date.to_string(), "kind": kind, "note": note,
                "marked_by": "ana", "marked_at": "2026-11-25T10:00:00Z",
            }))
            .unwrap()
        };
        let days: Vec<Day> = (10..20).map(Day).collect();
        let marks = [
            mark("tyres", Day(15), "expected", "promotion"),
            mark("tyres", Day(12), "expected", ""),
            mark("tyres", Day(13), "confirmed", "fraud"),
            mark("brakes", Day(14), "expected", "other series"),
            mark("tyres", Day(25), "expected", "outside the range"),
        ];
        assert_eq!(
            marked_days(&marks, "tyres", &days, MarkKind::Expected),
            [(2, String::new()), (5, "promotion".to_string())]
        );
        assert_eq!(marked_days(&marks, "tyres", &days, MarkKind::Confirmed), [(3, "fraud".to_string())]);
        assert!(marked_days(&marks, "oil", &days, MarkKind::Expected).is_empty());
        // A day marked twice keeps its first mark.
        let twice = [mark("tyres", Day(17), "expected", "first"), mark("tyres", Day(17), "expected", "second")];
        assert_eq!(marked_days(&twice, "tyres", &days, MarkKind::Expected), [(7, "first".to_string())]);
    }

    /// The chart tells scorings apart even when the one it shows has been
    /// freed and the allocator would hand its block to the next (a new
    /// range's scoring, whose service index may not exist any more).
    #[test]
    fn a_freed_scoring_is_never_taken_for_the_next() {
        let first = Arc::new(Scores::default());
        let shown = Scoring(Arc::downgrade(&first));
        assert!(shown == Scoring(Arc::downgrade(&first)));
        drop(first);
        for _ in 0..100 {
            let next = Arc::new(Scores::default());
            assert!(shown != Scoring(Arc::downgrade(&next)));
        }
    }

    /// The same trace as plotly's builders make it (a name plotly.js does
    /// not know fails here).
    fn plotly_trace(t: &Trace) -> Box<plotly::Scatter<String, f64>> {
        use plotly::common::{DashType, Fill, HoverInfo, Line, Marker, MarkerSymbol, Mode};
        let mode = match t.mode {
            "lines" => Mode::Lines,
            "markers" => Mode::Markers,
            other => panic!("mode {other}"),
        };
        let mut s = plotly::Scatter::new(t.x.clone(), t.y.clone()).name(&t.name).mode(mode);
        if let Some(show) = t.show_legend {
            s = s.show_legend(show);
        }
        if let Some(text) = &t.text {
            s = s.text_array(text.clone());
        }
        if let Some(info) = t.hover_info {
            assert_eq!(info, "skip");
            s = s.hover_info(HoverInfo::Skip);
        }
        if let Some(m) = &t.marker {
            let mut marker = Marker::new().color(m.color).size(m.size);
            if let Some(symbol) = m.symbol {
                marker = marker.symbol(match symbol {
                    "square" => MarkerSymbol::Square,
                    "x" => MarkerSymbol::X,
                    "circle-open" => MarkerSymbol::CircleOpen,
                    "diamond" => MarkerSymbol::Diamond,
                    other => panic!("symbol {other}"),
                });
            }
            s = s.marker(marker);
        }
        if let Some(l) = &t.line {
            let mut line = Line::new();
            if let Some(width) = l.width {
                line = line.width(width);
            }
            if let Some(dash) = l.dash {
                assert_eq!(dash, "dot");
                line = line.dash(DashType::Dot);
            }
            if let Some(colour) = l.color {
                line = line.color(colour);
            }
            s = s.line(line);
        }
        if let Some(fill) = t.fill {
            assert_eq!(fill, "toself");
            s = s.fill(Fill::ToSelf);
        }
        if let Some(colour) = t.fill_color {
            s = s.fill_color(colour);
        }
        s
    }

    #[test]
    fn the_figure_is_the_json_of_plotlys_plot() {
        let days: Vec<Day> = (0..60).map(Day).collect();
        let counts: Vec<u64> = (0..60).map(|d| if d == 40 { 400 } else { 95 + (d as u64 * 7) % 11 }).collect();
        let mut b = servicewatch_shared::Panel::builder();
        // A key the title must escape.
        let key = "tyres \"front\" \\ é\u{7}";
        b.push(key, &days, &counts).unwrap();
        let scores = Scores::compute(&b.build(), &servicewatch_shared::BaselineParams::default());
        let marks: Vec<Mark> = serde_json::from_value(serde_json::json!([
            {"series": key, "date": Day(15).to_string(), "kind": "expected", "note": "promotion",
             "marked_by": "ana", "marked_at": "2026-11-25T10:00:00Z"},
            {"series": key, "date": Day(20).to_string(), "kind": "confirmed", "note": "",
             "marked_by": "ana", "marked_at": "2026-11-25T10:00:00Z"},
        ]))
        .unwrap();
        for unit in [Unit::default(), Unit::new(servicewatch_shared::Metric::Amount, 2)] {
            let (o, _) = Overlay::of(&scores, 0, &Controls::default(), unit, true);
            let figure = plot(&scores, 0, &marks, unit, &o.upper);
            let mut reference = plotly::Plot::new();
            for t in &figure.traces {
                reference.add_trace(plotly_trace(t));
            }
            // The layout as plotly's own types write it.
            let mut y_axis = plotly::layout::Axis::new().range_mode(plotly::layout::RangeMode::ToZero);
            if unit.decimals > 0 {
                y_axis = y_axis.hover_format(format!(",.{}f", unit.decimals));
            }
            reference.set_configuration(plotly::Configuration::new().responsive(true));
            reference.set_layout(
                plotly::Layout::new()
                    .title(figure.title.as_str())
                    .height(360)
                    .legend(
                        plotly::layout::Legend::new()
                            .x(0.0)
                            .y(1.15)
                            .orientation(plotly::common::Orientation::Horizontal),
                    )
                    .y_axis(y_axis),
            );
            assert_eq!(figure.to_json(), reference.to_json());
        }
    }
}
