//! The chart's figure as plotly.js reads it: its traces and the JSON text
//! `plotly::Plot::to_json` would write for them. The traces are the few
//! fields of `plotly::Scatter` the chart sets, in its order and spelling:
//! the plotly crate writes every colour through a boxed `dyn Color` and
//! `erased_serde`, which with its builders and serialisers was 14.8 KB of
//! the app's wasm (gzip -9). A native test in `chart` compares the whole
//! text with plotly's `Plot::to_json` of the same traces, layout and
//! configuration.

use serde::Serialize;

/// The chart's traces and what its layout depends on.
pub struct Figure {
    pub traces: Vec<Trace>,
    /// The chart's title.
    pub title: String,
    /// Digits of the hover values (amounts: `,.2f` is 1,234.50); none for
    /// counts.
    pub decimals: u8,
}

/// A scatter trace: `plotly::Scatter`'s fields, those the chart sets
/// (`"type":"scatter"` first, as plotly writes it).
#[derive(Serialize)]
#[serde(tag = "type", rename = "scatter")]
pub struct Trace {
    pub name: String,
    #[serde(rename = "showlegend", skip_serializing_if = "Option::is_none")]
    pub show_legend: Option<bool>,
    /// `lines` or `markers`.
    pub mode: &'static str,
    pub x: Vec<String>,
    pub y: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Vec<String>>,
    /// `skip`: no hover label.
    #[serde(rename = "hoverinfo", skip_serializing_if = "Option::is_none")]
    pub hover_info: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<Marker>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<Line>,
    /// `toself`: the area the trace encloses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill: Option<&'static str>,
    #[serde(rename = "fillcolor", skip_serializing_if = "Option::is_none")]
    pub fill_color: Option<&'static str>,
}

impl Trace {
    /// A trace of `x` and `y` named `name`, drawn as `mode`.
    pub fn new(name: impl Into<String>, mode: &'static str, x: Vec<String>, y: Vec<f64>) -> Trace {
        Trace {
            name: name.into(),
            show_legend: None,
            mode,
            x,
            y,
            text: None,
            hover_info: None,
            marker: None,
            line: None,
            fill: None,
            fill_color: None,
        }
    }
}

/// `plotly::common::Marker`'s symbol, size and colour.
#[derive(Serialize)]
pub struct Marker {
    /// plotly.js' name: `square`, `x`, `circle-open`, `diamond`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<&'static str>,
    pub size: usize,
    pub color: &'static str,
}

/// `plotly::common::Line`'s width, dash and colour.
#[derive(Default, Serialize)]
pub struct Line {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// `dot`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dash: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<&'static str>,
}

impl Figure {
    /// `Plot::to_json` of a plot with these traces and layout, a
    /// configuration with `responsive` set and no frames.
    #[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
    pub fn to_json(&self) -> String {
        let mut json = String::from("{\"data\":");
        json.push_str(&serde_json::to_string(&self.traces).unwrap());
        // plotly's `Layout` with this title, a horizontal legend above the
        // plot, a height of 360 px and a y axis from zero.
        json.push_str(",\"layout\":{\"title\":{\"text\":");
        json.push_str(&serde_json::to_string(&self.title).unwrap());
        json.push_str("},\"legend\":{\"orientation\":\"h\",\"x\":0.0,\"y\":1.15},\"height\":360,\"yaxis\":{\"rangemode\":\"tozero\"");
        if self.decimals > 0 {
            json.push_str(&format!(",\"hoverformat\":\",.{}f\"", self.decimals));
        }
        // The chart follows its container's width: a portal's side panel or
        // a resized window must not leave the page scrolling sideways (the
        // overlay follows on plotly's redraw).
        json.push_str("}},\"config\":{\"responsive\":true},\"frames\":null}");
        json
    }
}
