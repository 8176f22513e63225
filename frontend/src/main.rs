//! The servicewatch browser app (client-side rendered, built by trunk).
//!
//! It fetches the daily aggregates once per date range and re-scores them in
//! wasm with the shared engine on every input event: no network round trip
//! while a slider moves.

mod api;
mod app;
mod components;
mod effect;
mod fetched;
mod float_text;
mod kept;
mod number;
mod per_frame;
mod sorted;
mod state;
mod summary;
mod unit;
mod warm_up;
mod worker;

fn main() {
    console_error_panic_hook::set_once();
    // The same module runs the scoring worker (`worker`), which has no page.
    if web_sys::window().is_none() {
        return;
    }
    leptos::mount::mount_to_body(app::App);
}
