//! The browser entry point: hydrates the page the server rendered, then the app runs as an SPA.
//! Hydration is asynchronous: the lazy routes of the page (see `app::ui::lazy_pages`) are
//! loaded first. Once the whole page is hydrated, `<main>` says so (`data-hydrated="true"`):
//! what tests (and CSS) wait for before they treat the page as interactive.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Drives the reactive system with wasm-bindgen's futures (an error only means it already is).
    let _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        let body = leptos::prelude::document()
            .body()
            .expect("the page has a body");
        let page = leptos::mount::hydrate_from_async(body, app::App).await;
        page.forget();
        if let Ok(Some(main)) = leptos::prelude::document().query_selector("main") {
            let _ = main.set_attribute("data-hydrated", "true");
        }
    });
}
