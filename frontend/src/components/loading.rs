//! What the page shows while the warehouse reads the table: a progress bar
//! fed by `/api/progress`, polled while this component is on screen.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, LoadProgress};
use crate::float_text::fixed;

const POLL: Duration = Duration::from_millis(250);

/// `1234567` as `1.2M`, for a line that stays short.
fn short(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{}k", fixed(n as f64 / 1e3, 0)),
        _ => format!("{}M", fixed(n as f64 / 1e6, 1)),
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    let now = RwSignal::new(LoadProgress::default());
    let poll = move || {
        spawn_local(async move {
            if let Some(p) = api::progress().await {
                // The component may be gone by the time the answer comes.
                let _ = now.try_set(p);
            }
        })
    };
    if let Ok(handle) = set_interval_with_handle(poll, POLL) {
        on_cleanup(move || handle.clear());
    }
    let text = move || {
        let p = now.get();
        match (p.loading, p.stage.as_deref(), p.rows_total) {
            (true, Some("warehouse_starting"), _) => {
                "Starting the SQL warehouse: this can take a few minutes…".to_string()
            }
            (true, Some("querying"), _) => "The warehouse is counting transactions per service and day…".to_string(),
            (true, Some("downloading"), 0) => "Downloading daily counts…".to_string(),
            (true, Some("downloading"), total) => {
                format!("Downloading daily counts: {} of {} rows…", short(p.rows_read), short(total))
            }
            (true, _, 0) => format!("Reading transactions: {} rows so far…", short(p.rows_read)),
            (true, _, total) => format!("Reading transactions: {} of {} rows…", short(p.rows_read), short(total)),
            _ => "Loading daily counts…".to_string(),
        }
    };
    view! {
        <div
            class="loading"
            data-testid="loading"
            data-stage=move || now.get().stage.unwrap_or_default()
            role="status"
            aria-live="polite"
        >
            <p>{text}</p>
            <Show when=move || {
                let p = now.get();
                p.loading && p.rows_total > 0
            }>
                <progress
                    data-testid="load-progress"
                    max=move || now.get().rows_total.to_string()
                    value=move || now.get().rows_read.to_string()
                    aria-label="Rows read"
                ></progress>
            </Show>
        </div>
    }
}
