//! View state that lives in the page's address (`?stage=…`, filters, the selected object), so
//! a reload or a shared link opens the same view and back/forward step through it.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::params::ParamsMap;

/// A signal mirrored in the query string under `keys`: it starts from the address (also on the
/// server, so the page renders the same view), follows the address on back/forward, and a
/// change to it becomes a new history entry (other query keys are kept).
pub(crate) fn url_state<T>(
    keys: &'static [&'static str],
    read: fn(&ParamsMap) -> T,
    write: fn(&T) -> Vec<(&'static str, String)>,
) -> RwSignal<T>
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    let query = use_query_map();
    let location = use_location();
    let state = RwSignal::new(query.with_untracked(read));
    // The address changed (back, forward, a link): the view follows.
    Effect::new(move |_| {
        let from_address = query.with(read);
        if state.with_untracked(|s| *s != from_address) {
            state.set(from_address);
        }
    });
    // The view changed: so does the address.
    let navigate = use_navigate();
    Effect::new(move |_| {
        let wanted = state.get();
        if query.with_untracked(read) == wanted {
            return;
        }
        let mut pairs: ParamsMap = query
            .with_untracked(|q| {
                q.into_iter()
                    .filter(|(k, _)| !keys.contains(&k.as_ref()))
                    .map(|(k, v)| (k.to_string(), v.to_owned()))
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .collect();
        for (k, v) in write(&wanted) {
            if !v.is_empty() {
                pairs.insert(k, v);
            }
        }
        let path = location.pathname.get_untracked();
        navigate(
            &format!("{path}{}", pairs.to_query_string()),
            NavigateOptions {
                scroll: false,
                ..Default::default()
            },
        );
    });
    state
}
