//! The browser entry point: hydrates the page the server rendered, then the app runs as an SPA.
//! Hydration is asynchronous: the lazy routes of the page (see `app::ui::lazy_pages`) are
//! loaded first.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
