//! The servicewatch browser app (client-side rendered, built by trunk).

mod app;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
