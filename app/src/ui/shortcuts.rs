//! Keyboard shortcuts: `/` focuses the page's search field, `g a` goes to the applications (`g e`
//! the environments),
//! `?` shows the list, `Esc` closes it. Keys typed into a field are the field's.

// Keys are listened to only in the browser (and in the tests).
#![cfg_attr(not(any(feature = "hydrate", test)), allow(dead_code))]

use leptos::prelude::*;

/// What a key does, given the key typed just before it (for two-key sequences).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shortcut {
    FocusSearch,
    Go(&'static str),
    ShowHelp,
    Close,
    /// The first key of a sequence (`g`): wait for the next.
    Prefix,
}

/// The shortcut for `key` after `previous` (`None` for keys that do nothing).
pub(crate) fn shortcut(previous: Option<&str>, key: &str) -> Option<Shortcut> {
    match (previous, key) {
        (Some("g"), "a") => Some(Shortcut::Go("/applications")),
        (Some("g"), "e") => Some(Shortcut::Go("/environments")),
        (Some("g"), "i") => Some(Shortcut::Go("/integrations")),
        (Some("g"), "t") => Some(Shortcut::Go("/settings/tokens")),
        (_, "/") => Some(Shortcut::FocusSearch),
        (_, "?") => Some(Shortcut::ShowHelp),
        (_, "Escape") => Some(Shortcut::Close),
        (_, "g") => Some(Shortcut::Prefix),
        _ => None,
    }
}

/// The list `?` shows: keys and what they do.
const HELP: [(&str, &str); 7] = [
    ("/", "Search or filter on this page"),
    ("g a", "Go to applications"),
    ("g e", "Go to environments"),
    ("g i", "Go to integrations"),
    ("g t", "Go to your API tokens"),
    ("?", "Show these shortcuts"),
    ("Esc", "Close this list"),
];

/// Listens for the shortcuts (in the browser) and shows their list when asked.
#[component]
pub(crate) fn Shortcuts() -> impl IntoView {
    let open = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let navigate = leptos_router::hooks::use_navigate();
        let previous = StoredValue::new(None::<String>);
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || ev.default_prevented() {
                return;
            }
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
                .is_some_and(|e| {
                    matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                        || e.is_content_editable()
                });
            let key = ev.key();
            if typing && key != "Escape" {
                return;
            }
            let before = previous.get_value();
            previous.set_value(None);
            match shortcut(before.as_deref(), &key) {
                Some(Shortcut::Prefix) => previous.set_value(Some(key)),
                Some(Shortcut::Go(path)) => {
                    ev.prevent_default();
                    open.set(false);
                    navigate(path, Default::default());
                }
                Some(Shortcut::FocusSearch) => {
                    let field = document()
                        .query_selector("[data-search]")
                        .ok()
                        .flatten()
                        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
                    if let Some(field) = field {
                        ev.prevent_default();
                        let _ = field.focus();
                    }
                }
                Some(Shortcut::ShowHelp) => open.set(true),
                Some(Shortcut::Close) => open.set(false),
                None => {}
            }
        });
        on_cleanup(move || handle.remove());
    }
    view! {
        <Show when=move || open.get()>
            <dialog open class="shortcuts" aria-label="Keyboard shortcuts" data-testid="shortcuts">
                <h2>"Keyboard shortcuts"</h2>
                <dl>
                    {HELP.iter().map(|(keys, what)| view! {
                        <dt>{keys.split(' ').map(|k| view! { <kbd>{k}</kbd>" " }).collect_view()}</dt>
                        <dd>{*what}</dd>
                    }).collect_view()}
                </dl>
                <button class="button" on:click=move |_| open.set(false)>"Close"</button>
            </dialog>
        </Show>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::{Shortcut, shortcut};

    #[test]
    fn keys_and_sequences() {
        assert_eq!(shortcut(None, "/"), Some(Shortcut::FocusSearch));
        assert_eq!(shortcut(None, "g"), Some(Shortcut::Prefix));
        assert_eq!(
            shortcut(Some("g"), "a"),
            Some(Shortcut::Go("/applications"))
        );
        assert_eq!(
            shortcut(Some("g"), "e"),
            Some(Shortcut::Go("/environments"))
        );
        assert_eq!(shortcut(None, "a"), None);
        assert_eq!(shortcut(Some("x"), "a"), None);
        assert_eq!(shortcut(None, "?"), Some(Shortcut::ShowHelp));
        assert_eq!(shortcut(Some("g"), "Escape"), Some(Shortcut::Close));
    }
}
